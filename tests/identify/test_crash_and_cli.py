"""`uchastok identify` as a process: kill -9 between commit and print; the other commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from identify.store import open_identify_db

UCHASTOK = [sys.executable, "-c", "from cli import main; main()"]


def uchastok(home, *args, env=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([*UCHASTOK, "--home", str(home.config_dir.parent), *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, check=check, timeout=120)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_kill_9_between_commit_and_print_then_restart_prints_it(home, demo_package):
    cmd = [*UCHASTOK, "identify", "run", "--home", str(home.config_dir.parent), "--sim",
           "--secrets", str(demo_package.secrets), "--voters", "1", "--stop-after-commit"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The process stops itself right after the commit; wait for that (or for it to end).
        deadline = time.monotonic() + 90
        while _state(proc.pid) not in ("T", "t", "Z", "gone") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(proc.pid) in ("T", "t"), proc.stderr.read().decode() if proc.poll() is not None else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    conn = open_identify_db(home.identify_db)
    try:
        assert conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM print_queue WHERE printed_at IS NULL").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    finally:
        conn.close()
    receipts = home.output_dir / "receipts"
    assert not list(receipts.glob("print-*.png"))
    # Restart (secrets found beside the loaded package): the queued receipt prints at start;
    # nothing is identified again.
    out = uchastok(home, "identify", "run", "--sim", "--voters", "0", "--json")
    assert json.loads(out.stdout)["identified"] == 0
    assert len(list(receipts.glob("print-*.png"))) == 1
    conn = open_identify_db(home.identify_db)
    try:
        assert conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM print_queue WHERE printed_at IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    finally:
        conn.close()


def first_voter(home):
    conn = open_identify_db(home.identify_db)
    try:
        return conn.execute("SELECT pin, document_number FROM voter ORDER BY rowid LIMIT 1").fetchone()
    finally:
        conn.close()


def test_cli_voter_manual_summary_reprint(home):
    pin, doc = first_voter(home)
    rep = json.loads(uchastok(home, "identify", "voter", doc, "--json").stdout)
    assert rep["on_list"] and rep["pin"] == pin and rep["identified"] is None and rep["templates"] == 4
    assert json.loads(uchastok(home, "identify", "voter", "ID0000000", "--json").stdout) == {
        "query": "ID0000000", "on_list": False}
    wrong = uchastok(home, "identify", "manual", "--pin", pin, "--member", "m1", "--reason", "sensor-failure",
                     "--sim", env={"UCHASTOK_MEMBER_PIN": "0000"}, check=False)
    assert wrong.returncode == 2 and "wrong PIN" in wrong.stderr
    done = json.loads(uchastok(home, "identify", "manual", "--pin", pin, "--member", "m1", "--reason",
                               "sensor-failure", "--sim", "--json", env={"UCHASTOK_MEMBER_PIN": "246813"}).stdout)
    assert done["status"] == "accepted" and done["outcome"]["receipt"]["number"] == "R-000001"
    assert done["printed"] == [{"receipt": 1, "printed": True, "printer": "ready"}]
    again = json.loads(uchastok(home, "identify", "manual", "--pin", pin, "--member", "m1", "--reason",
                                "sensor-failure", "--sim", "--json", env={"UCHASTOK_MEMBER_PIN": "246813"}).stdout)
    assert again["outcome"]["reason"] == "already-identified"
    rep = json.loads(uchastok(home, "identify", "voter", pin, "--json").stdout)
    assert rep["identified"]["receipt"] == "R-000001" and rep["identified"]["method"] == "manual"
    summary = json.loads(uchastok(home, "identify", "summary", "--print", "--sim", "--json").stdout)
    assert summary["identified"] == 1 and summary["by_method"]["manual"] == 1 and summary["printed"]
    refused = uchastok(home, "identify", "summary", "--send", check=False)
    assert refused.returncode == 2 and "polls are open" in refused.stderr
    assert json.loads(uchastok(home, "identify", "reprint", "--sim", "--json").stdout) == []
    dup = json.loads(uchastok(home, "identify", "reprint", "--receipt", "1", "--member", "m1", "--sim",
                              "--json").stdout)
    assert dup == [{"receipt": "R-000001", "printed": True, "printer": "ready"}]


@pytest.mark.parametrize("sub", ["run", "voter", "manual", "summary", "reprint"])
def test_every_command_has_an_example(sub):
    out = CliRunner().invoke(cli, ["identify", sub, "--help"]).output
    assert "Example:" in out and "uchastok" in out.split("Example:")[1]

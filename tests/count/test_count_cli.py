"""`uchastok count run | zero-report | protocol | status` on a provisioned home."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from countkit import make_home

from base.sqlite import atomic
from cli import cli
from count.protocol import device_outbox
from count.role import identify_summary, results_protocol
from identify.store import open_identify_db
from station import polls
from station.db import open_station_db
from station.errors import PollsError
from station.package import pinned_cec_key, read_election


def invoke(*args):
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture
def home(tmp_path, manifest):
    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    conn = open_station_db(paths.station_db)
    polls.set_member_pin(conn, "1", "Айгүл Асанова", "246813")
    conn.close()
    return paths


def test_election_day_through_the_cli(home, deck, tmp_path):
    h = str(home.config_dir.parent)
    out, expected = deck
    feeder = tmp_path / "feeder"
    feeder.mkdir()
    ballots = [s for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:4]
    bad = [s for s in expected["sheets"] if s["kind"] == "other-station"][:1]
    for s in ballots + bad:
        shutil.copy(out / s["file"], feeder / s["file"])
    # L&A in test mode, then the zero report (real tally still empty).
    r = json.loads(invoke("count", "run", "--home", h, "--scanner", f"sim:{feeder}", "--once", "--json"))
    assert r["sheets_test"] == r["counted"] == 1 and r["sheets_real"] == 0
    z = json.loads(invoke("count", "zero-report", "--home", h, "--member", "1", "--pin", "246813", "--json"))
    assert z["counters_zero"] and z["state"] == "zero-report-printed"
    conn = open_station_db(home.station_db)
    polls.apply(conn, "open")
    r = json.loads(invoke("count", "run", "--home", h, "--scanner", f"sim:{feeder}", "--until-empty",
                          "--json"))
    assert r["rejected"] == 1 and r["sheets_real"] == r["counted"]
    st = json.loads(invoke("count", "status", "--home", h, "--json"))
    assert st["sheets"]["real"] == r["counted"] and st["contests"] is None     # no results while open
    polls.apply(conn, "close")
    conn.close()
    preview = json.loads(invoke("count", "protocol", "--home", h, "--json"))
    assert preview["signed"] is False
    p = json.loads(invoke("count", "protocol", "--home", h, "--sign", "--member", "1", "--pin", "246813",
                          "--voters-identified", "5", "--out", str(tmp_path / "out"), "--json"))
    assert p["signed"] and p["state"] == "protocol-signed" and p["body"]["voters_identified"] == 5
    assert p["body"]["contests"] == preview["body"]["contests"]
    # The count stream carries the polls events relayed before it: test-mode, zero report, opened, closed.
    assert p["outbox_seq"] == 5 and all(p["files"][k] for k in ("json", "nist", "receipt", "a4_pdf"))
    st = json.loads(invoke("count", "status", "--home", h, "--json"))
    # pending: 4 polls events, the protocol, then the "protocol-signed" event
    assert st["protocol"]["hash"] == p["hash"] and st["outbox_pending"] == 6
    assert sum(c["ballots_read"] for c in st["contests"].values()) == r["sheets_real"]
    text = invoke("count", "status", "--home", h)
    assert "protocol r1" in text


def test_wrong_pin_changes_nothing(home):
    h = str(home.config_dir.parent)
    with pytest.raises(PollsError):
        CliRunner().invoke(cli, ["count", "zero-report", "--home", h, "--member", "1", "--pin", "0000"],
                           catch_exceptions=False)
    conn = open_station_db(home.station_db)
    assert polls.current(conn) == polls.PollsState.TEST_MODE
    conn.close()


@pytest.mark.parametrize("cmd", ["run", "zero-report", "protocol", "status"])
def test_help_has_an_example(cmd):
    out = invoke("count", cmd, "--help")
    assert "Example:" in out and "uchastok count " + cmd in out


def test_identify_summary_feeds_the_control_relation(home, tmp_path):
    assert identify_summary(home) is None
    conn = open_identify_db(home.identify_db)
    _, outbox = device_outbox(home, conn, read_election(home.package_dir, pinned_cec_key(home)))
    outbox.stream = "identify"
    with atomic(conn):
        outbox.enqueue("identification-summary", {"voters_on_list": 3, "identified": 2, "by_method": {},
                                                  "at": "2026-11-29T14:00:00Z"})
    conn.close()
    assert identify_summary(home) == {"voters_on_list": 3, "identified": 2}
    sconn = open_station_db(home.station_db)
    for a in ("print-zero-report", "open", "close"):
        polls.apply(sconn, a, counters_zero=True if a == "print-zero-report" else None)
    sconn.close()
    preview = results_protocol(home)
    assert preview["body"]["voters_identified"] == 2
    assert any(r["relation"] == "ballots<=identified" for r in preview["body"]["control"])

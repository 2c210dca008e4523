"""The screens' server killed mid-identification (issue 12 "Bad input"): nothing lost or doubled, the screen recovers.

The identification table's screens run in a process of their own (screens/serve.py),
which the test stops with SIGSTOP at one point of an identification and then kills
with SIGKILL (no handler, no cleanup, as a power cut of the process), and starts
again on the same files:

- after the commit, before the receipt is printed and the page updated (the manual
  route through ``uchastok screens serve --stop-after-commit``, and a voter's card and
  finger through tests/screens/screens_child.py): exactly one identification, its
  receipt printed once at the restart, the page reloaded shows who was identified
  (``recovered``), the same form sent again does nothing, the voter coming back is
  "already identified";
- after the finger was captured and before the identifier decides: nothing recorded,
  no receipt; after the restart the same voter is identified, once.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from screens_world import free_port, get, post, token

from simulation.table import MEMBER, provision_home

CHILD = Path(__file__).with_name("screens_child.py")
ALREADY = "мурда идентификацияланган"            # "already identified", as the screen says it (Kyrgyz)
UCHASTOK = Path(sys.executable).with_name("uchastok")





def wait_for(what: str, predicate, timeout: float = 60.0):
    """Poll ``predicate`` until it returns a true value (a deadline for a slow machine, not a timing claim)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"still waiting for {what} after {timeout:.0f} s")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        get(url + "/state")
        return True
    except OSError:
        return False


def stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP): field 3 of /proc/PID/stat is T."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


class Recorded:
    """What identify.db and the simulated printer hold (read-only, from outside the killed process)."""

    def __init__(self, paths):
        self.paths = paths

    def _rows(self, sql: str, *args) -> list:
        conn = sqlite3.connect(f"file:{self.paths.identify_db}?mode=ro", uri=True)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def first_voter(self) -> str:
        return self._rows("SELECT pin FROM voter ORDER BY rowid LIMIT 1")[0][0]

    def identifications(self, pin: str | None = None) -> int:
        if pin is None:
            return self._rows("SELECT count(*) FROM identification")[0][0]
        return self._rows("SELECT count(*) FROM identification WHERE pin = ?", pin)[0][0]

    def receipts_queued(self) -> int:
        return self._rows("SELECT count(*) FROM print_queue WHERE printed_at IS NULL")[0][0]

    def receipt_envelopes(self) -> int:
        return self._rows("SELECT count(*) FROM outbox WHERE kind = 'identification-receipt'")[0][0]

    def printed(self) -> int:
        """Receipts that came out of the simulated printer (one page per receipt)."""
        return len(list((self.paths.output_dir / "receipts").glob("print-*.png")))


@pytest.fixture
def home(tmp_path, demo_package):
    return provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)
        for stream in (p.stdin, p.stdout):
            if stream is not None:
                stream.close()


def start_cli(processes, home, secrets, *extra) -> tuple[subprocess.Popen, str]:
    """``uchastok screens serve --role identify --sim`` as the appliance runs it (a process of its own)."""
    port = free_port()
    proc = subprocess.Popen([str(UCHASTOK), "--home", str(home.state_dir.parent), "screens", "serve",
                             "--role", "identify", "--sim", "--secrets", str(secrets), "--port", str(port),
                             "--peer", "", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_for("the screens to answer", lambda: proc.poll() is not None or answers(url))
    assert proc.poll() is None, "the screens' server exited"
    return proc, url


def start_child(processes, home, secrets, *extra) -> tuple[subprocess.Popen, str]:
    """tests/screens/screens_child.py: the same screens, with voters sent in on stdin."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(CHILD), str(home.state_dir.parent), str(secrets), str(port),
                             *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    processes.append(proc)
    assert proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}"


def tell(proc: subprocess.Popen, command: str) -> None:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()


def screen_of(page: str) -> str:
    return re.search(r'id="screen" data-screen="([^"]+)"', page).group(1)


def identified_shown(page: str) -> int:
    return int(re.search(r'id="count-identified">(\d+)<', page).group(1))


def test_killed_after_the_commit_of_a_manual_identification(home, demo_package, processes):
    db = Recorded(home)
    voter_pin = db.first_voter()
    proc, url = start_cli(processes, home, demo_package.secrets, "--stop-after-commit")
    form_page = get(url + f"/table/manual?pin={voter_pin}&reason=fingerprint-unreadable")
    form = {"token": token(form_page), "pin": voter_pin, "reason": "fingerprint-unreadable",
            "member": MEMBER[0], "member_pin": MEMBER[2]}
    outcome: dict = {}

    def tap():
        try:
            outcome["page"] = post(url + "/table/manual", form)
        except (OSError, urllib.error.URLError) as e:      # the server died under the request
            outcome["error"] = e

    t = threading.Thread(target=tap)
    t.start()
    wait_for("the commit (the process stops right after it)", lambda: stopped(proc.pid))
    kill9(proc)
    t.join(timeout=60)
    assert "error" in outcome and "page" not in outcome    # the commission never saw an answer

    # What the killed process left: one identification, its receipt queued, not printed.
    assert db.identifications(voter_pin) == 1 and db.identifications() == 1
    assert db.receipts_queued() == 1 and db.receipt_envelopes() == 1 and db.printed() == 0

    proc, url = start_cli(processes, home, demo_package.secrets)
    page = get(url + "/table")
    assert screen_of(page) == "recovered" and identified_shown(page) == 1
    assert "R-000001" in page and "Квитанция басылды" in page          # printed now, at the restart
    assert db.printed() == 1 and db.receipts_queued() == 0

    # The browser sends the interrupted form again: a token of the killed process, nothing is done.
    again = post(url + "/table/manual", form)
    assert screen_of(again) == "recovered" and "Барак эскирип калган" in again
    # The commission tries the same voter once more: already identified; still one, one receipt.
    form_page = get(url + f"/table/manual?pin={voter_pin}&reason=fingerprint-unreadable")
    refused = post(url + "/table/manual", form | {"token": token(form_page)})
    assert screen_of(refused) == "refused" and ALREADY in refused
    assert db.identifications() == 1 and db.printed() == 1 and db.receipt_envelopes() == 1


@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_killed_between_the_finger_and_the_answer(home, demo_package, processes, point):
    db = Recorded(home)
    proc, url = start_child(processes, home, demo_package.secrets, "--stop", point)
    assert screen_of(get(url + "/table")) == "waiting"
    tell(proc, "arrive 6")
    wait_for(f"the table to stop {point}", lambda: stopped(proc.pid))
    kill9(proc)

    committed = point == "after-commit"
    assert db.identifications() == int(committed) and db.receipt_envelopes() == int(committed)
    assert db.printed() == 0

    proc, url = start_child(processes, home, demo_package.secrets)
    page = get(url + "/table")
    assert identified_shown(page) == int(committed)
    if committed:
        assert screen_of(page) == "recovered" and db.printed() == 1
    else:
        assert screen_of(page) == "waiting" and db.printed() == 0
        tell(proc, "arrive 6")                 # the same voter, again: identified now
        wait_for("the voter identified", lambda: screen_of(get(url + "/table")) == "accepted")
        tell(proc, "leave")
    assert db.identifications() == 1 and db.printed() == 1

    # The voter comes back: already identified; still one identification, one receipt.
    tell(proc, "arrive 6")
    wait_for("the refusal", lambda: screen_of(get(url + "/table")) == "refused")
    assert ALREADY in get(url + "/table")
    assert db.identifications() == 1 and db.printed() == 1 and db.receipt_envelopes() == 1


def audit_events(db_path: Path, event: str) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM audit_log WHERE event = ?", (event,)).fetchone()[0]
    finally:
        conn.close()


def test_sigterm_ends_each_role_daemon_run_before_the_process_exits(home, demo_package, processes, tmp_path):
    """systemd stops a unit with SIGTERM: the role's daemon ends its run (audited), the process exits 0."""
    table, _ = start_cli(processes, home, demo_package.secrets)
    port = free_port()
    box = subprocess.Popen([str(UCHASTOK), "--home", str(home.state_dir.parent), "screens", "serve", "--role",
                            "count", "--sim", "--scanner", f"sim:{tmp_path / 'feeder'}", "--port", str(port),
                            "--peer", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(box)
    wait_for("the ballot box's screens", lambda: box.poll() is not None or answers(f"http://127.0.0.1:{port}"))
    for proc in (table, box):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert audit_events(home.identify_db, "identify-daemon-stopped") == 1
    assert audit_events(home.count_db, "count-daemon-stopped") == 1

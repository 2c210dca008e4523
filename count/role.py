"""The count role on this device: its files opened, its commands as one call each.

Each function takes the device's ``Paths`` and does one thing the CLI asks
(``uchastok count run | zero-report | protocol | status``): it opens the
election from the loaded package's signed manifest alone (provisioning.package
``read_election``, re-verified against the pinned CEC key before anything is
read: the count role never reads the voter list), count.db and station.db,
calls the library, and closes them. Of identify.db, where this device holds it,
only two aggregates are read: how many voters are identified (the zero report
refuses if any) and the identification summary (the protocol's control relation).

Example::

    summary = run_count(paths, count.devices.HardwareFactory(paths, scanner="sane:"), once=True)
    report = zero_report(paths, member="1", pin="1234")
    signed = results_protocol(paths, sign=True, member="1", pin="1234")
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.clock import SaneClock, SystemClock
from base.paths import Paths
from base.sdnotify import Notifier
from count.daemon import CountDaemon
from count.devices import CountDeviceFactory
from count.polls_relay import relay_polls_events
from count.protocol import (
    complete_signed_protocol,
    device_outbox,
    export_protocol,
    last_close,
    latest_protocol,
    sign_protocol,
)
from count.protocol_body import build_protocol, protocol_hash
from count.store import CountStore
from count.tally import compare_with_expected
from count.zero_report import print_zero_report
from station import polls
from station.db import open_station_db
from station.election import Election
from station.errors import ConfigError, ProvisioningError
from station.events import clock_after_log
from station.identify_summary import counts as summary_counts
from station.identify_summary import for_latest_close
from station.package import pinned_cec_key, read_election
from sync import signing
from sync.certificate import device_id_for


@dataclass
class CountFiles:
    election: Election
    voters_on_list: int
    store: CountStore
    station_conn: Any


@contextlib.contextmanager
def count_files(paths: Paths, *, clock=None) -> Iterator[CountFiles]:
    manifest = paths.package_dir / "manifest.json"
    if not manifest.exists():
        raise ConfigError("no election package is loaded on this device (`uchastok package load`)")
    # The signed manifest alone: the count role never opens the voter list (invariant 2).
    election = read_election(paths.package_dir, pinned_cec_key(paths))
    voters_on_list = int(json.loads(manifest.read_bytes())["voters"]["rows"])   # an aggregate only
    store = CountStore.open(paths.count_db, election, clock=clock)
    sconn = open_station_db(paths.station_db)
    try:
        yield CountFiles(election, voters_on_list, store, sconn)
    finally:
        store.close()
        sconn.close()


def relay_polls(paths: Paths, f: CountFiles, clock=None) -> int:
    """Relay new polls transitions to the count outbox (count/polls_relay.py); 0 if not enrolled yet."""

    try:
        _, outbox = device_outbox(paths, f.store.conn, f.election, clock=clock)
    except ProvisioningError:
        return 0     # nothing can be signed before enrolment; relayed at the next call after it
    return relay_polls_events(f.station_conn, f.store.conn, outbox)


def _actor(sconn, member: str | None, pin: str | None, clock) -> str:
    if member is None:
        return "system"
    role = polls.authorize(sconn, member, pin or "", clock=clock)
    return f"{role}:{member}"


def run_count(paths: Paths, devices: CountDeviceFactory, *, once: bool = False, until_empty: bool = False,
              max_turns: int | None = None,
              idle_s: float = 0.5, logger: logging.Logger | None = None) -> dict[str, Any]:
    """Run the count daemon on the devices ``devices`` makes, until SIGTERM (or one sheet with ``once``).

    The same for every factory: ``count.devices.HardwareFactory`` (a SANE scanner, lights on
    the GPIO header) or ``simulation.ballot_box.SimulatedCountFactory`` (a folder ballot box,
    lights on mock pins). The devices are released when the run ends.
    """

    log = logger or logging.getLogger("uchastok.count")
    clock = SaneClock(SystemClock())
    with count_files(paths, clock=clock) as f, contextlib.closing(devices.open_devices()) as dev:
        # Recorded times never go back before what count.db already holds.
        clock = f.store.clock = clock_after_log(f.store.conn)
        daemon = CountDaemon(dev.scanner, f.store, f.station_conn, f.election, None, clock, log,
                             notifier=Notifier.from_env(), indicators=dev.indicators, idle_s=idle_s,
                             state_dir=paths.state_dir, relay=lambda: relay_polls(paths, f, clock))
        # SIGTERM only: an interactive Ctrl-C still interrupts the command at once.
        summary = daemon.run_until_signal((signal.SIGTERM,), once=once, until_empty=until_empty,
                                          max_turns=max_turns)
        return summary.to_json() | {"sheets_real": f.store.sheet_count("real"),
                                    "sheets_test": f.store.sheet_count("test")}


def zero_report(paths: Paths, *, member: str | None = None, pin: str | None = None,
                clock=None) -> dict[str, Any]:
    """Print the zero report (files in ``paths.output_dir``) and move polls to zero-report-printed."""

    clock = clock or SystemClock()
    with count_files(paths, clock=clock) as f:
        actor = _actor(f.station_conn, member, pin, clock)
        device = _device_id(paths)
        rep = print_zero_report(f.store, f.station_conn, f.election, out_dir=paths.output_dir,
                                clock=clock, actor=actor, device_id=device,
                                identified=identifications_recorded(paths))
        relay_polls(paths, f, clock)
        return rep.to_json()


def _device_id(paths: Paths) -> str | None:
    try:
        return device_id_for(signing.public_key(signing.load_private_key(paths.role("count").key)))
    except Exception:  # noqa: BLE001 - the report prints without it
        return None


def identifications_recorded(paths: Paths) -> int | None:
    """How many identifications this device's identify.db records; None when it holds none.

    Opened read-only and asked for a count only (never a voter). A file that is there
    but cannot be read is a ConfigError: the zero report cannot then show it empty. A
    directory this role may not even look into (the appliance's count unit: systemd
    ``InaccessiblePaths=`` over the identify role's directory) is None, as for no file:
    polls not yet open, no identification can have been recorded (identify/rules.py).
    """
    try:
        if not paths.identify_db.exists():
            return None
    except PermissionError:
        return None
    try:
        conn = sqlite3.connect(f"file:{paths.identify_db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM identification").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise ConfigError(f"identify.db cannot be read ({e}): the zero report must show that no voter"
                          " is identified yet") from e


def identify_summary(paths: Paths) -> dict[str, Any] | None:
    """The counts of the identify role's last ``identification-summary`` (aggregates only), if any.

    ``{"voters_on_list", "identified"}``, and ``provisional`` (the summary's counters)
    when any ballot was issued on a provisional claim (station/identify_summary.py
    ``counts``). Read from station.db, where the identify role publishes them at the
    close (the appliance's count role cannot see identify.db); else, on a development
    home where one user runs both roles, from identify.db's outbox (the signed
    envelope). Only counts cross to the count role, never a voter. None when neither
    holds a summary yet, and None when station.db holds one of an earlier close (polls
    reopened and closed again, this close's summary not sent yet): the outbox's latest
    would be that same earlier one.
    """

    if paths.station_db.exists():
        try:
            conn = sqlite3.connect(f"file:{paths.station_db}?mode=ro", uri=True, timeout=5)
            try:
                found, stale = for_latest_close(conn)
            finally:
                conn.close()
        except sqlite3.Error:
            found, stale = None, False
        if found is not None:
            return found
        if stale:
            return None
    try:
        if not paths.identify_db.exists():
            return None
        conn = sqlite3.connect(f"file:{paths.identify_db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT envelope FROM outbox WHERE kind = 'identification-summary'"
                               " ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except (sqlite3.Error, OSError):
        return None
    if row is None:
        return None
    return summary_counts(json.loads(bytes(row[0]))["body"])


def results_protocol(paths: Paths, *, sign: bool = False, member: str | None = None,
                     pin: str | None = None, voters_identified: int | None = None,
                     voters_on_list: int | None = None, out_dir=None, clock=None,
                     printer=None) -> dict[str, Any]:
    """Sign (``sign``) or show the results protocol; export its files to ``out_dir``.

    ``voters_identified`` defaults to the identify role's summary when readable
    (``identify_summary``); without it the ``ballots<=identified`` relation is
    left out of the protocol rather than guessed. The summary's provisional
    counters, when it has any, become the protocol's ``provisional`` section.
    """

    clock = clock or SystemClock()
    out = out_dir or paths.output_dir
    with count_files(paths, clock=clock) as f:
        summary = identify_summary(paths) if voters_identified is None else None
        provisional = None
        if summary is not None:
            voters_identified = summary["identified"]
            provisional = summary.get("provisional")
        on_list = f.voters_on_list if voters_on_list is None else voters_on_list
        complete_signed_protocol(f.store, f.station_conn, clock=clock)
        if sign:
            relay_polls(paths, f, clock)          # "closed" goes up before the protocol
            actor = _actor(f.station_conn, member, pin, clock)
            key, outbox = device_outbox(paths, f.store.conn, f.election, clock=clock)
            signed = sign_protocol(f.store, f.station_conn, f.election, key=key, outbox=outbox,
                                   voters_on_list=on_list, voters_identified=voters_identified,
                                   clock=clock, actor=actor, provisional=provisional)
            relay_polls(paths, f, clock)          # then "protocol-signed"
        else:
            signed = latest_protocol(f.store)
        if signed is None:
            # Not signed yet: a preview of what would be signed (nothing written, nothing queued).
            body = build_protocol(f.election, f.store.tally("real"), on_list, voters_identified,
                                  last_close(f.station_conn), provisional=provisional)
            return {"signed": False, "state": str(polls.current(f.station_conn)),
                    "hash": None, "body_hash": protocol_hash(body), "body": body}
        cert_file = paths.role("count").cert
        cert = json.loads(cert_file.read_text()) if cert_file.exists() else None
        files = export_protocol(f.election, signed, out, store=f.store, clock=clock, certificate=cert,
                                printer=printer)
        return {"signed": True, "state": str(polls.current(f.station_conn)), "revision": signed.revision,
                "hash": signed.envelope_hash, "body_hash": signed.hash, "outbox_seq": signed.outbox_seq,
                "files": files, "body": signed.body}


def count_status(paths: Paths, *, lna_expected=None) -> dict[str, Any]:
    """Polls state, sheets counted (real, test), pending accept, protocol, outbox depth, scanner.

    ``lna_expected``: a test deck's expected.json; adds ``lna`` = the differences between the
    test-mode tally and the deck's truth (empty: the logic-and-accuracy test passed).
    """


    with count_files(paths) as f:
        st = polls.current(f.station_conn)
        ky, ru = polls.STATE_TEXT[st]
        p = latest_protocol(f.store)
        row = f.store.conn.execute("SELECT details FROM audit_log WHERE event = 'scanner-status-changed'"
                                   " ORDER BY seq DESC LIMIT 1").fetchone()
        depth = f.store.conn.execute("SELECT count(*) FROM outbox WHERE acked_at IS NULL").fetchone()[0]
        rejected = f.store.returned_total()      # counters: returned sheets leave no record each
        real = f.store.tally("real")
        # Running results are not shown while voters are still voting: only after the close.
        after_close = st in (polls.PollsState.CLOSED, polls.PollsState.PROTOCOL_SIGNED)
        return {
            "polls": {"state": str(st), "text": {"ky": ky, "ru": ru}},
            "sheets": {"real": f.store.sheet_count("real"), "test": f.store.sheet_count("test"),
                       "returned": rejected},
            "contests": {c.contest: {"ballots_read": c.ballots_read, "valid": c.valid,
                                     "invalid": c.invalid, "blank": c.blank} for c in real.contests}
                        if after_close else None,
            # The L&A deck's counts, to compare with its expected.json (test mode only).
            "test_tally": f.store.tally("test").to_json()["contests"]
            if st in (polls.PollsState.TEST_MODE, polls.PollsState.ZERO_REPORT) else None,
            "pending_accept": f.store.pending() is not None,
            "scanner": json.loads(row[0]).get("status") if row else None,
            "protocol": None if p is None else {"revision": p.revision, "hash": p.envelope_hash,
                                                "body_hash": p.hash,
                                                "outbox_seq": p.outbox_seq},
            "outbox_pending": depth,
        } | ({} if lna_expected is None else {"lna": compare_with_expected(
            f.store.tally("test"), json.loads(Path(lna_expected).read_text(encoding="utf-8"))["tally"])})

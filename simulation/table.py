"""Simulated voters at a simulated identification table (tests, the benchmark and the demo).

Everything below the identify daemon is the real driver code talking to the
drivers' own simulators: the ZFM fingerprint sensor simulator on a pty (read by
``ZfmSensor``), the eMRTD chip emulator in a card slot (``DirectTransport``) or
behind pcscd + vsmartcard-vpcd (``VpcdLink`` + ``PcscTransport``), the
ESC/POS printer simulator writing PNG/PDF into ``var/out/receipts``, and the
indicators on gpiozero's mock pin factory. ``SimulatedIdentifyFactory`` makes
them (the seam of identify/devices.py), and the daemon is built from it by the
same ``build_identify_daemon`` that builds the real table from the hardware.

Synthetic voters (simulation/election.py): a voter's ID card is a TD1
card (document number from the list, the 14-digit PIN in line 1's optional
data, shared/data/README.md) whose EF.SOD is signed by the demo card issuer's
document signer (simulation/authority.py ``document_signer``: the package's
trust/document-signers.pem holds its certificates); the voter's finger is
``SyntheticFinger(finger_seed(seed, pin, 0))``: impressions 0 and 1 were
enrolled, the sensor presents impression 2 and later.

At a remote-voting site (the package's station ``kind``) the table has the A4
document printer too: the IPP printer simulator (drivers/docprinter/simulator.py,
rendering each page to PNG under ``var/out/ballots-printed``) behind the real IPP
driver, which prints each accepted voter's ballots on demand (identify/daemon.py
step 6); ``SimTable.ballot_sim`` is that simulator.

Scripted visits (``Visit``): a voter who is accepted, a card from another
station (not on the list), a voter who comes back (already identified), a
finger that does not match followed by the commission's manual
identification, a card whose EF.SOD does not verify, and a visit while polls
are paused.

Example::

    home = provision_home(tmp / "st", pkg_dir, signing_key=key)
    with SimTable(home, secrets_dir(pkg_dir)) as table:
        result = table.visit(Visit(table.voters[0].pin))
        assert result.outcome.accepted
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import json
import logging
import os
import queue
import time
import unicodedata
from pathlib import Path

from gpiozero.pins.mock import MockFactory
from PIL import Image, ImageDraw

from base.clock import SystemClock
from base.paths import Paths
from base.sdnotify import Notifier
from biometrics.extract import extract
from biometrics.synthetic import SyntheticFinger, finger_seed
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.simulator import DocPrinterSimulator
from drivers.fingerprint.serial_sensor import ZfmSensor
from drivers.fingerprint.simulator import SensorSimulator
from drivers.idcard.base import CardReader, CardStatus, DirectTransport, PcscTransport
from drivers.idcard.emulator import EmrtdEmulator
from drivers.idcard.errors import CardRemovedError
from drivers.idcard.mrz import format_td1
from drivers.idcard.mrz_reader import MrzReader, PtyMrzScanner
from drivers.idcard.vpcd import VpcdLink
from drivers.indicators import Indicators, scaled_patterns
from drivers.printer.simulator import SimulatedPrinter
from identify.daemon import build_identify_daemon, stop_after_commit_hook
from identify.devices import IdentifyDeviceFactory
from identify.voters import VOTER_COLUMNS, Voter, by_pin, listed
from provisioning.identity import enroll_with_authority, init_device
from provisioning.package import load_package
from simulation.authority import cec_pub_path, document_signer, load_or_create_key, secrets_dir
from simulation.election import demo_voters
from station import polls
from station.db import open_station_db
from station.errors import ConfigError
from station.package import current_package

# --- provisioning a home from a demo package ----------------------------------------

MEMBER = ("m1", "Асанова Гүлнара", "246813")   # demo commission member (id, name, PIN)


def provision_home(root: str | os.PathLike, pkg_dir: str | os.PathLike, *, signing_key,
                   state: str = "open", clock=None) -> Paths:
    """A provisioned station directory from a demo package: a key and certificate per role,
    package loaded (voters and templates in identify.db), a commission member, polls driven
    to ``state`` ("provisioned", "zero-report-printed", "open")."""

    paths = Paths.from_env(root).ensure()
    cec = load_or_create_key(signing_key)
    init_device(paths, cec_pub_path(pkg_dir), clock=clock)
    pkg = load_package(paths, pkg_dir, clock=clock)
    enroll_with_authority(paths, cec, pkg.election.station.id, pkg.election.id, paths.config_dir / "issued",
                          clock=clock)
    conn = open_station_db(paths.station_db)
    try:
        polls.set_member_pin(conn, MEMBER[0], MEMBER[1], MEMBER[2], clock=clock)
        steps = {"provisioned": [], "zero-report-printed": ["enter-test-mode", "print-zero-report"],
                 "open": ["enter-test-mode", "print-zero-report", "open"]}[state]
        for a in steps:
            polls.apply(conn, a, actor=f"member:{MEMBER[0]}", clock=clock,
                        counters_zero=True if a == "print-zero-report" else None)
    finally:
        conn.close()
    return paths


# --- synthetic cards and fingers ------------------------------------------------------

_LATIN = dict(zip("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯҢӨҮ",
                  ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "I", "K", "L", "M", "N", "O", "P",
                   "R", "S", "T", "U", "F", "KH", "TS", "CH", "SH", "SHCH", "", "Y", "", "E", "IU", "IA",
                   "N", "O", "U"], strict=True))


def mrz_name(text: str) -> str:
    """Cyrillic (Kyrgyz and Russian letters) to the MRZ's A-Z (ICAO 9303 Part 3 transliteration)."""
    out = []
    for ch in text.upper():
        if ch in _LATIN:
            out.append(_LATIN[ch])
        elif "A" <= ch <= "Z":
            out.append(ch)
        elif ch in " -":
            out.append(" ")
        else:
            base = unicodedata.normalize("NFKD", ch)[0]
            out.append(base if "A" <= base <= "Z" else "")
    return " ".join("".join(out).split())


def voter_mrz(voter, *, expiry: dt.date = dt.date(2030, 6, 30)) -> tuple[str, str, str]:
    """The TD1 MRZ of a voter's ID card: document number, PIN in line 1's optional data."""

    return format_td1(document_type="ID", issuing_state="KGZ", document_number=voter.document_number,
                      optional_data=voter.pin, birth_date=voter.birth_date, sex=voter.sex,
                      expiry_date=expiry, nationality="KGZ", surname=mrz_name(voter.surname),
                      given_names=mrz_name(voter.name))


@functools.cache
def face_jpeg() -> bytes:
    """A small grey portrait placeholder for DG2."""

    img = Image.new("L", (60, 80), 200)
    d = ImageDraw.Draw(img)
    d.ellipse((15, 10, 45, 45), fill=120)
    d.rectangle((10, 50, 50, 80), fill=90)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=60)
    return buf.getvalue()


def voter_card(voter, pki, *, preset: str | None = None, pull_after_reads: int = 3):
    """The voter's ID card as an eMRTD chip emulator (``preset``: the emulator's failure presets)."""

    return EmrtdEmulator(voter_mrz(voter), face_jpeg(), pki, preset=preset, pull_after_reads=pull_after_reads)


def outsider(seed: int = 999):
    """A voter of another station (not on this list)."""

    row = next(demo_voters(seed, 1))
    rec = dict(zip(VOTER_COLUMNS, row, strict=True))
    rec["document_number"] = "ID9" + rec["document_number"][3:]
    return Voter(pin=rec["pin"], document_number=rec["document_number"], surname=rec["surname"],
                 name=rec["name"], patronymic=rec["patronymic"],
                 birth_date=dt.date.fromisoformat(rec["birth_date"]), sex=rec["sex"], district=None,
                 registered_since=None, overseas=False, remote=False)


def finger_impression(seed: int, pin: str, index: int = 2, finger: int = 0):
    """Press ``index`` of the voter's synthetic ``finger`` (presses 0 and 1 were enrolled)."""

    return SyntheticFinger(finger_seed(seed, pin, finger)).impression(index)


class CardSlot:
    """The card reader's slot for ``DirectTransport``: holds one chip emulator, or none."""

    def __init__(self):
        self.card = None

    def __repr__(self) -> str:
        return f"CardSlot({self.card!r})"

    def insert(self, card) -> None:
        card.insert()
        self.card = card

    def remove(self) -> None:
        if self.card is not None:
            self.card.pull()
        self.card = None

    @property
    def present(self) -> bool:
        return self.card is not None and self.card.present

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        if self.card is not None:
            self.card.power_off()

    def transmit(self, raw: bytes) -> bytes:
        if self.card is None:
            raise CardRemovedError("the card has left the reader")
        return self.card.transmit(raw)


class QueueMrz:
    """The MRZ input seam fed by a queue (the simulated MRZ reader or the commission's typing)."""

    def __init__(self):
        self._q: queue.Queue = queue.Queue()

    def put(self, keys) -> None:
        self._q.put(keys)

    def read_mrz(self, timeout: float = 0.0):
        try:
            return self._q.get(timeout=timeout) if timeout else self._q.get_nowait()
        except queue.Empty:
            return None

    def clear(self) -> None:
        while self.read_mrz() is not None:
            pass


# --- the table --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Visit:
    """One scripted visit to the table.

    ``kind``: "accept" (card + own finger), "not-on-list" (card of another station's
    voter), "mismatch" (someone else's finger; then ``manual_reason`` if given),
    "bad-sod" (card whose EF.SOD does not verify), "card-pulled" (card leaves mid-read),
    "wrong-mrz" (MRZ keys of another card), "typed" (document number typed, own finger),
    "search" (no document: 1:N search confirmed by the commission), "polls-paused" (the
    commission paused the polls: the card is refused, polls resume after).
    """

    pin: str
    kind: str = "accept"
    manual_reason: str | None = None
    sensor_preset: str | None = None
    mrz_preset: str | None = None     # with the MRZ scanner: "garbled", "truncated", "split"


@dataclasses.dataclass
class VisitResult:
    visit: Visit
    table: object                 # identify.daemon.TableResult
    manual: object | None = None  # Outcome of the manual identification, if any
    ballots: list = dataclasses.field(default_factory=list)   # printed on demand (identify.ondemand.BallotPrint)

    @property
    def outcome(self):
        return self.manual or self.table.outcome


class SimulatedIdentifyFactory(IdentifyDeviceFactory):
    """The identification table's drivers on their simulators (identify/devices.py's seam).

    The ZFM sensor simulator on a pty (``sensor_sim``) read by ``ZfmSensor``; the card
    reader on a ``CardSlot`` (``transport="direct"``) or on pcscd's "Virtual PCD"
    (``"pcsc"``, fed by ``VpcdLink``); the BAC keys typed by the commission (a queue,
    ``mrz="typed"``) or the MRZ scanner simulator on a pty (``mrz_scanner``) read by
    the real ``MrzReader`` (``"scanner"``); the ESC/POS printer simulator writing into
    ``receipts_dir``; the lights on gpiozero's ``MockFactory``, patterns 1000 times faster;
    with ``ballots_dir`` (a remote-voting site), the IPP document printer simulator rendering
    into it, driven by the real ``IppPrinter``.
    """

    description = "simulated devices"

    def __init__(self, receipts_dir: str | os.PathLike, *, transport: str = "direct", mrz: str = "typed",
                 ballots_dir: str | os.PathLike | None = None):
        super().__init__()
        self.receipts_dir = Path(receipts_dir)
        self.ballots_dir = Path(ballots_dir) if ballots_dir is not None else None
        self.transport = transport
        self.mrz = mrz
        self.slot = CardSlot()
        self.sensor_sim: SensorSimulator | None = None
        self.mrz_scanner: PtyMrzScanner | None = None
        self.ballot_sim: DocPrinterSimulator | None = None

    def __repr__(self) -> str:
        return f"SimulatedIdentifyFactory({self.receipts_dir}, transport={self.transport}, mrz={self.mrz})"

    def sensor(self) -> ZfmSensor:
        self.sensor_sim = self.keep(SensorSimulator().start())
        return self.keep(ZfmSensor(self.sensor_sim.port, reply_timeout_s=0.5, poll_interval_s=0.01))

    def card_reader(self) -> CardReader:
        if self.transport == "pcsc":
            return self.keep(CardReader(PcscTransport("Virtual PCD")))
        return self.keep(CardReader(DirectTransport(self.slot)))

    def mrz_input(self):
        if self.mrz != "scanner":
            return QueueMrz()
        self.mrz_scanner = self.keep(PtyMrzScanner())
        reader = self.keep(MrzReader(self.mrz_scanner.port))
        reader.status()     # open the port now: opening flushes what arrived before
        return reader

    def printer(self) -> SimulatedPrinter:
        return self.keep(SimulatedPrinter(self.receipts_dir))

    def indicators(self) -> Indicators:
        return self.keep(Indicators(MockFactory(), patterns=scaled_patterns(0.001)))

    def ballot_printer(self) -> IppPrinter | None:
        if self.ballots_dir is None:
            return None
        self.ballot_sim = self.keep(DocPrinterSimulator(self.ballots_dir))
        return self.keep(IppPrinter(self.ballot_sim.uri, poll_s=0.01))


class SimTable:
    """A whole simulated identification table over a provisioned home (context manager).

    The daemon is built by ``build_identify_daemon`` from a ``SimulatedIdentifyFactory``,
    exactly as ``uchastok identify run`` builds it from the hardware factory.
    """

    def __init__(self, paths: Paths, secrets: str | os.PathLike, *, table: str = "1", clock=None,
                 transport: str = "direct", mrz: str = "typed", logger=None, after_commit=None,
                 receipts_dir=None, notifier=None):
        self.paths = paths
        self.secrets = Path(secrets)
        self.clock = clock or SystemClock()
        if current_package(paths) is None:
            raise FileNotFoundError(f"{paths.package_dir}: no election package loaded")
        self.seed = int((self.secrets / "seed").read_text().strip())
        self.pki = document_signer(self.secrets)
        self.receipts_dir = Path(receipts_dir or paths.output_dir / "receipts")
        remote_site = current_package(paths).election.station.remote_site
        self.factory = SimulatedIdentifyFactory(
            self.receipts_dir, transport=transport, mrz=mrz,
            ballots_dir=paths.output_dir / "ballots-printed" if remote_site else None)
        self.daemon = build_identify_daemon(paths, self.factory, table=table, clock=self.clock, logger=logger,
                                            notifier=notifier, after_commit=after_commit,
                                            capture_deadline_s=1.0, on_prompt=self._prompted)
        self._finger_of: str | None = None     # whose fingers are on the sensor during a visit
        self._link = None

    def __repr__(self) -> str:
        return f"SimTable({self.paths.state_dir}, table={self.identifier.table}, {self.factory.transport})"

    def __enter__(self) -> SimTable:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._unlink()
        self.daemon.close()

    # The daemon's parts, for the tests and the demo.
    identifier = property(lambda self: self.daemon.identifier)
    election = property(lambda self: self.daemon.election)
    trust = property(lambda self: self.daemon.trust)
    sensor = property(lambda self: self.daemon.sensor)
    card_reader = property(lambda self: self.daemon.card_reader)
    printer = property(lambda self: self.daemon.printer)
    indicators = property(lambda self: self.daemon.indicators)
    mrz = property(lambda self: self.daemon.mrz_input)
    # The simulators behind them.
    sensor_sim = property(lambda self: self.factory.sensor_sim)
    mrz_scanner = property(lambda self: self.factory.mrz_scanner)
    ballot_sim = property(lambda self: self.factory.ballot_sim)
    slot = property(lambda self: self.factory.slot)

    @functools.cached_property
    def voters(self) -> list:
        return listed(self.identifier.conn)      # with the homes of a national list (a remote-voting site)

    def voter(self, pin: str):
        return by_pin(self.identifier.conn, pin)

    # -- devices -----------------------------------------------------------------------

    def insert_card(self, card) -> None:
        if self.factory.transport == "pcsc":
            self._unlink()
            self._link = VpcdLink(card).__enter__()
            self._link.wait_until_inserted(PcscTransport("Virtual PCD"))
        else:
            self.slot.insert(card)

    def remove_card(self) -> None:
        if self.factory.transport == "pcsc":
            self._unlink()
            # pcscd notices the card leaving on its next poll: wait for it, so the next card
            # is not taken for this one.

            deadline = time.monotonic() + 5.0
            while self.card_reader.status() is CardStatus.READY and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            self.slot.remove()

    def _unlink(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def place_finger(self, pin: str, index: int = 2) -> None:
        self.sensor_sim.place_finger(finger_impression(self.seed, pin, index))

    # -- visits ---------------------------------------------------------------------------

    def visit(self, v: Visit):
        """Run one scripted visit through the daemon; the card leaves and the finger lifts after."""
        voter = outsider() if v.kind == "not-on-list" else self.voter(v.pin)
        self.sensor_sim.set_preset(v.sensor_preset)
        finger_pin = voter.pin
        if v.kind == "mismatch":
            finger_pin = next(x.pin for x in self.voters if x.pin != voter.pin)
        manual = None
        paused = v.kind == "polls-paused"
        if paused:
            self._polls("pause")
        try:
            self._present_finger(finger_pin)
            if v.kind == "typed":
                result = self.daemon.serve_typed(voter.document_number)
            elif v.kind == "search":
                result = self.daemon.serve_search()
                if result.outcome is not None and result.outcome.candidates:
                    best = result.outcome.candidates[0]
                    result = self.daemon.confirm(best.pin, MEMBER[0])
            else:
                preset = {"bad-sod": "bad-sod", "card-pulled": "card-pulled"}.get(v.kind)
                card = voter_card(voter, self.pki, preset=preset)
                self.insert_card(card)
                shown = voter_card(outsider(7), self.pki).mrz if v.kind == "wrong-mrz" else card.mrz
                if self.mrz_scanner is not None:
                    self.mrz_scanner.present(shown.text, preset=v.mrz_preset)
                    result = self.daemon.serve_voter(mrz_timeout=1.0)
                else:
                    self.mrz.put(shown.bac_key)
                    result = self.daemon.serve_voter()
            out = result.outcome
            if v.manual_reason and out is not None and out.offer_manual:
                manual = self.daemon.manual(voter.pin, MEMBER[0], v.manual_reason)
        finally:
            self.remove_card()
            self.sensor_sim.lift_finger()
            self._finger_of = None
            self.sensor_sim.set_preset(None)
            if self.sensor_sim.unplugged:
                self.sensor_sim.replug()
            if self.mrz_scanner is None:
                self.mrz.clear()
            if paused:
                self._polls("resume")
        return VisitResult(v, result, manual.outcome if manual is not None else None,
                           (manual or result).ballots)

    def _polls(self, action: str) -> None:
        polls.apply(self.identifier.station_conn, action, actor=f"member:{MEMBER[0]}", clock=self.clock)

    def _present_finger(self, pin: str, finger: int = 0) -> None:
        """The voter's first press that the extractor accepts (a real voter presses again)."""

        self._finger_of = pin
        for index in range(2, 12):
            img = finger_impression(self.seed, pin, index, finger)
            if extract(img).ok:
                self.sensor_sim.place_finger(img)
                return
        self.sensor_sim.place_finger(finger_impression(self.seed, pin, 2, finger))

    def _prompted(self, result) -> None:
        """The screen's hook: asked for the other finger, the voter at the sensor places it."""
        if result.status == "other-finger" and self._finger_of is not None:
            self._present_finger(self._finger_of, finger=1)


def script(voters: list, n: int) -> list[Visit]:
    """A demo day's first ``n`` visits: mostly accepted voters, with every refusal scripted in
    (visit 4: already identified, 6: not on the list, 8: fingerprint mismatch then manual,
    10: card not authentic, 11: polls paused)."""
    visits: list[Visit] = []
    pool = [v.pin for v in voters]
    specials = {3: Visit(pool[0], "accept"),                       # comes back: already identified
                5: Visit(pool[-1], "not-on-list"),
                7: Visit(pool[-2], "mismatch", manual_reason="fingerprint-unreadable"),
                9: Visit(pool[-3], "bad-sod"),
                10: Visit(pool[-4], "polls-paused")}
    i = 0
    for k in range(n):
        if k in specials:
            visits.append(specials[k])
        else:
            visits.append(Visit(pool[i % len(pool)]))
            i += 1
    return visits


def run_sim_table(paths: Paths, *, secrets=None, voters: int | None = None, table: str = "1",
                  stop_after_commit: bool = False, echo=print) -> dict:
    """`identify run --sim`: the identify daemon on the simulated devices.

    With ``voters`` N, N scripted visits (``script``) go through the daemon and it returns;
    without ``voters`` it serves until SIGTERM.
    """
    log = logging.getLogger("uchastok.identify")
    after = stop_after_commit_hook if stop_after_commit else None
    secrets = secrets or demo_secrets(paths)
    if secrets is None:
        raise ConfigError("--sim needs the demo package's secrets directory (--secrets PKG.secrets)")
    with SimTable(paths, secrets, table=table, logger=log, after_commit=after,
                  notifier=Notifier.from_env()) as sim_table:
        daemon = sim_table.daemon
        if voters is None:
            daemon.run_until_signal()
            return {"identified": daemon.served}
        results = []
        daemon.begin()          # READY; the receipts a crash left queued print first
        try:
            for v in script(sim_table.voters, voters):
                r = sim_table.visit(v)
                out = r.outcome
                line = {"visit": v.kind, "pin": v.pin, "status": str(out.status) if out else r.table.status,
                        "reason": out.reason if out else r.table.status,
                        "receipt": out.receipt.label if out and out.receipt else None}
                echo(" ".join(f"{k}={val}" for k, val in line.items()))
                results.append(line)
        finally:
            daemon.end()
        return {"identified": daemon.served, "visits": results,
                "receipts_dir": str(sim_table.receipts_dir)}


def demo_secrets(paths: Paths):
    """PKG.secrets beside the demo package this station loaded last (station.db's audit log names it)."""
    conn = open_station_db(paths.station_db)
    try:
        row = conn.execute("SELECT details FROM audit_log WHERE event = 'package-load-init'"
                           " ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    found = secrets_dir(json.loads(row[0]).get("dir", ""))
    return found if (found / "seed").exists() else None

"""The simulated election day: every part of the appliance, end to end, with no hardware.

``make demo`` runs ``uchastok demo``. In a scratch directory it:

1. builds a signed synthetic election package (voters with enrolled fingerprints);
2. provisions a device: key, certificate from the provisioning authority, package
   loaded, commission PINs set;
3. builds and provisions a remote-voting site, RV-9001 in another district
   (simulation/remote_day.py: the national list, every district's ballots),
   zero report printed, polls open;
4. starts the reference central receiver on loopback and enrols both devices
   there, with the site and the national list registered; both stations claim
   each voter online (the site through a link the demo can cut);
5. runs the logic-and-accuracy test: test mode, a marked test deck through the
   scanner, the test tally compared with the deck's truth; then prints the zero
   report (all counters zero) — only then can polls open;
6. opens the polls;
7. a morning at the remote-voting site: voters of other districts identified and
   claimed online, their district's ballots printed on demand; one of the site's
   own district refused; one leaves the sheets (voided); then the link drops and
   two voters are issued on provisional claims;
8. identifies voters through the real drivers talking to their simulators (ZFM
   sensor on a pty, eMRTD chip emulator, ESC/POS printer): accepted voters, and the
   refusals a commission meets (not on this list, already identified, fingerprint
   mismatch followed by manual identification, card not authentic, identified
   at the remote-voting site); the site's link then returns and its provisional
   claims are answered (one refused: the voter was identified at home too);
9. puts every accepted voter's ballots into the box, shuffled as a real box mixes
   them, and feeds them through the simulated scanner to the count daemon; the
   site's printed sheets, marked, through the site's scanner;
10. closes the polls, signs the results protocols and the identification summaries;
11. uploads every outbox to the receiver;
12. shows the receiver's aggregated results, remote voting apart, and the checks.

The day runs on a simulated clock (08:00-20:00 Asia/Bishkek, today), so the
receipts and the turnout picture look like a real day. It ends by printing where
every artefact is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from base.clock import parse_iso
from base.paths import Paths
from base.sqlite import connect
from count.role import count_status, results_protocol, run_count, zero_report
from identify.claims import claim_counts
from identify.daemon import identification_summary
from provisioning.identity import enroll_with_authority, init_device
from provisioning.package import load_package
from simulation.authority import build_demo_package, cec_pub_path, load_or_create_key, secrets_dir
from simulation.ballot_box import SimulatedCountFactory
from simulation.ballots import demo_ballot
from simulation.deck import write_deck
from simulation.faultproxy import FaultProxy
from simulation.remote_day import (
    RemoteSite,
    build_site_package,
    connect_site,
    fill_site_box,
    link_back,
    open_site_polls,
    plan_site,
    provision_site,
    site_morning,
    site_stations_file,
)
from simulation.table import SimTable, Visit
from station import polls
from station.db import open_station_db
from station.members import polls_action
from sync.uploader import Uploader, open_station

TZ = ZoneInfo("Asia/Bishkek")
CHAIR = ("1", "Асанова Бермет", "258013")      # demo commission chair (id, name, PIN)
MEMBER = ("2", "Петров Сергей", "139752")
STAGES = 12
SITE_VOTERS = 2_000          # the site's national list beyond the home station's voters (4.3 M: bench_remote_site)
SCREENS_MINUTES = 15          # how long the demo's screens and central portal stay up after the demo ends
_RECEIVER_PIDS: list[int] = []


@dataclass
class DemoOptions:
    out: Path
    voters: int = 300
    turnout: float = 0.62
    seed: int = 1
    lna_sheets: int = 24
    dpi: int = 150
    remote_site: bool = True
    echo: Callable[[str], None] = print


@dataclass
class DemoResult:
    out: Path
    artefacts: dict[str, str] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


class Progress:
    """Stage lines for people: what is happening, and how long it took."""

    def __init__(self, echo: Callable[[str], None]):
        self.echo = echo
        self.n = 0
        self.t0 = time.monotonic()

    @contextlib.contextmanager
    def stage(self, ky: str, ru: str, en: str):
        self.n += 1
        self.echo(f"\n[{self.n}/{STAGES}] {en}  ·  {ru}  ·  {ky}")
        t = time.monotonic()
        yield
        self.echo(f"      done in {time.monotonic() - t:.1f} s")

    def info(self, text: str) -> None:
        self.echo(f"      {text}")

    def bar(self, label: str, done: int, total: int) -> None:
        """A progress bar on a terminal; every 25% as a plain line otherwise (logs, CI)."""
        width = 30
        filled = int(width * done / max(total, 1))
        if sys.stdout.isatty():
            end = "\n" if done >= total else ""
            sys.stdout.write(f"\r      {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
            sys.stdout.flush()
        elif done == total or (4 * done) // max(total, 1) != (4 * (done - 1)) // max(total, 1):
            self.echo(f"      {label}: {done}/{total}")


class DayClock:
    """The simulated day's clock: starts at 07:30 local today, moves only when told."""

    def __init__(self, day: dt.date):
        self._now = dt.datetime.combine(day, dt.time(7, 30), TZ).astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._now.timestamp()

    def set_local(self, hh: int, mm: int = 0) -> None:
        local = self._now.astimezone(TZ)
        self._now = local.replace(hour=hh, minute=mm, second=0).astimezone(dt.UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8", "replace")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def run_demo(opts: DemoOptions) -> DemoResult:
    out = opts.out.absolute()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    res = DemoResult(out)
    p = Progress(opts.echo)
    today = dt.datetime.now(TZ).date()
    clock = DayClock(today)
    rng = random.Random(opts.seed)

    # 1 -------------------------------------------------------------------------------------
    with p.stage("Шайлоо пакети", "Пакет выборов", "Election package"):
        authority_key_file = out / "authority" / "cec.key"
        pkg = build_demo_package(out / "package", voters=opts.voters, seed=opts.seed,
                                 signing_key=authority_key_file, voting_day=today,
                                 progress=lambda s, d, t: p.bar("enrolling fingerprints", d, t))
        e = pkg.election
        p.info(f"{e.name.ru}, voting day {e.voting_day}, station {e.station.id} ({e.station.name.ru})")
        p.info(f"{pkg.voter_rows} voters, {pkg.manifest['voters']['templates']} fingerprint templates,"
               f" contests: {', '.join(c.id for c in e.contests)}; signed, sha256 {pkg.hash[:16]}…")
        res.artefacts["election package"] = str(pkg.dir)

    # 2 -------------------------------------------------------------------------------------
    with p.stage("Түзмөктү даярдоо", "Подготовка устройства", "Provisioning the device"):
        paths = Paths.from_env(out / "station").ensure()
        authority = load_or_create_key(authority_key_file)
        idents = init_device(paths, cec_pub_path(pkg.dir), clock=clock)
        cert_files = list(enroll_with_authority(paths, authority, e.station.id, e.id, out / "authority",
                                                clock=clock).values())
        load_package(paths, pkg.dir, clock=clock)
        conn = open_station_db(paths.station_db)
        try:
            for mid, name, pin in (CHAIR, MEMBER):
                polls.set_member_pin(conn, mid, name, pin, role="chair" if mid == "1" else "member", clock=clock)
        finally:
            conn.close()
        p.info(f"keys: identify {idents['identify'].device_id}, count {idents['count'].device_id};"
               f" a certificate each for {e.station.id}; package loaded and re-verified")
        p.info(f"commission PINs set: chair {CHAIR[0]} ({CHAIR[1]}), member {MEMBER[0]} ({MEMBER[1]})")
        res.artefacts["station home (state, logs, keys)"] = str(paths.state_dir.parent)

    # 3 -------------------------------------------------------------------------------------
    site = None
    with p.stage("Аралыктан добуш берүү пункту", "Пункт дистанционного голосования",
                 "A remote-voting site"):
        if opts.remote_site:
            site_clock = DayClock(today)
            site_pkg = build_site_package(out / "remote-site" / "package", home_voters=opts.voters,
                                          voters=SITE_VOTERS, seed=opts.seed, signing_key=authority_key_file,
                                          secrets=secrets_dir(pkg.dir), voting_day=today)
            se = site_pkg.election
            site_paths, site_certs = provision_site(out / "remote-site" / "station", site_pkg, authority,
                                                    cec_pub_path(pkg.dir), (CHAIR, MEMBER), clock=site_clock)
            open_site_polls(site_paths, CHAIR, clock=site_clock)
            p.info(f"{se.station.id} ({se.station.name.ru}), district {se.station.district}:"
                   f" national list {site_pkg.voter_rows} voters, {len(se.contests)} contests"
                   f" ({len(se.contests) - 1} districts and the party list),"
                   f" {site_pkg.manifest['voters']['templates']} templates (voters who applied in advance)")
            p.info("provisioned, zero report printed, polls open; claims every voter at the centre online")
            res.artefacts["remote-voting site home"] = str(site_paths.state_dir.parent)
        else:
            p.info("left out (--no-remote-site)")

    # 4 -------------------------------------------------------------------------------------
    with contextlib.ExitStack() as stack:
        with p.stage("Борбордук сервер", "Центральный сервер", "Central receiver on loopback"):
            extra = ((site_stations_file(site_pkg, out / "remote-site" / "stations.json"), site_pkg, site_certs)
                     if opts.remote_site else None)
            url, port = _start_receiver(stack, out / "central", pkg, cert_files, extra)
            p.info(f"listening on {url}; device enrolled")
            res.artefacts["central database"] = str(out / "central" / "central.db")
            # Both stations claim each voter online (identify/claims.py): the home station while the
            # link answers, the site always, through its own link (the demo cuts it on stage 7).
            paths.config_file.write_text(f'[claims]\nurl = "{url}"\nmode = "when-online"\nwait_s = 2.0\n',
                                         encoding="utf-8")
            if opts.remote_site:
                link = stack.enter_context(FaultProxy(("127.0.0.1", port)))
                connect_site(site_paths, link.url)
                site = RemoteSite(site_paths, site_pkg, site_clock, link, plan_site(
                    _home_pins(paths), random.Random(opts.seed + 1)),
                    secrets_dir(pkg.dir))
                p.info(f"{se.station.id} enrolled; the national list of {site_pkg.voter_rows} voters registered"
                       " for the online claims")
        _day(opts, p, res, paths, pkg, clock, rng, url, e, site)
    return res


def _identify_rows(paths, sql: str, *args) -> list[tuple]:
    """Rows of a query on a station's identify.db, opened read-only (the demo looks, never writes)."""
    conn = connect(paths.identify_db, readonly=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _home_pins(paths) -> list[str]:
    return [r[0] for r in _identify_rows(paths, "SELECT pin FROM voter ORDER BY rowid")]


def _start_receiver(stack: contextlib.ExitStack, central: Path, pkg, cert_files: list[Path],
                    site=None) -> tuple[str, int]:
    """The central server (API and public portal) as its own process on a free loopback port.

    ``site``: (stations file, package, certificates) of the remote-voting site: registered, its
    devices enrolled, its national list loaded for the online claims. It outlives the demo for
    ``SCREENS_MINUTES`` minutes (``timeout`` ends it with SIGTERM, which it handles gracefully),
    so the portal can be opened after the demo; stopped with ``stack`` only if the demo fails
    before its end. Returns its URL and port.
    """

    central.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    db = str(central / "central.db")
    log = open(central / "receiver.log", "w")       # handed to the detached process
    receiver = subprocess.Popen(
        ["timeout", f"{SCREENS_MINUTES * 60}s",
         *_cli("receiver", "serve", "--db", db, "--port", str(port),
               "--key", str(secrets_dir(pkg.dir) / "ack-server.key"),
               "--trust", str(cec_pub_path(pkg.dir)), "--package-dir", str(pkg.dir),
               *(("--stations", str(site[0])) if site else ()))],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    _RECEIVER_PIDS.append(receiver.pid)

    def stop_on_failure(exc_type, exc, tb):
        if exc_type is not None:
            receiver.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                receiver.wait(timeout=5)

    stack.push(stop_on_failure)
    _wait_http(url + "/openapi.json")
    for cert_file in [*cert_files, *(site[2] if site else ())]:
        subprocess.run(_cli("receiver", "enroll", "--db", db, "--trust", str(cec_pub_path(pkg.dir)), str(cert_file)),
                       check=True, stdout=subprocess.DEVNULL)
    if site:
        subprocess.run(_cli("receiver", "register-national-list", "--db", db, str(site[1].dir / "voters.csv")),
                       check=True, stdout=subprocess.DEVNULL)
    return url, port


def _wait_http(url: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            _get_json(url)
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def _day(opts, p, res, paths, pkg, clock, rng, url, e, site: RemoteSite | None) -> None:
    chair_id, _, chair_pin = CHAIR

    # 5 -------------------------------------------------------------------------------------
    with p.stage("Сыноо жана нөлдүк отчёт", "Тестирование и нулевой отчёт",
                 "Logic-and-accuracy test, zero report"):
        clock.set_local(7, 30)
        polls_action(paths, "enter-test-mode", chair_id, chair_pin, clock=clock)
        deck_dir = opts.out / "lna-deck"
        expected = write_deck(e, deck_dir, sheets=opts.lna_sheets, dpi=opts.dpi, seed=opts.seed)
        shutil.copyfile(expected, opts.out / "lna-expected.json")
        run_count(paths, SimulatedCountFactory(deck_dir, paths.output_dir / "printer"), until_empty=True,
                  idle_s=0.05)
        st = count_status(paths, lna_expected=opts.out / "lna-expected.json")
        differences = st.get("lna") or []
        p.info(f"test deck: {opts.lna_sheets} sheets (every validity rule and bad sheet);"
               f" differences from the truth: {len(differences)}")
        if differences:
            raise RuntimeError(f"logic-and-accuracy test failed: {differences[:5]}")
        clock.set_local(7, 50)
        zr = zero_report(paths, member=chair_id, pin=chair_pin, clock=clock)
        p.info("zero report printed: every counter at zero")
        for f in zr.get("files") or []:
            res.artefacts[f"zero report ({Path(f).suffix[1:]})"] = str(f)

    # 6 -------------------------------------------------------------------------------------
    with p.stage("Добуш берүү ачылды", "Открытие голосования", "Opening the polls"):
        clock.set_local(8, 0)
        st = polls_action(paths, "open", chair_id, chair_pin, clock=clock)
        p.info(f"polls {st} at 08:00")

    # 7 -------------------------------------------------------------------------------------
    with p.stage("Аралыктан добуш берүү: эртең менен", "Дистанционное голосование: утро",
                 "The remote-voting site's morning"):
        if site is not None:
            fig = site_morning(site, random.Random(opts.seed + 2), p.info)
            for k, v in fig["outcomes"].items():
                p.info(f"{k:<58} {v:>3}")
            p.info(f"ballots printed on demand: {fig['printed']};"
                   f" claims queued while the link is down: {_queued(site)}")
            res.figures["remote_site"] = {"morning": fig}
            res.artefacts["ballots printed on demand (PNG)"] = str(site.paths.output_dir / "ballots-printed")
        else:
            p.info("no remote-voting site in this run")

    # 8 -------------------------------------------------------------------------------------
    with p.stage("Шайлоочуларды идентификациялоо", "Идентификация избирателей", "Identifying voters"):
        ballots, id_figures = _identify(opts, p, paths, pkg, clock, rng, e, site)
        res.figures["identification"] = id_figures
        res.artefacts["receipts (PNG/PDF)"] = str(paths.output_dir / "receipts")
        if site is not None:
            site.clock.set_local(19, 55)
            back = link_back(site)
            prov = back["provisional"]
            p.info(f"{site.id}'s link is back: {back['answered']} queued claims answered; provisional claims:"
                   f" granted {prov['granted_later']}, refused {prov['refused_later']} (identified at"
                   f" {e.station.id} meanwhile: an anomaly at the centre naming both)")
            res.figures["remote_site"]["link_back"] = back

    # 9 -------------------------------------------------------------------------------------
    with p.stage("Бюллетендерди саноо", "Подсчёт бюллетеней", "Ballots through the scanner"):
        box = opts.out / "ballot-box"
        _fill_box(box, ballots, e, rng, opts.dpi, p)
        t = time.monotonic()
        summary = run_count(paths, SimulatedCountFactory(box, paths.output_dir / "printer"), until_empty=True,
                            idle_s=0.05)
        took = time.monotonic() - t
        n = summary.get("sheets_real", 0)
        p.info(f"{n} sheets counted in {took:.1f} s ({1000 * took / max(n, 1):.0f} ms per sheet)"
               f"; returned to the voter: {summary.get('returned', summary.get('rejected', 0))}")
        res.figures["sheets"] = n
        if site is not None:
            site_box = opts.out / "remote-site" / "ballot-box"
            dropped = fill_site_box(site, site_box, rng)
            counted = run_count(site.paths, SimulatedCountFactory(site_box, site.paths.output_dir / "printer"),
                                until_empty=True, idle_s=0.05)
            p.info(f"{site.id}: {dropped} sheets printed on demand, marked and mixed in its box;"
                   f" counted {counted.get('sheets_real', 0)}")
            res.figures["remote_site"]["sheets"] = counted.get("sheets_real", 0)

    # 10 ------------------------------------------------------------------------------------
    with p.stage("Добуш берүү жабылды, протокол", "Закрытие, протокол", "Closing the polls, the protocol"):
        clock.set_local(20, 0)
        polls_action(paths, "close", chair_id, chair_pin, clock=clock)
        summary = _identification_summary(paths, clock)
        clock.set_local(21, 30)

        # The count role's receipt printer (its simulator).
        with SimulatedCountFactory(box, paths.output_dir / "printer") as devices, devices.printer() as printer:
            signed = results_protocol(paths, sign=True, member=chair_id, pin=chair_pin, clock=clock,
                                      printer=printer)
        p.info(f"protocol signed by the device key, hash {signed['hash'][:16]}…; identification summary:"
               f" {summary.get('identified')} of {summary.get('voters_on_list')} voters")
        files = signed.get("files") or {}
        for k, v in (files.items() if isinstance(files, dict) else ((Path(f).name, f) for f in files)):
            if k == "printed":
                res.artefacts["protocol printed on the receipt printer"] = str(paths.output_dir / "printer")
                p.info(f"protocol printed on the station's receipt printer: {v}")
            else:
                res.artefacts[f"protocol ({k})"] = str(v)
        res.figures["protocol_hash"] = signed["hash"]
        res.figures["protocol"] = signed["body"]
        if site is not None:
            _close_site(p, res, site)

    # 11 ------------------------------------------------------------------------------------
    with p.stage("Жөнөтүү", "Передача", "Uploading to the central server"):
        sent = _upload(paths, url)
        p.info(f"delivered and acknowledged: {sent}")
        if site is not None:
            p.info(f"{site.id}, through its link: {_upload(site.paths, site.link.url)}")

    # 12 ------------------------------------------------------------------------------------
    with p.stage("Борбордо", "В центре", "Results at the central server"):
        _central_results(p, url, e, res, site)
        if site is not None:
            _central_remote(p, url, res, site, e.station.id)

    _finish(opts, p, res, paths)
    _start_screens(opts, p, res, paths, pkg)
    p.echo(f"\nPublic results portal · Публичный портал результатов · Жыйынтыктардын ачык порталы:\n"
           f"  {url}/   (station {e.station.id}: {res.figures['central'].get('portal_station')};"
           f" it stops by itself in {SCREENS_MINUTES} min, or: kill {' '.join(map(str, _RECEIVER_PIDS))})")


def _queued(site: RemoteSite) -> int:
    conn = connect(site.paths.identify_db, readonly=True)
    try:
        return claim_counts(conn)["claims"]["queued"]
    finally:
        conn.close()


def _close_site(p, res, site: RemoteSite) -> None:
    """The site closes: its identification summary (provisional claims apart) and its protocol,
    one section per district."""
    clock = site.clock
    clock.set_local(20, 0)
    polls_action(site.paths, "close", CHAIR[0], CHAIR[2], clock=clock)
    summary = identification_summary(site.paths, print_it=True, send=True, sim_printer=True, clock=clock)
    clock.set_local(20, 40)
    signed = results_protocol(site.paths, sign=True, member=CHAIR[0], pin=CHAIR[2], clock=clock)
    districts = [c["contest"] for c in signed["body"]["contests"] if c.get("ballots_read")]
    prov = summary.get("provisional") or {}
    p.info(f"{site.id}: protocol signed, hash {signed['hash'][:16]}…, sections with ballots: {', '.join(districts)};"
           f" identified {summary.get('identified')}, of them on a provisional claim {prov.get('issued', 0)}"
           f" (granted later {prov.get('granted_later', 0)}, refused later {prov.get('refused_later', 0)})")
    res.figures["remote_site"]["protocol"] = signed["body"]
    res.figures["remote_site"]["summary"] = summary
    res.artefacts["remote-voting site protocol and summary"] = str(site.paths.output_dir)


def _central_remote(p, url: str, res, site: RemoteSite, home: str) -> None:
    remote = _get_json(url + "/v1/remote-voting")
    anomalies = _get_json(url + "/v1/anomalies")
    res.figures["central"]["remote"] = remote
    for s in remote["sites"]:
        p.info(f"remote voting at {s['station']} ({s['status']}): {s['identified']} voters, by home district"
               f" {s['by_home_district']}")
    refused = {a["station"]: a.get("count", 0) for a in anomalies.get("evidence", [])
               if a.get("code") == "claim-refused"}
    res.figures["central"]["claim_refused"] = refused
    p.info(f"claims the centre refused (the voter identified elsewhere first), in the anomaly list:"
           f" at the home station {refused.get(home, 0)} (online, before any ballot),"
           f" at {site.id} {refused.get(site.id, 0)} (a provisional claim: both stations, times and receipts"
           f" named); double identifications: {anomalies.get('double_identifications', 0)}")


# --- identification --------------------------------------------------------------------

def _identify(opts, p, paths, pkg, clock, rng, e, site: RemoteSite | None = None):
    """Voters arrive through the day; returns each accepted voter's ballots (contest ids).

    With a remote-voting ``site``: its voters do not come, except one who voted there (refused
    online) and one issued there on a provisional claim while its link was down (accepted: the
    centre has not heard of it yet)."""

    with SimTable(paths, secrets_dir(pkg.dir), clock=clock) as table:
        away = set()
        if site is not None:
            plan = site.plan
            away = {*plan.home_voters, plan.provisional_conflict, plan.provisional_clean}
        voters = [v for v in table.voters if v.pin not in away]
        rng.shuffle(voters)
        coming = voters[: int(len(voters) * opts.turnout)]
        others = voters[len(coming):]
        script: list[Visit] = [Visit(v.pin) for v in coming]
        # The refusals a commission meets in a day: a card from another station; a card whose
        # chip does not verify; fingers that do not match (then manual identification with a
        # reason); and voters who come back after voting (already identified, with the time).
        odd = [Visit(others[0].pin, "not-on-list"), Visit(others[1].pin, "bad-sod"),
               Visit(others[2].pin, "mismatch", manual_reason="fingerprint-unreadable"),
               Visit(others[3].pin, "mismatch", manual_reason="fingerprint-unreadable")]
        for k, v in enumerate(odd):
            script.insert((k + 1) * len(script) // (len(odd) + 1), v)
        for first in (5, len(coming) // 2):        # come back later in the day
            at = next(i for i, v in enumerate(script) if v.pin == coming[first].pin)
            script.insert(min(len(script), at + 12), Visit(coming[first].pin))
        if site is not None:                      # after the site's morning
            script.insert(len(script) // 3, Visit(site.plan.provisional_conflict))
            script.insert(len(script) // 2, Visit(site.plan.refused_at_home))
        # Arrivals: a morning rush, a quiet afternoon, an evening rush (08:00-19:50).
        minutes = sorted(_arrival_minutes(rng, len(script)))
        results: Counter = Counter()
        ballots: list[tuple[str, ...]] = []
        latencies = []
        for i, (visit, minute) in enumerate(zip(script, minutes, strict=True)):
            clock.set_local(8 + minute // 60, minute % 60)
            t = time.perf_counter()
            r = table.visit(visit)
            latencies.append((time.perf_counter() - t) * 1000)
            first = r.table.outcome
            if visit.kind == "accept" and first.reason == "fingerprint-mismatch" and r.manual is None:
                # A genuine voter the matcher did not recognise: the commission identifies them by
                # hand, with the reason recorded (counted apart in the summary).
                r = table.visit(Visit(visit.pin, "mismatch", manual_reason="fingerprint-unreadable"))
            results["accepted" if first.accepted else (first.reason or "refused")] += 1
            if r.manual is not None:
                results["then manual identification (reason recorded)"] += 1
            if r.outcome.accepted:
                ballots.append(tuple(r.outcome.ballots))
            p.bar("voters at the table", i + 1, len(script))
        latencies.sort()
    asked = _audited(paths, "second-finger-asked")
    if asked:
        results["asked for the other enrolled finger"] = asked
    for k, v in sorted(results.items(), key=lambda kv: -kv[1]):
        p.info(f"{k:<46} {v:>4}")
    fig = {"visits": len(script), "outcomes": dict(results),
           "table_ms_p50": round(latencies[len(latencies) // 2], 1),
           "table_ms_p95": round(latencies[int(len(latencies) * 0.95)], 1)}
    p.info(f"time at the table (card read + finger upload + match + commit + receipt):"
           f" p50 {fig['table_ms_p50']} ms, p95 {fig['table_ms_p95']} ms")
    return ballots, fig


def _audited(paths, event: str) -> int:
    return _identify_rows(paths, "SELECT count(*) FROM audit_log WHERE event = ?", event)[0][0]


def _arrival_minutes(rng: random.Random, n: int) -> list[int]:
    out = []
    while len(out) < n:
        m = int(rng.triangular(0, 710, 120) if rng.random() < 0.6 else rng.triangular(0, 710, 600))
        out.append(max(0, min(709, m)))
    return out


def _identification_summary(paths, clock) -> dict:
    # Printed for the commission and queued (signed) for the CEC; counts only, never a voter.
    return identification_summary(paths, print_it=True, send=True, sim_printer=True, clock=clock)


# --- the ballot box ----------------------------------------------------------------------

def _fill_box(box: Path, ballots: list[tuple[str, ...]], e, rng: random.Random, dpi: int, p) -> None:
    """Each accepted voter marks their ballots; the box mixes them (no order follows the voters)."""

    sheets = []
    for contests in ballots:
        for cid in contests:
            sheets.append(cid)
    rng.shuffle(sheets)                       # a ballot box mixes: no link to the order of voters
    box.mkdir(parents=True, exist_ok=True)
    for i, cid in enumerate(sheets):
        data, name = demo_ballot(e, cid, rng.getrandbits(32), dpi)
        (box / f"{i:05d}-{name}").write_bytes(data)
        p.bar("ballots marked and dropped in the box", i + 1, len(sheets))


# --- upload and the central view ---------------------------------------------------------

def _upload(paths, url: str) -> dict:
    files = Paths.from_env(paths.state_dir.parent)
    outboxes, certificates, ack_pub = open_station(files)
    try:
        with Uploader(outboxes, url, ack_pub, certificates=certificates, state_path=files.link_state,
                      batch_size=500) as up:
            up.drain(max_attempts=20)
        return {o.stream: f"{o.status().to_json().get('acked_seq')} envelopes" for o in outboxes}
    finally:
        for o in outboxes:
            o.conn.close()


def _central_results(p, url: str, e, res, site: RemoteSite | None = None) -> None:
    """The receiver's views: stations, results per ОИК (with the site's sections in their districts'
    results), anomalies, and the public portal's page of the station."""
    stations = _get_json(url + "/v1/stations")
    results = _get_json(url + "/v1/results?level=oik")
    turnout = _get_json(url + "/v1/turnout?bucket=hour")
    anomalies = _get_json(url + "/v1/anomalies")
    res.figures["central"] = {"stations": stations["counts"], "held": results["held"]}
    c = stations["counts"]
    p.info(f"stations reported {c['reported']}, with a verified protocol {c['verified']}, missing {c['missing']}"
           f"; held for checks: {len(results['held'])}")
    contests = {c.id: c for c in (*e.contests, *(site.pkg.election.contests if site else ()))}
    for g in results["groups"]:
        if not g["contests"]:
            continue                         # an ОИК none of whose stations has reported
        name = g.get("name")
        if isinstance(name, str) and name.startswith("{"):
            name = json.loads(name)         # a name kept in both languages
        name = name.get("ru") if isinstance(name, dict) else name
        if g["voters_on_list"]:
            p.info(f"{g['code']} {name or ''}: turnout {100 * (g['turnout'] or 0):.1f}%"
                   f" ({g['voters_identified']} of {g['voters_on_list']})")
        else:                                # only a remote-voting site's voters (no list of its own)
            p.info(f"{g['code']} {name or ''}: remote voting only ({g['voters_identified']} identified)")
        for contest in contests.values():
            t = g["contests"].get(contest.id)
            if not t:
                continue
            p.info(f"  {contest.title.ru}: valid {t['valid']}, invalid {t['invalid']}, blank {t['blank']}")
            for label, votes in _ranked(t["votes"], contest)[:5]:
                share = 100 * votes / t["valid"] if t["valid"] else 0
                p.info(f"     {votes:>4}  {share:5.1f}%  {label}")
    # Signed evidence, chain gaps and double identifications (the public counts); junk apart.
    n_anom = sum(a.get("count", 0) for a in anomalies.get("evidence", [])) \
        + anomalies.get("streams_with_gaps", 0) + anomalies.get("double_identifications", 0)
    junk = anomalies.get("unauthenticated_events", 0)
    p.info(f"anomalies recorded centrally: {n_anom}" + (f" (and {junk} unauthenticated requests)" if junk else ""))
    res.figures["central"]["turnout_total"] = turnout.get("total")
    # The public portal shows the station, checked (central/portal): its page says "verified".
    portal_status, end = "not verified", time.monotonic() + 30    # its snapshot is at most 5 s old
    while portal_status != "verified" and time.monotonic() < end:
        if 'data-status="verified"' in _get_text(f"{url}/ru/station/{e.station.id}"):
            portal_status = "verified"
        else:
            time.sleep(0.5)
    res.artefacts["public results portal"] = f"{url}/"
    res.figures["central"]["portal_station"] = portal_status
    p.info(f"the public portal shows station {e.station.id}: {portal_status}")


def _ranked(votes: dict, contest) -> list[tuple[str, int]]:
    names = {c.id: c.full_name for c in contest.candidates} | {x.id: x.name.ru for x in contest.parties}
    names["against-all"] = "Против всех / Баарына каршы"
    return sorted(((names.get(k, k), v) for k, v in votes.items()), key=lambda kv: -kv[1])


def _finish(opts, p, res, paths) -> None:
    p.echo("\nTurnout by hour · Явка по часам · Саат боюнча катышуу")
    for hour, n in _turnout_by_hour(paths):
        p.echo(f"  {hour:02d}:00  {'█' * max(1, n // 2) if n else ''} {n}")
    p.echo("\nArtefacts · Файлы:")
    width = max(len(k) for k in res.artefacts)
    for k, v in res.artefacts.items():
        p.echo(f"  {k:<{width}}  {v}")
    p.echo(f"\nDemo finished in {time.monotonic() - p.t0:.0f} s. Inspect the station with:\n"
           f"  .venv/bin/uchastok --home {paths.state_dir.parent} status\n"
           f"  .venv/bin/uchastok --home {paths.state_dir.parent} log verify")


def _turnout_by_hour(paths) -> list[tuple[int, int]]:
    rows = _identify_rows(paths, "SELECT identified_at FROM identification")
    hours = Counter(parse_iso(r[0]).astimezone(TZ).hour for r in rows)
    return [(h, hours.get(h, 0)) for h in range(8, 20)]


def _start_screens(opts, p, res, paths, pkg) -> None:
    """The commission's screens on the demo station, on the simulated devices: one process per role
    (the identification table, the ballot box with the polls), each on its own port and linking to the
    other, that outlive the demo for ``SCREENS_MINUTES`` minutes (the demo itself ends now)."""

    home = paths.state_dir.parent
    ports = {"identify": _free_port(), "count": _free_port()}
    urls = {role: f"http://127.0.0.1:{port}/" for role, port in ports.items()}
    extra = {"identify": ["--secrets", str(secrets_dir(pkg.dir))],
             "count": ["--scanner", f"sim:{opts.out / 'screens-box'}",
                       "--lna-expected", str(opts.out / "lna-expected.json")]}
    pids = []
    for role, other in (("identify", "count"), ("count", "identify")):
        log = open(opts.out / f"screens-{role}.log", "w")      # handed to the detached process
        proc = subprocess.Popen(
            _cli("--home", str(home), "screens", "serve", "--role", role, "--sim", *extra[role],
                 "--port", str(ports[role]), "--peer", urls[other], "--exit-after", str(SCREENS_MINUTES * 60)),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        pids.append(str(proc.pid))
        try:
            _wait_http(urls[role] + "state")
        except OSError:
            p.echo(f"\nThe screens of {role} did not start (see {opts.out / f'screens-{role}.log'}).")
            return
    res.artefacts["commission screens (touchscreen UI)"] = urls["count"]
    res.artefacts["identification table screens"] = urls["identify"]
    p.echo(f"\nCommission screens · Экраны комиссии · Комиссиянын экрандары:\n"
           f"  ballot box, polls, protocol, manual count: {urls['count']}\n"
           f"  identification table:                     {urls['identify']}\n"
           f"  (simulated devices; closed polls: protocol and manual count; they stop by themselves in"
           f" {SCREENS_MINUTES} min, or: kill {' '.join(pids)})")


def default_out() -> Path:
    return Path(os.environ.get("UCHASTOK_DEMO_OUT", "demo-out"))

"""A remote-voting site on the demo's election day (issue #14; DOMAIN.md "Remote voting").

The law of 9 June 2025 No. 113 lets a voter vote at any station outside the home
district after online identification. ``uchastok demo`` runs such a site, RV-9001
in district OIK-03 (a market), beside its home station UIK-1234 (OIK-07), both
talking to the one central server:

- **The site's package** (simulation/remote.py): the national list (the home
  station's voters first, with their home, then voters of every district),
  the 30 districts' contests and the party list; templates only for voters
  who applied in advance to vote remotely.
- **Provisioned like any station**: its own keys and certificates, the
  package loaded, the commission's PINs, the zero report printed, polls open;
  ``[claims]`` in its uchastok.toml points at the centre through its own link
  (a ``FaultProxy``, so the demo can cut it).
- **A morning at the site** (``site_morning``): voters of other districts
  come, are identified (by fingerprint when enrolled, else by their ID card
  and the commission, reason ``no-fingerprint-enrolled``), claimed online,
  and get their home district's ballots from the A4 printer (identify/daemon.py
  step 6); a voter of the site's own district is refused ("home-district");
  one voter leaves the sheets on the tray (voided, ``voter-left``). Then the
  link is cut: two voters are issued on provisional claims (a member's PIN).
- **At the home station** one voter who voted at the site is refused online
  ("identified at RV-9001 at 08:..."), and one of the two provisional voters
  is identified there too (the centre had not heard of the site's claim).
- **The link comes back** (``link_back``): the site's queued claims are sent;
  the centre grants the one and refuses the other, recording an anomaly that
  names both stations, times and receipts.
- **The count** (``fill_site_box``): the sheets handed over, marked by the
  voters, mixed in the box and read by the site's count role, one protocol
  section per district; the centre adds them to each district's results and
  shows remote voting apart (``/v1/remote-voting``).

Secrecy holds as at any station: the printed sheets carry nothing of the voter
or of the order of issue, and the box mixes them before the count.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from base.paths import Paths
from count.role import zero_report
from identify.claims import ClaimResender, claim_counts, open_claims
from identify.ondemand import PrintState, counters
from identify.rules import Status
from identify.store import open_identify_db
from provisioning.identity import enroll_with_authority, init_device
from provisioning.package import load_package
from simulation.ballots import mark_printed
from simulation.election import demo_voters
from simulation.faultproxy import FaultProxy
from simulation.remote import build_remote_site_package, home_station_entry, site_entry
from simulation.table import MEMBER, SimTable, Visit
from station import polls
from station.db import open_station_db
from station.members import polls_action
from station.package import Package

HOME = ("UIK-1234", "OIK-07")
NOT_ENROLLED = "no-fingerprint-enrolled"


@dataclass
class SitePlan:
    """Who does what at the site, and what the home station must then see."""

    home_voters: list[str] = field(default_factory=list)      # vote at the site, not at home
    refused_at_home: str = ""                                  # voted at the site, then tries at home
    provisional_conflict: str = ""                             # provisional at the site, then at home
    provisional_clean: str = ""                                # provisional at the site only


@dataclass
class RemoteSite:
    paths: Paths
    pkg: Package
    clock: object
    link: FaultProxy
    plan: SitePlan
    secrets: Path                     # the demo's secrets (card issuer, synthetic fingers' seed)
    handed: list[tuple[str, Path]] = field(default_factory=list)     # (style, printed page) per sheet issued
    figures: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.pkg.election.station.id


def build_site_package(out: Path, *, home_voters: int, voters: int, seed: int, signing_key: Path,
                       secrets: Path, voting_day, progress=None) -> Package:
    """The site's package: the home station's voters first (home UIK-1234, OIK-07), then ``voters``
    of every district; templates for the home voters who applied to vote remotely."""
    home_rows = list(demo_voters(seed, home_voters, voting_day=voting_day))
    applied = [r[0] for r in home_rows if r[10] == "1"]
    return build_remote_site_package(out, voters=home_voters + voters, seed=seed, home_rows=home_rows,
                                     home=HOME, template_pins=applied, signing_key=signing_key,
                                     secrets=secrets, voting_day=voting_day, progress=progress)


def provision_site(root: Path, pkg: Package, authority, authority_pub: Path, members, *, clock) -> tuple[Paths, list[Path]]:
    """Keys and certificates, the package loaded, the commission's PINs (``members``: (id, name, PIN)
    with the chair first; the simulated table's member too); returns the home and the certificates."""
    paths = Paths.from_env(root).ensure()
    init_device(paths, authority_pub, clock=clock)
    e = pkg.election
    certs = list(enroll_with_authority(paths, authority, e.station.id, e.id, root / "issued", clock=clock).values())
    load_package(paths, pkg.dir, clock=clock)
    conn = open_station_db(paths.station_db)
    try:
        for k, (mid, name, pin) in enumerate([*members, MEMBER]):
            polls.set_member_pin(conn, mid, name, pin, role="chair" if k == 0 else "member", clock=clock)
    finally:
        conn.close()
    return paths, certs


def site_stations_file(pkg: Package, path: Path) -> Path:
    """The site and the other home stations of its national list as the centre's station list has
    them (a JSON list for ``receiver serve --stations``): the centre knows every station and ОИК of
    the country; the home station UIK-1234 comes from its own package."""
    manifest = json.loads((pkg.dir / "manifest.json").read_text(encoding="utf-8"))
    with open(pkg.dir / "voters.csv", newline="", encoding="utf-8") as f:
        homes = Counter((r["home_station"], r["home_district"]) for r in csv.DictReader(f))
    entries = [site_entry(manifest)] + [home_station_entry(st, d, n) for (st, d), n in sorted(homes.items())
                                        if st != HOME[0]]
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path


def connect_site(paths: Paths, link_url: str) -> None:
    """``[claims]`` of the site: every voter claimed at the centre, an answer awaited 2 s at most."""
    paths.config_file.write_text(f'[claims]\nurl = "{link_url}"\nmode = "always"\nwait_s = 2.0\n'
                                 'resend_cap_s = 5.0\n', encoding="utf-8")


def open_site_polls(paths: Paths, chair, *, clock) -> None:
    """Test mode, the zero report (every counter at zero), polls open: as at any station."""
    clock.set_local(7, 40)
    polls_action(paths, "enter-test-mode", chair[0], chair[2], clock=clock)
    zero_report(paths, member=chair[0], pin=chair[2], clock=clock)
    clock.set_local(8, 0)
    polls_action(paths, "open", chair[0], chair[2], clock=clock)


def plan_site(home_pins: list[str], rng: random.Random) -> SitePlan:
    """Six home voters vote at the site: one tries at home later; two more come while the link is down
    (one of them votes at home too)."""
    picked = rng.sample(home_pins, 8)
    return SitePlan(home_voters=picked[:6], refused_at_home=picked[0], provisional_conflict=picked[6],
                    provisional_clean=picked[7])


def _national(table: SimTable, rng: random.Random, *, district: str | None = None, avoid=()) -> str:
    """A voter of another district than the home station's (``district``: of that one)."""
    pool = [v.pin for v in table.voters if v.home_district not in (HOME[1], None) and v.pin not in avoid
            and (district is None or v.home_district == district)]
    return rng.choice(pool)


def _arrivals(clock, rng: random.Random):
    """The site's clock at each next arrival: 08:05, then every 6 to 14 minutes."""
    minute = 5
    while True:
        clock.set_local(8 + minute // 60, minute % 60)
        yield
        minute += rng.randint(6, 14)


def _on_paper(table: SimTable, ballots, before: int) -> list[tuple[str, Path]]:
    """(style, printed page) of each of one voter's sheets that came out whole (``before``: how many
    pages the printer had put out before that voter)."""
    pages = [pg.png for pg in table.ballot_sim.printed[before:] if not pg.jammed]
    return list(zip((b.style for b in ballots if b.state is PrintState.ON_PAPER), pages, strict=True))


def site_morning(site: RemoteSite, rng: random.Random, echo) -> dict:
    """The site's morning (module docstring); returns the figures."""
    clock, plan = site.clock, site.plan
    outcomes: Counter = Counter()
    printed = 0
    with SimTable(site.paths, site.secrets, clock=clock) as table:
        home_district = site.pkg.election.station.district
        others = [_national(table, rng)]
        others.append(_national(table, rng, avoid=others))
        own = _national(table, rng, district=home_district)
        script = [*((p, "") for p in plan.home_voters[:3]), (others[0], ""), (own, "own-district"),
                  *((p, "") for p in plan.home_voters[3:5]), (others[1], ""), (plan.home_voters[5], "leaves")]
        arrival = _arrivals(clock, rng)
        for pin, note in script:
            next(arrival)
            before = len(table.ballot_sim.printed)
            r = table.visit(Visit(pin, manual_reason=NOT_ENROLLED))
            out = r.outcome
            outcomes["accepted" if out.accepted else (out.reason or str(out.status))] += 1
            if out.accepted and r.table.outcome is not None and not r.table.outcome.accepted:
                outcomes["  by ID card and the commission (no fingerprint enrolled)"] += 1
            sheets = _on_paper(table, r.ballots, before)
            printed += len(sheets)
            if note == "leaves":
                table.daemon.not_taken("voter-left")
                outcomes["  left without the ballots (voided)"] += 1
            else:
                table.daemon.hand_over()
                site.handed += sheets
            echo(f"{_hhmm(clock)}  {pin[:4]}…  {_said(out)}"
                 + (f"; printed: {', '.join(style for style, _ in sheets)}" if sheets else ""))
        # The link drops: no answer within the wait; the commission issues on provisional claims.
        site.link.cut()
        for pin in (plan.provisional_conflict, plan.provisional_clean):
            next(arrival)
            r = table.visit(Visit(pin, manual_reason=NOT_ENROLLED))
            assert r.outcome.status is Status.CONFIRM and r.outcome.reason == "no-link", r.outcome
            polls.authorize(table.identifier.station_conn, MEMBER[0], MEMBER[2], clock=clock)
            before = len(table.ballot_sim.printed)
            sheets = _on_paper(table, table.daemon.issue_provisionally(pin, MEMBER[0]).ballots, before)
            printed += len(sheets)
            table.daemon.hand_over()
            site.handed += sheets
            outcomes["provisional (no link; member's PIN)"] += 1
            echo(f"{_hhmm(clock)}  {pin[:4]}…  no link: issued on a provisional claim;"
                 f" printed: {', '.join(style for style, _ in sheets)}")
        ondemand = {s: (c.printed, c.issued, c.voided) for s, c in counters(table.daemon.conn).items() if c.printed}
    site.figures.update(outcomes=dict(outcomes), printed=printed, ondemand=ondemand)
    return site.figures


def link_back(site: RemoteSite) -> dict:
    """The site's link returns: its queued claims are sent once; returns the answers recorded."""
    site.link.restore()
    client = open_claims(site.paths, site.pkg.election, clock=site.clock)
    conn = open_identify_db(site.paths.identify_db)
    try:
        resender = ClaimResender(site.paths.identify_db, client)
        try:
            answered = resender.run_once(conn)
        finally:
            resender.stop()
        return {"answered": answered, **claim_counts(conn)}
    finally:
        conn.close()
        client.close()


def fill_site_box(site: RemoteSite, box: Path, rng: random.Random) -> int:
    """The voters mark the sheets they were handed and drop them in the box, which mixes them."""
    sheets = list(site.handed)
    rng.shuffle(sheets)                      # a ballot box mixes: no link to the order of issue
    if box.exists():
        shutil.rmtree(box)
    box.mkdir(parents=True)
    election = site.pkg.election
    for i, (style, png) in enumerate(sheets):
        (box / f"{i:05d}-{style}.png").write_bytes(mark_printed(png, election, style, rng.getrandbits(32)))
    return len(sheets)


def _hhmm(clock) -> str:
    return clock.now().astimezone(ZoneInfo("Asia/Bishkek")).strftime("%H:%M")


def _said(out) -> str:
    if out.accepted:
        return f"accepted, claim granted online; receipt {out.receipt.label if out.receipt else '-'}"
    return f"{out.status}: {out.reason} ({out.message_ru})"

"""Every read the portal makes, in one module: aggregates in, figures per page out.

The pages never query the database themselves; they ask this module, which
reads through ``central.aggregate`` (``hierarchy``, ``stations``, ``results``,
``turnout``, ``station_report``) and one storage read (``revision_counts``),
so that when the aggregation changes only this module follows.

A national page, a Region, an ОИК or a ТИК page all show the same figures for
their area; they come from one ``Snapshot`` of the whole country, built by
``build_snapshot`` at most every few seconds (``SnapshotCache``), never per
request. A snapshot is a handful of aggregate calls, each over the small
tables the centre keeps at write time (central/aggregate.py), never the
receipts:

- the tree of areas: ``aggregate.hierarchy`` (Region -> ОИК -> ТИК -> УИК,
  DOMAIN.md "Reference region hierarchy");
- each station's status: ``aggregate.stations``;
- results: ``aggregate.results`` at level "uik" (each verified station's
  official figures: the manual count's where it arrived), summed here up the
  tree as ``aggregate.results(level, code)`` sums one area;
- turnout: ``aggregate.turnout`` per station, summed here up the tree the way
  ``aggregate.turnout_series`` sums one area (receipts as they arrive; the
  registered lists of the area's stations, a station whose receipts exceed
  its list left out).

So a hundred areas cost one pass, not a hundred (tests/central/test_portal_http.py
checks every area's sums against ``results`` and ``turnout_series``).

A remote-voting site (central/aggregate.py, "Remote-voting sites") counts as
``results`` counts it: its district sections in their district's ОИК and that
ОИК's Region (``Area.remote_sites`` says how many sites added to an area), its
party list where it stands, nothing of its list anywhere. ``remote_voting``
gives the national page's block and a site's page: the sites, the voters
identified at them per home district, the ballots each printed on demand
(printed, issued, voided, pending, and whether they add up) from its
identification summary (``aggregate.remote_voting``).

A station's status, one of:

- ``verified``: its latest protocol passed every check; its figures are in the totals;
- ``held``: its latest protocol failed a check (reasons listed); left out of every total;
- ``reporting``: something arrived from it (receipts, a summary), no protocol yet;
- ``missing``: nothing arrived.

A station's page reads ``aggregate.station_report`` (status, the latest
protocol, the manual count's comparison with its flags, every revision with
what changed); ``protocol_lines`` lays its lines out per contest, and
``provisional_figures`` gives the ballots issued on a provisional claim
(the protocol's ``provisional`` section, issue #14: the centre could not be
asked) and what the centre answered them since, shown apart from the lines.

Names: the centre keeps a ``{"ky", "ru"}`` name as JSON text (central/service.py
``load_stations``); ``stored_name`` gives it back as an object for ``words.pick``.

Example::

    snap = build_snapshot(storage)
    snap.area("region", "KG-C").contests["party-list"]["votes"]
    snap.stations["UIK-1001"]["status"]
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from base.clock import SystemClock, local, parse_iso
from central import aggregate
from sync.envelope import IDENT
from sync.errors import SyncError

try:
    from central.bundle import station_export
except ImportError:  # a centre built without the export module: its downloads answer 503
    station_export = None

LEVELS = ("national", "region", "oik", "tik")       # areas; below a ТИК are the stations (УИК)
CHILD = {"national": "region", "region": "oik", "oik": "tik", "tik": "uik"}
STATUSES = ("verified", "held", "reporting", "missing")
CODE = IDENT                                         # a station id or an area code (docs/protocol.md 3)
PAGE = re.compile(r"^[1-9][0-9]{0,5}$")              # ?page=N
FIGURES = ("ballots_read", "valid", "invalid", "blank")
AGAINST_ALL = "against-all"


class ExportUnavailable(SyncError):
    """Raised when a station's observer export cannot be made on this server."""


@dataclass
class Area:
    """One area's figures: the nation, a Region, an ОИК or a ТИК."""

    level: str
    code: str
    name: Any                                   # text, or {"ky", "ru"}
    path: list[tuple[str, str, Any]]            # (level, code, name) of the areas above, nation first
    children: list[str] = field(default_factory=list)   # codes of the level below (station ids under a ТИК)
    stations: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    contests: dict[str, dict] = field(default_factory=dict)
    turnout: dict[str, Any] = field(default_factory=dict)
    hours: list[dict] = field(default_factory=list)
    remote_sites: int = 0           # remote-voting sites whose district sections count here (ОИК, Region)


@dataclass
class Snapshot:
    """The whole country at one moment: stations with status, areas with figures."""

    built_at: dt.datetime
    stations: dict[str, dict]
    areas: dict[tuple[str, str], Area]
    cache: dict[str, Any] = field(default_factory=dict)   # per-snapshot results of slower reads

    def area(self, level: str, code: str = "") -> Area | None:
        return self.areas.get((level, code))

    def held(self) -> list[dict]:
        return [s for s in self.stations.values() if s["status"] == "held"]


def stored_name(raw: Any) -> Any:
    """A registered name: ``{"ky", "ru"}`` kept as JSON text comes back as the object."""
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            v = json.loads(raw)
        except ValueError:
            return raw
        return v if isinstance(v, dict) else raw
    return raw


def _statuses(storage) -> dict[str, dict]:
    """station id -> {"status", "reasons", "hash"} from ``aggregate.stations``."""
    st = aggregate.stations(storage)
    out = {s: {"status": "reporting", "reasons": [], "hash": None} for s in st["reported"]}
    for v in st["verified"]:
        out[v["station"]] = {"status": "verified", "reasons": [], "hash": v["protocol_hash"]}
    for u in st["held"]:
        out[u["station"]] = {"status": "held", "reasons": list(u["reasons"]), "hash": u["protocol_hash"]}
    return out


def _hour(bucket: str, tz: str) -> tuple[str, str]:
    """(sort key, local "HH:00") of a turnout bucket ("2025-11-30T08", UTC)."""
    try:
        t = local(parse_iso(bucket + ":00:00Z"), tz)
    except ValueError:
        return bucket, bucket[-2:]
    return t.isoformat(), f"{t:%H}:00"


def build_snapshot(storage, *, tz: str = "Asia/Bishkek", clock=None) -> Snapshot:
    """All stations and all areas at once (see the module doc)."""
    clock = clock or SystemClock()
    status = _statuses(storage)
    turnout = {t["station"]: t for t in aggregate.turnout(storage, "hour")["stations"]}
    official = {g["code"]: g["contests"] for g in aggregate.results(storage, "uik")["groups"]}
    national = Area("national", "", None, [])
    areas: dict[tuple[str, str], Area] = {("national", ""): national}
    stations: dict[str, dict] = {}
    hour_counts: dict[tuple[str, str], dict[str, int]] = {}
    labels: dict[str, tuple[str, str]] = {}             # turnout bucket -> (sort key, "HH:00")
    elsewhere: list[tuple[str, str, dict]] = []         # a remote site's district sections: (site, ОИК, figures)

    def add_station(node: dict, chain: list[Area]) -> None:
        sid = node["code"]
        st = status.get(sid) or {"status": "missing", "reasons": [], "hash": None}
        t = turnout.get(sid) or {}
        remote = node.get("kind") == "remote-site"
        stations[sid] = row = {
            "id": sid, "registered": bool(chain[1:]), "number": node.get("number"),
            "name": stored_name(node.get("name")), "voters_on_list": node.get("voters_on_list"), **st,
            "identified": t.get("identified"), "share": t.get("share"),
            "path": [(a.level, a.code, a.name) for a in chain], "remote_site": remote,
            "district": node.get("district")}
        series = t.get("series") or []
        receipts = series[-1]["cumulative"] if series else 0
        on_list = row["voters_on_list"]
        counted = row["registered"] and not (on_list and receipts > on_list)   # turnout_series' left_out
        contests = official.get(sid) if row["status"] == "verified" else None
        if contests and remote:
            # Its district sections: the nation here, their ОИК and its Region after the walk.
            sections = sections_of.get(sid, {})
            moved = {cid: c for cid, c in contests.items() if cid in sections}
            contests = {cid: c for cid, c in contests.items() if cid not in sections}
            _add_contests(national.contests, moved)
            elsewhere.extend((sid, sections[cid], {cid: c}) for cid, c in moved.items())
        for b in series:
            if b["t"] not in labels:
                labels[b["t"]] = _hour(b["t"], tz)
        for a in chain:
            a.stations.append(sid)
            c = a.counts
            for k in ("registered", "reported", *STATUSES):
                c.setdefault(k, 0)
            c["registered"] += row["registered"]
            c[row["status"]] += 1                       # verified, held, reporting (no protocol), missing
            c["reported"] += row["status"] != "missing"  # anything arrived
            tt = a.turnout
            for k in ("identified", "voters_on_list"):
                tt.setdefault(k, 0)
            if counted:
                tt["identified"] += receipts
                tt["voters_on_list"] += on_list or 0
                hours = hour_counts.setdefault((a.level, a.code), {})
                for b in series:
                    hours[b["t"]] = hours.get(b["t"], 0) + b["identified"]
            if contests:
                _add_contests(a.contests, contests)

    sections_of = aggregate.site_sections(storage)

    def walk(node: dict, chain: list[Area]) -> None:
        for child in node["children"]:
            if child["level"] == "uik":
                chain[-1].children.append(child["code"])
                add_station(child, chain)
                continue
            a = Area(child["level"], child["code"], stored_name(child["name"]),
                     [(p.level, p.code, p.name) for p in chain])
            areas[(a.level, a.code)] = a
            chain[-1].children.append(a.code)
            walk(child, [*chain, a])

    walk(aggregate.hierarchy(storage), [national])
    for sid in sorted(set(status) - set(stations)):      # reporting, yet not on the registered list
        add_station({"code": sid, "name": None}, [national])
    sites_in: dict[tuple[str, str], set[str]] = {}
    for sid, district, contests in elsewhere:
        oik = areas.get(("oik", district))
        if oik is None:                      # an ОИК with no registered station: only the nation has it
            continue
        for a in [oik, *(areas.get((lv, code)) for lv, code, _ in oik.path if lv == "region")]:
            if a is not None:
                _add_contests(a.contests, contests)
                sites_in.setdefault((a.level, a.code), set()).add(sid)
    for key, sids in sites_in.items():
        areas[key].remote_sites = len(sids)
    for a in areas.values():
        for c in a.contests.values():
            c["shares"] = {o: round(n / c["valid"], 6) if c["valid"] else None for o, n in c["votes"].items()}
            c["order"] = sorted(c["votes"], key=lambda o, c=c: (o == AGAINST_ALL, -c["votes"][o], o))
        tt = a.turnout
        tt["share"] = round(tt["identified"] / tt["voters_on_list"], 6) if tt["voters_on_list"] else None
        total = 0
        for bucket, n in sorted(hour_counts.get((a.level, a.code), {}).items(),
                                key=lambda kv: labels[kv[0]][0]):
            total += n
            a.hours.append({"hour": labels[bucket][1], "identified": n, "cumulative": total,
                            "share": round(total / tt["voters_on_list"], 6) if tt["voters_on_list"]
                            else None})
    return Snapshot(clock.now(), stations, areas)


def remote_voting(storage, snap: Snapshot | None = None) -> dict:
    """``aggregate.remote_voting`` with the sites' names as objects (kept in the snapshot until the
    next one, as station reports are), and what the block of ballots printed on demand needs:
    ``ondemand_shown`` (some site reported them, or reported them malformed), ``ondemand_pending``
    (a column of sheets not yet decided: only when there are any), ``ondemand_left_out`` (sites
    whose section is malformed: not in the totals) and ``ondemand_balanced`` (printed = issued +
    voided + pending at every site, for every ballot style; None when a site is left out: the
    totals cannot say)."""
    if snap is not None and "remote" in snap.cache:
        return snap.cache["remote"]
    out = aggregate.remote_voting(storage)
    out["sites"] = [{**s, "name": stored_name(s["name"])} for s in out["sites"]]
    reported = [s["ondemand"] for s in out["sites"] if s["ondemand"]]
    left_out = sum(1 for s in out["sites"] if s.get("ondemand_problem"))
    out.update(ondemand_shown=bool(reported or left_out), ondemand_pending=out["ondemand"]["pending"] > 0,
               ondemand_left_out=left_out,
               ondemand_balanced=None if left_out else all(od["balanced"] for od in reported))
    if snap is not None:
        snap.cache["remote"] = out
    return out


def site_districts(storage, station_id: str, report: dict, snap: Snapshot | None = None) -> dict | None:
    """A remote site's page: where it stands and per district (its voters' home districts and its
    protocol's sections) the voters identified there and the ballots of its section; the ballots
    it printed on demand (``aggregate.ondemand_figures``: None before its summary arrived, or
    ``ondemand_problem`` when the summary's section is not counts).

    ``{"district", "rows": [{"district", "contest", "identified", "ballots"}], "not_on_national_list",
    "ondemand", "ondemand_problem"}``.
    """
    site = next((s for s in remote_voting(storage, snap)["sites"] if s["station"] == station_id), None)
    if site is None:
        return None
    body = report.get("protocol") or {}
    sections = aggregate.section_districts(body) if body else {}
    ballots = {c.get("district"): c.get("ballots_read") for c in body.get("contests") or []
               if isinstance(c, dict) and c.get("district")}
    contest = {d: cid for cid, d in sections.items()}
    rows = [{"district": d, "contest": contest.get(d), "identified": site["by_home_district"].get(d, 0),
             "ballots": ballots.get(d)}
            for d in sorted((set(site["by_home_district"]) | set(contest)) - {""})]
    return {"district": site["district"], "rows": rows,
            "not_on_national_list": site["by_home_district"].get("", 0),
            "ondemand": site["ondemand"], "ondemand_problem": site.get("ondemand_problem")}


def provisional_figures(report: dict) -> dict[str, int] | None:
    """The protocol's ballots issued on a provisional claim, for the station page, apart from its
    other lines: ``{"issued", "granted_later", "refused_later", "unanswered"}`` (counts only; the
    section never names a voter), or None when the protocol has no such section or it is not four
    counts (then ``aggregate.check_protocol`` holds the protocol and its reason says so)."""
    section = (report.get("protocol") or {}).get("provisional")
    if not isinstance(section, dict):
        return None
    figures = {k: section.get(k) for k in aggregate.PROVISIONAL_FIELDS}
    if not all(type(v) is int and v >= 0 for v in figures.values()):
        return None
    return figures


def _add_contests(into: dict[str, dict], contests: dict[str, dict]) -> None:
    """Add one station's official figures (aggregate.results at level "uik") into an area's."""
    for cid, c in contests.items():
        t = into.setdefault(cid, {**{k: 0 for k in FIGURES}, "votes": {}})
        for k in FIGURES:
            t[k] += c.get(k) or 0
        for opt, n in c["votes"].items():
            t["votes"][opt] = t["votes"].get(opt, 0) + n


class SnapshotCache:
    """The national snapshot, rebuilt once it is ``seconds`` old, in the background.

    Only the first request of a process waits for a snapshot to exist; later,
    the request that finds it stale starts one rebuild in a thread and is
    served the previous snapshot at once, as is everyone until the new one is
    there (a page never waits for the country to be summed up). ``seconds`` <= 0
    rebuilds on every request, in the request (tests that upload and look).
    """

    def __init__(self, storage, *, seconds: float = 5.0, tz: str = "Asia/Bishkek", clock=None):
        self.storage = storage
        self.seconds = seconds
        self.tz = tz
        self.clock = clock or SystemClock()
        self._snap: Snapshot | None = None
        self._at = 0.0
        self._lock = threading.Lock()              # held while building
        self._start = threading.Lock()             # held while starting a background build
        self._thread: threading.Thread | None = None
        self.builds = 0

    def __repr__(self) -> str:
        return f"SnapshotCache(every {self.seconds}s, {self.builds} builds)"

    def _fresh(self) -> bool:
        return self._snap is not None and self.clock.monotonic() - self._at < self.seconds

    def _build(self) -> Snapshot:
        with self._lock:
            if not self._fresh():
                at = self.clock.monotonic()
                self._snap = build_snapshot(self.storage, tz=self.tz, clock=self.clock)
                self._at = at
                self.builds += 1
            return self._snap

    def get(self) -> Snapshot:
        snap = self._snap
        if self._fresh():
            return snap
        if snap is None or self.seconds <= 0:
            return self._build()
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._build, name="portal-snapshot", daemon=True)
                self._thread.start()
        return snap

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild to end (tests)."""
        t = self._thread
        if t is not None:
            t.join(timeout)


# --- one station -------------------------------------------------------------------------------

def station_report(storage, station_id: str, snap: Snapshot | None = None) -> dict | None:
    """One station for its page (``aggregate.station_report``), each revision marked when it added
    the manual count; None for a station the centre does not know.

    With ``snap``, kept in the snapshot until the next one: a station page polled
    by many readers costs one report per snapshot, and says what the national
    pages of the same moment say.
    """
    if snap is not None:
        key = ("report", station_id)
        if key not in snap.cache:
            snap.cache[key] = station_report(storage, station_id)
        return snap.cache[key]
    report = aggregate.station_report(storage, station_id)
    if report is None:
        return None
    prev = False
    for rev in report["revisions"]:
        rev["manual_added"] = rev["manual"] and not prev
        prev = rev["manual"]
    return report


def revised_stations(storage) -> list[str]:
    """Stations with more than one protocol revision (the public revisions list), by id."""
    return sorted(s for s, n in storage.revision_counts().items() if n > 1)


def change_summary(revision: dict, limit: int = 12) -> dict:
    """What to show of a revision's changes: the first ``limit``; a manual count added is one line."""
    items = revision["changes"]
    if revision.get("manual_added"):        # every manual line is new: said once
        items = [c for c in items if not c["line"].startswith("manual ")]
    return {"items": items[:limit], "more": max(0, len(items) - limit)}


def protocol_lines(body: dict, comparison: list[dict] | None) -> list[dict]:
    """The protocol's lines per contest: ``[{"contest", "rows": [{key, kind, option, machine,
    manual, difference, flagged}]}]``, the general lines first (contest None).

    Without a manual count: voters on the list and identified, then per contest
    ballots read, valid, invalid, blank and the votes. With one, its own lines
    (``aggregate.manual_comparison``: ballots found, valid, invalid with blank,
    the votes, each with the manual figure, the difference and its flag).
    """
    order = [c.get("contest") for c in body.get("contests") or [] if isinstance(c, dict)]
    groups: dict[str | None, dict] = {None: {"contest": None, "rows": []}}
    if comparison is not None:
        for line in comparison:
            key, cid = str(line["line"]), line.get("contest")
            kind, _, option = key.partition("/")[2].partition(":") if cid else (key, "", "")
            number = None
            if kind == "pref":        # "<contest>/pref:<party>:<list number>": a preference line
                if not (line["machine"] or line["manual"] or line["flagged"]):
                    continue          # hundreds of list numbers nobody marked: only those counted show
                option, _, number = option.rpartition(":")
            groups.setdefault(cid, {"contest": cid, "rows": []})["rows"].append(
                {"key": key, "kind": kind or key, "option": option or None, "number": number,
                 "machine": line["machine"], "manual": line["manual"], "difference": line["difference"],
                 "flagged": line["flagged"]})
    else:
        groups[None]["rows"] = [_machine_row(k, k, None, body.get(k)) for k in ("voters_on_list",
                                                                             "voters_identified")]
        for c in body.get("contests") or []:
            if isinstance(c, dict):
                cid = c.get("contest")
                rows = [_machine_row(f"{cid}/{k}", k, None, c.get(k)) for k in FIGURES]
                rows += [_machine_row(f"{cid}/votes:{o}", "votes", o, n)
                         for o, n in (c.get("votes") or {}).items()]
                groups[cid] = {"contest": cid, "rows": rows}
    general = groups.pop(None)
    out = [general] if general["rows"] else []
    out += [groups.pop(c) for c in order if c in groups]
    return out + list(groups.values())


def _machine_row(key: str, kind: str, option: str | None, machine: Any) -> dict:
    return {"key": key, "kind": kind, "option": option, "number": None, "machine": machine,
            "manual": None, "difference": None, "flagged": False}


def export_available() -> bool:
    return station_export is not None


def station_export_of(storage, station_id: str) -> dict:
    """The observer export of the station's count device (central/bundle.py ``station_export``)."""
    if station_export is None:
        raise ExportUnavailable("the observer export is not available on this server")
    return station_export(storage, station_id)


# --- names from the election package ------------------------------------------------------------

def option_names(contests: list[dict] | None) -> dict[str, dict]:
    """contest id -> {"title": name, "options": {option id: name}} from a package manifest's contests."""
    out: dict[str, dict] = {}
    for c in contests or []:
        if not isinstance(c, dict) or not isinstance(c.get("id"), str):
            continue
        opts: dict[str, Any] = {}
        for cand in c.get("candidates") or []:
            if isinstance(cand, dict) and isinstance(cand.get("id"), str):
                opts[cand["id"]] = " ".join(str(cand[k]) for k in ("surname", "name", "patronymic")
                                            if cand.get(k))
        for p in c.get("parties") or []:
            if isinstance(p, dict) and isinstance(p.get("id"), str):
                opts[p["id"]] = p.get("name") or p["id"]
        out[c["id"]] = {"title": c.get("title") or c["id"], "options": opts}
    return out

"""What the centre shows: turnout, results, station status, revisions, anomalies.

Nothing is shown before it is checked. Each station's latest non-test results
protocol (latest by arrival, never by a date the device wrote) is held, with
its reasons, and left out of every total when any of ``check_protocol``'s
checks fails:

- its figures are not non-negative integers, or a control relation fails:
  valid + invalid + blank = ballots read, the votes add up to the valid
  ballots, ballots ≤ voters identified ≤ voters on the list, or the
  protocol's own ``control`` list says a relation failed;
- its voters on the list differ from the registered list for that station
  (``stations.voters_on_list``, from the CEC's station list or the election
  package's manifest): a protocol cannot bring its own denominator;
- its voters identified differ from the receipts the centre received from
  that station by more than ``RECEIPT_TOLERANCE`` (max(3, 1%)): either the
  receipts are still on their way (the station's page says so) or the
  figure is not backed by receipts;
- its ``closed_at`` is outside the election's window (the voting day's
  local midnight to the end of the next day, in the election's time zone:
  a count runs past midnight, a manual count may finish the next morning)
  or outside the sending device's certificate validity;
- the count stream has gaps before it (the chain to it is not whole);
- the station is not on the registered list;
- its ``provisional`` section (ballots issued on a provisional claim while the
  centre could not be asked; only in a protocol that has any) is not four
  counts whose answers (granted, refused, unanswered) add up to the issued,
  or says more were issued than voters identified. ``station_report`` shows
  the section as ``provisional``.

The official manual count (issue "Commission screens", DOMAIN.md "Results")
arrives as a later revision carrying ``manual_count``; when present, its
figures are the station's official figures in every total (``source``
"manual"), the machine's stay beside them, and each line whose difference
exceeds ``DIFFERENCE_FLAG`` (max(2, 1% of the machine figure)) is flagged.
Manual relations that do not hold are shown with the commission's
explanation; without one the protocol is held.

Revisions are all kept (central/storage.py) and listed with what changed
between each and the one before (``revision_changes``).

Levels follow DOMAIN.md "Reference region hierarchy": national -> Region ->
ОИК -> ТИК -> УИК, from the registered station list.

Remote-voting sites (DOMAIN.md "Remote voting"; a station registered with
``kind`` "remote-site") count where their votes belong, not where they stand:

- a site's protocol has a section per district present, each naming the ОИК
  its contest elects (``district``: the election package's contest, signed
  by the CEC, carried in the device's signed protocol, count/protocol_body.py).
  That mapping, contest -> ОИК, is checked against the station list: a
  section naming no registered ОИК, or a territorial section naming none,
  holds the site's protocol;
- at the ОИК level a section's votes join its district's ОИК, at the Region
  level that ОИК's Region (the Region of the ОИК's first registered regular
  station), nationally the nation; no ТИК has them (they are no ТИК's
  district's); the site's page (level "uik") shows them as counted;
- its other contests (the party list: one ballot for every voter, whichever
  district) count where the site stands, as any station's;
- a site has no voters' list of its own (its voters are on their home
  stations' lists): it adds nothing to any area's voters on the list, and its
  voters identified count in the national turnout beside the lists they are on.

``remote_voting`` is the view of the sites: each with its districts, the
voters identified there per home district (central/storage.py
``remote_votes``, counted at write time), the ballots it printed on demand
(printed, issued, voided per ballot style, from its identification summary)
and the whole per home district.

Every read here is of small tables (stations, the hourly turnout aggregate,
each station's latest protocol); a protocol body is parsed and checked once
per (protocol, receipts, registration) state and kept in ``_CACHE``, so a
page poll costs a few small queries, never a scan of the receipts.

Example::

    results(storage, "oik")["groups"][0]["contests"]["party-list"]["votes"]
    station_report(storage, "UIK-1001")["status"], ...["reasons"]
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

from base.clock import parse_iso
from central.storage import Storage

LEVELS = {"national": (None, None), "region": ("region_code", "region_name"),
          "oik": ("oik_code", "oik_name"), "tik": ("tik_code", "tik_name"), "uik": ("id", "name")}
ORDER = ["national", "region", "oik", "tik", "uik"]
BUCKETS = {"hour": 13, "day": 10}   # prefixes of the hours kept at write time
COUNT_FIELDS = ("ballots_read", "valid", "invalid", "blank")


def receipt_tolerance(identified: int) -> int:
    """How far a protocol's voters identified may be from the receipts received: max(3, 1%)."""
    return max(3, identified // 100)


def difference_flagged(machine: int | None, difference: int | None) -> bool:
    """A manual-minus-machine difference worth a flag: more than max(2, 1% of the machine figure)."""
    if machine is None or difference is None:
        return False
    return abs(difference) > max(2, machine // 100)


RECEIPT_TOLERANCE = "max(3, 1% of voters identified)"
DIFFERENCE_FLAG = "max(2, 1% of the machine figure)"


def _nat(v: Any) -> bool:
    return type(v) is int and v >= 0


def _contest_reasons(cid: str, c: dict, identified: int | None) -> list[str]:
    nums = [c.get(k) for k in COUNT_FIELDS]
    votes = c.get("votes")
    if not all(_nat(n) for n in nums) or not isinstance(votes, dict) \
            or not all(_nat(v) for v in votes.values()):
        return [f"{cid}: counts are not non-negative integers"]
    read, valid, invalid, blank = nums
    out = []
    if valid + invalid + blank != read:
        out.append(f"{cid}: valid {valid} + invalid {invalid} + blank {blank} != read {read}")
    if sum(votes.values()) != valid:
        out.append(f"{cid}: votes add up to {sum(votes.values())}, valid ballots {valid}")
    if identified is not None and read > identified:
        out.append(f"{cid}: {read} ballots but {identified} identified voters")
    elif identified is None:
        out.append(f"{cid}: no identified-voter count to check {read} ballots against")
    return out


def election_window(election: dict) -> tuple[dt.datetime, dt.datetime]:
    """[voting day 00:00, voting day + 2 days 00:00) in the election's time zone, as UTC instants."""
    tz = ZoneInfo(election.get("time_zone") or "Asia/Bishkek")
    day = dt.date.fromisoformat(election["voting_day"])
    start = dt.datetime.combine(day, dt.time(0, 0), tz)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=2)).astimezone(dt.UTC)


def check_protocol(body: dict, *, identified_receipts: int | None,
                   voters_on_list: int | None, election: dict | None = None,
                   validity: tuple[str, str] | None = None) -> list[str]:
    """Reasons to hold this protocol back from the totals (empty: it may be shown).

    ``identified_receipts``: voters identified by the receipts received from the
    station; ``voters_on_list``: the registered list; ``election``: its
    ``voting_day`` and ``time_zone``; ``validity``: the sending device's
    certificate (not_before, not_after).
    """
    reasons = []
    identified = body.get("voters_identified")
    if identified is not None and not _nat(identified):
        reasons.append("voters_identified is not a count")
        identified = None
    if identified is None:
        identified = identified_receipts
    elif identified_receipts is not None and \
            abs(identified - identified_receipts) > receipt_tolerance(identified):
        reasons.append(f"{identified} identified in the protocol but {identified_receipts} receipts"
                       f" received (tolerance {receipt_tolerance(identified)}): receipts still on"
                       " their way, or a figure not backed by receipts")
    claimed = body.get("voters_on_list")
    if claimed is not None and not _nat(claimed):
        reasons.append("voters_on_list is not a count")
        claimed = None
    if voters_on_list is not None and claimed is not None and claimed != voters_on_list:
        reasons.append(f"voters on the list {claimed} in the protocol, {voters_on_list} registered"
                       " for this station")
    on_list = voters_on_list if voters_on_list is not None else claimed
    if identified is not None and on_list is not None and identified > on_list:
        reasons.append(f"share above 100%: {identified} identified of {on_list} on the list")
    reasons += _date_reasons(body.get("closed_at"), election, validity)
    for rel in body.get("control") or []:
        if isinstance(rel, dict) and rel.get("ok") is False:
            reasons.append(f"control relation {rel.get('relation')} fails in the protocol")
    contests = body.get("contests")
    if not isinstance(contests, list) or not contests:
        return reasons + ["no contests"]
    for c in contests:
        if not isinstance(c, dict) or not isinstance(c.get("contest"), str):
            reasons.append("contest entry malformed")
            continue
        reasons += _contest_reasons(c["contest"], c, identified)
    reasons += _manual_reasons(body.get("manual_count"))
    reasons += _provisional_reasons(body.get("provisional"), identified)
    return reasons


PROVISIONAL_FIELDS = ("issued", "granted_later", "refused_later", "unanswered")


def _provisional_reasons(provisional: Any, identified: int | None) -> list[str]:
    """Ballots issued on a provisional claim (count/protocol_body.py; absent in most protocols):
    counts whose answers add up to the issued, which are part of the voters identified."""
    if provisional is None:
        return []
    if not isinstance(provisional, dict) or not all(_nat(provisional.get(k)) for k in PROVISIONAL_FIELDS):
        return ["provisional section malformed"]
    issued = provisional["issued"]
    if sum(provisional[k] for k in PROVISIONAL_FIELDS[1:]) != issued:
        return [f"provisional: the centre's answers do not add up to the {issued} issued"]
    if identified is not None and issued > identified:
        return [f"provisional: {issued} issued but {identified} identified"]
    return []


def _date_reasons(closed_at: Any, election: dict | None, validity: tuple[str, str] | None) -> list[str]:
    try:
        closed = parse_iso(closed_at)
    except (TypeError, ValueError):
        return [f"closed_at {str(closed_at)[:40]!r} is not a time"]
    out = []
    if election is not None and election.get("voting_day"):
        lo, hi = election_window(election)
        if not lo <= closed < hi:
            out.append(f"closed at {closed_at}, outside the election's window"
                       f" ({election['voting_day']} and the day after, {election.get('time_zone')})")
    if validity is not None:
        nb, na = parse_iso(validity[0]), parse_iso(validity[1])
        if not nb <= closed <= na:
            out.append(f"closed at {closed_at}, outside the device certificate's validity"
                       f" ({validity[0]} .. {validity[1]})")
    return out


def _manual_reasons(manual: Any) -> list[str]:
    if manual is None:
        return []
    if not isinstance(manual, dict) or not isinstance(manual.get("lines"), list):
        return ["manual count section malformed"]
    for line in manual["lines"]:
        if not isinstance(line, dict) or not isinstance(line.get("line"), str) \
                or not _nat(line.get("manual")):
            return ["manual count: a line is not a non-negative count"]
    failing = [r.get("relation") for r in manual.get("control") or []
               if isinstance(r, dict) and r.get("ok") is False]
    if failing and not (manual.get("explanation") or "").strip():
        return [f"manual count: relation {', '.join(map(str, failing))} fails with no explanation"]
    return []


def official_figures(body: dict) -> tuple[str, int | None, dict[str, dict]]:
    """(source, voters identified, contest -> counts): the manual count when present, else the machine's.

    Manual lines (count/manual_count.py ``form_lines``): ``voters_identified``,
    ``<contest>/ballots_found``, ``/valid``, ``/invalid``, ``/votes:<option>``;
    a manual count has no "blank" line (no mark is invalid).
    """
    contests = {c["contest"]: {**{k: c[k] for k in COUNT_FIELDS}, "votes": dict(c["votes"])}
                for c in body["contests"]}
    manual = body.get("manual_count")
    if not isinstance(manual, dict):
        return "machine", body.get("voters_identified"), contests
    identified = body.get("voters_identified")
    out = {cid: {"ballots_read": 0, "valid": 0, "invalid": 0, "blank": 0, "votes": {}}
           for cid in contests}
    for line in manual["lines"]:
        key, n = line["line"], line["manual"]
        if key == "voters_identified":
            identified = n
            continue
        cid, _, what = key.partition("/")
        t = out.setdefault(cid, {"ballots_read": 0, "valid": 0, "invalid": 0, "blank": 0, "votes": {}})
        if what == "ballots_found":
            t["ballots_read"] = n
        elif what in ("valid", "invalid"):
            t[what] = n
        elif what.startswith("votes:"):
            t["votes"][what[6:]] = n
    return "manual", identified, out


def manual_comparison(body: dict) -> list[dict] | None:
    """Per line: machine, manual, difference and whether it is flagged (None: no manual count)."""
    manual = body.get("manual_count")
    if not isinstance(manual, dict):
        return None
    return [{"line": line["line"], "contest": line.get("contest"), "machine": line.get("machine"),
             "manual": line["manual"], "difference": line.get("difference"),
             "flagged": difference_flagged(line.get("machine"), line.get("difference"))}
            for line in manual["lines"]]


def revision_changes(before: dict | None, after: dict) -> list[dict]:
    """What changed from one revision's figures to the next: [{"line", "from", "to"}]."""
    if before is None:
        return []
    a, b = _flat(before), _flat(after)
    return [{"line": k, "from": a.get(k), "to": b.get(k)}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _flat(body: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"voters_on_list": body.get("voters_on_list"),
                           "voters_identified": body.get("voters_identified"),
                           "closed_at": body.get("closed_at")}
    for c in body.get("contests") or []:
        if not isinstance(c, dict):
            continue
        cid = c.get("contest")
        for k in COUNT_FIELDS:
            out[f"{cid}/{k}"] = c.get(k)
        for o, n in (c.get("votes") or {}).items():
            out[f"{cid}/votes:{o}"] = n
    manual = body.get("manual_count")
    if isinstance(manual, dict):
        for line in manual.get("lines") or []:
            if isinstance(line, dict):
                out[f"manual {line.get('line')}"] = line.get("manual")
        out["manual explanation"] = manual.get("explanation")
    return out


# --- one checked view of every station ------------------------------------------------------------

_CACHE: dict[tuple[str, str, int], tuple[tuple, dict]] = {}
_CACHE_LOCK = threading.Lock()


def is_remote_site(meta: dict | None) -> bool:
    """A registered remote-voting site (central/storage.py ``stations.kind``)."""
    return bool(meta) and meta.get("kind") == "remote-site"


def list_size(meta: dict | None) -> int | None:
    """The voters on a station's own list; a remote site has none (its voters are on their home lists)."""
    if meta is None or is_remote_site(meta):
        return None
    return meta.get("voters_on_list")


def district_reasons(body: dict, oiks: set[str] | frozenset[str]) -> list[str]:
    """Why a remote site's sections cannot be given to their districts (empty: each names a registered ОИК)."""
    out = []
    for c in body.get("contests") or []:
        if not isinstance(c, dict) or c.get("kind") != "candidate":
            continue
        d = c.get("district")
        if not isinstance(d, str):
            out.append(f"{c.get('contest')}: a remote site's section names no district")
        elif d not in oiks:
            out.append(f"{c.get('contest')}: district {d[:40]} is not a registered ОИК")
    return out


def _oik_places(stations: list[dict]) -> dict[str, dict]:
    """ОИК code -> the station row that places it (its Region): the first regular station of it."""
    out: dict[str, dict] = {}
    for s in stations:
        if not is_remote_site(s):
            out.setdefault(s["oik_code"], s)
    for s in stations:
        out.setdefault(s["oik_code"], s)
    return out


def _checked(storage: Storage) -> dict[str, Any]:
    """Every registered or reporting station with its status, reasons and official figures."""
    meta = {s["id"]: s for s in storage.stations()}
    oiks = frozenset(m["oik_code"] for m in meta.values())
    heads = storage.protocol_heads()
    receipts = storage.identified_by_station()
    elections = storage.elections()
    election = next(iter(elections.values())) if len(elections) == 1 else None
    validity = storage.device_validity()
    streams: dict[str, list[dict]] = {}
    for s in storage.streams():
        streams.setdefault(s["station"], []).append(s)
    out = {}
    for station in sorted(set(meta) | set(heads) | set(streams)):
        m = meta.get(station)
        entry: dict[str, Any] = {"station": station, "meta": m, "identified_receipts": receipts.get(station),
                                 "reporting": station in streams}
        head = heads.get(station)
        if head is None:
            entry.update(status="reporting" if station in streams else "missing", reasons=[],
                         protocol=None)
            out[station] = entry
            continue
        n, h, revisions = head
        key = (storage.url, station, n)
        state = (h, receipts.get(station), (m or {}).get("voters_on_list"), m is None,
                 tuple(sorted((election or {}).items())), is_remote_site(m) and hash(oiks))
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None and hit[0] == state:
            checked = hit[1]
        else:
            p = storage.protocol_at(n)
            body = p["body"]
            reasons = check_protocol(body, identified_receipts=receipts.get(station, 0),
                                     voters_on_list=(m or {}).get("voters_on_list"),
                                     election=election, validity=validity.get(p["device"]))
            if meta and m is None:
                reasons.append("station is not on the station list")
            if is_remote_site(m):
                reasons += district_reasons(body, oiks)
            checked = {"body": body, "device": p["device"], "seq": p["seq"], "hash": h,
                       "received_at": p["received_at"], "reasons": reasons}
            if not reasons:
                checked["official"] = official_figures(body)
            with _CACHE_LOCK:
                _CACHE[key] = (state, checked)
        reasons = list(checked["reasons"])
        count_head = next((s for s in streams.get(station, []) if s["device"] == checked["device"]
                           and s["stream"] == "count"), None)
        if count_head is None or count_head["contiguous_seq"] < checked["seq"]:
            reasons.append("count stream has gaps before the protocol")
        entry.update(status="held" if reasons else "verified", reasons=reasons, protocol=checked,
                     revisions=revisions)
        out[station] = entry
    return out


def _group_key(entry: dict, level: str) -> tuple[str, str | None]:
    if level == "national":
        return "KG", None
    code_col, name_col = LEVELS[level]
    m = entry["meta"] or {}
    return (m.get(code_col) or (entry["station"] if level == "uik" else "unknown")), m.get(name_col)


def _within(entry: dict, within: dict[str, str] | None) -> bool:
    if not within:
        return True
    m = entry["meta"] or {}
    for level, code in within.items():
        col = LEVELS[level][0]
        if col is not None and m.get(col) != code:
            return False
    return True


def results(storage: Storage, level: str = "region", code: str | None = None, *,
            within: dict[str, str] | None = None) -> dict[str, Any]:
    """Results by national/Region/ОИК/ТИК/УИК from checked protocols only (official figures).

    ``within`` ({"region": "KG-GB"}) keeps the stations under a parent; ``code``
    keeps the one group with that code.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {ORDER}")
    for k in within or {}:
        if k not in LEVELS:
            raise ValueError(f"within: level must be one of {ORDER}")
    groups: dict[str, dict] = {}
    held = []
    checked = _checked(storage)
    places = _oik_places([e["meta"] for e in checked.values() if e["meta"]])

    def group(gcode: str, gname: Any) -> dict:
        return groups.setdefault(gcode, {"code": gcode, "name": gname, "stations": 0, "registered": 0,
                                         "verified": 0, "held": 0, "voters_on_list": 0,
                                         "voters_identified": 0, "manual": 0, "contests": {}})

    for station, e in checked.items():
        # A remote site's district sections go to their ОИК (module doc), above the ТИК level.
        elsewhere = remote_sections(e, level, places) if e["status"] == "verified" else []
        for gcode, gname, place, contests in elsewhere:
            if (code is None or gcode == code) and _within({"meta": place}, within):
                g = group(gcode, gname)
                g["remote_sites"] = g.get("remote_sites", 0) + 1
                _add_figures(g["contests"], contests)
        if not _within(e, within):
            continue
        gcode, gname = _group_key(e, level)
        if code is not None and gcode != code:
            continue
        g = group(gcode, gname)
        if e["meta"]:
            g["registered"] += 1
        if e["status"] == "held":
            g["held"] += 1
            held.append({"station": station, "reasons": e["reasons"], "hash": e["protocol"]["hash"]})
            continue
        if e["status"] != "verified":
            continue
        source, identified, contests = e["protocol"]["official"]
        g["stations"] += 1
        g["verified"] += 1
        g["manual"] += source == "manual"
        if not is_remote_site(e["meta"]):
            g["voters_on_list"] += (e["meta"] or {}).get("voters_on_list") or \
                e["protocol"]["body"].get("voters_on_list") or 0
        g["voters_identified"] += identified if identified is not None else \
            (e["identified_receipts"] or 0)
        moved = set(section_districts(e["protocol"]["body"])) \
            if is_remote_site(e["meta"]) and level in ("region", "oik", "tik") else set()
        _add_figures(g["contests"], {cid: c for cid, c in contests.items() if cid not in moved})
    for g in groups.values():
        for t in g["contests"].values():
            t["shares"] = {o: round(n / t["valid"], 6) if t["valid"] else None
                           for o, n in t["votes"].items()}
        g["turnout"] = round(g["voters_identified"] / g["voters_on_list"], 6) \
            if g["voters_on_list"] else None
        if g["turnout"] is not None and g["turnout"] > 1:  # cannot pass the station checks
            g["turnout"] = None
            g["flags"] = ["share above 100%"]
    return {"level": level, "groups": sorted(groups.values(), key=lambda g: g["code"]),
            "held": held, "stations_counted": sum(g["stations"] for g in groups.values())}


def _add_figures(into: dict[str, dict], contests: dict[str, dict]) -> None:
    for cid, c in contests.items():
        t = into.setdefault(cid, {"ballots_read": 0, "valid": 0, "invalid": 0, "blank": 0, "votes": {}})
        for k in COUNT_FIELDS:
            t[k] += c[k]
        for opt, n in c["votes"].items():
            t["votes"][opt] = t["votes"].get(opt, 0) + n


def section_districts(body: dict) -> dict[str, str]:
    """A remote site's protocol: contest -> the ОИК code its section elects (module doc)."""
    return {c["contest"]: c["district"] for c in body.get("contests") or []
            if isinstance(c, dict) and c.get("kind") == "candidate" and isinstance(c.get("district"), str)
            and isinstance(c.get("contest"), str)}


def remote_sections(entry: dict, level: str, places: dict[str, dict]) -> list[tuple[str, Any, dict, dict]]:
    """Where a verified remote site's district sections count at ``level``, apart from the site:
    [(group code, group name, the station row placing it, {contest: official figures})].

    At "oik" and "region" each section goes to its district's group; at "tik" to none (no ТИК
    has them); at "national" and "uik" nowhere else (the nation and the site's own page have them).
    """
    if not is_remote_site(entry["meta"]) or level in ("national", "uik"):
        return []
    contests = entry["protocol"]["official"][2]
    out: dict[str, tuple[str, Any, dict, dict]] = {}
    for cid, district in section_districts(entry["protocol"]["body"]).items():
        if cid not in contests:
            continue
        place = places.get(district) or {"oik_code": district}
        if level == "tik":
            gcode, gname = "", None
        else:
            code_col, name_col = LEVELS[level]
            gcode, gname = place.get(code_col) or district, place.get(name_col)
        out.setdefault(gcode, (gcode, gname, place, {}))[3][cid] = contests[cid]
    return [v for k, v in sorted(out.items()) if k]


def turnout(storage: Storage, bucket: str = "hour") -> dict[str, Any]:
    """Identified voters per station over time (cumulative), with the share of the list."""
    chars = BUCKETS.get(bucket)
    if chars is None:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}")
    meta = {s["id"]: s for s in storage.stations()}
    summaries = storage.latest_summaries()
    series = _series(storage.turnout_hours(), chars)
    out, total_id, total_list = [], 0, 0
    for station in sorted(set(series) | set(summaries)):
        remote = is_remote_site(meta.get(station))
        on_list = None if remote else (meta.get(station) or {}).get("voters_on_list") or \
            (summaries.get(station) or (None,))[0]
        identified = series[station][-1]["cumulative"] if station in series else \
            summaries[station][1]
        flags, share = [], None
        if remote:
            total_id += identified       # its voters are on their home stations' lists, counted there
        elif on_list:
            share = identified / on_list
            if share > 1:
                flags.append(f"share above 100% ({identified} of {on_list}): held")
                share = None
            else:
                total_id += identified
                total_list += on_list
        out.append({"station": station, "voters_on_list": on_list, "identified": identified,
                    "share": None if share is None else round(share, 6),
                    "series": series.get(station, []), "flags": flags})
    return {"bucket": bucket, "stations": out,
            "total": {"identified": total_id, "voters_on_list": total_list,
                      "share": round(total_id / total_list, 6) if total_list else None}}


def _series(rows: list[tuple[str, str, int]], chars: int) -> dict[str, list[dict]]:
    series: dict[str, list] = {}
    for station, hour, n in rows:
        s = series.setdefault(station, [])
        b = hour[:chars]
        if s and s[-1]["t"] == b:
            s[-1]["identified"] += n
            s[-1]["cumulative"] += n
        else:
            s.append({"t": b, "identified": n, "cumulative": (s[-1]["cumulative"] if s else 0) + n})
    return series


def turnout_series(storage: Storage, level: str = "national", code: str | None = None) -> dict[str, Any]:
    """Turnout by hour summed over the stations of one group (``level``, ``code``).

    Receipts count here as they arrive (preliminary); a station whose
    identified voters would exceed its registered list is left out and named.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {ORDER}")
    meta = {s["id"]: s for s in storage.stations()}
    col = LEVELS[level][0]
    members = {sid for sid, m in meta.items() if level == "national" or m.get(col) == code}
    by_station = _series(storage.turnout_hours(), BUCKETS["hour"])
    left_out = sorted(sid for sid in members & set(by_station)
                      if list_size(meta[sid])
                      and by_station[sid][-1]["cumulative"] > meta[sid]["voters_on_list"])
    hours: dict[str, int] = {}
    for sid in sorted(members - set(left_out)):
        for point in by_station.get(sid, []):
            hours[point["t"]] = hours.get(point["t"], 0) + point["identified"]
    series, cum = [], 0
    for t in sorted(hours):
        cum += hours[t]
        series.append({"t": t, "identified": hours[t], "cumulative": cum})
    on_list = sum(list_size(meta[sid]) or 0 for sid in members - set(left_out))
    return {"level": level, "code": code, "stations": len(members), "voters_on_list": on_list,
            "identified": cum, "share": round(cum / on_list, 6) if on_list else None,
            "series": series, "left_out": left_out}


def stations(storage: Storage) -> dict[str, Any]:
    """Which stations reported anything, which have a verified protocol, which are held, which are missing."""
    checked = _checked(storage)
    meta_ids = {s for s, e in checked.items() if e["meta"]}
    verified = [{"station": s, "protocol_hash": e["protocol"]["hash"]}
                for s, e in checked.items() if e["status"] == "verified"]
    unverified = [{"station": s, "protocol_hash": e["protocol"]["hash"], "reasons": e["reasons"]}
                  for s, e in checked.items() if e["status"] == "held"]
    reporting = sorted(s for s, e in checked.items() if e["reporting"])
    with_protocol = [s for s, e in checked.items() if e["protocol"] is not None]
    missing = sorted(s for s in meta_ids if checked[s]["protocol"] is None)
    return {"registered": len(meta_ids), "reported": reporting,
            "verified": verified, "unverified": unverified, "held": unverified, "missing": missing,
            "counts": {"reported": len(reporting), "with_protocol": len(with_protocol),
                       "verified": len(verified), "held": len(unverified), "missing": len(missing)}}


def station_report(storage: Storage, station: str) -> dict[str, Any] | None:
    """One station's page: status and reasons, figures (machine and manual), every revision."""
    e = _checked(storage).get(station)
    if e is None:
        return None
    out: dict[str, Any] = {"station": e["meta"] or {"id": station}, "status": e["status"],
                           "reasons": e["reasons"], "identified_receipts": e["identified_receipts"],
                           "protocol": None, "hash": None, "device": None, "seq": None,
                           "manual": None, "comparison": None, "official": None, "provisional": None,
                           "revisions": []}
    turnout_rows = storage.turnout_hours(station)
    out["turnout"] = _series(turnout_rows, BUCKETS["hour"]).get(station, [])
    p = e["protocol"]
    if p is None:
        return out
    body = p["body"]
    out.update(protocol=body, hash=p["hash"], device=p["device"], seq=p["seq"],
               received_at=p["received_at"], manual=body.get("manual_count"),
               comparison=manual_comparison(body),
               # ballots issued on a provisional claim, apart (issue #14 point 3); None: there were none
               provisional=body.get("provisional"))
    if e["status"] == "verified":
        source, identified, contests = p["official"]
        out["official"] = {"source": source, "voters_identified": identified, "contests": contests}
    prev = None
    for i, r in enumerate(storage.protocol_revisions(station), 1):
        out["revisions"].append({"n": i, "hash": r["hash"], "device": r["device"], "seq": r["seq"],
                                 "closed_at": r["closed_at"], "received_at": r["received_at"],
                                 "manual": isinstance(r["body"].get("manual_count"), dict),
                                 "supersedes": r["body"].get("supersedes"),
                                 "changes": revision_changes(prev, r["body"])})
        prev = r["body"]
    return out


def revisions(storage: Storage) -> list[dict]:
    """Stations with more than one revision, each with its list of changes (the public list)."""
    out = []
    for station, n in sorted(storage.revision_counts().items()):
        if n > 1:
            rep = station_report(storage, station)
            out.append({"station": station, "revisions": rep["revisions"] if rep else []})
    return out


def hierarchy(storage: Storage) -> dict[str, Any]:
    """Region -> ОИК -> ТИК -> УИК from the registered list: {"code", "name", "children": [...]}."""
    root: dict[str, Any] = {"level": "national", "code": "KG", "name": None, "children": []}
    index: dict[tuple, dict] = {}
    for s in storage.stations():
        parent = root
        path: tuple = ()
        for level in ("region", "oik", "tik"):
            code_col, name_col = LEVELS[level]
            path = (*path, s[code_col])
            node = index.get(path)
            if node is None:
                node = {"level": level, "code": s[code_col], "name": s[name_col], "children": []}
                index[path] = node
                parent["children"].append(node)
            parent = node
        parent["children"].append({"level": "uik", "code": s["id"], "name": s["name"],
                                   "number": s["number"], "voters_on_list": list_size(s),
                                   "kind": s.get("kind") or "station", "district": s.get("district")})
    return root


def parents(storage: Storage, level: str, code: str) -> list[dict]:
    """The breadcrumbs of a group: [{"level", "code", "name"}] from the Region down to it."""
    if level not in LEVELS or level == "national":
        return []
    col = LEVELS[level][0]
    for s in storage.stations():
        if s[col] == code:
            out = []
            for lv in ORDER[1:ORDER.index(level) + 1]:
                c, n = LEVELS[lv]
                out.append({"level": lv, "code": s[c], "name": s[n]})
            return out
    return []


def anomalies(storage: Storage, limit: int = 1000) -> dict[str, Any]:
    """Signed evidence, open gaps, PINs identified at two stations, and unauthenticated junk.

    ``stored``: the newest ``limit`` rows of signed evidence (central/service.py);
    ``evidence``: every kind of signed evidence counted per code, device and
    station, so that no row cut from ``stored`` goes unseen; ``unauthenticated``:
    the junk counters per client (total, then the 100 most active), apart
    from the evidence it can never displace. Carries PINs: operators only.
    """
    gaps = []
    for s in storage.streams():
        if s["max_seq"] > s["contiguous_seq"]:
            gaps.append({"device": s["device"], "stream": s["stream"], "station": s["station"],
                         "contiguous_seq": s["contiguous_seq"], "max_seq": s["max_seq"],
                         "missing": storage.missing_seqs(s["device"], s["stream"],
                                                         s["contiguous_seq"])})
    details = storage.double_identification_details()
    doubles = [{"pin": pin, "stations": st, "receipts": n, "identifications": details.get(pin, [])}
               for pin, st, n in storage.double_identifications()]
    return {"stored": storage.anomalies(limit), "evidence": storage.anomaly_counts(), "gaps": gaps,
            "double_identification": doubles,
            "unauthenticated": {"total": storage.junk_total(), "clients": storage.junk(100)}}


def public_anomalies(storage: Storage) -> dict[str, Any]:
    """What anyone may see of the anomalies: counts only, never a PIN."""
    gaps = sum(1 for s in storage.streams() if s["max_seq"] > s["contiguous_seq"])
    return {"evidence": [{k: a[k] for k in ("code", "station", "count")}
                         for a in storage.anomaly_counts()],
            "streams_with_gaps": gaps,
            "double_identifications": storage.double_identification_count(),
            "unauthenticated_events": storage.junk_total()}


def site_sections(storage: Storage) -> dict[str, dict[str, str]]:
    """Each verified remote site's district sections: {site: {contest: ОИК}} (the checked view, cached)."""
    return {sid: section_districts(e["protocol"]["body"]) for sid, e in _checked(storage).items()
            if is_remote_site(e["meta"]) and e["status"] == "verified"}


ONDEMAND_FIELDS = ("printed", "issued", "voided", "pending")


def ondemand_figures(summary: dict | None) -> tuple[dict | None, str | None]:
    """A site's ballots printed on demand from its identification summary's ``ondemand`` section
    (identify/receipts.py: per ballot style printed, issued, voided, pending, voids by reason):
    (``{"printed", "issued", "voided", "pending", "balanced", "by_style": {style: {...}}}``, None),
    (None, None) without the section, or (None, why) when it is not counts."""
    od = (summary or {}).get("ondemand")
    if od is None:
        return None, None
    if not isinstance(od, dict) or not od:
        return None, "ondemand section malformed"
    by_style = {}
    for style, c in sorted(od.items()):
        if not isinstance(c, dict) or not all(_nat(c.get(k)) for k in ONDEMAND_FIELDS):
            return None, f"ondemand counters of {str(style)[:40]!r} are not counts"
        by_style[style] = {k: c[k] for k in ONDEMAND_FIELDS}
    totals = {k: sum(c[k] for c in by_style.values()) for k in ONDEMAND_FIELDS}
    # identify/ondemand.py keeps printed = issued + voided + pending per style (a CHECK of its table)
    balanced = all(c["printed"] == c["issued"] + c["voided"] + c["pending"] for c in by_style.values())
    return {**totals, "balanced": balanced, "by_style": by_style}, None


def remote_voting(storage: Storage) -> dict[str, Any]:
    """The remote-voting sites: each with where it stands, its status, the districts of its protocol,
    the voters identified there (receipts and granted claims) per home district, the ballots it
    printed on demand; and the totals per home district. Small reads only: the station list,
    ``remote_votes`` (kept at write time: one row per site and home district), the checked
    protocols and each site's latest identification summary.

    ``{"sites": [{"station", "name", "number", "region", "oik", "tik", "district", "status",
    "identified", "by_home_district": {ОИК: n}, "sections": {contest: ОИК}, "ondemand"}],
    "identified": n, "by_home_district": {ОИК: n}, "not_on_national_list": n, "ondemand":
    {"printed", "issued", "voided", "pending"}}``; "" in ``by_home_district`` of a site is a PIN
    not on the national list. A site's ``ondemand`` is ``ondemand_figures`` of its summary (None
    before the close's summary arrived, or where nothing was printed on demand); a section that
    is not counts is None with ``ondemand_problem`` saying why.
    """
    checked = _checked(storage)
    by_site: dict[str, dict[str, int]] = {}
    for station, district, n in storage.remote_votes():
        by_site.setdefault(station, {})[district] = n
    summaries = storage.latest_summary_bodies(sid for sid, e in checked.items() if is_remote_site(e["meta"]))
    sites, totals = [], {}
    printed = dict.fromkeys(ONDEMAND_FIELDS, 0)
    for sid, e in checked.items():
        m = e["meta"]
        if not is_remote_site(m):
            continue
        homes = by_site.get(sid, {})
        for d, n in homes.items():
            totals[d] = totals.get(d, 0) + n
        ondemand, problem = ondemand_figures(summaries.get(sid))
        for k in ONDEMAND_FIELDS:
            printed[k] += ondemand[k] if ondemand else 0
        sites.append({"station": sid, "name": m.get("name"), "number": m.get("number"),
                      "region": m.get("region_code"), "oik": m.get("oik_code"), "tik": m.get("tik_code"),
                      "district": m.get("district") or m.get("oik_code"), "status": e["status"],
                      "identified": e["identified_receipts"] or 0, "by_home_district": dict(sorted(homes.items())),
                      "sections": section_districts(e["protocol"]["body"]) if e["protocol"] else {},
                      "ondemand": ondemand} | ({"ondemand_problem": problem} if problem else {}))
    return {"sites": sites, "identified": sum(s["identified"] for s in sites),
            "by_home_district": {d: n for d, n in sorted(totals.items()) if d},
            "not_on_national_list": totals.get("", 0), "ondemand": printed}

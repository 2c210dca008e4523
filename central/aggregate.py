"""What the centre shows: turnout, preliminary results, station status, anomalies.

Totals are checked before they are shown (issue "Reference receiver"): each
station's latest non-test results protocol must pass ``check_protocol``
(every count a non-negative integer; valid + invalid + blank = ballots read;
votes add up to the valid ballots; no more ballots than identified voters; no
more identified voters than voters on the list; turnout share <= 100%). A
station that fails is listed under ``held`` with its reasons and left out of
every total; no share above 100% is ever shown, it is held instead.

Levels follow DOMAIN.md "Reference region hierarchy": Region -> ОИК -> ТИК ->
УИК, from the registered station list (central/service.py
``load_stations``).

Example::

    results(storage, "oik")["groups"][0]["contests"]["party-list"]["votes"]
"""

from __future__ import annotations

from typing import Any

from central.storage import Storage

LEVELS = {"region": ("region_code", "region_name"), "oik": ("oik_code", "oik_name"),
          "tik": ("tik_code", "tik_name"), "uik": ("id", "name")}
BUCKETS = {"hour": 13, "day": 10}   # prefixes of the hours kept at write time


def _nat(v: Any) -> bool:
    return type(v) is int and v >= 0


def check_protocol(body: dict, *, identified_receipts: int | None,
                   voters_on_list: int | None) -> list[str]:
    """Reasons to hold this protocol back from the totals (empty: it may be shown)."""
    reasons = []
    identified = body.get("voters_identified")
    if identified is not None and not _nat(identified):
        reasons.append("voters_identified is not a count")
        identified = None
    if identified is None:
        identified = identified_receipts
    on_list = body.get("voters_on_list") if _nat(body.get("voters_on_list")) else voters_on_list
    if identified is not None and on_list:
        if identified > on_list:
            reasons.append(f"share above 100%: {identified} identified of {on_list} on the list")
    contests = body.get("contests")
    if not isinstance(contests, list) or not contests:
        return reasons + ["no contests"]
    for c in contests:
        if not isinstance(c, dict) or not isinstance(c.get("contest"), str):
            reasons.append("contest entry malformed")
            continue
        cid = c["contest"]
        nums = [c.get(k) for k in ("ballots_read", "valid", "invalid", "blank")]
        votes = c.get("votes")
        if not all(_nat(n) for n in nums) or not isinstance(votes, dict) \
                or not all(_nat(v) for v in votes.values()):
            reasons.append(f"{cid}: counts are not non-negative integers")
            continue
        read, valid, invalid, blank = nums
        if valid + invalid + blank != read:
            reasons.append(f"{cid}: valid {valid} + invalid {invalid} + blank {blank} != read {read}")
        if sum(votes.values()) != valid:
            reasons.append(f"{cid}: votes add up to {sum(votes.values())}, valid ballots {valid}")
        if identified is not None and read > identified:
            reasons.append(f"{cid}: {read} ballots but {identified} identified voters")
        elif identified is None:
            reasons.append(f"{cid}: no identified-voter count to check {read} ballots against")
    return reasons


def _station_meta(storage: Storage) -> dict[str, dict]:
    return {s["id"]: s for s in storage.stations()}


def turnout(storage: Storage, bucket: str = "hour") -> dict[str, Any]:
    """Identified voters per station over time (cumulative), with the share of the list."""
    chars = BUCKETS.get(bucket)
    if chars is None:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}")
    meta = _station_meta(storage)
    summaries = storage.latest_summaries()
    series: dict[str, list] = {}
    for station, hour, n in storage.turnout_hours():
        s = series.setdefault(station, [])
        b = hour[:chars]
        if s and s[-1]["t"] == b:
            s[-1]["identified"] += n
            s[-1]["cumulative"] += n
        else:
            s.append({"t": b, "identified": n, "cumulative": (s[-1]["cumulative"] if s else 0) + n})
    out, total_id, total_list = [], 0, 0
    for station in sorted(set(series) | set(summaries)):
        on_list = (meta.get(station) or {}).get("voters_on_list") or \
            (summaries.get(station) or (None,))[0]
        identified = series[station][-1]["cumulative"] if station in series else \
            summaries[station][1]
        flags, share = [], None
        if on_list:
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


def results(storage: Storage, level: str = "region") -> dict[str, Any]:
    """Preliminary results by Region/ОИК/ТИК/УИК from checked protocols only."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}")
    code_col, name_col = LEVELS[level]
    meta = _station_meta(storage)
    receipts = storage.identified_by_station()
    groups: dict[str, dict] = {}
    held = []
    for station, p in sorted(storage.latest_protocols().items()):
        body = p["body"]
        m = meta.get(station)
        reasons = check_protocol(body, identified_receipts=receipts.get(station),
                                 voters_on_list=(m or {}).get("voters_on_list"))
        if meta and m is None:
            reasons.append("station is not on the station list")
        if reasons:
            held.append({"station": station, "reasons": reasons, "hash": p["hash"]})
            continue
        code = (m or {}).get(code_col) or (station if level == "uik" else "unknown")
        g = groups.setdefault(code, {"code": code, "name": (m or {}).get(name_col), "stations": 0,
                                     "voters_on_list": 0, "voters_identified": 0, "contests": {}})
        g["stations"] += 1
        g["voters_on_list"] += body.get("voters_on_list") or 0
        ident = body.get("voters_identified")
        g["voters_identified"] += ident if ident is not None else receipts.get(station, 0)
        for c in body["contests"]:
            t = g["contests"].setdefault(c["contest"], {"ballots_read": 0, "valid": 0,
                                                         "invalid": 0, "blank": 0, "votes": {}})
            for k in ("ballots_read", "valid", "invalid", "blank"):
                t[k] += c[k]
            for opt, n in c["votes"].items():
                t["votes"][opt] = t["votes"].get(opt, 0) + n
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


def stations(storage: Storage) -> dict[str, Any]:
    """Which stations reported anything, which have a verified protocol, which are missing."""
    meta = _station_meta(storage)
    reporting = storage.reporting_stations()
    protocols = storage.latest_protocols()
    receipts = storage.identified_by_station()
    heads = {}
    for s in storage.streams():
        heads.setdefault(s["station"], []).append(s)
    verified, unverified = [], []
    for station, p in sorted(protocols.items()):
        reasons = check_protocol(p["body"], identified_receipts=receipts.get(station),
                                 voters_on_list=(meta.get(station) or {}).get("voters_on_list"))
        count_head = next((h for h in heads.get(station, []) if h["device"] == p["device"]
                           and h["stream"] == "count"), None)
        if count_head is None or count_head["contiguous_seq"] < p["seq"]:
            reasons.append("count stream has gaps before the protocol")
        (unverified if reasons else verified).append(
            {"station": station, "protocol_hash": p["hash"], **({"reasons": reasons} if reasons else {})})
    with_protocol = set(protocols)
    missing = sorted(set(meta) - with_protocol) if meta else []
    return {"registered": len(meta), "reported": sorted(reporting),
            "verified": verified, "unverified": unverified, "missing": missing,
            "counts": {"reported": len(reporting), "with_protocol": len(with_protocol),
                       "verified": len(verified), "missing": len(missing)}}


def anomalies(storage: Storage, limit: int = 1000) -> dict[str, Any]:
    """Signed evidence, open gaps, PINs identified at two stations, and unauthenticated junk.

    ``stored``: the newest ``limit`` rows of signed evidence (central/service.py);
    ``evidence``: every kind of signed evidence counted per code, device and
    station, so that no row cut from ``stored`` goes unseen; ``unauthenticated``:
    the junk counters per client (total, then the 100 most active), apart
    from the evidence it can never displace.
    """
    gaps = []
    for s in storage.streams():
        if s["max_seq"] > s["contiguous_seq"]:
            gaps.append({"device": s["device"], "stream": s["stream"], "station": s["station"],
                         "contiguous_seq": s["contiguous_seq"], "max_seq": s["max_seq"],
                         "missing": storage.missing_seqs(s["device"], s["stream"],
                                                         s["contiguous_seq"])})
    doubles = [{"pin": pin, "stations": st, "receipts": n}
               for pin, st, n in storage.double_identifications()]
    return {"stored": storage.anomalies(limit), "evidence": storage.anomaly_counts(), "gaps": gaps,
            "double_identification": doubles,
            "unauthenticated": {"total": storage.junk_total(), "clients": storage.junk(100)}}

"""The results protocol: built as a pure function, signed, enqueued, printed, exported.

``build_protocol(election, tally, voters_on_list, voters_identified, closed_at)``
returns the body of the contract's ``results-protocol`` kind (/tmp contract
"Outbox and envelopes"; docs/protocol.md) from values only:

- per contest: ballots read, valid, invalid, blank, marginal sheets, votes per
  candidate / party and "against all", preference votes per party per list
  number (count/tally.py says what each counter means);
- contests in the counting order of DOMAIN.md "Ballots and contests":
  candidate contests first, then party lists (election order within a kind);
- ``control``: the control relations (DOMAIN.md "Results"; seed ``003_…``,
  "Установление итогов"), each ``{"relation", "ok", "detail", "contest"}``:
  ``ballots<=identified`` (only when the identify role's summary is given),
  ``ballots<=voters-on-list``, ``identified<=voters-on-list``,
  ``statuses=ballots`` (valid + invalid + blank = ballots read),
  ``votes=valid`` (the option lines sum to the valid ballots),
  ``preferences<=party-votes`` (per party). A failed relation is reported in
  the protocol, never hidden; the commission explains it in writing.

Signing (``sign_protocol``), across two files without a transaction spanning
them (ARCHITECTURE.md invariant 1):

1. in count.db, one transaction: the protocol row (body, hash, the device's
   signed document) + the outbox entry (stream "count", kind
   "results-protocol") + the ``protocol-signed`` audit record;
2. in station.db: polls action ``sign-protocol`` (closed -> protocol-signed).

A crash between 1 and 2 leaves a signed row while polls are still closed;
``complete_signed_protocol`` (run by the count daemon at start and by
``uchastok count protocol``) finishes step 2 when that row still matches the
real tally and the last close, without enqueuing anything again. If polls
were reopened by a technician and closed again, the old row no longer matches
and signing builds a new revision.

Example::

    body = build_protocol(election, store.tally("real"), 1700, 1234, "2026-11-29T14:00:00Z")
    signed = sign_protocol(store, station_conn, election, key=device_key, outbox=outbox,
                           voters_on_list=1700, voters_identified=1234, clock=clock)
    open_document(signed.document, device_pub) == signed.body
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.clock import SystemClock, iso
from base.sqlite import atomic
from count.paper import protocol_document, save_a4, save_receipt
from count.store import CountStore
from count.tally import Tally
from station import polls
from station.election import Election
from station.errors import CountingError, ProvisioningError
from station.events import record
from station.polls import PollsState
from sync import signing
from sync.canonical import canonical, parse
from sync.device import load_device
from sync.errors import SyncError
from sync.export import make_export
from sync.outbox import Outbox

KIND = "results-protocol"
STREAM = "count"


# --- the pure part ------------------------------------------------------------

def counting_order(election: Election) -> list[str]:
    """Contest ids: candidate contests first, then party lists (DOMAIN.md "Ballots and contests")."""
    return ([c.id for c in election.contests if c.kind == "candidate"]
            + [c.id for c in election.contests if c.kind == "party-list"])


def _contest_body(election: Election, tally: Tally, cid: str) -> dict[str, Any]:
    ct = tally.contest(cid)
    contest = election.contest(cid)
    prefs = {}
    if contest.kind == "party-list":
        prefs = {p.id: {str(n): v for n, v in sorted(ct.preferences.get(p.id, {}).items())}
                 for p in contest.parties}
    return {
        "contest": cid, "kind": contest.kind,
        "ballots_read": ct.ballots_read, "valid": ct.valid, "invalid": ct.invalid,
        "blank": ct.blank, "marginal_sheets": ct.marginal_sheets,
        "votes": {o: ct.votes.get(o, 0) for o in contest.options()},
        "preferences": prefs,
    }


def control_relations(contests: list[dict[str, Any]], voters_on_list: int,
                      voters_identified: int | None) -> list[dict[str, Any]]:
    """The control relations over protocol contest bodies (pure).

    Each: ``relation``, ``ok``, ``detail`` (English, for logs and JSON readers),
    ``contest`` (or None) and ``values`` [left, right] (what the paper prints).
    """
    out: list[dict[str, Any]] = []

    def rel(relation: str, left: int, right: int, detail: str, contest: str | None = None) -> None:
        ok = left <= right if "<=" in relation else left == right
        out.append({"relation": relation, "ok": bool(ok), "detail": detail, "contest": contest,
                    "values": [left, right]})

    if voters_identified is not None:
        rel("identified<=voters-on-list", voters_identified, voters_on_list,
            f"{voters_identified} identified, {voters_on_list} on the list")
    for c in contests:
        cid, n = c["contest"], c["ballots_read"]
        if voters_identified is not None:
            rel("ballots<=identified", n, voters_identified,
                f"{n} ballots in the box, {voters_identified} voters identified", cid)
        rel("ballots<=voters-on-list", n, voters_on_list,
            f"{n} ballots in the box, {voters_on_list} voters on the list", cid)
        s = c["valid"] + c["invalid"] + c["blank"]
        rel("statuses=ballots", s, n,
            f"{c['valid']} valid + {c['invalid']} invalid + {c['blank']} blank = {s}, {n} read", cid)
        v = sum(c["votes"].values())
        rel("votes=valid", v, c["valid"], f"{v} votes on the option lines, {c['valid']} valid", cid)
        if c["preferences"]:
            over = [(party, sum(nums.values()), c["votes"].get(party, 0))
                    for party, nums in c["preferences"].items()
                    if sum(nums.values()) > c["votes"].get(party, 0)]
            # One line per contest when all hold (12 parties x OK would drown the page);
            # every failing party named.
            for party, p, pv in over:
                rel("preferences<=party-votes", p, pv, f"{party}: {p} preference votes, {pv} party votes",
                    cid)
            if not over:
                total = sum(sum(nums.values()) for nums in c["preferences"].values())
                party_votes = sum(c["votes"].get(party, 0) for party in c["preferences"])
                rel("preferences<=party-votes", total, party_votes,
                    "every party's preferences within its votes", cid)
    return out


def build_protocol(election: Election, tally: Tally, voters_on_list: int,
                   voters_identified: int | None, closed_at: str, *,
                   test_mode: bool = False) -> dict[str, Any]:
    """The ``results-protocol`` body (pure: same values in, same dict out)."""
    if tally.election.id != election.id:
        raise CountingError("the tally belongs to another election")
    if voters_on_list < 0 or (voters_identified is not None and voters_identified < 0):
        raise CountingError("voter numbers cannot be negative")
    contests = [_contest_body(election, tally, cid) for cid in counting_order(election)]
    return {
        "election": election.id, "station": election.station.id, "closed_at": closed_at,
        "voters_on_list": voters_on_list, "voters_identified": voters_identified,
        "contests": contests,
        "control": control_relations(contests, voters_on_list, voters_identified),
        "test_mode": bool(test_mode),
    }


def protocol_hash(body: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical body: printed on the paper protocol, checkable by observers."""
    return signing.sha256_hex(canonical(body))


def tally_hash(tally: Tally) -> str:
    return signing.sha256_hex(canonical(tally.to_json()))


# --- signing and the polls transition ----------------------------------------

@dataclass(frozen=True)
class SignedProtocol:
    revision: int
    body: dict[str, Any]
    hash: str
    document: dict[str, Any]       # sync.signing signed document over the body, device key
    outbox_seq: int | None
    signed_at: str

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "hash": self.hash, "outbox_seq": self.outbox_seq,
                "signed_at": self.signed_at, "document": self.document}


def last_close(station_conn: sqlite3.Connection) -> str:
    """When polls were last closed (polls history), the protocol's ``closed_at``."""
    closes = [h for h in polls.history(station_conn) if h["action"] == "close"]
    if not closes:
        raise CountingError("polls were never closed: no protocol yet")
    return closes[-1]["at"]


def latest_protocol(store: CountStore) -> SignedProtocol | None:
    row = store.conn.execute("SELECT revision, body, hash, document, outbox_seq, signed_at"
                             " FROM protocol ORDER BY revision DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return SignedProtocol(row[0], json.loads(row[1]), row[2], json.loads(row[3]), row[4], row[5])


def _row_matches(store: CountStore, p: SignedProtocol, station_conn: sqlite3.Connection) -> bool:
    t = tally_hash(store.tally("real"))
    stored = store.conn.execute("SELECT tally_hash FROM protocol WHERE revision = ?",
                                (p.revision,)).fetchone()[0]
    return stored == t and p.body["closed_at"] == last_close(station_conn)


def complete_signed_protocol(store: CountStore, station_conn: sqlite3.Connection, *,
                             clock=None, actor: str = "system") -> SignedProtocol | None:
    """Finish an interrupted signing: polls closed + a matching signed row -> ``sign-protocol``."""
    if polls.current(station_conn) != PollsState.CLOSED:
        return None
    p = latest_protocol(store)
    if p is None or not _row_matches(store, p, station_conn):
        return None
    polls.apply(station_conn, "sign-protocol", actor=actor, clock=clock)
    record(store.conn, "protocol-completed", actor=actor, clock=clock, revision=p.revision, hash=p.hash)
    return p


def sign_protocol(store: CountStore, station_conn: sqlite3.Connection, election: Election, *,
                  key: signing.PrivateKey, outbox=None, voters_on_list: int,
                  voters_identified: int | None, clock=None, actor: str = "system",
                  crash_after_enqueue: bool = False) -> SignedProtocol:
    """Build, sign and enqueue the protocol, then move polls to protocol-signed (order above).

    ``outbox`` is a ``sync.outbox.Outbox`` on ``store.conn`` (stream "count"), or
    None where no upload is configured. Idempotent: once signed, returns the
    signed protocol. ``crash_after_enqueue`` stops between the two files (tests).
    """
    clock = clock or SystemClock()
    state = polls.current(station_conn)
    if state == PollsState.PROTOCOL_SIGNED:
        p = latest_protocol(store)
        if p is None:
            raise CountingError("polls say protocol-signed but count.db holds no protocol")
        return p
    polls.require(station_conn, PollsState.CLOSED)
    tally = store.tally("real")
    body = build_protocol(election, tally, voters_on_list, voters_identified, last_close(station_conn))
    h = protocol_hash(body)
    with atomic(store.conn):
        prev = latest_protocol(store)
        if prev is not None and prev.hash == h:
            signed = prev         # signed before an interruption: never enqueue twice
        else:
            revision = prev.revision + 1 if prev else 1
            doc = signing.sign_document(key, body)
            seq = outbox.enqueue(KIND, body).seq if outbox is not None else None
            at = iso(clock.now())
            store.conn.execute(
                "INSERT INTO protocol(revision, tally_hash, body, hash, document, outbox_seq, signed_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (revision, tally_hash(tally), canonical(body).decode(), h,
                 json.dumps(doc, ensure_ascii=False), seq, at))
            record(store.conn, "protocol-signed", actor=actor, clock=clock, revision=revision,
                   hash=h, outbox_seq=seq)
            signed = SignedProtocol(revision, body, h, doc, seq, at)
    if crash_after_enqueue:
        return signed
    polls.apply(station_conn, "sign-protocol", actor=actor, clock=clock)
    store.compact()
    return signed


def device_outbox(paths, conn: sqlite3.Connection, election: Election, *,
                  clock=None) -> tuple[signing.PrivateKey, Outbox]:
    """The device key and the count stream's outbox on ``conn`` (key + installed certificate)."""

    try:
        device = load_device(paths.device_key, paths.device_cert, election_id=election.id,
                             station_id=election.station.id, clock=clock)
    except SyncError as e:
        raise ProvisioningError(str(e)) from e
    return device.key, Outbox(conn, device.signer, STREAM)


def verify_protocol(document: dict[str, Any], device_pub: signing.PublicKey) -> dict[str, Any]:
    """The protocol body, after its signature verified against the device's public key."""
    return signing.open_document(document, device_pub)


# --- NIST SP 1500-100 Election Results Reporting (v2) JSON --------------------

NIST_VENDOR = "Uchastok 0.1.0"


def _itext(ky: str, ru: str | None = None) -> dict[str, Any]:
    texts = [{"@type": "ElectionResults.LanguageString", "Content": ky, "Language": "ky"}]
    if ru is not None:
        texts.append({"@type": "ElectionResults.LanguageString", "Content": ru, "Language": "ru"})
    return {"@type": "ElectionResults.InternationalizedText", "Text": texts}


def _counts(n: int, gpu: str) -> list[dict[str, Any]]:
    return [{"@type": "ElectionResults.VoteCounts", "Count": n, "GpUnitId": gpu, "Type": "total"}]


def nist_results(election: Election, body: dict[str, Any], *, protocol_hash_hex: str | None = None) -> dict[str, Any]:
    """The protocol as a NIST SP 1500-100 v2 ``ElectionReport`` (pure).

    Structure: ``ElectionReport`` → ``GpUnit`` (country → region → ОИК → ТИК →
    station, ``ReportingUnit``; the station is a ``polling-place`` with
    ``VotersRegistered`` / ``VotersParticipated``), ``Party``, ``Election`` →
    ``Candidate`` and ``Contest`` (``CandidateContest`` / ``PartyContest``) →
    ``BallotSelection`` with ``VoteCounts`` (type ``total``, at the station).

    Simplified (the CDF has no words for these):
    - "against all" is a pseudo-candidate / pseudo-party ``against-all--<contest>``
      flagged by an ``ExternalIdentifier`` (Type ``other``, OtherType ``against-all``);
    - preference votes are one extra ``CandidateContest`` per party
      (``<contest>--pref--<party>``) whose selections are the list candidates;
    - ``SummaryCounts``: ``BallotsCast`` = ballots read, ``Undervotes`` = blank,
      ``Overvotes`` = invalid (every invalid reason, not only overvotes),
      ``BallotsRejected`` left out (returned sheets never entered the box);
    - the region hierarchy uses ``Type`` ``other`` with ``OtherType`` (region, oik, tik);
    - no ``Office``, ``Person``, ``BallotStyle``; one GpUnit level of results (the station).
    """
    st = election.station
    country, region, oik, tik = "gpu-kg", f"gpu-region-{st.region.code}", f"gpu-{st.oik.code}", f"gpu-{st.tik.code}"
    station = f"gpu-{st.id}"

    def unit(gid: str, name, typ: str, parts: list[str], other: str | None = None) -> dict[str, Any]:
        u = {"@type": "ElectionResults.ReportingUnit", "@id": gid, "Name": name, "Type": typ,
             "ComposingGpUnitIds": parts}
        if other:
            u["OtherType"] = other
        return u

    station_unit = unit(station, f"{st.name.ru} / {st.name.ky}", "polling-place", [])
    station_unit["Number"] = str(st.number)
    station_unit["VotersRegistered"] = body["voters_on_list"]
    if body["voters_identified"] is not None:
        station_unit["VotersParticipated"] = body["voters_identified"]
    gp_units = [
        unit(country, "Кыргыз Республикасы / Кыргызская Республика", "country", [region]),
        unit(region, f"{st.region.name.ky} / {st.region.name.ru}", "other", [oik], "region"),
        unit(oik, f"{st.oik.name.ky} / {st.oik.name.ru}", "other", [tik], "oik"),
        unit(tik, f"{st.tik.name.ky} / {st.tik.name.ru}", "other", [station], "tik"),
        station_unit,
    ]
    against = [{"@type": "ElectionResults.ExternalIdentifier", "Type": "other", "OtherType": "against-all",
                "Value": "against-all"}]
    parties: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    contests: list[dict[str, Any]] = []
    for seq, c in enumerate(body["contests"], 1):
        contest = election.contest(c["contest"])
        district = oik if contest.territorial else country
        summary = [{"@type": "ElectionResults.SummaryCounts", "Type": "total", "GpUnitId": station,
                    "BallotsCast": c["ballots_read"], "Undervotes": c["blank"], "Overvotes": c["invalid"]}]
        selections = []
        aa_id = f"against-all--{contest.id}"
        if contest.kind == "candidate":
            for order, cand in enumerate(contest.candidates, 1):
                cid = f"cand-{contest.id}-{cand.id}"
                candidates.append({"@type": "ElectionResults.Candidate", "@id": cid,
                                   "BallotName": _itext(f"{cand.full_name}, {cand.birth_year}"),
                                   **({"PreElectionStatus": "withdrawn"} if cand.withdrawn else {})})
                selections.append({"@type": "ElectionResults.CandidateSelection", "@id": f"sel-{cid}",
                                   "CandidateIds": [cid], "SequenceOrder": order,
                                   "VoteCounts": _counts(c["votes"].get(cand.id, 0), station)})
            if contest.against_all:
                candidates.append({"@type": "ElectionResults.Candidate", "@id": aa_id,
                                   "BallotName": _itext("Баарына каршы", "Против всех"),
                                   "ExternalIdentifier": against})
                selections.append({"@type": "ElectionResults.CandidateSelection", "@id": f"sel-{aa_id}",
                                   "CandidateIds": [aa_id], "SequenceOrder": len(selections) + 1,
                                   "VoteCounts": _counts(c["votes"].get("against-all", 0), station)})
            contests.append({"@type": "ElectionResults.CandidateContest", "@id": contest.id,
                             "Name": f"{contest.title.ru} / {contest.title.ky}",
                             "ElectoralDistrictId": district, "VotesAllowed": 1,
                             "NumberElected": contest.seats, "VoteVariation": "plurality",
                             "SequenceOrder": seq, "SummaryCounts": summary, "BallotSelection": selections})
            continue
        for order, p in enumerate(contest.parties, 1):
            parties.append({"@type": "ElectionResults.Party", "@id": f"party-{p.id}",
                            "Name": _itext(p.name.ky, p.name.ru), "Abbreviation": p.short})
            selections.append({"@type": "ElectionResults.PartySelection", "@id": f"sel-{contest.id}-{p.id}",
                               "PartyIds": [f"party-{p.id}"], "SequenceOrder": order,
                               "VoteCounts": _counts(c["votes"].get(p.id, 0), station)})
        if contest.against_all:
            parties.append({"@type": "ElectionResults.Party", "@id": aa_id,
                            "Name": _itext("Баарына каршы", "Против всех"), "ExternalIdentifier": against})
            selections.append({"@type": "ElectionResults.PartySelection", "@id": f"sel-{aa_id}",
                               "PartyIds": [aa_id], "SequenceOrder": len(selections) + 1,
                               "VoteCounts": _counts(c["votes"].get("against-all", 0), station)})
        contests.append({"@type": "ElectionResults.PartyContest", "@id": contest.id,
                         "Name": f"{contest.title.ru} / {contest.title.ky}", "ElectoralDistrictId": district,
                         "VoteVariation": "proportional", "SequenceOrder": seq, "SummaryCounts": summary,
                         "BallotSelection": selections})
        for p in contest.parties:
            prefs = c["preferences"].get(p.id, {})
            sels = []
            for lc in p.candidates:
                if str(lc.number) not in prefs:
                    continue
                cid = f"cand-{contest.id}-{p.id}-{lc.number}"
                candidates.append({"@type": "ElectionResults.Candidate", "@id": cid,
                                   "BallotName": _itext(f"№{lc.number} {lc.full_name}"),
                                   "PartyId": f"party-{p.id}"})
                sels.append({"@type": "ElectionResults.CandidateSelection", "@id": f"sel-{cid}",
                             "CandidateIds": [cid], "SequenceOrder": lc.number,
                             "VoteCounts": _counts(prefs[str(lc.number)], station)})
            contests.append({"@type": "ElectionResults.CandidateContest",
                             "@id": f"{contest.id}--pref--{p.id}",
                             "Name": f"{contest.title.ru}: {p.short}, голоса по номерам списка",
                             "ElectoralDistrictId": district, "VotesAllowed": 1,
                             "VoteVariation": "other", "OtherVoteVariation": "open-list-preference",
                             "BallotSelection": sels})
    report = {
        "@type": "ElectionResults.ElectionReport",
        "Format": "precinct-level",
        "GeneratedDate": body["closed_at"],
        "Issuer": f"{st.name.ru} ({st.id})",
        "IssuerAbbreviation": st.id,
        "IsTest": bool(body["test_mode"]),
        "SequenceStart": 1, "SequenceEnd": 1,
        "Status": "unofficial-complete",
        "VendorApplicationId": NIST_VENDOR,
        "GpUnit": gp_units,
        "Party": parties,
        "Election": [{
            "@type": "ElectionResults.Election",
            "ElectionScopeId": country,
            "Name": _itext(election.name.ky, election.name.ru),
            "StartDate": election.voting_day.isoformat(), "EndDate": election.voting_day.isoformat(),
            "Type": "general",
            "ExternalIdentifier": [{"@type": "ElectionResults.ExternalIdentifier", "Type": "national-level",
                                    "Value": election.id}],
            "Candidate": candidates,
            "Contest": contests,
        }],
    }
    if protocol_hash_hex:
        report["Notes"] = f"Preliminary results of the station's automatic count; protocol sha256 {protocol_hash_hex}"
    return report


# --- printing and export ------------------------------------------------------

def export_protocol(election: Election, signed: SignedProtocol, out_dir, *, printer=None,
                    store: CountStore | None = None, clock=None, actor: str = "system",
                    certificate: dict[str, Any] | None = None) -> dict[str, str]:
    """Write the protocol's files (signed JSON, NIST JSON, receipt PNG, A4 PNG + PDF); print it.

    With ``certificate`` (the device's) and the ``store`` holding the protocol's envelope, also
    the observers' export (``*.export.json``: the signed envelope + the device certificate, which
    ``uchastok verify`` checks offline against the provisioning authority's key; docs/protocol.md).

    Returns {"json": path, "nist": path, "receipt": path, "a4_png": path, "a4_pdf": path,
    ["export": path,] "printed": "yes"|"no: <status>"}.
    """


    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"protocol-{signed.body['station']}-r{signed.revision}"
    doc = protocol_document(election, signed.body, signed.hash, revision=signed.revision,
                            signer=signed.document.get("signer"))
    files: dict[str, str] = {}
    j = out / f"{stem}.json"
    j.write_text(json.dumps({"protocol": signed.document, "hash": signed.hash, "revision": signed.revision},
                            ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files["json"] = str(j)
    n = out / f"{stem}.nist-1500-100.json"
    n.write_text(json.dumps(nist_results(election, signed.body, protocol_hash_hex=signed.hash),
                            ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    files["nist"] = str(n)
    files["receipt"] = str(save_receipt(doc, out / f"{stem}-receipt.png"))
    png, pdf = save_a4(doc, out / f"{stem}-a4")
    files["a4_png"], files["a4_pdf"] = str(png), str(pdf)
    if certificate is not None and store is not None and signed.outbox_seq is not None:

        row = store.conn.execute("SELECT envelope FROM outbox WHERE stream = ? AND seq = ?",
                                 (STREAM, signed.outbox_seq)).fetchone()
        if row is not None:
            x = out / f"{stem}.export.json"
            x.write_text(json.dumps(make_export(certificate, [parse(bytes(row[0]))]), ensure_ascii=False,
                                    indent=2) + "\n", encoding="utf-8")
            files["export"] = str(x)
    files["printed"] = "no printer"
    if printer is not None:
        result = printer.print_document(doc)
        files["printed"] = "yes" if result.printed else f"no: {result.status.value}"
    if store is not None:
        record(store.conn, "protocol-printed", actor=actor, clock=clock, revision=signed.revision,
               hash=signed.hash, printed=files["printed"])
    return files

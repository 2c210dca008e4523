"""Protocol exports: signed JSON, NIST SP 1500-100 v2 structure, receipt and A4 renderings."""

from __future__ import annotations

import json

from countkit import device_public, make_home, reading
from PIL import Image

from base.clock import FixedClock
from count.nist import nist_results
from count.protocol import device_outbox, export_protocol, sign_protocol, verify_protocol
from count.store import CountStore
from station import polls
from station.db import open_station_db

SHEETS = [reading("district-07", choice="c-02"), reading("district-07", choice="against-all"),
          reading("party-list", choice="p-05", preference=7), reading("party-list", "blank")]


def _signed(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="open")
    store = CountStore.open(paths.count_db, election)
    for r in SHEETS:
        store.record_sheet(r, mode="real")
    sconn = open_station_db(paths.station_db)
    clock = FixedClock("2026-11-29T14:00:05+00:00")
    polls.apply(sconn, "close", clock=clock)
    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    sp = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=900,
                       voters_identified=4, clock=clock)
    return paths, store, sconn, sp


def test_export_files(tmp_path, manifest, election):
    paths, store, sconn, sp = _signed(tmp_path, manifest, election)
    files = export_protocol(election, sp, tmp_path / "out", store=store, clock=FixedClock())
    doc = json.loads(open(files["json"], encoding="utf-8").read())
    assert verify_protocol(doc["protocol"], device_public()) == sp.body and doc["hash"] == sp.hash
    assert Image.open(files["receipt"]).width == 384
    a4 = Image.open(files["a4_png"])
    assert a4.size == (1240, 1754)
    assert open(files["a4_pdf"], "rb").read(5) == b"%PDF-"
    nist = json.loads(open(files["nist"], encoding="utf-8").read())
    assert nist["@type"] == "ElectionResults.ElectionReport" and sp.hash in nist["Notes"]
    store.close()
    sconn.close()


def test_nist_structure(tmp_path, manifest, election):
    paths, store, sconn, sp = _signed(tmp_path, manifest, election)
    r = nist_results(election, sp.body)
    for k in ("Format", "GeneratedDate", "Issuer", "IssuerAbbreviation", "SequenceEnd", "SequenceStart",
              "Status", "VendorApplicationId"):
        assert k in r                                    # required by the v2 JSON schema
    station = [u for u in r["GpUnit"] if u["Type"] == "polling-place"][0]
    assert station["VotersRegistered"] == 900 and station["VotersParticipated"] == 4
    ids = {u["@id"] for u in r["GpUnit"]}
    assert all(set(u["ComposingGpUnitIds"]) <= ids for u in r["GpUnit"])
    (el,) = r["Election"]
    contests = {c["@id"]: c for c in el["Contest"]}
    cc, pc = contests["district-07"], contests["party-list"]
    assert cc["@type"] == "ElectionResults.CandidateContest" and cc["NumberElected"] == 3
    assert pc["@type"] == "ElectionResults.PartyContest"
    cand_ids = {c["@id"] for c in el["Candidate"]}
    party_ids = {p["@id"] for p in r["Party"]}

    def count(sel):
        (vc,) = sel["VoteCounts"]
        assert vc["Type"] == "total" and vc["GpUnitId"] == station["@id"]
        return vc["Count"]

    for sel in cc["BallotSelection"]:
        assert set(sel["CandidateIds"]) <= cand_ids
    assert sum(count(s) for s in cc["BallotSelection"]) == 2
    for sel in pc["BallotSelection"]:
        assert set(sel["PartyIds"]) <= party_ids
    assert {s["@id"]: count(s) for s in pc["BallotSelection"]}["sel-party-list-p-05"] == 1
    pref = contests["party-list--pref--p-05"]
    assert {s["SequenceOrder"]: count(s) for s in pref["BallotSelection"]}[7] == 1
    (summary,) = pc["SummaryCounts"]
    assert summary["BallotsCast"] == 2 and summary["Undervotes"] == 1
    store.close()
    sconn.close()

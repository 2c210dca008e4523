"""The count role at a remote-voting site: every district's ballot read, a protocol section per district.

Issue #14 point 5, DOMAIN.md "Remote voting": the site's box holds the ballots of
voters from many districts, each printed on demand with its own style (style code
and checksum in the QR, count/ballots/layout.py); the count role reads each with
the site's package (every district's contest), tallies per contest, and the
results protocol has one section per district present, each naming the ОИК
whose results its votes join (count/protocol_body.py), then the party list.
The paper protocol shows them (count/paper.py), the NIST export puts each in
its own district (count/nist.py).
"""

from __future__ import annotations

import pytest
from ballot_sheets import sheet_pixels
from countkit import make_home

from count.ballots.interpret import interpret_sheet
from count.nist import nist_results
from count.paper import protocol_document
from count.protocol_body import build_protocol, protocol_hash
from count.role import results_protocol
from count.store import CountStore
from count.tally import Tally, add_reading, fold
from drivers.printer.document import Row, Text
from simulation.election import demo_manifest
from simulation.remote import remote_site_manifest
from station.election import Election

SITE = remote_site_manifest(1, districts=(3, 7, 12))
E = Election.from_manifest(SITE)

# (style, marks): a box's pen shape per box id (tests/support/ballot_sheets.py)
SHEETS = [
    ("bs-district-07", {"district-07/c-01": "cross"}),
    ("bs-district-07", {"district-07/c-01": "cross"}),
    ("bs-district-07", {}),                                              # blank
    ("bs-district-12", {"district-12/c-03": "cross"}),
    ("bs-district-12", {"district-12/c-02": "cross", "district-12/c-03": "cross"}),   # overvote
    ("bs-party-list", {"party-list/p-ishenim": "cross", "party-list/#4": "cross"}),
    ("bs-party-list", {"party-list/p-yntymak": "cross"}),
    ("bs-party-list", {"party-list/p-yntymak": "cross"}),
    ("bs-party-list", {"party-list/p-ishenim": "cross"}),
    ("bs-party-list", {"party-list/p-ishenim": "cross"}),
]


@pytest.fixture(scope="module")
def readings():
    out = []
    for style, marks in SHEETS:
        r = interpret_sheet(sheet_pixels(E, style, marks), E)
        assert r.accepted, (style, r.reason)
        assert (r.station, r.ballot_style) == ("RV-9001", style)
        out.append(r)
    return out


def test_each_districts_ballot_is_read_and_tallied_in_its_district(readings):
    t = fold(E, readings)
    d7, d12, d3 = t.contest("district-07"), t.contest("district-12"), t.contest("district-03")
    assert (d7.ballots_read, d7.valid, d7.blank, d7.votes["c-01"]) == (3, 2, 1, 2)
    assert (d12.ballots_read, d12.valid, d12.invalid, d12.votes["c-03"]) == (2, 1, 1, 1)
    assert d3.ballots_read == 0
    pl = t.contest("party-list")
    assert (pl.ballots_read, pl.votes["p-ishenim"], pl.votes["p-yntymak"], pl.preferences["p-ishenim"][4]) == \
        (5, 3, 2, 1)


def test_the_protocol_has_a_section_per_district_present(readings):
    body = build_protocol(E, fold(E, readings), 4_300_000, 6, "2025-11-30T14:05:00Z")
    assert [c["contest"] for c in body["contests"]] == ["district-07", "district-12", "party-list"]
    assert [c.get("district") for c in body["contests"]] == ["OIK-07", "OIK-12", None]
    assert (body["remote_site"], body["district"]) == (True, "OIK-03")
    assert all(r["ok"] for r in body["control"])
    # Each district's relations are its own: ballots of district 12 <= identified, etc.
    assert {r["contest"] for r in body["control"] if r["contest"]} == {"district-07", "district-12", "party-list"}
    assert protocol_hash(body) == protocol_hash(build_protocol(E, fold(E, reversed(readings)), 4_300_000, 6,
                                                               "2025-11-30T14:05:00Z"))   # order-free


def test_a_district_appears_with_its_first_ballot(readings):
    t = Tally.empty(E)
    assert [c["contest"] for c in build_protocol(E, t, 10, 0, "2025-11-30T14:05:00Z")["contests"]] == \
        ["party-list"]
    t = add_reading(t, readings[3])
    assert [c["contest"] for c in build_protocol(E, t, 10, 1, "2025-11-30T14:05:00Z")["contests"]] == \
        ["district-12", "party-list"]


def test_a_regular_station_keeps_every_contest_and_no_district_field():
    e = Election.from_manifest(demo_manifest(1))
    body = build_protocol(e, Tally.empty(e), 100, 0, "2025-11-30T14:05:00Z")
    assert [c["contest"] for c in body["contests"]] == ["district-07", "party-list"]
    assert "remote_site" not in body and all("district" not in c for c in body["contests"])


def _texts(doc) -> str:
    return "\n".join(b.text if isinstance(b, Text) else f"{b.key}: {b.value}"
                     for b in doc.blocks if isinstance(b, Text | Row))


def test_the_paper_protocol_shows_each_district(readings):
    body = build_protocol(E, fold(E, readings), 4_300_000, 6, "2025-11-30T14:05:00Z")
    text = _texts(protocol_document(E, body, "ab" * 32))
    assert "бюллетени 2 округов" in text and "2 округдун бюллетендери" in text
    assert "Голоса идут в итоги округа OIK-07" in text and "Голоса идут в итоги округа OIK-12" in text
    assert "Избирателей в национальном списке: 4300000" in text
    assert "№12 көп мандаттуу шайлоо округу" in text and "№3 көп мандаттуу" not in text


def test_the_nist_export_puts_each_section_in_its_district(readings):
    body = build_protocol(E, fold(E, readings), 4_300_000, 6, "2025-11-30T14:05:00Z")
    nist = nist_results(E, body, protocol_hash_hex="00" * 32)
    contests = {c["@id"]: c for c in nist["Election"][0]["Contest"]}
    assert contests["district-12"]["ElectoralDistrictId"] == "gpu-OIK-12"
    assert contests["district-07"]["ElectoralDistrictId"] == "gpu-OIK-07"
    assert {"gpu-OIK-07", "gpu-OIK-12"} <= {u["@id"] for u in nist["GpUnit"]}


def test_the_site_signs_a_protocol_of_several_districts(tmp_path, readings):
    """The whole path on the device: sheets recorded in count.db, the protocol signed, exported, printed."""
    paths = make_home(tmp_path / "site", SITE, state="closed")
    store = CountStore.open(paths.count_db, E)
    try:
        for r in readings:
            store.record_sheet(r, mode="real")
    finally:
        store.close()
    out = results_protocol(paths, sign=True, voters_identified=6, out_dir=tmp_path / "out")
    body = out["body"]
    assert out["signed"] and [c["contest"] for c in body["contests"]] == ["district-07", "district-12",
                                                                         "party-list"]
    assert body["voters_on_list"] == 0          # the list this test's package carries: empty
    assert (tmp_path / "out").joinpath(out["files"]["a4_pdf"]).exists()

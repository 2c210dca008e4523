"""Ballots issued on a provisional claim on the results protocol (issue #14 point 3: "counted apart
on the summary and the protocol"; docs/remote-voting.md "Offline fallback").

The identification summary's ``provisional`` counters become the protocol's own
``provisional`` section, with the relation ``provisional<=identified``, printed apart in
Kyrgyz and Russian; a protocol where none was issued keeps the bytes it had before the
section existed (its hash is pinned below).
"""

from __future__ import annotations

import json

import pytest
from countkit import make_home, reading
from election_values import build_election, candidate_contest, party_list_contest

from base.sqlite import atomic
from count.paper import protocol_document
from count.protocol import device_outbox
from count.protocol_body import build_protocol, protocol_hash
from count.role import identify_summary, results_protocol
from count.store import CountStore
from count.tally import fold
from drivers.printer.document import Row, Text
from identify.store import open_identify_db
from simulation.remote import remote_site_manifest
from station.election import Election
from station.errors import CountingError
from station.package import pinned_cec_key, read_election

ELECTION = build_election(candidate_contest("district-07", ["c-01", "c-02"]),
                          party_list_contest("party-list", {"p-01": 5}))
READINGS = [reading("district-07", choice="c-01", election="kg-test", station="uik-test"),
            reading("district-07", "blank", election="kg-test", station="uik-test"),
            reading("party-list", choice="p-01", preference=2, election="kg-test", station="uik-test")]
CLOSED_AT = "2026-11-29T14:00:00Z"
PROVISIONAL = {"issued": 3, "granted_later": 1, "refused_later": 1, "unanswered": 1}


def body(identified=3, provisional=None):
    return build_protocol(ELECTION, fold(ELECTION, READINGS), 10, identified, CLOSED_AT,
                          provisional=provisional)


@pytest.mark.parametrize("identified,pinned", [
    (3, "467c351ee46edcac414ee257113cdc0d5b99507695891071f992065213179ae1"),
    (None, "ac75cf58e3d1db8d4cff8f335f1b30eb8d5769592450b70ef04dae0b8dd08122"),
], ids=["with-summary", "without-summary"])
@pytest.mark.parametrize("provisional", [None, {"issued": 0, "granted_later": 0, "refused_later": 0,
                                                "unanswered": 0}], ids=["no-counters", "none-issued"])
def test_a_protocol_with_no_provisional_issue_keeps_its_bytes(identified, pinned, provisional):
    # The hashes were taken from build_protocol before the provisional section existed.
    b = body(identified, provisional)
    assert "provisional" not in b and protocol_hash(b) == pinned
    assert all(r["relation"] != "provisional<=identified" for r in b["control"])


def test_the_provisional_issues_are_their_own_section_with_a_relation():
    b = body(3, PROVISIONAL)
    assert b["provisional"] == PROVISIONAL and b["voters_identified"] == 3
    rel = [r for r in b["control"] if r["relation"] == "provisional<=identified"]
    assert [(r["ok"], r["values"], r["contest"]) for r in rel] == [(True, [3, 3], None)]
    # More issued provisionally than identified in all: reported in the protocol, never hidden.
    over = [r for r in body(2, PROVISIONAL)["control"] if r["relation"] == "provisional<=identified"]
    assert [(r["ok"], r["values"]) for r in over] == [(False, [3, 2])]
    # Without the summary's identified count there is nothing to relate it to.
    assert all(r["relation"] != "provisional<=identified" for r in body(None, PROVISIONAL)["control"])


BAD = [
    ("a-field-missing", {"issued": 1, "granted_later": 1, "refused_later": 0}, "exactly"),
    ("a-field-too-many", PROVISIONAL | {"pending": 0}, "exactly"),
    ("negative", PROVISIONAL | {"unanswered": -1, "granted_later": 3}, "non-negative"),
    ("not-a-number", PROVISIONAL | {"issued": "3"}, "non-negative"),
    ("a-boolean", {"issued": 1, "granted_later": True, "refused_later": 0, "unanswered": 0}, "non-negative"),
    ("answers-do-not-add-up", PROVISIONAL | {"unanswered": 2}, "add up to 4, 3 issued"),
    ("not-a-table", [3, 1, 1, 1], "exactly"),
]


@pytest.mark.parametrize("provisional,words", [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_bad_provisional_counters_are_refused(provisional, words):
    with pytest.raises(CountingError, match=words):
        body(3, provisional)


def _texts(doc) -> str:
    return "\n".join(b.text if isinstance(b, Text) else f"{b.key}: {b.value}"
                     for b in doc.blocks if isinstance(b, Text | Row))


def test_the_paper_protocol_prints_the_provisional_issues_apart():
    text = _texts(protocol_document(ELECTION, body(3, PROVISIONAL), "ab" * 32))
    assert "Шарттуу берилди / Выдано по условной заявке: 3" in text
    assert "  борбор кийин уруксат берди / центр разрешил позже: 1" in text
    assert "  борбор кийин четке какты / центр отказал позже: 1" in text
    assert "  борбордон жооп жок / без ответа центра: 1" in text
    assert "шарттуу берилген ≤ идентификацияланган" in text       # the relation, in both languages
    regular = _texts(protocol_document(ELECTION, body(3), "ab" * 32))
    assert "Выдано по условной заявке" not in regular and "Шарттуу" not in regular


SITE = remote_site_manifest(1, districts=(3, 7, 12))


def _summary(paths, provisional):
    conn = open_identify_db(paths.identify_db)
    try:
        _, outbox = device_outbox(paths, conn, read_election(paths.package_dir, pinned_cec_key(paths)))
        outbox.stream = "identify"
        summary = {"voters_on_list": 0, "identified": 4, "by_method": {}, "at": "2025-11-30T14:00:00Z"}
        if provisional is not None:
            summary |= {"provisional": provisional, "claims": {"granted_online": 1, "refused_online": 2,
                                                               "without_answer": 0, "queued": 1}}
        with atomic(conn):
            outbox.enqueue("identification-summary", summary)
    finally:
        conn.close()


def test_a_site_signs_its_protocol_with_the_summarys_provisional_count(tmp_path):
    """The whole path: identify.db's summary -> the count role -> signed body, files, paper."""
    paths = make_home(tmp_path / "site", SITE, state="closed")
    CountStore.open(paths.count_db, Election.from_manifest(SITE)).close()
    _summary(paths, PROVISIONAL)
    assert identify_summary(paths) == {"voters_on_list": 0, "identified": 4, "provisional": PROVISIONAL}
    preview = results_protocol(paths)
    assert preview["body"]["provisional"] == PROVISIONAL
    out = results_protocol(paths, sign=True, out_dir=tmp_path / "out")
    assert out["signed"] and out["body"]["provisional"] == PROVISIONAL
    signed = json.loads((tmp_path / "out").joinpath(out["files"]["json"]).read_text())
    assert signed["protocol"]["signed"]["provisional"] == PROVISIONAL      # in the signed bytes
    assert (tmp_path / "out").joinpath(out["files"]["a4_pdf"]).stat().st_size > 0


def test_a_summary_with_no_provisional_issue_adds_nothing(tmp_path):
    paths = make_home(tmp_path / "site", SITE, state="closed")
    CountStore.open(paths.count_db, Election.from_manifest(SITE)).close()
    _summary(paths, {"issued": 0, "granted_later": 0, "refused_later": 0, "unanswered": 0})
    assert identify_summary(paths) == {"voters_on_list": 0, "identified": 4}
    assert "provisional" not in results_protocol(paths)["body"]

"""The manual count's rules (count/manual_count.py), table-driven.

The commission's manual count is the official result, the machine's preliminary
(DOMAIN.md "Results"; seed ``003_…``, "Установление итогов"); the relations are
those of the protocol form (DOMAIN.md "Identification at the station": the receipts
are the control of the ballots in the box; "Ballots and contests" 1: a ballot with
no mark is invalid).
"""

from __future__ import annotations

import pytest
from election_values import build_election, candidate_contest, party_list_contest

from count.manual_count import (
    FIX_OR_EXPLAIN,
    MISSING,
    NEGATIVE,
    NOT_A_NUMBER,
    TOO_LARGE,
    check,
    form_lines,
    manual_section,
    parse_figure,
    refusal,
)
from count.protocol_body import build_protocol
from count.tally import Tally

ELECTION = build_election(candidate_contest("district-07", ["c-01", "c-02"]))
C = "district-07"


def machine_body(**lines) -> dict:
    rows = [(C, k, v) for k, v in lines.items()]
    tally = Tally.empty(ELECTION).with_lines(rows) if rows else Tally.empty(ELECTION)
    return build_protocol(ELECTION, tally, 100, 10, "2026-11-29T14:00:00Z")


@pytest.mark.parametrize("typed,expected", [
    ("12", (12, None)), (" 1 200 ", (1200, None)), ("0", (0, None)), ("", (None, None)), (None, (None, None)),
    ("-3", (None, NEGATIVE)), ("12a", (None, NOT_A_NUMBER)), ("1.5", (None, NOT_A_NUMBER)),
    ("١٢", (None, NOT_A_NUMBER)), ("²", (None, NOT_A_NUMBER)), ("99999999", (None, TOO_LARGE)),
], ids=["number", "spaces", "zero", "empty", "none", "negative", "letter", "decimal", "arabic-digits",
        "superscript", "too-large"])
def test_parse_figure(typed, expected):
    assert parse_figure(typed) == expected


def test_form_lines_follow_the_protocol_form():
    lines = form_lines(ELECTION, machine_body())
    assert [x.key for x in lines] == ["voters_identified", f"{C}/ballots_found", f"{C}/valid", f"{C}/invalid",
                                      f"{C}/votes:c-01", f"{C}/votes:c-02", f"{C}/votes:against-all"]
    assert all(x.text.ky and x.text.ru for x in lines)      # both languages on every line


GOOD = {"voters_identified": "10", f"{C}/ballots_found": "9", f"{C}/valid": "7", f"{C}/invalid": "2",
        f"{C}/votes:c-01": "4", f"{C}/votes:c-02": "3", f"{C}/votes:against-all": "0"}
RELATIONS = [
    ("all-hold", {}, set()),
    ("more-ballots-than-receipts", {f"{C}/ballots_found": "11", f"{C}/invalid": "4"}, {"ballots<=identified"}),
    ("valid-plus-invalid-not-found", {f"{C}/invalid": "1"}, {"valid+invalid=ballots"}),
    ("votes-not-valid", {f"{C}/votes:c-02": "4"}, {"votes=valid"}),
    ("more-ballots-than-on-the-list", {"voters_identified": "200", f"{C}/ballots_found": "150",
                                       f"{C}/valid": "148", f"{C}/invalid": "2", f"{C}/votes:c-01": "145"},
     {"ballots<=voters-on-list"}),
]


@pytest.mark.parametrize("change,failing", [r[1:] for r in RELATIONS], ids=[r[0] for r in RELATIONS])
def test_each_relation(change, failing):
    lines = form_lines(ELECTION, machine_body())
    c = check(lines, GOOD | change, 100)
    assert {r["relation"] for r in c.relations if not r["ok"]} == failing
    assert refusal(c, "") == (FIX_OR_EXPLAIN if failing else None)
    # An explanation recorded lets the commission sign what it counted.
    assert refusal(c, "Бир бюллетень айрылган / один бюллетень разорван") is None


def test_relations_are_checked_as_typed():
    lines = form_lines(ELECTION, machine_body())
    c = check(lines, {f"{C}/ballots_found": "9", f"{C}/valid": "7"}, 100)
    assert [r["relation"] for r in c.relations] == ["ballots<=voters-on-list"]   # only what is filled
    assert refusal(c, "any explanation") == MISSING


def test_a_bad_figure_refuses_signing_even_with_an_explanation():
    lines = form_lines(ELECTION, machine_body())
    c = check(lines, GOOD | {f"{C}/valid": "-7"}, 100)
    assert c.errors == {f"{C}/valid": NEGATIVE}
    assert refusal(c, "explained") == NEGATIVE


def test_the_section_shows_machine_manual_and_difference_per_line():
    lines = form_lines(ELECTION, machine_body(ballots_read=9, valid=7, invalid=1, blank=1, **{"vote:c-01": 4, "vote:c-02": 3}))
    c = check(lines, GOOD | {f"{C}/votes:c-01": "5", f"{C}/votes:c-02": "2"}, 100)
    s = manual_section(lines, c, "  ")
    rows = {r["line"]: (r["machine"], r["manual"], r["difference"]) for r in s["lines"]}
    assert rows[f"{C}/invalid"] == (2, 2, 0)                  # invalid + blank on the machine's side
    assert rows[f"{C}/votes:c-01"] == (4, 5, 1) and rows[f"{C}/votes:c-02"] == (3, 2, -1)
    assert s["differences"] == 2 and s["explanation"] is None


# --- preference votes of party lists (seed 003_…, "Подсчет голосов" 2; DOMAIN.md "Results") -------------

PL = "pl"
PARTY_ELECTION = build_election(party_list_contest(PL, {"p-a": 3, "p-b": 2}, withdrawn={"p-a": [2]}))


def party_body(**lines) -> dict:
    rows = [(PL, k, v) for k, v in lines.items()]
    tally = Tally.empty(PARTY_ELECTION).with_lines(rows) if rows else Tally.empty(PARTY_ELECTION)
    return build_protocol(PARTY_ELECTION, tally, 100, 10, "2026-11-29T14:00:00Z")


def test_the_form_has_a_line_per_party_and_list_number_withdrawn_left_out():
    lines = form_lines(PARTY_ELECTION, party_body())
    prefs = [x.key for x in lines if x.party]
    assert prefs == [f"{PL}/pref:p-a:1", f"{PL}/pref:p-a:3", f"{PL}/pref:p-b:1", f"{PL}/pref:p-b:2"]
    assert [x.key for x in lines][-len(prefs):] == prefs        # after the contest's vote lines
    assert all(x.blank_is_zero for x in lines if x.party) and not any(x.blank_is_zero for x in lines if not x.party)
    assert all(x.text.ky and x.text.ru and "№" in x.text.ru for x in lines if x.party)


PARTY_GOOD = {"voters_identified": "10", f"{PL}/ballots_found": "9", f"{PL}/valid": "8", f"{PL}/invalid": "1",
              f"{PL}/votes:p-a": "5", f"{PL}/votes:p-b": "3", f"{PL}/votes:against-all": "0"}


def test_a_number_left_empty_is_zero_not_missing():
    lines = form_lines(PARTY_ELECTION, party_body())
    c = check(lines, PARTY_GOOD | {f"{PL}/pref:p-a:1": "2"}, 100)
    assert c.complete and c.figures[f"{PL}/pref:p-a:3"] == 0 and c.figures[f"{PL}/pref:p-a:1"] == 2
    assert refusal(c, "") is None
    # A typed figure is still checked: not a number, negative.
    c = check(lines, PARTY_GOOD | {f"{PL}/pref:p-b:2": "x", f"{PL}/pref:p-a:1": "-1"}, 100)
    assert c.errors == {f"{PL}/pref:p-b:2": NOT_A_NUMBER, f"{PL}/pref:p-a:1": NEGATIVE}


@pytest.mark.parametrize("typed,failing", [
    ({f"{PL}/pref:p-a:1": "3", f"{PL}/pref:p-a:3": "2"}, []),                       # 5 <= 5
    ({f"{PL}/pref:p-a:1": "4", f"{PL}/pref:p-a:3": "2"}, ["p-a"]),                  # 6 > 5
    ({f"{PL}/pref:p-a:1": "6", f"{PL}/pref:p-b:2": "4"}, ["p-a", "p-b"]),
], ids=["within", "one-party-over", "two-parties-over"])
def test_preferences_within_the_party_votes(typed, failing):
    lines = form_lines(PARTY_ELECTION, party_body())
    c = check(lines, PARTY_GOOD | typed, 100)
    rel = [r for r in c.relations if r["relation"] == "preferences<=party-votes"]
    assert [r["party"] for r in rel if not r["ok"]] == failing
    assert len(rel) == (len(failing) or 1)                     # one line for the contest when all hold
    assert refusal(c, "") == (FIX_OR_EXPLAIN if failing else None)
    assert refusal(c, "Бир бюллетендеги номер эки жолу саналды / номер посчитан дважды") is None


def test_the_section_carries_each_preference_line_with_its_difference():
    lines = form_lines(PARTY_ELECTION, party_body(**{"vote:p-a": 5, "pref:p-a:1": 3, "pref:p-b:2": 1}))
    c = check(lines, PARTY_GOOD | {f"{PL}/pref:p-a:1": "2"}, 100)
    rows = {r["line"]: (r["machine"], r["manual"], r["difference"]) for r in manual_section(lines, c, "")["lines"]}
    assert rows[f"{PL}/pref:p-a:1"] == (3, 2, -1) and rows[f"{PL}/pref:p-b:2"] == (1, 0, -1)
    assert rows[f"{PL}/pref:p-a:3"] == (0, 0, 0)

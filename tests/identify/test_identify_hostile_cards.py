"""The identify daemon survives any card (audit finding 3): a hostile card is a card fault or a refusal.

The three cards whose bytes crashed ``serve_voter`` (tests/support/hostile_cards.py) go
through the whole simulated table; the daemon answers, audits, and serves the next voter.
"""

from __future__ import annotations

import logging

import pytest
from hostile_cards import HOSTILE_CARDS, hostile_files

from drivers.idcard.emulator import EmrtdEmulator
from drivers.indicators import Signal
from simulation.table import Visit, face_jpeg, voter_mrz

pytestmark = pytest.mark.filterwarnings("ignore")  # cryptography warns about the broken certificate


def _serve(table, card):
    table.insert_card(card)
    table.mrz.put(card.mrz.bac_key)
    try:
        return table.daemon.serve_voter()
    finally:
        table.remove_card()
        table.mrz.clear()


def _last_audit(table):
    return table.identifier.conn.execute(
        "SELECT event, details FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()


def identifications(table) -> int:
    return table.identifier.conn.execute("SELECT count(*) FROM identification").fetchone()[0]


@pytest.mark.parametrize("kind", HOSTILE_CARDS)
def test_a_hostile_card_is_a_card_fault_or_a_refusal_and_the_table_goes_on(table, kind):
    v = table.voters[3]
    good = EmrtdEmulator(voter_mrz(v), face_jpeg(), table.pki)
    hostile = EmrtdEmulator(voter_mrz(v), face_jpeg(), table.pki, **hostile_files(good, kind))
    r = _serve(table, hostile)
    if kind == "empty-oid-card-access":
        # Unreadable before BAC: a card fault, shown as such, audited.
        assert r.outcome is None and r.status == "card-unreadable"
        assert r.message_ky and r.message_ru and "object identifier is empty" in r.detail
        assert table.indicators.signal is Signal.RETRY
        event, details = _last_audit(table)
        assert event == "card-read-failed" and "MalformedDataError" in details
    else:
        # Read, but EF.SOD does not verify: the rules refuse the card, no finger asked.
        assert r.outcome is not None and r.outcome.reason == "card-not-authentic"
        assert table.indicators.signal is Signal.REFUSED
    assert identifications(table) == 0
    # The next voter, with a good card, is served by the same daemon.
    assert table.visit(Visit(v.pin)).outcome.accepted


class _ChipThatBreaksTheDriver(EmrtdEmulator):
    """A card that makes the reader raise outside its contract (a driver bug a card could reach)."""

    def transmit(self, raw: bytes) -> bytes:
        raise ZeroDivisionError("a parser bug reached by a card")


def test_an_exception_outside_the_drivers_contract_is_still_only_a_card_fault(table, caplog):
    v = table.voters[4]
    card = _ChipThatBreaksTheDriver(voter_mrz(v), face_jpeg(), table.pki)
    with caplog.at_level(logging.ERROR):
        r = _serve(table, card)
    assert r.outcome is None and r.status == "card-unreadable"
    assert "outside its contract" in caplog.text and "ZeroDivisionError" in caplog.text
    event, details = _last_audit(table)
    assert event == "card-read-failed" and "ZeroDivisionError" in details
    assert table.visit(Visit(v.pin)).outcome.accepted

"""One voter end to end through the real PC/SC stack: pcscd + vsmartcard-vpcd + pyscard + our chip.

Same approach as tests/drivers/idcard/test_idcard_pcscd.py: use the running pcscd, or
start one for the session (root), and skip when the stack is not installed.
"""

from __future__ import annotations

import pytest

from drivers.idcard.base import CardStatus
from simulation.table import SimTable, Visit

pytestmark = pytest.mark.pcscd


def test_a_voter_through_pcscd_and_vpcd(pcscd, home, demo_package, wait_until):
    with SimTable(home, demo_package.secrets, transport="pcsc") as table:
        wait_until(lambda: table.card_reader.status() is CardStatus.NO_CARD, 5, "an empty reader")
        v = table.voters[0]
        r = table.visit(Visit(v.pin))
        assert r.outcome.accepted and r.outcome.method == "card+finger"
        assert [p.printed for _, p in r.table.printed] == [True]
        bad = table.visit(Visit(table.voters[1].pin, "bad-sod"))
        assert bad.outcome is not None, bad.table
        assert bad.outcome.reason == "card-not-authentic"
        wait_until(lambda: table.card_reader.status() is CardStatus.NO_CARD, 5, "the card to leave")

"""PIN digits are ASCII digits (DOMAIN.md "The PIN": 14 digits; identify/voters.py)."""

from __future__ import annotations

import pytest

from identify.voters import pin_problem

ASCII = "2" + "12031990" + "00001"      # born 12 March 1990: a real date


@pytest.mark.parametrize("pin, ok", [
    (ASCII, True),
    ("2" + "١٢٠٣١٩٩٠" + "00001", False),       # the same date in Arabic-Indic digits
], ids=["ascii-digits", "arabic-indic-digits"])
def test_pin_digits_are_ascii(pin, ok):
    assert (pin_problem(pin) is None) is ok

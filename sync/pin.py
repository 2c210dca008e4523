"""The shape of a voter's PIN, for every side that must agree on it.

PIN (DOMAIN.md "The PIN"): 14 ASCII digits; the first is the sex (1 or 2);
digits 2-9 are the date of birth DDMMYYYY and must be a real date; the last 5
a serial. identify/voters.py applies this rule to the voter list; the
receiver (central/, which may import base and sync only) applies it to the
PIN of every identification receipt, so that a look-alike (full-width digits,
a space, 13 or 15 digits) never slips past the double-identification check as
another voter. Pure: values in, a reason out.

Example::

    pin_problem("21503199012345")   # None: a valid PIN
    pin_problem("2150319901234")    # "a PIN is 14 digits"
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_PIN = re.compile(r"[12][0-9]{13}")


def birth_date(pin: str) -> dt.date | None:
    """The date of birth in digits 2-9 (DDMMYYYY) of a 14-digit ``pin``, None if no such date."""
    try:
        return dt.date(int(pin[5:9]), int(pin[3:5]), int(pin[1:3]))
    except ValueError:
        return None


def pin_problem(pin: Any) -> str | None:
    """Why ``pin`` is not a PIN, or None when it is one."""
    if not isinstance(pin, str) or len(pin) != 14 or not (pin.isascii() and pin.isdigit()):
        return "a PIN is 14 digits"
    if not _PIN.fullmatch(pin):
        return "a PIN starts with 1 or 2 (sex)"
    if birth_date(pin) is None:
        return f"digits 2-9 ({pin[1:9]}) are not a real date DDMMYYYY"
    return None

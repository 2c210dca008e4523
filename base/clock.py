"""Injected time. Daemons take a clock; tests take a ``FixedClock``.

``now()`` returns an aware UTC datetime; ``local(tz)`` converts for display
(polls run 08:00-20:00 Asia/Bishkek, DOMAIN.md "Scale").
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that moves only when told (``advance``/``set``)."""

    def __init__(self, start: dt.datetime | str = "2025-11-30T02:00:00+00:00"):
        if isinstance(start, str):
            start = dt.datetime.fromisoformat(start)
        self._now = start.astimezone(dt.UTC)
        self._mono = 0.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += max(seconds, 0.0)

    def set(self, when: dt.datetime | str) -> None:
        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        self._now = when.astimezone(dt.UTC)

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def iso(t: dt.datetime) -> str:
    """UTC timestamp text used in every record: second precision, 'Z' suffix."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(t: dt.datetime, tz: str = "Asia/Bishkek") -> dt.datetime:
    return t.astimezone(ZoneInfo(tz))

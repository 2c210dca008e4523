"""The one timestamp format: iso() writes it, parse_iso() reads it and nothing else."""

import datetime as dt

import pytest

from base.clock import FixedClock, iso, parse_iso

T = dt.datetime(2025, 11, 30, 2, 0, 5, tzinfo=dt.UTC)


def test_iso_is_utc_seconds_with_z():
    bishkek = dt.timezone(dt.timedelta(hours=6))
    assert iso(T) == iso(T.astimezone(bishkek)) == iso(T.replace(microsecond=999_999)) == "2025-11-30T02:00:05Z"


def test_parse_iso_is_the_inverse_of_iso():
    assert parse_iso("2025-11-30T02:00:05Z") == T
    assert parse_iso(iso(FixedClock().now())) == FixedClock().now()
    assert parse_iso(iso(T)).tzinfo is dt.UTC


@pytest.mark.parametrize("text", ["2025-11-30T02:00:05", "2025-11-30T02:00:05+00:00",
                                  "2025-11-30T02:00:05.1Z", "2025-11-30 02:00:05Z", "2025-11-30", ""],
                         ids=["no-zone", "offset", "fraction", "space", "date-only", "empty"])
def test_parse_iso_refuses_every_other_form(text):
    with pytest.raises(ValueError):
        parse_iso(text)

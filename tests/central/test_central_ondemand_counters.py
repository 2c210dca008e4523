"""A remote-voting site's ballots printed on demand reach the centre's remote-voting view (issue #14
point 4): the site's identification summary carries ``ondemand`` counters per ballot style
(identify/receipts.py); the centre keeps the summary's envelope and ``aggregate.remote_voting``
reports printed, issued, voided (and pending) per site, with the totals. Both backends."""

from __future__ import annotations

import pytest
from remote_world import NATIONAL, SITE, build_remote_world, utc

from central import aggregate

ONDEMAND = {"bs-district-01": {"printed": 8, "issued": 7, "voided": 1, "pending": 0, "voids": {"printer-jam": 1}},
            "bs-district-02": {"printed": 4, "issued": 4, "voided": 0, "pending": 0, "voids": {}},
            "bs-party-list": {"printed": 13, "issued": 12, "voided": 0, "pending": 1, "voids": {}}}


@pytest.fixture
def world(tmp_path, central_db):
    w = build_remote_world(tmp_path, central_db)
    yield w
    w.close()


def send_summary(world, ondemand, at=utc(14, 3)):
    ident = world.devices[SITE]["identify"]
    body = {"voters_on_list": NATIONAL, "identified": 12, "by_method": {"card+finger": 12},
            "manual_by_reason": {}, "at": at}
    if ondemand is not None:
        body["ondemand"] = ondemand
    world.upload(ident, [ident.seal("identification-summary", body, at)])


def site(world) -> dict:
    [s] = aggregate.remote_voting(world.storage)["sites"]
    return s


def test_before_the_close_a_site_has_no_ondemand_figures(world):
    assert site(world)["ondemand"] is None
    assert aggregate.remote_voting(world.storage)["ondemand"] == {"printed": 0, "issued": 0, "voided": 0,
                                                                  "pending": 0}


def test_the_sites_printed_issued_voided_are_reported(world):
    send_summary(world, ONDEMAND)
    od = site(world)["ondemand"]
    assert (od["printed"], od["issued"], od["voided"], od["pending"], od["balanced"]) == (25, 23, 1, 1, True)
    assert od["by_style"]["bs-district-01"] == {"printed": 8, "issued": 7, "voided": 1, "pending": 0}
    assert aggregate.remote_voting(world.storage)["ondemand"] == {"printed": 25, "issued": 23, "voided": 1,
                                                                  "pending": 1}


def test_the_latest_summary_counts_and_survives_a_rebuild(world):
    send_summary(world, ONDEMAND)
    later = ONDEMAND | {"bs-party-list": {"printed": 13, "issued": 13, "voided": 0, "pending": 0, "voids": {}}}
    send_summary(world, later, at=utc(14, 9))       # polls reopened and closed again: a second summary
    assert site(world)["ondemand"]["issued"] == 24
    world.receiver.rebuild_projections()
    assert site(world)["ondemand"]["issued"] == 24


def test_a_summary_without_the_section_reports_none(world):
    send_summary(world, None)
    assert site(world)["ondemand"] is None and "ondemand_problem" not in site(world)


@pytest.mark.parametrize("ondemand, words", [
    ({"bs-party-list": {"printed": -1, "issued": 0, "voided": 0, "pending": 0}}, "are not counts"),
    ({"bs-party-list": {"printed": 1}}, "are not counts"),
    (["bs-party-list"], "malformed"),
], ids=["negative", "a-counter-missing", "not-a-table"])
def test_counters_that_are_not_counts_are_named_not_shown(world, ondemand, words):
    send_summary(world, ondemand)
    s = site(world)
    assert s["ondemand"] is None and words in s["ondemand_problem"]


def test_unbalanced_counters_are_shown_as_such(world):
    send_summary(world, {"bs-party-list": {"printed": 5, "issued": 3, "voided": 0, "pending": 0, "voids": {}}})
    assert site(world)["ondemand"]["balanced"] is False

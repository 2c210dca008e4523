"""Remote voting under link cuts and kill -9 (issue #14 point 3; docs/remote-voting.md "Offline fallback").

A home station (UIK-5678, claims while the link answers) and a remote-voting site
(UIK-1234, claims every voter, issues provisionally with a member's PIN when the centre
does not answer) run as processes, the real central server as a third, all through one
fault proxy. Whatever the link and the kills do:

- every double identification across the two stations is refused online or, once the
  link is back, reported by the centre within one sync cycle (the site's queued claims
  re-sent, one upload of each station's receipts): a ``claim-refused`` anomaly naming
  both stations, times and receipts, or a row of the double identifications;
- nothing is lost: every receipt reaches the centre, every claim gets its answer;
- no voter is issued twice on one answer: a PIN is granted online at one station at most,
  and each station holds at most one identification per PIN (a crash between claim and
  answer re-sends the same claim: same receipt, same decision).
"""

from __future__ import annotations

import json
import time

import pytest
from remote_chaos_world import HOME, SITE, upload, wait_for

from central.aggregate import anomalies

pytestmark = pytest.mark.remote


def site_queue(world) -> int:
    return world.site.query("SELECT count(*) FROM claim WHERE decision IS NULL AND resend = 1")[0][0]


def identified(station) -> dict[str, str]:
    """PIN -> receipt label of each identification at ``station``."""
    return {pin: f"R-{n:06d}" for pin, n in station.query(
        "SELECT i.pin, r.number FROM identification i JOIN receipt r ON r.identification = i.seq")}


def sync_cycle(world) -> float:
    """The link is back: the site's re-send loop answers its queued claims, and each station's
    receipts go up once. Returns the seconds it took."""
    t0 = time.monotonic()
    wait_for(lambda: site_queue(world) == 0, 20, "the site's queued claims to be answered")
    for station in (world.site, world.home):
        assert upload(station.paths, world.link.url) == 0
    return time.monotonic() - t0


def reported(world, pins) -> dict[str, str]:
    """Each of ``pins`` -> how the centre reports it (``claim-refused`` or ``double``); missing if not."""
    storage = world.central.storage()
    try:
        a = anomalies(storage)
    finally:
        storage.close()
    out: dict[str, str] = {}
    for d in a["double_identification"]:
        if d["pin"] in pins and set(d["stations"]) == {SITE, HOME}:
            out[d["pin"]] = "double"
    for row in a["stored"]:
        if row["code"] == "claim-refused":
            for pin in pins:
                if f"PIN {pin} " in row["detail"]:
                    # both stations, both receipts and both times are in the anomaly's row
                    assert row["station"] in (SITE, HOME)
                    assert SITE in row["detail"] or row["station"] == SITE
                    out.setdefault(pin, "claim-refused")
    return out


def assert_nothing_lost_nothing_twice(world) -> None:
    storage = world.central.storage()
    try:
        for station in (world.site, world.home):
            (n, distinct), = station.query("SELECT count(*), count(DISTINCT pin) FROM identification")
            assert n == distinct, "a PIN identified twice at one station"
            head = (station.query("SELECT seq FROM outbox_head WHERE stream = 'identify'") or [(0,)])[0][0]
            dev = json.loads(station.paths.role("identify").cert.read_text())["signed"]["device_id"]
            assert (storage.stream_head(dev, "identify") or (0,))[0] == head, "an envelope did not reach the centre"
            # every claim answered, except a home station's unanswered ones (its receipts are the check)
            assert station.query("SELECT count(*) FROM claim WHERE decision IS NULL AND resend = 1")[0][0] == 0
        granted = [set(p for (p,) in s.query("SELECT pin FROM claim WHERE decision = 'granted'"
                                              " AND provisional_member IS NULL AND identification IS NOT NULL"))
                   for s in (world.site, world.home)]
        assert not granted[0] & granted[1], "one voter granted online at both stations"
    finally:
        storage.close()


def test_link_cuts_every_double_identification_is_refused_online_or_reported(chaos):
    w = chaos
    p = w.pins
    # 1. The link works: the site identifies four voters online; two of them try again at home.
    for pin in p[:4]:
        assert w.site.ask(f"manual {pin}")["status"] == "accepted"
    refused_online = []
    for pin in p[:2]:
        r = w.home.ask(f"manual {pin}")
        assert r["status"] == "refused" and r["reason"] == "identified-elsewhere", r
        assert SITE in r["message_ru"]
        refused_online.append(pin)
    assert w.home.ask(f"manual {p[10]}")["status"] == "accepted"           # the home's own voter, online

    # 2. The link is cut: the site issues provisionally; the home identifies as without claims.
    w.link.cut()
    for pin in p[4:8]:
        r = w.site.ask(f"manual {pin}")
        assert r["status"] == "confirm" and r["reason"] == "no-link", r
        assert w.site.ask(f"provisional {pin}")["status"] == "accepted"
    doubles = [p[4], p[5], p[8], p[9]]
    for pin in (p[4], p[5], p[8], p[9]):
        assert w.home.ask(f"manual {pin}")["status"] == "accepted"
    for pin in (p[8], p[9]):                     # identified at home first, then at the site
        assert w.site.ask(f"manual {pin}")["reason"] == "no-link"
        assert w.site.ask(f"provisional {pin}")["status"] == "accepted"
    assert site_queue(w) == 6                    # queued, not lost
    # The home's own link comes back first: its receipts reach the centre before the site's claims.
    assert upload(w.home.paths, f"http://127.0.0.1:{w.central.port}") == 0

    # 3. The site's link returns: within one sync cycle every double is reported centrally.
    w.link.restore()
    seconds = sync_cycle(w)
    found = reported(w, doubles)
    assert found.keys() == set(doubles), (found, doubles)
    print(f"\nlink back -> every double reported in {seconds:.1f} s; refused online: {len(refused_online)};"
          f" reported: {found}")
    assert_nothing_lost_nothing_twice(w)
    # the site's provisional claims that came second are conflicts there too
    conflicts = w.site.query("SELECT count(*) FROM audit_log WHERE event = 'claim-conflict'")[0][0]
    refused_late = w.site.query("SELECT count(*) FROM claim WHERE provisional_member IS NOT NULL"
                                " AND decision = 'refused'")[0][0]
    assert conflicts == refused_late == len(doubles)
    # The centre's claim-refused anomaly names both stations, both receipts and both times.
    storage = w.central.storage()
    try:
        details = [a for a in storage.anomalies() if a["code"] == "claim-refused"]
    finally:
        storage.close()
    home_ids = {pin: (f"R-{n:06d}", at) for pin, n, at in w.home.query(
        "SELECT i.pin, r.number, i.identified_at FROM identification i JOIN receipt r ON r.identification = i.seq")}
    for pin in doubles:
        (receipt, claimed_at), = w.site.query("SELECT receipt, claimed_at FROM claim WHERE pin = ?", pin)
        row = next(a for a in details if f"PIN {pin} " in a["detail"] and a["station"] == SITE)
        assert f"receipt R-{receipt:06d} at {claimed_at} (provisional)" in row["detail"], row
        assert f"identified at {HOME} {home_ids[pin][1]} receipt {home_ids[pin][0]}" in row["detail"], row


def test_kill_9_of_the_site_between_claim_and_answer_re_sends_the_same_claim(chaos):
    w = chaos
    pin = w.pins[3]
    w.link.slow(4.0)                       # the claim reaches the centre 4 s after it left
    w.site.send(f"manual {pin}")
    wait_for(lambda: w.site.query("SELECT count(*) FROM claim WHERE pin = ?", pin)[0][0] == 1, 30,
             "the claim to be recorded")
    (receipt, decision), = w.site.query("SELECT receipt, decision FROM claim WHERE pin = ?", pin)
    assert decision is None
    w.site.kill()                          # between the claim and its answer
    time.sleep(5)                          # meanwhile the centre granted it
    w.link.restore()
    w.site.start()
    r = w.site.ask(f"manual {pin}")        # the voter is still there: the same claim again
    assert r["status"] == "accepted" and r["receipt"] == f"R-{receipt:06d}", r
    assert w.site.query("SELECT count(*), min(decision) FROM claim WHERE pin = ?", pin) == [(1, "granted")]
    assert w.site.query("SELECT count(*) FROM identification WHERE pin = ?", pin)[0][0] == 1
    storage = w.central.storage()
    try:
        assert storage.identified_by_station() == {SITE: 1}
        assert not [a for a in storage.anomalies() if a["code"] == "claim-refused"]
    finally:
        storage.close()
    # And a kill right after a provisional issue: the restarted site re-sends it.
    w.link.cut()
    other = w.pins[6]
    assert w.site.ask(f"manual {other}")["reason"] == "no-link"
    assert w.site.ask(f"provisional {other}")["status"] == "accepted"
    w.site.kill()
    w.link.restore()
    w.site.start()
    sync_cycle(w)
    assert w.site.query("SELECT decision FROM claim WHERE pin = ?", other) == [("granted",)]
    assert_nothing_lost_nothing_twice(w)


def test_kill_9_of_the_centre_then_doubles_are_reported_when_it_is_back(chaos):
    w = chaos
    p = w.pins
    assert w.site.ask(f"manual {p[0]}")["status"] == "accepted"
    w.central.kill()                       # the centre dies: the proxy answers 502 for it
    r = w.site.ask(f"manual {p[1]}")
    assert r["reason"] == "no-link", r
    assert w.site.ask(f"provisional {p[1]}")["status"] == "accepted"
    assert w.home.ask(f"manual {p[1]}")["status"] == "accepted"        # at home too: a double
    assert w.home.ask(f"manual {p[0]}")["status"] == "accepted"        # the home has no link either
    w.central.start()                      # back on the same port, same database
    sync_cycle(w)
    found = reported(w, [p[0], p[1]])
    assert found.keys() == {p[0], p[1]}, found
    assert_nothing_lost_nothing_twice(w)

"""Online claims at the identification table (identify/claims.py; issue #14 points 2-3, "Bad input").

The table is the simulated one (real drivers on their simulators); the centre is the real
receiver on loopback (tests/support/sync_world.py ``Central``), reached directly or through
the fault proxy. The table is a remote-voting site (UIK-1234, district OIK-09); the demo
voters' home is UIK-5678 in OIK-07 (the national list at the centre), so they may vote here.
"""

from __future__ import annotations

import json

import pytest
from sync_world import Central, Station, station_entry

from central.claims import ClaimDesk
from identify.claims import (
    IDENTIFIED_ELSEWHERE,
    NO_LINK,
    ClaimConfig,
    ClaimResender,
    claim_counts,
)
from identify.daemon import manual_identification
from identify.receipts import summary_body
from identify.rules import Status
from identify.store import open_identify_db
from simulation.faultproxy import Fault, FaultPlan, FaultProxy
from simulation.table import MEMBER, SimTable, Visit
from station.errors import ConfigError, IdentificationError, PollsError
from sync import signing
from sync.certificate import cert_ref
from sync.claims import make_claim

SITE, HOME = "UIK-1234", "UIK-5678"
REASON = "fingerprint-unreadable"


def site_entry(sid: str, n: int, district: str, remote: bool) -> dict:
    return {**station_entry(sid, n), "kind": "remote-site" if remote else "station", "district": district,
            "oik": {"code": district, "name": district}}


def write_claims_config(paths, url: str, *, mode: str = "always", wait_s: float = 1.0, cap: float = 2.0) -> None:
    text = paths.config_file.read_text() if paths.config_file.exists() else ""
    paths.config_file.write_text(text + f'\n[claims]\nurl = "{url}"\nmode = "{mode}"\nwait_s = {wait_s}\n'
                                 f"resend_cap_s = {cap}\n")


class World:
    """The centre, the site's home, and another station (UIK-5678) that can claim voters first."""

    def __init__(self, tmp_path, home, demo_package, remote: bool = True):
        self.home = home
        self.ack = signing.load_private_key(demo_package.secrets / "ack-server.key")
        self.cec = signing.load_private_key(demo_package.key)
        cert = json.loads(home.role("identify").cert.read_text())
        self.election = cert["signed"]["election_id"]
        self.central = Central(tmp_path / "central.db", self.ack, self.cec.public_key(), election=None)
        rx = self.central.receiver
        rx.enroll(cert)
        rx.register_stations([site_entry(SITE, 1234, "OIK-09", remote), site_entry(HOME, 5678, "OIK-07", False)])
        self.other = Station(tmp_path / "other", self.cec, station_id=HOME, election=self.election)
        rx.enroll(self.other.cert)
        self.secrets = demo_package.secrets

    def register_national(self, pins) -> None:
        self.central.receiver.storage.register_national_voters([(p, HOME, "OIK-07") for p in pins])

    def claim_elsewhere(self, pin: str, receipt: str = "R-000041", at: str = "2025-11-30T03:12:00Z") -> dict:
        """The voter identified first at UIK-5678 (its signed claim, granted)."""
        doc = make_claim(self.other.key, cert_ref(self.other.cert), election=self.election, station=HOME,
                         device=self.other.device_id, pin=pin, receipt=receipt, at=at)
        reply = ClaimDesk(self.central.receiver).handle(json.dumps(doc).encode())
        assert reply.body["signed"]["decision"] == "granted"
        return doc

    def table(self, url: str | None = None, **config) -> SimTable:
        write_claims_config(self.home, url or self.central.url, **config)
        return SimTable(self.home, self.secrets)

    def close(self) -> None:
        self.other.close()
        self.central.close()


@pytest.fixture
def world(tmp_path, home, demo_package):
    w = World(tmp_path, home, demo_package)
    yield w
    w.close()


def rows(conn, sql: str, *args):
    return [tuple(r) for r in conn.execute(sql, args).fetchall()]


def test_a_granted_claim_gives_the_receipt_its_number_in_one_transaction(world):
    with world.table() as t:
        world.register_national([v.pin for v in t.voters])
        r = t.visit(Visit(t.voters[0].pin))
        out = r.outcome
        assert out.accepted, (out.reason, out.message_ru)
        conn = t.identifier.conn
        claim = rows(conn, "SELECT receipt, decision, identification, provisional_member FROM claim")
        seq = rows(conn, "SELECT seq FROM identification")[0][0]
        assert claim == [(out.receipt.number, "granted", seq, None)]
    assert world.central.receiver.storage.identified_by_station() == {SITE: 1}
    events = [e["code"] for e in world.central.receiver.storage.anomalies()]
    assert "claim-refused" not in events


def test_identified_elsewhere_first_is_refused_with_where_when_and_receipt(world):
    with world.table() as t:
        pin = t.voters[1].pin
        world.register_national([pin])
        world.claim_elsewhere(pin)
        res = t.daemon.manual(pin, MEMBER[0], REASON)
        out = res.outcome
        assert out.status is Status.REFUSED and out.reason == IDENTIFIED_ELSEWHERE
        # 03:12 UTC is 09:12 in Bishkek
        assert HOME in out.message.ru and "09:12" in out.message.ru and "R-000041" in out.message.ru
        assert HOME in out.message.ky and "09:12" in out.message.ky and "R-000041" in out.message.ky
        conn = t.identifier.conn
        assert rows(conn, "SELECT count(*) FROM identification")[0][0] == 0
        assert rows(conn, "SELECT count(*) FROM outbox")[0][0] == 0
        assert rows(conn, "SELECT decision, first_station, first_receipt FROM claim") == [
            ("refused", HOME, "R-000041")]
        # Asking again uses the recorded answer: no new claim, no new receipt number.
        again = t.daemon.manual(pin, MEMBER[0], REASON).outcome
        assert again.reason == IDENTIFIED_ELSEWHERE
        assert rows(conn, "SELECT count(*) FROM claim")[0][0] == 1
        # The next voter's receipt skips the refused claim's number: never issued, never reused.
        other = t.voters[2].pin
        world.register_national([other])
        ok = t.daemon.manual(other, MEMBER[0], REASON).outcome
        assert ok.accepted and ok.receipt.number == 2


def test_a_voter_not_on_the_national_list_is_refused(world):
    with world.table() as t:
        world.register_national([t.voters[0].pin])       # the list is known; voters[3] is not on it
        out = t.daemon.manual(t.voters[3].pin, MEMBER[0], REASON).outcome
        assert out.status is Status.REFUSED and out.reason == "not-on-national-list"
        assert "национальном" in out.message.ru
        assert rows(t.identifier.conn, "SELECT count(*) FROM identification")[0][0] == 0


def test_a_site_not_registered_as_remote_is_refused_by_the_centre(tmp_path, home, demo_package):
    w = World(tmp_path, home, demo_package, remote=False)
    try:
        with w.table() as t:
            w.register_national([t.voters[0].pin])
            out = t.daemon.manual(t.voters[0].pin, MEMBER[0], REASON).outcome
            assert out.status is Status.REFUSED and out.reason == "not-this-station"
            assert rows(t.identifier.conn, "SELECT count(*) FROM identification")[0][0] == 0
    finally:
        w.close()


def test_a_device_not_enrolled_at_the_centre_gets_no_ballot_and_no_provisional_offer(world, tmp_path):
    # Another centre that knows no device of this station (403 for every claim).
    other = Central(tmp_path / "empty.db", world.ack, world.cec.public_key(), election=None)
    try:
        with world.table(url=other.url) as t:
            out = t.daemon.manual(t.voters[0].pin, MEMBER[0], REASON).outcome
            assert out.status is Status.REFUSED and out.reason == "claim-rejected"
            assert "403" in out.message.ru
            assert rows(t.identifier.conn, "SELECT count(*) FROM identification")[0][0] == 0
            assert t.daemon.claims.awaiting() == []
            # the claim is kept (re-sent until some answer verifies), never lost
            assert rows(t.identifier.conn, "SELECT resend, decision FROM claim") == [(1, None)]
    finally:
        other.close()


def test_no_link_asks_the_commission_then_a_provisional_issue_is_recorded_and_queued(world):
    with world.table() as t:
        pin = t.voters[0].pin
        world.register_national([pin])
        plan = FaultPlan({Fault.DROP: 1.0})
        with FaultProxy(("127.0.0.1", world.central.port), plan) as proxy:
            write_claims_config(world.home, proxy.url)
            t.daemon.identifier.claim.link.url = proxy.url + "/v1/claims"
            res = t.daemon.manual(pin, MEMBER[0], REASON)
            out = res.outcome
            assert out.status is Status.CONFIRM and out.reason == NO_LINK
            assert "условно" in out.message.ru and out.ballots
            conn = t.identifier.conn
            assert rows(conn, "SELECT count(*) FROM identification")[0][0] == 0
            assert t.daemon.claims.awaiting() == [pin]
            with pytest.raises(IdentificationError):
                t.daemon.issue_provisionally("21501199000123", MEMBER[0])     # nobody waits with that PIN
            done = t.daemon.issue_provisionally(pin, MEMBER[0]).outcome
            assert done.accepted
            (receipt, member, decision, ident, doc), = rows(
                conn, "SELECT receipt, provisional_member, decision, identification, document FROM claim")
            assert (receipt, member, decision) == (done.receipt.number, MEMBER[0], None) and ident
            assert json.loads(doc)["signed"]["provisional"] is True
            assert claim_counts(conn)["provisional"] == {"issued": 1, "granted_later": 0, "refused_later": 0,
                                                        "unanswered": 1}
            assert world.central.receiver.storage.identified_by_station() == {}
        # The link is back: the re-send loop gets the answer (granted: nobody else had the voter).
        resender = ClaimResender(world.home.identify_db, t.daemon.claims, poll_s=0.05)
        resender.link.url = world.central.url + "/v1/claims"
        assert resender.run_once(conn) == 1
        assert rows(conn, "SELECT decision FROM claim") == [("granted",)]
        body = summary_body(conn)
        assert body["provisional"]["issued"] == 1 and body["provisional"]["granted_later"] == 1
        resender.link.close()
    assert world.central.receiver.storage.identified_by_station() == {SITE: 1}


def test_a_provisional_claim_refused_later_is_a_conflict_here_and_an_anomaly_centrally(world):
    with world.table() as t:
        pin = t.voters[0].pin
        world.register_national([pin])
        with FaultProxy(("127.0.0.1", world.central.port), FaultPlan({Fault.DROP: 1.0})) as proxy:
            t.daemon.identifier.claim.link.url = proxy.url + "/v1/claims"
            assert t.daemon.manual(pin, MEMBER[0], REASON).outcome.reason == NO_LINK
            out = t.daemon.issue_provisionally(pin, MEMBER[0]).outcome
            assert out.accepted
        world.claim_elsewhere(pin, receipt="R-000007", at="2025-11-30T04:00:00Z")   # meanwhile, at home
        resender = ClaimResender(world.home.identify_db, t.daemon.claims)
        resender.link.url = world.central.url + "/v1/claims"
        assert resender.run_once(t.identifier.conn) == 1
        resender.link.close()
        conn = t.identifier.conn
        assert rows(conn, "SELECT decision, first_station, first_receipt FROM claim") == [
            ("refused", HOME, "R-000007")]
        assert rows(conn, "SELECT count(*) FROM audit_log WHERE event = 'claim-conflict'")[0][0] == 1
        assert claim_counts(conn)["provisional"]["refused_later"] == 1
    anomalies = [a for a in world.central.receiver.storage.anomalies() if a["code"] == "claim-refused"]
    assert len(anomalies) == 1
    a = anomalies[0]
    assert a["station"] == SITE and "(provisional)" in a["detail"]
    assert f"receipt {out.receipt.label}" in a["detail"] and "R-000007" in a["detail"] and HOME in a["detail"]


def test_declined_then_retried_online_uses_the_same_claim(world):
    with world.table() as t:
        pin = t.voters[0].pin
        world.register_national([pin])
        with FaultProxy(("127.0.0.1", world.central.port), FaultPlan({Fault.LOST_ACK: 1.0})) as proxy:
            t.daemon.identifier.claim.link.url = proxy.url + "/v1/claims"
            # The centre decided (granted) but the answer was lost on the way: no answer here.
            assert t.daemon.manual(pin, MEMBER[0], REASON).outcome.reason == NO_LINK
            t.daemon.decline_claim(pin)
            assert t.daemon.claims.awaiting() == []
        assert world.central.receiver.storage.identified_by_station() == {SITE: 1}
        t.daemon.identifier.claim.link.url = world.central.url + "/v1/claims"
        out = t.daemon.manual(pin, MEMBER[0], REASON).outcome          # the voter comes back
        assert out.accepted
        conn = t.identifier.conn
        assert rows(conn, "SELECT count(*), min(receipt), min(decision) FROM claim") == [
            (1, out.receipt.number, "granted")]
        assert rows(conn, "SELECT count(*) FROM identification")[0][0] == 1
    assert world.central.receiver.storage.identified_by_station() == {SITE: 1}


def test_a_forged_answer_or_one_for_another_voter_issues_nothing(world, monkeypatch):
    with world.table() as t:
        pins = [v.pin for v in t.voters[:2]]
        world.register_national(pins)
        link = t.daemon.identifier.claim.link
        real_post = link.post
        forger = signing.generate_key()

        def forged(body, deadline):
            data = json.loads(real_post(body, deadline))
            data["signed"]["decision"] = "granted"
            return json.dumps(signing.sign_document(forger, data["signed"])).encode()

        monkeypatch.setattr(link, "post", forged)
        out = t.daemon.manual(pins[0], MEMBER[0], REASON).outcome
        assert out.reason == NO_LINK and "не прошёл проверку" in out.message.ru
        t.daemon.decline_claim(pins[0])
        # An answer (validly signed by the centre) to another voter's claim.
        other_answer = real_post(json.dumps(make_claim(
            world.other.key, cert_ref(world.other.cert), election=world.election, station=HOME,
            device=world.other.device_id, pin=pins[1], receipt="R-000003",
            at="2025-11-30T03:00:00Z")).encode(), 5.0)
        monkeypatch.setattr(link, "post", lambda body, deadline: other_answer)
        out = t.daemon.manual(pins[0], MEMBER[0], REASON).outcome
        assert out.reason == NO_LINK and "не прошёл проверку" in out.message.ru
        assert "another" in t.identifier.conn.execute("SELECT last_error FROM claim").fetchone()[0]
        conn = t.identifier.conn
        assert rows(conn, "SELECT count(*) FROM identification")[0][0] == 0
        assert rows(conn, "SELECT decision, count(*) FROM claim GROUP BY decision") == [(None, 1)]


def test_a_replayed_claim_gets_the_same_decision_and_counts_once(world):
    with world.table() as t:
        pin = t.voters[0].pin
        world.register_national([pin])
        with FaultProxy(("127.0.0.1", world.central.port), FaultPlan({Fault.DUPLICATE: 1.0})) as proxy:
            t.daemon.identifier.claim.link.url = proxy.url + "/v1/claims"
            out = t.daemon.manual(pin, MEMBER[0], REASON).outcome
            assert out.accepted
            assert proxy.stats["duplicate"] == 1
        conn = t.identifier.conn
        doc = json.loads(rows(conn, "SELECT document FROM claim")[0][0])
        # the stored claim sent once more (a replay): the same grant, still one identification
        t.daemon.identifier.claim.link.url = world.central.url + "/v1/claims"
        answer_doc, answer = t.daemon.claims.send(doc)
        assert answer["decision"] == "granted" and answer["receipt"] == out.receipt.label
    assert world.central.receiver.storage.identified_by_station() == {SITE: 1}


def test_a_home_station_without_a_link_identifies_as_today(world):
    with world.table(mode="when-online") as t:
        pin = t.voters[0].pin
        world.register_national([pin])
        with FaultProxy(("127.0.0.1", world.central.port), FaultPlan({Fault.DROP: 1.0})) as proxy:
            t.daemon.identifier.claim.link.url = proxy.url + "/v1/claims"
            out = t.daemon.manual(pin, MEMBER[0], REASON).outcome
            assert out.accepted
            conn = t.identifier.conn
            assert rows(conn, "SELECT resend, decision FROM claim") == [(0, None)]
            # a moment later the station does not ask the dead link again
            out2 = t.daemon.manual(t.voters[1].pin, MEMBER[0], REASON).outcome
            assert out2.accepted and rows(conn, "SELECT count(*) FROM claim")[0][0] == 1
            assert claim_counts(conn)["claims"]["without_answer"] == 1
        assert t.daemon.claim_resender is None       # a home station re-sends nothing


@pytest.mark.parametrize("table, problem", [
    ({"mode": "always"}, "url"),
    ({"mode": "sometimes", "url": "http://127.0.0.1:1"}, "mode"),
    ({"url": "http://127.0.0.1:1", "wait_s": 0}, "wait_s"),
    ({"url": "http://127.0.0.1:1", "colour": "red"}, "unknown"),
], ids=["no-url", "bad-mode", "zero-wait", "unknown-key"])
def test_bad_claims_configuration_is_a_config_error(home, table, problem, monkeypatch):
    monkeypatch.delenv("UCHASTOK_SYNC_URL", raising=False)
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    home.config_file.write_text(f"[claims]\n{lines}\n")

    class E:
        station = type("S", (), {"kind": "station"})()
    with pytest.raises(ConfigError, match=problem):
        ClaimConfig.from_paths(home, E())


def test_defaults(home, monkeypatch):
    monkeypatch.delenv("UCHASTOK_SYNC_URL", raising=False)

    class Site:
        station = type("S", (), {"kind": "remote-site"})()

    class Plain:
        station = type("S", (), {})()
    assert ClaimConfig.from_paths(home, Plain()).mode == "off"
    monkeypatch.setenv("UCHASTOK_SYNC_URL", "http://127.0.0.1:8700")
    c = ClaimConfig.from_paths(home, Plain())
    assert (c.mode, c.wait_s) == ("when-online", 5.0)
    assert ClaimConfig.from_paths(home, Site()).mode == "always"



def test_identify_manual_provisional_issues_when_the_centre_does_not_answer(world, home):
    """`uchastok identify manual --provisional`: one command, the member's PIN checked, no link ->
    issued on a provisional claim (without it: "no-link", the claim left queued, nothing issued)."""
    with FaultProxy(("127.0.0.1", world.central.port), FaultPlan({Fault.DROP: 1.0})) as proxy:
        write_claims_config(home, proxy.url, wait_s=0.5)
        with SimTable(home, world.secrets) as t:
            pins = [v.pin for v in t.voters[:2]]
        world.register_national(pins)
        first = manual_identification(home, pins[0], MEMBER[0], MEMBER[2], REASON)
        assert first.outcome.status is Status.CONFIRM and first.outcome.reason == NO_LINK
        second = manual_identification(home, pins[1], MEMBER[0], MEMBER[2], REASON, provisional=True)
        assert second.outcome.accepted
        with pytest.raises(PollsError):                 # a wrong member PIN issues nothing
            manual_identification(home, pins[0], MEMBER[0], "000000", REASON, provisional=True)
    conn = open_identify_db(home.identify_db)
    try:
        assert rows(conn, "SELECT pin, provisional_member, decision FROM claim ORDER BY receipt") == [
            (pins[0], None, None), (pins[1], MEMBER[0], None)]
        assert rows(conn, "SELECT pin FROM identification") == [(pins[1],)]
    finally:
        conn.close()

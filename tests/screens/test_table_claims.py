"""The table's screens for online claims (remote voting; identify/claims.py), in the browser.

"Checking online…" while the claim is on its way, a refusal naming where, when and with
which receipt the voter was identified first, and "no link: issue provisionally?" with the
member's PIN pad; in Kyrgyz and Russian, with screenshots for the commission guide
(docs/screens/table-claim-*.png). The table is a remote-voting site (UIK-1234) whose
claims go to the real central receiver through the fault proxy.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from screens_driver import Commission
from screens_world import get, served
from sync_world import Central, Station, station_entry

from central.claims import ClaimDesk
from simulation.faultproxy import Fault, FaultPlan, FaultProxy
from simulation.table import MEMBER, provision_home
from sync import signing
from sync.certificate import cert_ref
from sync.claims import make_claim

SITE, HOME = "UIK-1234", "UIK-5678"


def site_entry(sid: str, n: int, district: str, remote: bool) -> dict:
    return {**station_entry(sid, n), "kind": "remote-site" if remote else "station", "district": district,
            "oik": {"code": district, "name": district}}


@pytest.fixture
def claiming_station(tmp_path, demo_package):
    """A remote site's table served, its claims going through a fault proxy to the centre."""
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")
    ack = signing.load_private_key(demo_package.secrets / "ack-server.key")
    cec = signing.load_private_key(demo_package.key)
    cert = json.loads(paths.role("identify").cert.read_text())
    election = cert["signed"]["election_id"]
    central = Central(tmp_path / "central.db", ack, cec.public_key(), election=None)
    rx = central.receiver
    rx.enroll(cert)
    rx.register_stations([site_entry(SITE, 1234, "OIK-09", True), site_entry(HOME, 5678, "OIK-07", False)])
    other = Station(tmp_path / "other", cec, station_id=HOME, election=election)
    rx.enroll(other.cert)
    plan = FaultPlan()
    proxy = FaultProxy(("127.0.0.1", central.port), plan)
    paths.config_file.write_text(f'[claims]\nurl = "{proxy.url}"\nmode = "always"\nwait_s = 1.5\n'
                                 "resend_cap_s = 2\n")
    try:
        with served(paths, demo_package.secrets, tmp_path / "feeder") as st:
            st.central, st.proxy, st.plan, st.other, st.election_id = central, proxy, plan, other, election
            rx.storage.register_national_voters([(v.pin, HOME, "OIK-07") for v in st.sim.voters])
            yield st
    finally:
        proxy.close()
        other.close()
        central.close()


def claim_elsewhere(st, pin: str) -> None:
    doc = make_claim(st.other.key, cert_ref(st.other.cert), election=st.election_id, station=HOME,
                     device=st.other.device_id, pin=pin, receipt="R-000041", at="2025-11-30T03:12:00Z")
    assert ClaimDesk(st.central.receiver).handle(json.dumps(doc).encode()).body["signed"]["decision"] == "granted"


def link(st, faults: dict) -> None:
    """The link from now on (the proxy draws a connection's next fault after each answer: the
    claim link's kept-alive connection is dropped so that the next claim sees the new plan)."""
    st.plan.faults = faults
    st.sim.identifier.claim.link.session.close()
    st.sim.daemon.claim_resender.link.session.close()



@pytest.mark.browser
def test_the_claims_three_screens_in_both_languages(claiming_station, browser, shots):
    st = claiming_station
    c = Commission(browser, st, shots)
    voters = st.sim.voters

    # 1. "Checking online…": the link is slow (1.2 s before the claim is forwarded).
    st.plan.delay_s = 1.2
    link(st, {Fault.DELAY: 1.0})
    t = threading.Thread(target=st.table.manual, args=(voters[0].pin, MEMBER[0], MEMBER[2],
                                                       "fingerprint-unreadable"))
    t.start()
    c.go("/lang/ky?next=/table")
    c.wait_screen("claiming")
    assert "Борбордон текшерилүүдө" in c.text("#screen") and voters[0].surname in c.text("#voter")
    c.shot("table-claim-checking")
    t.join(timeout=30)
    c.go("/table")
    c.wait_screen("accepted")
    assert "provisional-mark" not in browser.page_source

    # 2. Refused: identified at another station first (where, when, receipt).
    link(st, {})
    claim_elsewhere(st, voters[1].pin)
    screen = st.table.manual(voters[1].pin, MEMBER[0], MEMBER[2], "fingerprint-unreadable")
    assert screen.name == "refused" and screen.reason == "identified-elsewhere"
    c.go("/table")
    c.wait_screen("refused")
    text = c.text("#screen")
    assert HOME in text and "09:12" in text and "R-000041" in text and "башка жерде" in text
    c.shot("table-claim-refused")
    c.tap("#lang-ru")
    c.wait_screen("refused")
    text = c.text("#screen")
    assert "уже идентифицирован на участке" in text and HOME in text and "R-000041" in text
    c.shot("table-claim-refused-ru")
    c.tap("#lang-ky")

    # 3. No link: the commission issues provisionally with a member's PIN.
    link(st, {Fault.DROP: 1.0})
    screen = st.table.manual(voters[2].pin, MEMBER[0], MEMBER[2], "fingerprint-unreadable")
    assert screen.name == "no-link"
    c.go("/table")
    c.wait_screen("no-link")
    assert "Борбор менен байланыш жок" in c.text("#screen")
    c.shot("table-claim-no-link")
    c.tap("#lang-ru")
    c.wait_screen("no-link")
    assert "Нет связи с центром" in c.text("#screen") and "условно" in c.text("#screen")
    c.shot("table-claim-no-link-ru")
    c.tap("#issue-provisionally")
    c.pin("000000")                                  # a wrong PIN: said, nothing issued
    assert "Неверный PIN-код" in c.text("#message")
    assert st.sim.identifier.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
    c.pin()
    c.wait_screen("accepted")
    assert "Условно: без ответа центра" in c.text("#provisional-mark")
    assert "1" in c.text("#count-provisional")
    c.shot("table-claim-provisional-ru")
    c.tap("#lang-ky")
    c.wait_screen("accepted")
    c.shot("table-claim-provisional")
    row = st.sim.identifier.conn.execute("SELECT provisional_member, decision FROM claim WHERE"
                                         " identification IS NOT NULL ORDER BY receipt DESC").fetchone()
    assert tuple(row) == (MEMBER[0], None)

    # The link is back: the daemon's re-send loop gets the answer (granted), the counter goes.
    link(st, {})
    deadline = time.monotonic() + 30
    while st.sim.identifier.conn.execute("SELECT count(*) FROM claim WHERE decision IS NULL").fetchone()[0]:
        assert time.monotonic() < deadline, "the queued claim was not re-sent"
        time.sleep(0.2)
    assert "count-claims-queued" not in get(st.at("/table"))


def test_no_link_then_decline_or_check_again(claiming_station):
    st = claiming_station
    voters = st.sim.voters
    link(st, {Fault.DROP: 1.0})
    assert st.table.manual(voters[3].pin, MEMBER[0], MEMBER[2], "fingerprint-unreadable").name == "no-link"
    page = get(st.at("/table"))
    assert 'id="issue-provisionally"' in page and 'id="decline-claim"' in page and 'id="claim-again"' in page
    link(st, {})
    assert st.table.claim_again().name == "accepted"               # the link came back: granted
    link(st, {Fault.DROP: 1.0})
    assert st.table.manual(voters[4].pin, MEMBER[0], MEMBER[2], "fingerprint-unreadable").name == "no-link"
    screen = st.table.decline_claim()
    assert screen.name == "waiting" and "кезекте" in screen.message.ky
    conn = st.sim.identifier.conn
    assert conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
    # Tapping "issue provisionally" on a page left over from before: nothing happens.
    assert st.table.provisional(MEMBER[0], MEMBER[2]).error is not None
    assert conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1

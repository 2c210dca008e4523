"""The centre's claim desk: each voter granted at most once across all stations, atomically.

``ClaimDesk.handle`` takes one POST /v1/claims body (sync/claims.py), checks
it as strictly as an envelope (shape, the enrolled device's certificate, its
signature, station, election, time within the certificate, the identify
role), applies the home-district rule against the registered national list
and station list, then asks the database for the grant
(central/storage.py ``claim_identification``: the voter's one row keyed by
the PIN, so two sites claiming one voter at the same instant get one grant,
whatever process each reached). The answer is signed with the centre's key.

Outcomes: 200 with a signed answer, granted or refused with the reason and,
for "already identified", where, when and with which receipt; a replayed
claim gets the same decision again (the grant is keyed by station and
receipt); 400 for a malformed claim; 403 for an unenrolled device, a bad
signature or a certificate that does not cover the claim. A refused claim is
also signed evidence in the anomaly list (``claim-refused``), so the centre
sees every attempt, online or (``provisional``) after the link came back.

Example::

    desk = ClaimDesk(receiver)
    reply = desk.handle(request_bytes)
    reply.status, reply.body["signed"]["decision"]
"""

from __future__ import annotations

from typing import Any

from base.clock import iso
from central.service import Receiver, Reply, client_key
from sync import signing
from sync.canonical import parse
from sync.claims import (
    ALREADY_VOTED,
    NOT_ON_LIST,
    NOT_REMOTE_SITE,
    check_claim_shape,
    make_answer,
    where_may_vote,
)
from sync.errors import EnvelopeError, SyncError, VerificationError

MAX_CLAIM_BYTES = 4096


class ClaimDesk:
    """Online claims over the receiver's storage, certificates, clock and key."""

    def __init__(self, receiver: Receiver):
        self.rx = receiver

    def __repr__(self) -> str:
        return f"ClaimDesk({self.rx!r})"

    def handle(self, data: bytes, client: str | None = None) -> Reply:
        now = iso(self.rx.clock.now())
        if len(data) > MAX_CLAIM_BYTES:
            return Reply(413, {"error": "too-large", "detail": f"a claim is at most {MAX_CLAIM_BYTES} bytes"})
        try:
            doc = parse(data)
            c = check_claim_shape(doc)
        except EnvelopeError as e:
            return self._junk(client, "claim-malformed", str(e), now, 400)
        certs = self.rx._certs_of(c["device"])
        cert = certs.get(c["cert"])
        if cert is None:
            return self._junk(client, "claim-unenrolled", f"device {c['device'][:40]} with certificate"
                              f" {c['cert'][:12]}… is not enrolled", now, 403)
        try:
            signing.open_document(doc, cert.public_key)
        except VerificationError as e:
            return self._junk(client, "claim-bad-signature", str(e), now, 403)
        problem = self._certificate_problem(c, cert)
        if problem is not None:
            self.rx.storage.add_anomaly(now, "claim-rejected", problem, c["device"], "claims", None,
                                        c["station"])
            return Reply(403, {"error": "certificate", "detail": problem})
        decision, reason, first = self._decide(c)
        if decision == "refused":
            self.rx.storage.add_anomaly(
                now, "claim-refused", f"{reason}: PIN {c['pin']} receipt {c['receipt']} at {c['at']}"
                f"{' (provisional)' if c['provisional'] else ''}"
                + (f"; identified at {first['station']} {first['at']} receipt {first['receipt']}" if first else ""),
                c["device"], "claims", None, c["station"])
        return Reply(200, make_answer(self.rx.ack_key, doc, decision=decision, reason=reason,
                                      first=first, at=now))

    def _certificate_problem(self, c: dict[str, Any], cert) -> str | None:
        if c["station"] != cert.station_id:
            return f"claim for station {c['station']} from a device of {cert.station_id}"
        if c["election"] != cert.election_id or (self.rx.election_id and c["election"] != self.rx.election_id):
            return f"claim for election {c['election']}"
        if "identify" not in cert.roles:
            return "the device's certificate has no identify role"
        if not iso(cert.not_before) <= c["at"] <= iso(cert.not_after):
            return f"claim time {c['at']} outside the certificate's validity"
        return None

    def _decide(self, c: dict[str, Any]) -> tuple[str, str | None, dict | None]:
        st = self.rx.storage
        site = st.station(c["station"])
        home = st.national_voter(c["pin"])
        if home is None and st.has_national_list():
            return "refused", NOT_ON_LIST, None
        if home is not None:
            if site is None:
                return "refused", NOT_REMOTE_SITE, None
            why = where_may_vote(home_station=home[0], home_district=home[1], station=c["station"],
                                 station_district=site.get("district") or site.get("oik_code") or "",
                                 remote_site=site.get("kind") == "remote-site")
            if why is not None:
                return "refused", (NOT_REMOTE_SITE if why == "not-this-station" else why), None
        granted, first = st.claim_identification(
            c["pin"], c["station"], c["device"], c["receipt"], c["at"],
            "provisional-claim" if c["provisional"] else "online-claim")
        return ("granted", None, first) if granted else ("refused", ALREADY_VOTED, first)

    def _junk(self, client: str | None, code: str, detail: str, now: str, status: int) -> Reply:
        limited = self.rx._junk(client_key(client), {code: 1}, detail, now)
        if limited is not None:
            return limited
        return Reply(status, {"error": code, "detail": detail[:300]})


def answer_decision(reply: Reply) -> str | None:
    """The decision of a 200 reply (tests and the benchmark)."""
    if reply.status != 200:
        return None
    try:
        return reply.body["signed"]["decision"]
    except (KeyError, TypeError):
        raise SyncError("a claim reply without a decision") from None

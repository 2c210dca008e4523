"""Online claims before a ballot is issued (remote voting): the signed claim, the signed answer, the rule.

The law of 9 June 2025 No. 113 (DOMAIN.md "Remote voting"; seed ``002_…``
items 2.2 and 3.4) lets a voter vote at any polling station outside their
home district after online identification; inside the home district only at
their own station; a second identification anywhere is answered "already
voted". ``where_may_vote`` is that rule as a pure function; the centre
(central/claims.py) applies it, and grants each voter at most once across
all stations with a database constraint.

A claim is a signed document (sync/signing.py ``sign_document``) by the
identifying device's key::

    {"type": "uchastok-claim", "version": 1, "election", "station", "device",
     "cert": <certificate reference>, "pin", "receipt", "at", "provisional": false}

``provisional`` is true for a claim the commission issued on while the link
was down (a member's PIN recorded at the station; it reaches the centre later
with the receipts, and conflicts become anomalies naming both stations).

The answer is a signed document by the centre's key (the ack key the station
already trusts)::

    {"type": "uchastok-claim-answer", "version": 1, "claim": <sha256 of the
     canonical claim document>, "pin", "station", "receipt",
     "decision": "granted" | "refused", "reason": null | <code>,
     "first": null | {"station", "at", "receipt"}, "at"}

``open_answer`` checks the signature, that the answer is for this very claim
(its hash) and this voter, and refuses anything else: a forged answer or one
for another voter never lets a ballot be issued.

Example::

    claim = make_claim(key, cert_ref, election="kg-2025", station="RV-01", device="dev-…",
                       pin="21501199000123", receipt="R-000017", at="2025-11-30T09:12:00Z")
    answer = open_answer(reply_json, ack_pub, claim)      # {"decision": "granted", ...}
"""

from __future__ import annotations

from typing import Any

from sync import signing
from sync.canonical import canonical
from sync.envelope import is_time
from sync.errors import EnvelopeError, VerificationError
from sync.pin import pin_problem

CLAIM_TYPE = "uchastok-claim"
ANSWER_TYPE = "uchastok-claim-answer"
CLAIM_FIELDS = ("type", "version", "election", "station", "device", "cert", "pin", "receipt", "at",
                "provisional")

# Refusal codes (the answer's "reason"), each with what the commission tells the voter.
ALREADY_VOTED = "already-identified"     # identified before, anywhere (law No. 113: "already voted")
HOME_DISTRICT = "home-district"          # inside the home district: only at the voter's own station
NOT_THIS_STATION = "not-this-station"    # a regular station serves its own list only
NOT_ON_LIST = "not-on-national-list"
NOT_REMOTE_SITE = "not-a-remote-site"


def where_may_vote(*, home_station: str, home_district: str, station: str, station_district: str,
                   remote_site: bool) -> str | None:
    """None when the voter may vote at ``station``, else the refusal code.

    Law No. 113 of 9 June 2025: at the own station always; at a remote-voting
    site only outside the home district; nowhere else (a regular station's list
    is its own voters: DOMAIN.md "Voter lists and eligibility").
    """
    if station == home_station:
        return None
    if not remote_site:
        return NOT_THIS_STATION
    if station_district == home_district:
        return HOME_DISTRICT
    return None


def make_claim(key: signing.PrivateKey, cert_ref: str, *, election: str, station: str, device: str,
               pin: str, receipt: str, at: str, provisional: bool = False) -> dict[str, Any]:
    return signing.sign_document(key, {
        "type": CLAIM_TYPE, "version": 1, "election": election, "station": station, "device": device,
        "cert": cert_ref, "pin": pin, "receipt": receipt, "at": at, "provisional": provisional})


def claim_hash(doc: dict[str, Any]) -> str:
    return signing.sha256_hex(canonical(doc))


def check_claim_shape(doc: Any) -> dict[str, Any]:
    """The ``signed`` part of a claim with every field of the right type, else EnvelopeError."""
    if not isinstance(doc, dict) or set(doc) != {"signed", "signer", "signature"} \
            or not isinstance(doc["signed"], dict):
        raise EnvelopeError("not a signed claim (expected signed, signer, signature)")
    c = doc["signed"]
    if set(c) != set(CLAIM_FIELDS):
        raise EnvelopeError(f"claim fields must be exactly {list(CLAIM_FIELDS)}")
    if c["type"] != CLAIM_TYPE or c["version"] != 1:
        raise EnvelopeError("claim type/version not supported")
    for k in ("election", "station", "device", "cert", "pin", "receipt", "at"):
        if not isinstance(c[k], str) or not 0 < len(c[k]) <= 200:
            raise EnvelopeError(f"claim field {k} must be a non-empty string")
    if type(c["provisional"]) is not bool:
        raise EnvelopeError("claim field provisional must be true or false")
    if not is_time(c["at"]):
        raise EnvelopeError("claim field at must be a TIME (YYYY-MM-DDTHH:MM:SSZ)")
    if (problem := pin_problem(c["pin"])) is not None:
        raise EnvelopeError(f"claim PIN is malformed: {problem}")
    return c


def make_answer(key: signing.PrivateKey, claim_doc: dict[str, Any], *, decision: str,
                reason: str | None, first: dict[str, Any] | None, at: str) -> dict[str, Any]:
    c = claim_doc["signed"]
    return signing.sign_document(key, {
        "type": ANSWER_TYPE, "version": 1, "claim": claim_hash(claim_doc), "pin": c["pin"],
        "station": c["station"], "receipt": c["receipt"], "decision": decision, "reason": reason,
        "first": first, "at": at})


def open_answer(doc: Any, centre_pub: signing.PublicKey, claim_doc: dict[str, Any]) -> dict[str, Any]:
    """The centre's answer to ``claim_doc``, verified; VerificationError for anything else."""
    a = signing.open_document(doc, centre_pub)
    if a.get("type") != ANSWER_TYPE or a.get("version") != 1:
        raise VerificationError("not a claim answer")
    c = claim_doc["signed"]
    if a.get("claim") != claim_hash(claim_doc):
        raise VerificationError("the answer is for another claim")
    if a.get("pin") != c["pin"] or a.get("receipt") != c["receipt"] or a.get("station") != c["station"]:
        raise VerificationError("the answer is for another voter or receipt")
    if a.get("decision") not in ("granted", "refused"):
        raise VerificationError("the answer's decision is neither granted nor refused")
    return a

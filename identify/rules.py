"""The identification rules, pure: what a table decides, and the receipt's signed content.

``decide`` (and ``refusal_before_match`` for a card that is refused before any
finger is asked for) take values (the polls state, the voter found, an earlier
identification, the fingerprint verdict) and return an ``Outcome``: accepted
with the contests to hand out, or refused with a reason code and its Kyrgyz and
Russian text (a ``station.text.Text``; DOMAIN.md "Identification"). No I/O here: ``identify.identifier``
does the lookups, the one transaction and the audit record.

``receipt_body`` and ``verification_code`` define the ``identification-receipt``
envelope body and the code printed on the paper receipt (identify/receipts.py).

Example::

    out = decide(polls_state=PollsState.OPEN, voter=v, earlier=None, election=e,
                 method="card+finger", fingerprint=fp)
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

from base.clock import iso, local
from identify import eligibility
from identify.voters import Voter
from station import polls
from station.election import Election
from station.errors import IdentificationError
from station.text import Text
from sync.canonical import canonical

METHODS = ("card+finger", "document+finger", "finger-search", "manual")
STREAM = "identify"

# Manual identification reasons (counted separately, each recorded): the one list
# the commission chooses from, code -> what it means.
MANUAL_REASONS: dict[str, Text] = {
    "fingerprint-unreadable": Text("Манжа изи окулбайт", "Отпечаток не читается"),
    "no-fingerprint-enrolled": Text("Манжа изи катталган эмес", "Отпечаток не зарегистрирован"),
    "injury-or-disability": Text("Жаракат же майыптык", "Травма или инвалидность"),
    "sensor-failure": Text("Сканер иштебей калды", "Сканер отпечатков неисправен"),
    "card-unreadable": Text("Картанын чиби окулбайт", "Чип карты не читается"),
}


class Status(enum.StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    RETRY = "retry"           # press the finger again (poor capture); nothing recorded
    OTHER_FINGER = "other-finger"  # the first finger did not match: place the other enrolled finger
    CONFIRM = "confirm"       # 1:N search: the commission confirms a candidate on screen


class Reason(enum.StrEnum):
    POLLS_NOT_OPEN = "polls-not-open"
    CARD_NOT_AUTHENTIC = "card-not-authentic"
    NOT_ON_LIST = "not-on-list"
    ALREADY_IDENTIFIED = "already-identified"
    NO_FINGERPRINT_ENROLLED = "no-fingerprint-enrolled"
    FINGERPRINT_MISMATCH = "fingerprint-mismatch"
    NO_CANDIDATE = "no-candidate"
    NOT_ELIGIBLE = "not-eligible"
    POOR_CAPTURE = "poor-capture"
    OTHER_FINGER = "other-finger"
    SAME_FINGER = "same-finger"
    HOME_DISTRICT = "home-district"     # a remote-voting site inside the voter's home district


MESSAGES: dict[str, Text] = {
    "accepted": Text("Идентификация ийгиликтүү", "Идентификация успешна"),
    Reason.POLLS_NOT_OPEN: Text("Добуш берүү ачык эмес", "Голосование не открыто"),
    Reason.CARD_NOT_AUTHENTIC: Text("Картанын аныктыгы тастыкталган жок (SOD текшерилген жок)",
                                    "Подлинность карты не подтверждена (SOD не прошёл проверку)"),
    Reason.NOT_ON_LIST: Text("Шайлоочу бул участоктун тизмесинде жок",
                             "Избирателя нет в списке этого участка"),
    Reason.ALREADY_IDENTIFIED: Text("Шайлоочу бул жерде саат {time} мурда идентификацияланган",
                                    "Избиратель уже идентифицирован здесь в {time}"),
    Reason.NO_FINGERPRINT_ENROLLED: Text("Шайлоочунун манжа изи катталган эмес: комиссия кол менен"
                                         " идентификациялай алат",
                                         "Отпечаток избирателя не зарегистрирован: комиссия может"
                                         " идентифицировать вручную"),
    Reason.FINGERPRINT_MISMATCH: Text("Манжа изи дал келген жок: комиссия кол менен идентификациялай алат",
                                      "Отпечаток пальца не совпадает: комиссия может идентифицировать"
                                      " вручную"),
    Reason.NO_CANDIDATE: Text("Манжа изи боюнча шайлоочу табылган жок: документ же кол менен текшерүү",
                              "По отпечатку избиратель не найден: предъявите документ или"
                              " идентифицируйте вручную"),
    Reason.NOT_ELIGIBLE: Text("Шайлоочунун бир дагы шайлоодо добуш берүү укугу жок",
                              "Избиратель не имеет права голоса ни по одному голосованию"),
    Reason.POOR_CAPTURE: Text("Манжаңызды кайра басыңыз ({detail})",
                              "Приложите палец ещё раз ({detail})"),
    Reason.OTHER_FINGER: Text("Манжа изи дал келген жок: башка манжаңызды коюңуз{fingers}",
                              "Отпечаток не совпал: приложите другой палец{fingers}"),
    Reason.SAME_FINGER: Text("Бул ошол эле манжа: башка манжаңызды коюңуз{fingers}",
                             "Это тот же палец: приложите другой палец{fingers}"),
    # Law No. 113 (DOMAIN.md "Remote voting"): inside the home district only at the own station.
    Reason.HOME_DISTRICT: Text("Шайлоочу өз шайлоо округунда: өз участогунда гана добуш берет ({station})",
                               "Избиратель в своём избирательном округе: голосует только на своём"
                               " участке ({station})"),
    "confirm": Text("Комиссия экрандагы шайлоочуну тастыктасын",
                    "Комиссия должна подтвердить избирателя на экране"),
}

# ISO/IEC 19794-2 finger positions (the templates.csv ``finger`` column is position x 10 + press).
FINGER_NAMES: dict[int, Text] = {
    1: Text("оң колдун бармагы", "большой палец правой руки"),
    2: Text("оң колдун сөөмөйү", "указательный палец правой руки"),
    3: Text("оң колдун ортоңку манжасы", "средний палец правой руки"),
    4: Text("оң колдун аты жок манжасы", "безымянный палец правой руки"),
    5: Text("оң колдун чыпалагы", "мизинец правой руки"),
    6: Text("сол колдун бармагы", "большой палец левой руки"),
    7: Text("сол колдун сөөмөйү", "указательный палец левой руки"),
    8: Text("сол колдун ортоңку манжасы", "средний палец левой руки"),
    9: Text("сол колдун аты жок манжасы", "безымянный палец левой руки"),
    10: Text("сол колдун чыпалагы", "мизинец левой руки"),
}

_OFFER_MANUAL = {Reason.NO_FINGERPRINT_ENROLLED, Reason.FINGERPRINT_MISMATCH, Reason.NO_CANDIDATE}


@dataclass(frozen=True)
class Identified:
    """The record of an earlier identification (for ``already-identified``)."""

    pin: str
    at: dt.datetime
    method: str
    receipt: int
    table: str


@dataclass(frozen=True)
class Fingerprint:
    """The verdict of the 1:1 comparison, with the operating point it was taken at."""

    match: bool
    score: float
    threshold: float
    target_fmr: float
    reason: str = ""  # "", "below-threshold", "cannot-match", "no-templates"


@dataclass(frozen=True)
class FingerAttempt:
    """A first capture that did not match, kept while the voter places the other finger.

    ``probe`` is the first capture's template (the second capture must be
    another finger), ``score`` its best score against the voter's templates
    (1:N: the best candidate's), ``fingers`` the enrolled finger positions
    the voter can be asked for (0: not stated by the register), ``pin`` the
    voter's (None for a 1:N search).
    """

    probe: Any
    score: float
    fingers: tuple[int, ...] = ()
    pin: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One 1:N search result shown to the commission."""

    pin: str
    full_name: str
    birth_date: str
    score: float
    already_identified: bool


@dataclass(frozen=True)
class Receipt:
    number: int
    code: str
    identified_at: dt.datetime
    method: str
    ballots: tuple[str, ...]
    table: str

    @property
    def label(self) -> str:
        return receipt_label(self.number)


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str | None
    message: Text
    method: str | None = None
    pin: str | None = None
    voter: Voter | None = None
    ballots: tuple[str, ...] = ()
    refused_contests: dict[str, str] = field(default_factory=dict)
    fingerprint: Fingerprint | None = None
    offer_manual: bool = False
    earlier: Identified | None = None
    receipt: Receipt | None = None
    candidates: tuple[Candidate, ...] = ()
    attempt: FingerAttempt | None = None   # OTHER_FINGER (and its same-finger retry): the first capture

    @property
    def accepted(self) -> bool:
        return self.status is Status.ACCEPTED

    @property
    def message_ky(self) -> str:
        return self.message.ky

    @property
    def message_ru(self) -> str:
        return self.message.ru

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": str(self.status), "reason": self.reason, "message_ky": self.message_ky,
            "message_ru": self.message_ru, "method": self.method, "pin": self.pin,
            "ballots": list(self.ballots), "offer_manual": self.offer_manual,
        }
        if self.attempt is not None:
            out["next"] = "other-finger"
            out["fingers"] = [p for p in self.attempt.fingers if p]
        if self.voter is not None:
            out["voter"] = self.voter.full_name
        if self.refused_contests:
            out["refused_contests"] = dict(self.refused_contests)
        if self.fingerprint is not None:
            out["fingerprint"] = {"match": self.fingerprint.match, "score": round(self.fingerprint.score, 4),
                                  "threshold": self.fingerprint.threshold,
                                  "target_fmr": self.fingerprint.target_fmr}
        if self.earlier is not None:
            out["earlier"] = {"at": iso(self.earlier.at), "method": self.earlier.method,
                              "receipt": receipt_label(self.earlier.receipt), "table": self.earlier.table}
        if self.receipt is not None:
            out["receipt"] = {"number": self.receipt.label, "code": self.receipt.code,
                              "identified_at": iso(self.receipt.identified_at)}
        if self.candidates:
            out["candidates"] = [{"pin": c.pin, "name": c.full_name, "birth_date": c.birth_date,
                                  "score": round(c.score, 4), "already_identified": c.already_identified}
                                 for c in self.candidates]
        return out


def receipt_label(number: int) -> str:
    return f"R-{number:06d}"


def refusal(reason: Reason, *, method: str | None = None, voter: Voter | None = None,
            tz: str = "Asia/Bishkek", **extra: Any) -> Outcome:
    """A refusal (or retry) outcome with its bilingual message."""
    fmt = {}
    earlier = extra.get("earlier")
    if earlier is not None:
        fmt["time"] = local(earlier.at, tz).strftime("%H:%M")
    if reason is Reason.POOR_CAPTURE:
        fmt["detail"] = extra.pop("detail", "")
    if reason is Reason.HOME_DISTRICT:
        fmt["station"] = (voter.home_station if voter else None) or "?"
    status = _STATUS.get(reason, Status.REFUSED)
    pin = extra.pop("pin", None)
    message = MESSAGES[reason].format(**fmt) if reason not in _FINGER_PROMPTS else _finger_prompt(
        MESSAGES[reason], extra.get("attempt"))
    return Outcome(status, str(reason), message, method=method,
                   pin=voter.pin if voter else pin, voter=voter, offer_manual=reason in _OFFER_MANUAL, **extra)


_STATUS = {Reason.POOR_CAPTURE: Status.RETRY, Reason.SAME_FINGER: Status.RETRY,
           Reason.OTHER_FINGER: Status.OTHER_FINGER}
_FINGER_PROMPTS = {Reason.OTHER_FINGER, Reason.SAME_FINGER}


def _finger_prompt(text: Text, attempt: FingerAttempt | None) -> Text:
    """"Place the other finger", naming the enrolled fingers when the register stated them."""
    names = [FINGER_NAMES[p] for p in (attempt.fingers if attempt else ()) if p in FINGER_NAMES]
    if not names:
        return text.format(fingers="")
    return Text(text.ky.format(fingers=" (" + ", ".join(n.ky for n in names) + ")"),
                text.ru.format(fingers=" (" + ", ".join(n.ru for n in names) + ")"))


# --- the rules -------------------------------------------------------------

def refusal_before_match(*, polls_state: polls.PollsState, voter: Voter | None,
                         earlier: Identified | None, card_authentic: bool | None = None,
                         method: str, tz: str = "Asia/Bishkek", pin: str | None = None) -> Outcome | None:
    """Rules 1-4: the refusal that needs no fingerprint, or None to go on."""
    if polls_state is not polls.PollsState.OPEN:
        return refusal(Reason.POLLS_NOT_OPEN, method=method, voter=voter, pin=pin)
    if card_authentic is False:
        return refusal(Reason.CARD_NOT_AUTHENTIC, method=method, pin=pin)
    if voter is None:
        return refusal(Reason.NOT_ON_LIST, method=method, pin=pin)
    if earlier is not None:
        return refusal(Reason.ALREADY_IDENTIFIED, method=method, voter=voter, tz=tz, earlier=earlier)
    return None


def decide(*, polls_state: polls.PollsState, voter: Voter | None, earlier: Identified | None,
           election: Election, method: str, card_authentic: bool | None = None,
           fingerprint: Fingerprint | None = None, pin: str | None = None) -> Outcome:
    """All the rules: accepted with the ballots to issue, or the first refusal that applies."""
    if method not in METHODS:
        raise IdentificationError(f"unknown identification method {method!r}")
    tz = election.time_zone or "Asia/Bishkek"
    early = refusal_before_match(polls_state=polls_state, voter=voter, earlier=earlier,
                                 card_authentic=card_authentic, method=method, tz=tz, pin=pin)
    if early is not None:
        return early
    assert voter is not None
    # A remote-voting site inside the voter's home district (eligibility R5): said before the
    # fingerprint, whose verdict would not change it (most voters have no template at a site).
    site_refusal = eligibility.remote_site_refusal(voter, election)
    if site_refusal is not None:
        reason = Reason.HOME_DISTRICT if site_refusal == Reason.HOME_DISTRICT else Reason.NOT_ON_LIST
        return refusal(reason, method=method, voter=voter, fingerprint=fingerprint,
                       refused_contests=dict(eligibility.decide(voter, election).refused))
    if method != "manual":
        if fingerprint is None:
            raise IdentificationError(f"method {method} needs a fingerprint verdict")
        if not fingerprint.match:
            reason = (Reason.NO_FINGERPRINT_ENROLLED if fingerprint.reason == "no-templates"
                      else Reason.FINGERPRINT_MISMATCH)
            return refusal(reason, method=method, voter=voter, fingerprint=fingerprint)
    elig = eligibility.decide(voter, election)
    if not elig.any:
        return refusal(Reason.NOT_ELIGIBLE, method=method, voter=voter,
                       refused_contests=dict(elig.refused), fingerprint=fingerprint)
    return Outcome(Status.ACCEPTED, None, MESSAGES["accepted"], method=method, pin=voter.pin, voter=voter,
                   ballots=elig.contests, refused_contests=dict(elig.refused), fingerprint=fingerprint)


# --- fingerprints -------------------------------------------------------------

def receipt_body(*, number: int, pin: str, method: str, manual_reason: str | None, identified_at: str,
                 ballots, table: str) -> dict[str, Any]:
    """The ``identification-receipt`` envelope body (docs/contracts: identify stream)."""
    return {"receipt": receipt_label(number), "pin": pin, "method": method, "manual_reason": manual_reason,
            "identified_at": identified_at, "ballots": list(ballots), "table": str(table)}


def verification_code(election_id: str, station_id: str, body: dict[str, Any]) -> str:
    content = {k: v for k, v in body.items() if k != "verification_code"}
    digest = hashlib.sha256(canonical({"election": election_id, "station": station_id, "body": content})).digest()
    text = base64.b32encode(digest).decode()[:10]
    return f"{text[:5]}-{text[5:]}"

"""What reading one ballot sheet yields: the contract between the reader and the tally.

``interpret_sheet`` (count/ballots/interpret.py) returns a ``SheetReading``;
the count daemon adds an accepted reading to the tally in one transaction and
returns a rejected sheet to the voter with ``message_ky`` / ``message_ru``
(from the ``station.text.Text`` of ``REJECTIONS``) shown to the commission
(DOMAIN.md "Languages": both languages, always).

Guarantees:
- ``accepted`` is True only when the sheet was located, its code verified as
  this election and this station, every box classified, and no marginal box
  could change any contest's outcome (docs/ballots.md, "Marginal marks").
- A rejected reading has a ``reason`` code from ``REJECTIONS`` and carries no
  outcome the tally may use; ``outcomes`` may still be filled (for the
  ``marginal-needs-review`` case they show the reading with marginal boxes
  treated as unmarked) for display only.
- ``ContestOutcome`` is one contest's verdict under the validity rules of
  DOMAIN.md "Ballots and contests" (count/ballots/rules.py).

Box ids are ``"<contest>/<option>"`` for part-1 boxes (option = candidate id,
party id or ``"against-all"``) and ``"<contest>/#<n>"`` for the party-list
number boxes (``box_id`` below).

Example::

    r = interpret_sheet(image, election)
    if r.accepted:
        for o in r.outcomes:
            print(o.contest, o.status, o.choice, o.preference)
    else:
        print(r.reason, r.message_ky, r.message_ru)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from station.text import Text

VALID = "valid"
INVALID = "invalid"
BLANK = "blank"
STATUSES = (VALID, INVALID, BLANK)

AGAINST_ALL = "against-all"

# Rejection codes with what the commission is told (Kyrgyz, Russian).
REJECTIONS: dict[str, Text] = {
    "unreadable": Text(
        "Барак окулбай калды: бюллетень табылган жок. Кайра салыңыз же комиссияга кайрылыңыз.",
        "Лист не прочитан: бюллетень не найден. Вставьте снова или обратитесь в комиссию.",
    ),
    "blank-paper": Text(
        "Таза барак: бул бюллетень эмес.",
        "Чистый лист: это не бюллетень.",
    ),
    "missing-fiducial": Text(
        "Бюллетендин бурчундагы белги жок (айрылган же бүктөлгөн). Комиссияга кайрылыңыз.",
        "Нет угловой метки бюллетеня (оторван или загнут угол). Обратитесь в комиссию.",
    ),
    "no-code": Text(
        "Бюллетендин коду окулган жок. Кайра салыңыз.",
        "Код бюллетеня не прочитан. Вставьте снова.",
    ),
    "bad-code": Text(
        "Бюллетендин коду туура эмес (текшерүү суммасы дал келбейт).",
        "Код бюллетеня неверен (не сходится контрольная сумма).",
    ),
    "wrong-election": Text(
        "Бул бюллетень башка шайлоого таандык.",
        "Этот бюллетень относится к другим выборам.",
    ),
    "wrong-station": Text(
        "Бул бюллетень башка шайлоо участкасына таандык.",
        "Этот бюллетень относится к другому избирательному участку.",
    ),
    "unknown-style": Text(
        "Бюллетендин түрү бул шайлоодо жок.",
        "Вид бюллетеня не предусмотрен этими выборами.",
    ),
    "double-feed": Text(
        "Эки барак чогуу кирди. Аларды бөлүп, бирден салыңыз.",
        "Два листа прошли вместе. Разделите их и вставьте по одному.",
    ),
    "truncated-image": Text(
        "Сүрөт толук эмес (сканер үзүлдү). Кайра салыңыз.",
        "Изображение неполное (сбой сканера). Вставьте снова.",
    ),
    "scanner-fault": Text(
        "Сканердин катасы. Бюллетень эсептелген жок; комиссияга кайрылыңыз.",
        "Сбой сканера. Бюллетень не учтён; обратитесь в комиссию.",
    ),
    "uneven-light": Text(
        "Сканердин жарыгы бирдей эмес: бюллетень ишенимдүү окулбайт. Кайра салыңыз;"
        " кайталанса, сканерди текшериңиз.",
        "Неравномерная подсветка сканера: бюллетень нельзя прочитать надёжно. Вставьте снова;"
        " если повторится, проверьте сканер.",
    ),
    "mark-outside-box": Text(
        "Белги чарчынын сыртында. Бюллетень кайтарылды: шайлоочуга белгини чарчынын ичине"
        " коюуну сунуштаңыз.",
        "Отметка вне квадрата. Бюллетень возвращён: предложите избирателю поставить отметку"
        " внутри квадрата.",
    ),
    "marginal-needs-review": Text(
        "Белги так эмес. Бюллетенди кайтарып, шайлоочуга ачык белги коюуну сунуштаңыз.",
        "Отметка нечёткая. Бюллетень возвращён: предложите избирателю поставить чёткую отметку.",
    ),
}

ACCEPTED_MESSAGE = Text("Бюллетень кабыл алынды.", "Бюллетень принят.")


def box_id(contest: str, option: str | int) -> str:
    """The id of a mark box: ``district-07/cand-3``, ``party-list/against-all``, ``party-list/#12``."""
    if isinstance(option, int):
        return f"{contest}/#{option}"
    return f"{contest}/{option}"


@dataclass(frozen=True)
class ContestOutcome:
    """One contest's verdict on one sheet (DOMAIN.md "Ballots and contests")."""

    contest: str
    status: str                          # "valid" | "invalid" | "blank"
    reason: str | None = None            # "overvote", "party-multiple-numbers", "number-without-party", "no-mark", ...
    choice: str | None = None            # candidate id | party id | "against-all" (valid only)
    preference: int | None = None        # counted list number (party-list, valid only)
    preference_ignored: int | None = None  # withdrawn / beyond-list number marked; party vote counts
    marginal: tuple[str, ...] = ()       # box ids read as marginal

    def to_json(self) -> dict[str, Any]:
        return {
            "contest": self.contest, "status": self.status, "reason": self.reason,
            "choice": self.choice, "preference": self.preference,
            "preference_ignored": self.preference_ignored, "marginal": list(self.marginal),
        }

    def verdict(self) -> tuple:
        """What the tally counts: two outcomes with equal verdicts count the same."""
        return (self.status, self.reason, self.choice, self.preference, self.preference_ignored)

    def with_marginal(self, marginal: tuple[str, ...]) -> ContestOutcome:
        return replace(self, marginal=marginal)


@dataclass(frozen=True)
class SheetReading:
    """The reading of one scanned sheet: accepted with outcomes, or rejected with a reason."""

    accepted: bool
    reason: str | None
    message_ky: str
    message_ru: str
    election: str | None = None
    station: str | None = None
    ballot_style: str | None = None
    outcomes: tuple[ContestOutcome, ...] = ()
    boxes: dict[str, float] = field(default_factory=dict)   # dark-ink share per box (diagnostics)
    marks: dict[str, str] = field(default_factory=dict)     # box → marked / marginal / outside

    @classmethod
    def rejected(cls, reason: str, *, detail: str | None = None, **kw: Any) -> SheetReading:
        """A rejection with the bilingual message of ``REJECTIONS[reason]`` (+ optional detail)."""
        ky, ru = REJECTIONS[reason]
        if detail:
            ky, ru = f"{ky} ({detail})", f"{ru} ({detail})"
        return cls(accepted=False, reason=reason, message_ky=ky, message_ru=ru, **kw)

    @classmethod
    def accepted_with(cls, outcomes: tuple[ContestOutcome, ...], **kw: Any) -> SheetReading:
        ky, ru = ACCEPTED_MESSAGE
        return cls(accepted=True, reason=None, message_ky=ky, message_ru=ru, outcomes=outcomes, **kw)

    @property
    def marginal(self) -> tuple[str, ...]:
        return tuple(b for o in self.outcomes for b in o.marginal)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted, "reason": self.reason,
            "message_ky": self.message_ky, "message_ru": self.message_ru,
            "election": self.election, "station": self.station, "ballot_style": self.ballot_style,
            "outcomes": [o.to_json() for o in self.outcomes],
            "marginal": list(self.marginal),
            "boxes": {k: round(v, 4) for k, v in self.boxes.items()},
            "marks": dict(self.marks),
        }

"""The commission's manual count: the protocol form's lines, the figures typed, their checks. Pure.

The automatic count is preliminary; the commission's manual count is official
(DOMAIN.md "Results"; seed ``003_…``, "Установление итогов"). After the close the
commission counts the paper by hand and types the figures line by line as the
protocol form has them (``form_lines``):

- ``voters_identified``: voters identified (the receipts, DOMAIN.md
  "Identification at the station": the receipts are the additional control);
- per contest, in the counting order (candidate contests first, then party lists):
  ``ballots_found`` (ballots taken out of the box), ``valid``, ``invalid`` (a ballot
  with no mark is invalid: DOMAIN.md "Ballots and contests" 1), and the votes of
  each option line (candidate, party, "against all");
- per party of a party-list contest, the preference votes per candidate number of
  its list (``pref:<party>:<number>``): the commission counts each party's ballots
  by the candidate's number (seed ``003_…``, "Подсчет голосов" 2; DOMAIN.md
  "Results": the protocol holds the votes per candidate number within each party).
  The numbers are those of the machine protocol (the party's registered list, its
  withdrawn candidates left out: their marks are votes for the party only). A
  station has hundreds of them and most get no vote, so a number left empty counts
  as 0 (``FormLine.blank_is_zero``); the difference from the machine's figure
  shows one forgotten.

``parse_figure`` takes what was typed: a whole number from 0 up, else a clear
refusal (not a number, negative, too large). ``check`` computes the control
relations as they are typed, over the lines already filled (seed ``003_…``:
the number of voters who took part is the number of ballots in the box, with
the receipts as the control):

- ``ballots<=identified``: ballots found ≤ voters identified;
- ``valid+invalid=ballots``: valid + invalid = ballots found;
- ``votes=valid``: the option lines add up to the valid ballots;
- ``ballots<=voters-on-list``: ballots found ≤ voters on the list;
- ``preferences<=party-votes``: a party's preference votes ≤ its votes (every
  failing party named with ``party``; one line for the contest when all hold, as
  count/protocol_body.py does).

``refusal`` says why the figures cannot be signed yet: a line missing or not a
number, or a relation that does not hold while no explanation is recorded.
``manual_section`` is what the signed protocol carries: per line the machine's
figure, the manual one and the difference, the relations, the explanation.

Example::

    lines = form_lines(election, machine_body)
    c = check(lines, {"voters_identified": "120", "district-07/ballots_found": "118", ...}, 1700)
    refusal(c, explanation="")          # None when it can be signed
    manual_section(lines, c, explanation="")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from station.election import Election
from station.text import Text

MAX_FIGURE = 10_000_000          # more than any station's voters: a typing slip, not a count

LINE_TEXT = {
    "voters_identified": Text("Идентификацияланган шайлоочулар (квитанциялар)",
                              "Идентифицировано избирателей (квитанции)"),
    "ballots_found": Text("Үкөктөн табылган бюллетендер", "Бюллетеней найдено в ящике"),
    "valid": Text("Жарактуу бюллетендер", "Действительных бюллетеней"),
    "invalid": Text("Жараксыз бюллетендер", "Недействительных бюллетеней"),
}
AGAINST_ALL = Text("Баарына каршы", "Против всех")
NOT_A_NUMBER = Text("Сан эмес: 0дон баштап бүтүн сан териңиз", "Не число: введите целое число от 0")
NEGATIVE = Text("Терс сан болбойт", "Число не может быть отрицательным")
TOO_LARGE = Text("Өтө чоң сан: текшериңиз", "Слишком большое число: проверьте")
MISSING = Text("Бардык саптар толтурулган жок", "Заполнены не все строки")
FIX_OR_EXPLAIN = Text("Катыштар аткарылган жок: сандарды оңдоңуз же түшүндүрмө жазыңыз",
                      "Соотношения не выполнены: исправьте числа или запишите объяснение")


@dataclass(frozen=True)
class FormLine:
    """One line of the protocol form: its key, what it says, and the machine's figure."""

    key: str                     # "voters_identified" or "<contest>/<line>"
    contest: str | None
    line: str                    # voters_identified, ballots_found, valid, invalid, votes:<option>,
                                 # pref:<party>:<number>
    text: Text
    machine: int | None
    blank_is_zero: bool = False  # a preference number left empty: no vote for it

    @property
    def party(self) -> str | None:
        """The party of a preference line."""
        return self.line[len("pref:"):].rpartition(":")[0] if self.line.startswith("pref:") else None


@dataclass(frozen=True)
class ManualCheck:
    figures: dict[str, int]                       # the lines typed correctly
    errors: dict[str, Text]                       # line -> why what was typed is not a figure
    missing: tuple[str, ...]                      # lines not typed yet
    relations: tuple[dict[str, Any], ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.errors and not self.missing

    @property
    def relations_hold(self) -> bool:
        return all(r["ok"] for r in self.relations)


def _option_text(election: Election, contest_id: str, option: str) -> Text:
    if option == "against-all":
        return AGAINST_ALL
    contest = election.contest(contest_id)
    for c in contest.candidates:
        if c.id == option:
            return Text(c.full_name, c.full_name)
    for p in contest.parties:
        if p.id == option:
            return p.name
    return Text(option, option)


def form_lines(election: Election, machine_body: dict[str, Any]) -> list[FormLine]:
    """The protocol form's lines in order, each with the machine count's figure (the protocol body)."""
    lines = [FormLine("voters_identified", None, "voters_identified", LINE_TEXT["voters_identified"],
                      machine_body.get("voters_identified"))]
    for c in machine_body["contests"]:
        cid = c["contest"]
        title = election.contest(cid).title
        machine = {"ballots_found": c["ballots_read"], "valid": c["valid"],
                   "invalid": c["invalid"] + c["blank"]}     # no mark: invalid (DOMAIN.md "Ballots and contests")
        for line in ("ballots_found", "valid", "invalid"):
            t = LINE_TEXT[line]
            lines.append(FormLine(f"{cid}/{line}", cid, line, Text(f"{title.ky}: {t.ky}", f"{title.ru}: {t.ru}"),
                                  machine[line]))
        for option, n in c["votes"].items():
            lines.append(FormLine(f"{cid}/votes:{option}", cid, f"votes:{option}",
                                  _option_text(election, cid, option), n))
        lines += _preference_lines(election, cid, c.get("preferences") or {})
    return lines


def _preference_lines(election: Election, cid: str, preferences: dict[str, dict[str, int]]) -> list[FormLine]:
    """Per party in ballot order, per list number of the machine protocol: the preference lines."""
    out = []
    for party in election.contest(cid).parties:
        for number, n in sorted(preferences.get(party.id, {}).items(), key=lambda kv: int(kv[0])):
            cand = party.candidate(int(number))
            who = f": {cand.full_name}" if cand else ""
            out.append(FormLine(f"{cid}/pref:{party.id}:{number}", cid, f"pref:{party.id}:{number}",
                                Text(f"{party.short} №{number}{who}", f"{party.short} №{number}{who}"), n,
                                blank_is_zero=True))
    return out


def parse_figure(raw: str | None) -> tuple[int | None, Text | None]:
    """A typed figure: (number, None); (None, None) when nothing was typed; (None, why) otherwise."""
    text = (raw or "").strip().replace(" ", "")
    if not text:
        return None, None
    if text.startswith("-") and text[1:].isdigit():
        return None, NEGATIVE
    # isascii: str.isdigit also takes other scripts' digits and superscripts.
    if not (text.isascii() and text.isdigit()):
        return None, NOT_A_NUMBER
    n = int(text)
    if n > MAX_FIGURE:
        return None, TOO_LARGE
    return n, None


def check(lines: list[FormLine], typed: dict[str, str], voters_on_list: int) -> ManualCheck:
    """The figures typed so far, the lines in error or missing, and the relations over what is filled."""
    figures: dict[str, int] = {}
    errors: dict[str, Text] = {}
    missing = []
    for line in lines:
        n, why = parse_figure(typed.get(line.key))
        if why is not None:
            errors[line.key] = why
        elif n is None and line.blank_is_zero:
            figures[line.key] = 0
        elif n is None:
            missing.append(line.key)
        else:
            figures[line.key] = n
    return ManualCheck(figures, errors, tuple(missing), tuple(relations(lines, figures, voters_on_list)))


def relations(lines: list[FormLine], figures: dict[str, int], voters_on_list: int) -> list[dict[str, Any]]:
    """The control relations whose lines are all filled: relation, contest, ok, values [left, right]."""
    out: list[dict[str, Any]] = []

    def rel(relation: str, contest: str | None, left: int, right: int) -> None:
        ok = left <= right if "<=" in relation else left == right
        out.append({"relation": relation, "contest": contest, "ok": ok, "values": [left, right]})

    identified = figures.get("voters_identified")
    for cid in dict.fromkeys(line.contest for line in lines if line.contest):
        found = figures.get(f"{cid}/ballots_found")
        valid = figures.get(f"{cid}/valid")
        invalid = figures.get(f"{cid}/invalid")
        votes = [figures.get(line.key) for line in lines if line.contest == cid and line.line.startswith("votes:")]
        prefs: dict[str, list[int | None]] = {}
        for line in lines:
            if line.contest == cid and line.party is not None:
                prefs.setdefault(line.party, []).append(figures.get(line.key))
        if found is not None and identified is not None:
            rel("ballots<=identified", cid, found, identified)
        if found is not None:
            rel("ballots<=voters-on-list", cid, found, voters_on_list)
        if found is not None and valid is not None and invalid is not None:
            rel("valid+invalid=ballots", cid, valid + invalid, found)
        if valid is not None and votes and all(v is not None for v in votes):
            rel("votes=valid", cid, sum(votes), valid)
        # Each party's preferences within its votes: every failing party named, else one line.
        checked = {party: (sum(v), figures[f"{cid}/votes:{party}"]) for party, v in prefs.items()
                   if f"{cid}/votes:{party}" in figures and all(x is not None for x in v)}
        over = {party: lr for party, lr in checked.items() if lr[0] > lr[1]}
        for party, (left, right) in over.items():
            rel("preferences<=party-votes", cid, left, right)
            out[-1]["party"] = party
        if checked and not over:
            rel("preferences<=party-votes", cid, sum(lr[0] for lr in checked.values()),
                sum(lr[1] for lr in checked.values()))
    return out


def refusal(c: ManualCheck, explanation: str | None) -> Text | None:
    """Why the manual count cannot be signed now (None: it can)."""
    if c.errors:
        return next(iter(c.errors.values()))
    if c.missing:
        return MISSING
    if not c.relations_hold and not (explanation or "").strip():
        return FIX_OR_EXPLAIN
    return None


def manual_section(lines: list[FormLine], c: ManualCheck, explanation: str | None) -> dict[str, Any]:
    """What the signed protocol carries: per line machine, manual, difference; relations; explanation."""
    rows = []
    for line in lines:
        manual = c.figures[line.key]
        rows.append({"line": line.key, "contest": line.contest, "machine": line.machine, "manual": manual,
                     "difference": None if line.machine is None else manual - line.machine})
    return {"lines": rows, "control": [dict(r) for r in c.relations],
            "explanation": (explanation or "").strip() or None,
            "differences": sum(1 for r in rows if r["difference"])}

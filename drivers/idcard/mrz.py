"""Machine-readable zone (ICAO 9303 Parts 3, 4 and 5): parse, check, key BAC.

Guarantees:

* ``parse_mrz`` accepts TD1 (ID card, 3 lines of 30) and TD3 (passport, 2
  lines of 44) text, with any line breaks or spaces between the lines, and
  checks every check digit (document number, birth date, expiry, personal
  number, composite); a failing digit raises ``InvalidMrzError`` naming the
  field. The result is a frozen ``MRZ``.
* Where the Kyrgyz personal identification number (PIN, 14 digits) sits is
  configuration (``PinLocation``), not a rule: it is believed to be TD1
  line 1 [15:29] (optional data) and the TD3 personal-number field
  (shared/data/README.md, unconfirmed). A field that does not look like a PIN
  gives ``pin=None``.
* ``BacKey`` is the "MRZ information" BAC needs (ICAO 9303 Part 11 §4.3):
  document number + check, birth date + check, expiry + check. It comes from a
  full MRZ, from the three fields typed by the commission
  (``BacKey.from_fields``), or from the 24+ character string itself.

Example::

    >>> m = parse_mrz("I<UTOD231458907<<<<<<<<<<<<<<<\\n"
    ...               "7408122F1204159UTO<<<<<<<<<<<6\\n"
    ...               "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    >>> m.document_number, m.surname, m.given_names, str(m.birth_date)
    ('D23145890', 'ERIKSSON', 'ANNA MARIA', '1974-08-12')
    >>> m.bac_key.information
    'D23145890774081221204159'
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from drivers.idcard.errors import InvalidMrzError

_WEIGHTS = (7, 3, 1)
_ALLOWED = re.compile(r"[A-Z0-9<]+")  # used with fullmatch: "$" would let a final newline in


def check_digit(text: str) -> str:
    """ICAO 9303 Part 3 §4.9: weights 7,3,1; A=10..Z=35; '<'=0; modulo 10."""
    total = 0
    for i, ch in enumerate(text):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise InvalidMrzError(f"character {ch!r} is not allowed in an MRZ")
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


def _require_check(field_name: str, data: str, digit: str) -> None:
    # A '<' check digit is allowed only over an all-filler field (e.g. no personal number).
    if digit == "<" and set(data) <= {"<"}:
        return
    if check_digit(data) != digit:
        raise InvalidMrzError(f"check digit of {field_name} fails ({data!r} -> {digit!r})")


@dataclass(frozen=True)
class PinLocation:
    """Where the personal identification number sits in one MRZ format."""

    line: int
    start: int
    end: int
    pattern: str = r"\d{14}"

    def extract(self, lines: tuple[str, ...]) -> str | None:
        value = lines[self.line][self.start : self.end].replace("<", "")
        return value if re.fullmatch(self.pattern, value) else None


# shared/data/README.md: believed, not confirmed; callers may pass their own.
KYRGYZ_PIN_LOCATIONS: dict[str, PinLocation] = {
    "TD1": PinLocation(line=0, start=15, end=29),
    "TD3": PinLocation(line=1, start=28, end=42),
}


@dataclass(frozen=True)
class BacKey:
    """The MRZ information that keys Basic Access Control."""

    document_number: str  # as in the MRZ, '<'-padded to at least 9 characters
    birth_date: str  # YYMMDD
    expiry_date: str  # YYMMDD

    @classmethod
    def from_fields(cls, document_number: str, birth_date: str | dt.date,
                    expiry_date: str | dt.date) -> BacKey:
        """From what the commission types: '<'-padding and dates are normalised."""
        number = document_number.strip().upper().replace(" ", "")
        number = number + "<" * max(0, 9 - len(number))
        dates = []
        for value in (birth_date, expiry_date):
            if isinstance(value, dt.date):
                value = value.strftime("%y%m%d")
            value = value.strip()
            # [0-9], not \d: other scripts' digits would pass and break the ASCII BAC key.
            if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                value = value[2:4] + value[5:7] + value[8:10]
            if not re.fullmatch(r"[0-9]{6}", value):
                raise InvalidMrzError(f"date {value!r} is not YYMMDD")
            dates.append(value)
        if not _ALLOWED.fullmatch(number):
            raise InvalidMrzError(f"document number {document_number!r} has bad characters")
        return cls(number, dates[0], dates[1])

    @classmethod
    def from_information(cls, information: str) -> BacKey:
        """From the MRZ information string itself (checks its three check digits)."""
        info = information.strip().upper()
        if len(info) < 24 or not _ALLOWED.fullmatch(info):
            raise InvalidMrzError(f"MRZ information {information!r} is not 24+ MRZ characters")
        number, birth, expiry = info[:-14], info[-14:-7], info[-7:]
        _require_check("document number", number[:-1], number[-1])
        _require_check("birth date", birth[:6], birth[6])
        _require_check("expiry date", expiry[:6], expiry[6])
        return cls(number[:-1], birth[:6], expiry[:6])

    @property
    def information(self) -> str:
        return (self.document_number + check_digit(self.document_number)
                + self.birth_date + check_digit(self.birth_date)
                + self.expiry_date + check_digit(self.expiry_date))


@dataclass(frozen=True)
class MRZ:
    """One parsed machine-readable zone."""

    format: str  # "TD1" or "TD3"
    document_type: str  # document code without filler: "ID", "I", "P", "PN", ...
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    birth_date: dt.date
    sex: str  # "M", "F" or "X" (unspecified)
    expiry_date: dt.date
    pin: str | None
    optional_data: str
    lines: tuple[str, ...] = field(repr=False)
    _number_field: str = field(repr=False, default="")

    @property
    def bac_key(self) -> BacKey:
        return BacKey(self._number_field or self.document_number,
                      self.birth_date.strftime("%y%m%d"), self.expiry_date.strftime("%y%m%d"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def split_lines(text: str) -> tuple[str, ...]:
    """Split MRZ text into lines; a single unbroken 90/88-character run is split too."""
    raw = [ln.strip().replace(" ", "").upper() for ln in re.split(r"[\r\n]+", text)]
    raw = [ln for ln in raw if ln]
    if len(raw) == 1 and len(raw[0]) in (90, 88):
        width = 30 if len(raw[0]) == 90 else 44
        raw = [raw[0][i : i + width] for i in range(0, len(raw[0]), width)]
    return tuple(raw)


def _date(text: str, what: str, *, future: bool, today: dt.date) -> dt.date:
    if not re.fullmatch(r"[0-9]{6}", text):
        raise InvalidMrzError(f"{what} {text!r} is not YYMMDD")
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:6])
    # Two-digit years: expiries are this century; a birth year above this year's is the last.
    century = 2000 if future or yy <= today.year % 100 else 1900
    try:
        return dt.date(century + yy, mm, dd)
    except ValueError as exc:
        raise InvalidMrzError(f"{what} {text!r} is not a date") from exc


def _names(text: str) -> tuple[str, str]:
    surname, _, given = text.strip("<").partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _sex(ch: str) -> str:
    if ch not in "MFX<":
        raise InvalidMrzError(f"sex {ch!r} is not M, F or <")
    return "X" if ch == "<" else ch


def parse_mrz(text: str | tuple[str, ...] | list[str], *,
              pin_locations: dict[str, PinLocation] | None = None,
              today: dt.date | None = None) -> MRZ:
    """Parse TD1 or TD3 MRZ text and check all its check digits."""
    lines = split_lines(text) if isinstance(text, str) else tuple(
        ln.strip().upper() for ln in text)
    pins = KYRGYZ_PIN_LOCATIONS if pin_locations is None else pin_locations
    today = today or dt.date.today()
    for ln in lines:
        if not _ALLOWED.fullmatch(ln):
            raise InvalidMrzError(f"MRZ line {ln!r} has characters outside A-Z 0-9 <")
    shape = tuple(len(ln) for ln in lines)
    if shape == (30, 30, 30):
        return _parse_td1(lines, pins.get("TD1"), today)
    if shape == (44, 44):
        return _parse_td3(lines, pins.get("TD3"), today)
    raise InvalidMrzError(f"MRZ shape {shape} is neither TD1 (3x30) nor TD3 (2x44)")


def _parse_td1(lines: tuple[str, ...], pin_at: PinLocation | None, today: dt.date) -> MRZ:
    l1, l2, l3 = lines
    number, number_check, optional1 = l1[5:14], l1[14], l1[15:30]
    number_field = number
    if number_check == "<" and optional1.strip("<"):
        # Part 5 §4.2.2: a number over 9 characters continues in the optional data,
        # its check digit being the last character before the filler.
        rest = optional1.split("<", 1)[0]
        if not rest:
            raise InvalidMrzError("document number continues into an optional data field that starts with '<'")
        number_field = number + rest[:-1]
        number_check = rest[-1]
        optional1 = optional1[len(rest):]
    _require_check("document number", number_field, number_check)
    _require_check("birth date", l2[0:6], l2[6])
    _require_check("expiry date", l2[8:14], l2[14])
    _require_check("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
    surname, given = _names(l3)
    return MRZ(
        format="TD1", document_type=l1[0:2].replace("<", ""), issuing_state=l1[2:5].strip("<"),
        document_number=number_field.replace("<", ""), surname=surname, given_names=given,
        nationality=l2[15:18].strip("<"),
        birth_date=_date(l2[0:6], "birth date", future=False, today=today), sex=_sex(l2[7]),
        expiry_date=_date(l2[8:14], "expiry date", future=True, today=today),
        pin=pin_at.extract(lines) if pin_at else None,
        optional_data=(optional1 + l2[18:29]).strip("<"), lines=lines,
        _number_field=number_field,
    )


def _parse_td3(lines: tuple[str, ...], pin_at: PinLocation | None, today: dt.date) -> MRZ:
    l1, l2 = lines
    _require_check("document number", l2[0:9], l2[9])
    _require_check("birth date", l2[13:19], l2[19])
    _require_check("expiry date", l2[21:27], l2[27])
    _require_check("personal number", l2[28:42], l2[42])
    _require_check("composite", l2[0:10] + l2[13:20] + l2[21:43], l2[43])
    surname, given = _names(l1[5:44])
    return MRZ(
        format="TD3", document_type=l1[0:2].replace("<", ""), issuing_state=l1[2:5].strip("<"),
        document_number=l2[0:9].replace("<", ""), surname=surname, given_names=given,
        nationality=l2[10:13].strip("<"),
        birth_date=_date(l2[13:19], "birth date", future=False, today=today), sex=_sex(l2[20]),
        expiry_date=_date(l2[21:27], "expiry date", future=True, today=today),
        pin=pin_at.extract(lines) if pin_at else None,
        optional_data=l2[28:42].strip("<"), lines=lines, _number_field=l2[0:9],
    )


def format_td1(*, document_type: str, issuing_state: str, document_number: str,
               optional_data: str, birth_date: dt.date, sex: str, expiry_date: dt.date,
               nationality: str, surname: str, given_names: str,
               optional_data2: str = "") -> tuple[str, str, str]:
    """Compose TD1 lines with their check digits (for test cards and the emulator)."""
    def fit(s: str, n: int) -> str:
        s = s.upper().replace(" ", "<")
        if len(s) > n:
            raise InvalidMrzError(f"{s!r} does not fit in {n} MRZ characters")
        return s + "<" * (n - len(s))

    number = fit(document_number, 9)
    l1 = fit(document_type, 2) + fit(issuing_state, 3) + number + check_digit(number) + fit(
        optional_data, 15)
    birth, expiry = birth_date.strftime("%y%m%d"), expiry_date.strftime("%y%m%d")
    l2 = (birth + check_digit(birth) + (sex if sex in "MF" else "<") + expiry
          + check_digit(expiry) + fit(nationality, 3) + fit(optional_data2, 11))
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    # Part 3 §4.6: names longer than the field are truncated.
    names = (surname.upper().replace(" ", "<") + "<<" + given_names.upper().replace(" ", "<"))
    l3 = fit(names[:30], 30)
    return l1, l2, l3


def format_td3(*, document_type: str, issuing_state: str, document_number: str,
               nationality: str, birth_date: dt.date, sex: str, expiry_date: dt.date,
               surname: str, given_names: str, personal_number: str = "") -> tuple[str, str]:
    """Compose TD3 (passport) lines with their check digits."""
    def fit(s: str, n: int) -> str:
        s = s.upper().replace(" ", "<")[:n]
        return s + "<" * (n - len(s))

    names = surname.upper().replace(" ", "<") + "<<" + given_names.upper().replace(" ", "<")
    l1 = fit(document_type, 2) + fit(issuing_state, 3) + fit(names, 39)
    number = fit(document_number, 9)
    birth, expiry = birth_date.strftime("%y%m%d"), expiry_date.strftime("%y%m%d")
    personal = fit(personal_number, 14)
    personal_check = check_digit(personal) if personal_number else "<"
    l2 = (number + check_digit(number) + fit(nationality, 3) + birth + check_digit(birth)
          + (sex if sex in "MF" else "<") + expiry + check_digit(expiry) + personal
          + personal_check)
    l2 += check_digit(l2[0:10] + l2[13:20] + l2[21:43])
    return l1, l2

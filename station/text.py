"""A text for people in both languages: Kyrgyz (the state language), then Russian.

Everything the station says to a voter or the commission, on screen or on
paper, says it in both languages (DOMAIN.md "Languages"). ``Text`` is the one
value that carries such a text, wherever it comes from:

* the election package (names, titles, addresses: ``Text.parse`` of a
  ``{"ky": ..., "ru": ...}`` object, station/election.py);
* the tables of messages in the code (identify/rules.py ``MESSAGES`` and
  ``MANUAL_REASONS``, identify/receipts.py ``METHOD_TEXT``,
  count/ballots/reading.py ``REJECTIONS``).

It is a named tuple: ``text.ky`` / ``text.ru`` by name, ``ky, ru = text`` by
position. Messages with values use ``str.format`` fields, filled in both
languages at once by ``format``.

Example::

    already = Text("Шайлоочу саат {time} мурда идентификацияланган",
                   "Избиратель уже идентифицирован в {time}")
    shown = already.format(time="10:42")
    shown.ru                                  # 'Избиратель уже идентифицирован в 10:42'
    ky, ru = shown
"""

from __future__ import annotations

from typing import Any, NamedTuple

from station.errors import PackageError


class Text(NamedTuple):
    """A text in Kyrgyz and in Russian."""

    ky: str
    ru: str

    @classmethod
    def parse(cls, v: Any, where: str) -> Text:
        """The text of a package's ``{"ky": ..., "ru": ...}`` object; ``where`` names it in the error."""
        if isinstance(v, dict) and isinstance(v.get("ky"), str) and isinstance(v.get("ru"), str):
            return cls(ky=v["ky"], ru=v["ru"])
        raise PackageError(f"{where}: expected {{'ky': ..., 'ru': ...}}")

    def format(self, **fields: object) -> Text:
        """Both languages with ``fields`` filled in (``str.format``)."""
        return Text(self.ky.format(**fields), self.ru.format(**fields))

    def to_json(self) -> dict[str, str]:
        return {"ky": self.ky, "ru": self.ru}

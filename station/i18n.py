"""The station speaks Kyrgyz, Russian and English; printed documents carry Kyrgyz and Russian.

Messages are written in English in the code (``_("Polls opened")``) and
translated through gettext catalogues kept as text in
``station/locale/<lang>/LC_MESSAGES/uchastok.po``. The ``.po`` files are the
only form in the tree: on first use of a language they are compiled in
memory into the GNU ``.mo`` format and handed to the standard library's
``gettext.GNUTranslations`` (so the station needs no ``msgfmt`` and writes no
cache under ``ProtectSystem=strict``). Fuzzy and untranslated entries fall back
to the English text, never to an empty string.

The language is a setting (``[station] language`` in ``uchastok.toml``, read
by ``language_from_config``); ``set_language`` switches the process's
language, ``_`` translates into it. ``bilingual`` gives the (Kyrgyz, Russian)
pair that printed receipts, the zero report and the protocol carry whatever
the screen language (DOMAIN.md: documents in the state and the official
language).

Messages with values use ``str.format`` fields, passed as keywords:
``_("Already identified here at {time}", time="10:42")``; every translation
keeps the msgid's fields (a test checks).

Example::

    set_language("ru")
    _("Polls opened")                       # 'Голосование открыто'
    bilingual("Sheet returned: {reason}", reason=...)  # (ky, ru)
"""

from __future__ import annotations

import gettext
import io
import re
import struct
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from station.errors import ConfigError

DOMAIN = "uchastok"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("ky", "ru", "en")
DEFAULT_LANGUAGE = "ky"
# Printed documents: the state language first, then the official language.
DOCUMENT_LANGUAGES = ("ky", "ru")


class CatalogueError(ConfigError):
    """Raised when a .po catalogue cannot be parsed (names the file and line)."""


# -- .po parsing and .mo compiling ---------------------------------------------------

def parse_po(text: str, *, source: str = "<po>") -> dict[str, str]:
    """Translated entries of a .po text: {msgid: msgstr}; msgctxt joins as ``ctxt\\x04id``.

    The header (msgid "") is kept; fuzzy entries and empty translations are
    left out so gettext falls back to the msgid. Plural entries are refused:
    the station's messages avoid them (counts are shown as "label: n").
    """
    entries: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    current: str | None = None
    fuzzy = False
    start_line = 1

    def flush() -> None:
        nonlocal fields, fuzzy, current
        if "msgid" in fields:
            if "msgid_plural" in fields:
                raise CatalogueError(f"{source}:{start_line}: plural entries are not supported")
            msgid = "".join(fields["msgid"])
            msgstr = "".join(fields.get("msgstr", []))
            if "msgctxt" in fields:
                msgid = "".join(fields["msgctxt"]) + "\x04" + msgid
            if msgstr and (not fuzzy or msgid == ""):
                if msgid in entries:
                    raise CatalogueError(f"{source}:{start_line}: duplicate msgid {msgid!r}")
                entries[msgid] = msgstr
        elif fields:
            raise CatalogueError(f"{source}:{start_line}: entry without msgid")
        fields, current, fuzzy = {}, None, False

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#"):
            if "msgid" in fields and "msgstr" in fields:
                flush()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        if line.startswith('"'):
            if current is None:
                raise CatalogueError(f"{source}:{lineno}: string continuation without a keyword")
            fields[current].append(_unquote(line, source, lineno))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword not in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            raise CatalogueError(f"{source}:{lineno}: unknown keyword {keyword!r}")
        if keyword in ("msgctxt", "msgid") and "msgstr" in fields:
            flush()
        if not fields:
            start_line = lineno
        if keyword in fields:
            raise CatalogueError(f"{source}:{lineno}: {keyword} given twice")
        current = keyword
        fields[keyword] = [_unquote(rest.strip(), source, lineno)]
    flush()
    return entries


def _unquote(token: str, source: str, lineno: int) -> str:
    if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
        raise CatalogueError(f"{source}:{lineno}: expected a quoted string, got {token!r}")

    def escape(m: re.Match[str]) -> str:
        e = m.group(1)
        if e in _ESCAPES:
            return _ESCAPES[e]
        if e[0] in "01234567":
            return chr(int(e, 8))
        if e[0] == "x" and len(e) > 1:
            return chr(int(e[1:], 16))
        raise CatalogueError(f"{source}:{lineno}: bad escape \\{e} in {token}")

    body = token[1:-1]
    if re.search(r'(?<!\\)(?:\\\\)*"', body):
        raise CatalogueError(f"{source}:{lineno}: unescaped quote in {token}")
    return _ESCAPE_RE.sub(escape, body)


# The C escapes a .po string may carry.
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "?": "?"}
_ESCAPE_RE = re.compile(r"\\([0-7]{1,3}|x[0-9A-Fa-f]+|.)")


def compile_mo(entries: Mapping[str, str]) -> bytes:
    """GNU .mo bytes (little-endian, revision 0, no hash table) of {msgid: msgstr}."""
    ids = sorted(entries)   # gettext binary-searches when a hash table is absent
    id_bytes = [k.encode("utf-8") for k in ids]
    str_bytes = [entries[k].encode("utf-8") for k in ids]
    n = len(ids)
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + n * 8
    data_start = strs_table + n * 8
    offsets_ids, offsets_strs, blob = [], [], bytearray()
    for b in id_bytes:
        offsets_ids.append((len(b), data_start + len(blob)))
        blob += b + b"\0"
    for b in str_bytes:
        offsets_strs.append((len(b), data_start + len(blob)))
        blob += b + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, ids_table, strs_table, 0, 0)
    out += b"".join(struct.pack("<2I", ln, off) for ln, off in offsets_ids)
    out += b"".join(struct.pack("<2I", ln, off) for ln, off in offsets_strs)
    return out + bytes(blob)


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (cached for the life of the process)."""
    if lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    path = catalogue_path(lang)
    entries = parse_po(path.read_text(encoding="utf-8"), source=str(path))
    return gettext.GNUTranslations(io.BytesIO(compile_mo(entries)))


# -- The process's language -------------------------------------------------------

# The one process-wide setting of this module: the language is a station
# setting, and a daemon serves one commission in one language.
_current = {"lang": DEFAULT_LANGUAGE}


def set_language(lang: str) -> None:
    """Make ``lang`` the language of ``_`` for the whole process (the setting)."""
    translations(lang)  # validate and compile now, not at the first message
    _current["lang"] = lang


def get_language() -> str:
    return _current["lang"]


def gettext_in(lang: str, msgid: str, /, **fields: object) -> str:
    """``msgid`` translated into ``lang``, with ``fields`` formatted in."""
    text = translations(lang).gettext(msgid)
    return text.format(**fields) if fields else text


def _(msgid: str, /, **fields: object) -> str:
    """``msgid`` in the current language."""
    return gettext_in(get_language(), msgid, **fields)


def bilingual(msgid: str, /, **fields: object) -> tuple[str, str]:
    """(Kyrgyz, Russian) text of ``msgid`` for printed documents."""
    ky, ru = DOCUMENT_LANGUAGES
    return gettext_in(ky, msgid, **fields), gettext_in(ru, msgid, **fields)


def language_from_config(config_file: str | Path) -> str:
    """``[station] language`` of uchastok.toml; the default (Kyrgyz) when unset or absent."""
    path = Path(config_file)
    if not path.exists():
        return DEFAULT_LANGUAGE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from e
    lang = data.get("station", {}).get("language", DEFAULT_LANGUAGE)
    if lang not in LANGUAGES:
        raise ConfigError(f"{path}: [station] language = {lang!r}; choose one of"
                          f" {', '.join(LANGUAGES)}")
    return lang

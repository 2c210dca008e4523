"""Kyrgyz, Russian and English catalogues (issue 7 "Scope" 3)."""

from __future__ import annotations

import gettext
import io
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest

from station import i18n
from station.errors import ConfigError
from station.i18n import (
    CatalogueError,
    _,
    bilingual,
    catalogue_path,
    compile_mo,
    language_from_config,
    parse_po,
    set_language,
)

REPO = Path(__file__).resolve().parents[2]


def _entries(lang: str) -> dict[str, str]:
    return {k: v for k, v in parse_po(catalogue_path(lang).read_text(encoding="utf-8")).items()
            if k}


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}


@pytest.fixture(autouse=True)
def _restore_language():
    before = i18n.get_language()
    yield
    set_language(before)


def test_every_msgid_has_kyrgyz_and_russian():
    english = _entries("en")
    assert len(english) >= 80
    for lang in ("ky", "ru"):
        translated = _entries(lang)
        missing = sorted(set(english) - set(translated))
        assert missing == [], f"{lang} lacks {missing}"
        assert sorted(set(translated) - set(english)) == [], f"{lang} has msgids English lacks"


@pytest.mark.parametrize("lang", ["ky", "ru"])
def test_translations_keep_the_fields_and_are_translated(lang):
    for msgid, text in _entries(lang).items():
        assert _fields(text) == _fields(msgid), (lang, msgid, text)
        words = re.sub(r"\{\w+\}", "", text)
        assert not re.search(r"[A-Za-z]{4,}", words), (lang, msgid, text)


def test_kyrgyz_is_not_russian():
    ky, ru = _entries("ky"), _entries("ru")
    same = [m for m in ky if ky[m] == ru[m]]
    assert same == ["Battery {percent}%"]
    assert set("ңөү") <= set("".join(ky.values()).lower())


@pytest.mark.parametrize(("lang", "msgid", "expected"), [
    ("ky", "Polls opened", "Добуш берүү башталды"),
    ("ru", "Polls opened", "Голосование открыто"),
    ("en", "Polls opened", "Polls opened"),
    ("ru", "Wrong PIN code", "Неверный PIN-код"),
    ("ky", "Not on this station's voter list", "Шайлоочу бул участоктун тизмесинде жок"),
], ids=["ky", "ru", "en", "ru-pin", "ky-not-on-list"])
def test_set_language_and_translate(lang, msgid, expected):
    set_language(lang)
    assert _(msgid) == expected


def test_fields_are_formatted():
    set_language("ru")
    assert _("Already identified here at {time}", time="10:42") == \
        "Избиратель уже идентифицирован здесь в 10:42"


def test_unknown_message_falls_back_to_english():
    set_language("ky")
    assert _("A message nobody translated") == "A message nobody translated"


def test_bilingual_gives_kyrgyz_then_russian_whatever_the_screen_language():
    set_language("en")
    reason_ky, reason_ru = bilingual("no ballot code")
    assert bilingual("Sheet returned: {reason}", reason=reason_ky)[0] == \
        "Бюллетень кайтарылды: бюллетендин коду жок"
    assert reason_ru == "нет кода бюллетеня"


def test_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="unknown language 'kk'"):
        set_language("kk")


@pytest.mark.parametrize(("text", "expected"), [
    (None, "ky"),
    ('[station]\nlanguage = "ru"\n', "ru"),
    ('[station]\ntimezone = "Asia/Bishkek"\n', "ky"),
], ids=["no-file", "ru", "unset"])
def test_language_from_config(tmp_path, text, expected):
    path = tmp_path / "uchastok.toml"
    if text is not None:
        path.write_text(text)
    assert language_from_config(path) == expected


@pytest.mark.parametrize(("text", "match"), [
    ('[station]\nlanguage = "de"\n', "choose one of ky, ru, en"),
    ("[station\n", "uchastok.toml"),
], ids=["unknown-language", "bad-toml"])
def test_bad_config_is_refused(tmp_path, text, match):
    path = tmp_path / "uchastok.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        language_from_config(path)


# -- the .po reader and .mo writer -------------------------------------------------

def test_po_features():
    text = '''
# comment
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

msgid "multi"
"line"
msgstr "көп"
"сап"

#, fuzzy
msgid "guess"
msgstr "болжол"

msgid "untranslated"
msgstr ""

msgctxt "button"
msgid "Open"
msgstr "Ачуу"

msgid "quote \\"q\\" and\\ttab"
msgstr "тырмакча \\"q\\"\\n"
'''
    entries = parse_po(text)
    assert entries["multiline"] == "көпсап"
    assert "guess" not in entries and "untranslated" not in entries
    assert entries["button\x04Open"] == "Ачуу"
    assert entries['quote "q" and\ttab'] == 'тырмакча "q"\n'


@pytest.mark.parametrize(("text", "match"), [
    ('"orphan"\n', "continuation without a keyword"),
    ('msgid "a"\nmsgstr b\n', "expected a quoted string"),
    ('msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n', "duplicate msgid"),
    ('msgid "a"\nmsgid_plural "as"\nmsgstr[0] "b"\n', "plural entries are not supported|unknown"),
    ('msgfoo "a"\n', "unknown keyword"),
    ('msgid "a"\nmsgid "b"\n', "msgid given twice"),
    ('msgstr "lonely"\n', "entry without msgid"),
    ('msgid "a\\q"\nmsgstr "b"\n', "bad escape"),
], ids=["orphan-string", "unquoted", "duplicate", "plural", "unknown-keyword", "twice",
        "no-msgid", "bad-escape"])
def test_bad_po_is_refused_with_its_line(text, match):
    with pytest.raises(CatalogueError, match=match):
        parse_po(text, source="x.po")


@pytest.mark.parametrize("lang", ["ky", "ru", "en"])
def test_compiled_catalogue_equals_msgfmt(lang, tmp_path):
    """Our in-memory .mo reads back exactly like GNU msgfmt's (when msgfmt is installed)."""
    ours = gettext.GNUTranslations(io.BytesIO(compile_mo(parse_po(
        catalogue_path(lang).read_text(encoding="utf-8")))))
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt not installed (only needed by this test)")
    mo = tmp_path / "x.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(mo), str(catalogue_path(lang))], check=True)
    with mo.open("rb") as f:
        theirs = gettext.GNUTranslations(f)
    assert ours._catalog == theirs._catalog  # noqa: SLF001 - the parsed table itself
    assert ours.info()["language"] == lang


def test_messages_used_in_the_code_are_in_the_catalogue():
    """Every literal `_("...")`/`bilingual("...")` in modules using station.i18n is translated."""
    known = set(_entries("en"))
    used: dict[str, str] = {}
    for path in REPO.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "station.i18n" not in text and "from station import i18n" not in text:
            continue
        for m in re.finditer(r'\b(?:_|bilingual|gettext_in\(\w+,)\(\s*"((?:[^"\\]|\\.)*)"', text):
            used.setdefault(m.group(1), str(path.relative_to(REPO)))
    missing = {msgid: where for msgid, where in used.items() if msgid not in known}
    assert missing == {}

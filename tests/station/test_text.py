"""Bilingual text: one value, Kyrgyz then Russian, in the package and in every message table."""

import pytest

from count.ballots.reading import ACCEPTED_MESSAGE, REJECTIONS
from identify.receipts import METHOD_TEXT
from identify.rules import MANUAL_REASONS, MESSAGES
from station.errors import PackageError
from station.text import Text


def test_parse_format_and_unpack():
    text = Text.parse({"ky": "саат {time}", "ru": "в {time}"}, "election.name")
    assert text == Text(ky="саат {time}", ru="в {time}")
    assert text.format(time="10:42") == Text("саат 10:42", "в 10:42")
    ky, ru = text
    assert (ky, ru) == (text.ky, text.ru)
    assert text.to_json() == {"ky": "саат {time}", "ru": "в {time}"}


@pytest.mark.parametrize("value", [{"ky": "а"}, {"ky": "а", "ru": 1}, "а / б", None])
def test_parse_names_the_field_it_refuses(value):
    with pytest.raises(PackageError, match="station.address"):
        Text.parse(value, "station.address")


TABLES = {
    "identify.rules.MESSAGES": MESSAGES,
    "identify.rules.MANUAL_REASONS": MANUAL_REASONS,
    "identify.receipts.METHOD_TEXT": METHOD_TEXT,
    "count.ballots.reading.REJECTIONS": {**REJECTIONS, "accepted": ACCEPTED_MESSAGE},
}


@pytest.mark.parametrize("name", TABLES)
def test_every_message_table_holds_text_in_both_languages(name):
    for key, text in TABLES[name].items():
        assert isinstance(text, Text), (name, key)
        assert text.ky.strip() and text.ru.strip() and text.ky != text.ru, (name, key)

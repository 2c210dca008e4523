"""MRZ parsing, check digits, PIN location and BAC key material (ICAO 9303 Parts 3-5)."""

import datetime as dt

import pytest

from drivers.idcard.errors import InvalidMrzError
from drivers.idcard.mrz import (
    BacKey,
    PinLocation,
    check_digit,
    format_td3,
    parse_mrz,
)

# ICAO 9303 Part 5 (TD1) and Part 4 (TD3) specimens.
TD1_SPECIMEN = ("I<UTOD231458907<<<<<<<<<<<<<<<\n"
                "7408122F1204159UTO<<<<<<<<<<<6\n"
                "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
TD3_SPECIMEN = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(("text", "digit"), [
    ("D23145890", "7"), ("740812", "2"), ("120415", "9"), ("L898902C3", "6"),
    ("ZE184226B<<<<<", "1"), ("<<<<", "0"),
], ids=["td1-number", "birth", "expiry", "td3-number", "personal", "filler"])
def test_check_digit(text, digit):
    assert check_digit(text) == digit


def test_td1_specimen():
    m = parse_mrz(TD1_SPECIMEN, today=TODAY)
    assert (m.format, m.document_type, m.issuing_state, m.document_number) == (
        "TD1", "I", "UTO", "D23145890")
    assert (m.surname, m.given_names, m.nationality, m.sex) == (
        "ERIKSSON", "ANNA MARIA", "UTO", "F")
    assert (m.birth_date, m.expiry_date) == (dt.date(1974, 8, 12), dt.date(2012, 4, 15))
    assert m.pin is None
    assert m.bac_key.information == "D23145890774081221204159"


def test_td3_specimen():
    m = parse_mrz(TD3_SPECIMEN, today=TODAY)
    assert (m.format, m.document_type, m.document_number, m.surname) == (
        "TD3", "P", "L898902C3", "ERIKSSON")
    assert m.optional_data == "ZE184226B"
    assert m.pin is None  # the specimen's personal number is not a 14-digit PIN
    assert m.bac_key.information == "L898902C367408122" + "1204159"


def test_kyrgyz_id_card_pin_in_line1_optional_data(td1_lines):
    m = parse_mrz(td1_lines, today=TODAY)
    assert (m.document_number, m.pin, m.document_type) == ("ID1234567", "22001199000123", "ID")
    assert m.bac_key.information == "ID12345673" + "9001228" + "3105010"


def test_kyrgyz_passport_pin_in_personal_number():
    lines = format_td3(document_type="P", issuing_state="KGZ", document_number="AC1234567",
                       nationality="KGZ", birth_date=dt.date(1985, 3, 9), sex="M",
                       expiry_date=dt.date(2030, 3, 8), surname="Bakirov",
                       given_names="Nurlan", personal_number="20903198500456")
    m = parse_mrz(lines, today=TODAY)
    assert (m.pin, m.given_names, m.birth_date) == ("20903198500456", "NURLAN",
                                                    dt.date(1985, 3, 9))


def test_pin_location_is_configuration(td1_lines):
    elsewhere = {"TD1": PinLocation(line=1, start=18, end=29, pattern=r".*")}
    assert parse_mrz(td1_lines, pin_locations=elsewhere).pin == ""
    assert parse_mrz(td1_lines, pin_locations={}).pin is None


def _replace(text: str, line: int, col: int, ch: str) -> str:
    lines = text.split("\n")
    lines[line] = lines[line][:col] + ch + lines[line][col + 1:]
    return "\n".join(lines)


@pytest.mark.parametrize(("line", "col", "ch", "field"), [
    (0, 14, "1", "document number"),
    (1, 6, "3", "birth date"),
    (1, 14, "0", "expiry date"),
    (1, 29, "5", "composite"),
], ids=["td1-number", "td1-birth", "td1-expiry", "td1-composite"])
def test_td1_bad_check_digit_names_the_field(line, col, ch, field):
    with pytest.raises(InvalidMrzError, match=field):
        parse_mrz(_replace(TD1_SPECIMEN, line, col, ch))


@pytest.mark.parametrize(("col", "ch", "field"), [
    (9, "5", "document number"), (19, "1", "birth date"), (27, "8", "expiry date"),
    (42, "2", "personal number"), (43, "1", "composite"),
], ids=["number", "birth", "expiry", "personal", "composite"])
def test_td3_bad_check_digit_names_the_field(col, ch, field):
    with pytest.raises(InvalidMrzError, match=field):
        parse_mrz(_replace(TD3_SPECIMEN, 1, col, ch))


@pytest.mark.parametrize("text", [
    "", "I<UTOD231458907", TD1_SPECIMEN.replace("ERIKSSON", "eriksson!"),
    TD1_SPECIMEN + "\n" + "<" * 30, TD3_SPECIMEN[:60],
], ids=["empty", "one-short-line", "bad-characters", "four-lines", "cut-passport"])
def test_bad_shapes_are_refused(text):
    with pytest.raises(InvalidMrzError):
        parse_mrz(text)


def test_bad_date_is_refused():
    text = _replace(_replace(TD1_SPECIMEN, 1, 2, "1"), 1, 3, "3")  # month 13
    with pytest.raises(InvalidMrzError):
        parse_mrz(text)


def test_one_unbroken_run_of_90_characters_is_split():
    assert parse_mrz(TD1_SPECIMEN.replace("\n", "")).document_number == "D23145890"


@pytest.mark.parametrize(("fields", "info"), [
    (("L898902C", "690806", "940623"), "L898902C<369080619406236"),
    (("l898902c ", "1969-08-06", dt.date(1994, 6, 23)), "L898902C<369080619406236"),
], ids=["mrz-format", "typed-loosely"])
def test_bac_key_from_typed_fields(fields, info):
    assert BacKey.from_fields(*fields).information == info


@pytest.mark.parametrize(("fields", "what"), [
    (("L898902C", "69-08-06", "940623"), "YYMMDD"),
    (("L89 8902C!", "690806", "940623"), "bad characters"),
], ids=["bad-date", "bad-number"])
def test_bac_key_from_bad_typed_fields(fields, what):
    with pytest.raises(InvalidMrzError, match=what):
        BacKey.from_fields(*fields)


def test_bac_key_from_information_checks_digits():
    assert BacKey.from_information("L898902C<369080619406236").birth_date == "690806"
    with pytest.raises(InvalidMrzError):
        BacKey.from_information("L898902C<369080619406237")

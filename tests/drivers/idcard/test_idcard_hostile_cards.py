"""Hostile cards (audit finding 3): every parser of card bytes refuses with a driver error or a verdict.

The three inputs that crashed the identify daemon (tests/support/hostile_cards.py), served
by the chip emulator through the reader like any card, plus the smaller escapes the
fuzzing of tests/fuzz found in the same parsers (MRZ, secure messaging, OIDs, a stalling chip).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hostile_cards import (
    EMPTY_OID_CARD_ACCESS,
    HOSTILE_CARDS,
    hostile_files,
    sod_with_bad_certificate_version,
    sod_with_overlong_digest_oid,
)

from drivers.idcard.apdu import encode_tlv
from drivers.idcard.base import CardReader, DirectTransport, DocumentRead
from drivers.idcard.errors import (
    CardReadTimeoutError,
    InvalidMrzError,
    MalformedDataError,
    SecureMessagingError,
)
from drivers.idcard.lds import FID_SOD, build_dg1, dg_fid, parse_card_access, parse_dg1
from drivers.idcard.mrz import BacKey, format_td1, parse_mrz
from drivers.idcard.passive_auth import passive_authentication
from drivers.idcard.sm import SecureMessaging, retail_mac

pytestmark = pytest.mark.filterwarnings("ignore")  # cryptography warns about the broken certificate


def _read(chip, pki):
    return CardReader(DirectTransport(chip)).read_document(chip.mrz.bac_key, trust=[pki.csca_pem])


# --- the three crash inputs, parser level ---------------------------------------------------

def test_empty_oid_in_card_access_is_malformed_data():
    with pytest.raises(MalformedDataError, match="EF.CardAccess: object identifier is empty"):
        parse_card_access(EMPTY_OID_CARD_ACCESS)


@pytest.mark.parametrize("mutate,said", [
    (sod_with_bad_certificate_version, "InvalidVersion"),
    (sod_with_overlong_digest_oid, "ValueError"),
], ids=["bad-certificate-version", "overlong-digest-oid"])
def test_broken_sod_is_a_verdict_not_an_exception(make_chip, pki, mutate, said):
    chip = make_chip()
    groups = {n: chip.files[dg_fid(n)] for n in (1, 2)}
    result = passive_authentication(mutate(chip.files[FID_SOD]), groups, [pki.csca_pem])
    assert not result.ok
    assert result.reason.startswith("EF.SOD does not parse") and said in result.reason
    assert "\n" not in result.reason


# --- the same cards read through the reader -------------------------------------------------

@pytest.mark.parametrize("kind", HOSTILE_CARDS)
def test_hostile_card_read_ends_in_a_driver_error_or_a_failed_verdict(make_chip, pki, kind):
    chip = make_chip(**hostile_files(make_chip(), kind))
    if kind == "empty-oid-card-access":
        with pytest.raises(MalformedDataError, match="object identifier is empty"):
            _read(chip, pki)
    else:
        doc = _read(chip, pki)
        assert isinstance(doc, DocumentRead)
        assert not doc.passive_auth.ok and "EF.SOD does not parse" in doc.passive_auth.reason
    assert not chip.powered  # the reader let go of the card


@pytest.mark.parametrize("oid,why", [
    (b"\x04\x00\x7f\x80", "ends inside a subidentifier"),
    (b"\x04" + b"\xff" * 70 + b"\x01", "not a protocol OID"),   # a 490-bit arc: str() would refuse it
])
def test_broken_card_access_oids(oid, why):
    with pytest.raises(MalformedDataError, match=why):
        parse_card_access(encode_tlv(0x31, encode_tlv(0x30, encode_tlv(0x06, oid))))


def test_any_card_access_bytes_are_parsed_or_refused(make_chip, pki):
    for junk in (b"", b"\x31", b"\x31\x00", b"\x31\x02\x30\x00", b"\x31\x04\x30\x02\x06\x00",
                 b"\x31\x83\xff\xff\xff"):
        chip = make_chip(card_access=junk)
        try:
            _read(chip, pki)
        except MalformedDataError:
            pass


# --- MRZ and secure messaging escapes -------------------------------------------------------

def test_td1_number_continuation_that_starts_with_filler_is_invalid_mrz(td1_lines):
    l1 = td1_lines[0][:14] + "<" + "<1" + td1_lines[0][17:]
    with pytest.raises(InvalidMrzError, match="starts with '<'"):
        parse_mrz((l1, td1_lines[1], td1_lines[2]))


def test_dg1_with_a_newline_in_the_mrz_is_invalid(td1_lines):
    lines = (td1_lines[0][:29] + "\n", td1_lines[1], td1_lines[2])
    with pytest.raises(InvalidMrzError):
        parse_dg1(build_dg1(lines))


def test_typed_dates_in_other_scripts_digits_are_refused():
    with pytest.raises(InvalidMrzError, match="not YYMMDD"):
        BacKey.from_fields("ID1234567", "\u0661\u0669\u0669\u0660\u0660\u0661", "310501")


def test_pin_from_dg11_must_be_ascii_digits(make_chip, pki):
    no_pin_in_mrz = format_td1(document_type="ID", issuing_state="KGZ", document_number="ID1234567",
                               optional_data="", birth_date=dt.date(1990, 1, 22), sex="F",
                               expiry_date=dt.date(2031, 5, 1), nationality="KGZ",
                               surname="Asanova", given_names="Aigul")
    chip = make_chip(mrz=no_pin_in_mrz, dg11={"personal_number": "\u0661" * 14})
    doc = _read(chip, pki)
    assert doc.personal_details["personal_number"] == "\u0661" * 14
    assert doc.mrz.pin is None and doc.pin is None  # never the Arabic-Indic digits


@pytest.mark.parametrize("cryptogram,why", [
    (b"\x85\x05abcde", "not whole 8-byte blocks"),
    (b"\x87\x06\x01abcde", "not whole 8-byte blocks"),
    (b"\x87\x01\x01", "not whole 8-byte blocks"),
])
def test_sm_cryptogram_that_is_not_whole_blocks_is_an_sm_error(cryptogram, why):
    keys = (bytes(range(16)), bytes(range(16, 32)), bytes(8))
    # A chip that knows the session keys (it is the card) MACs whatever it likes.
    body = cryptogram + encode_tlv(0x99, b"\x90\x00")
    mac = retail_mac(keys[1], (1).to_bytes(8, "big") + body)
    with pytest.raises(SecureMessagingError, match=why):
        SecureMessaging(*keys).unprotect(body + encode_tlv(0x8E, mac) + b"\x90\x00")


def test_garbled_sm_response_tlv_is_an_sm_error():
    with pytest.raises(SecureMessagingError, match="does not parse"):
        SecureMessaging(bytes(16), bytes(16), bytes(8)).unprotect(b"\x87\x7f\x01\x90\x00")


# --- a stalling chip ------------------------------------------------------------------------

def test_a_read_that_outlasts_its_deadline_is_a_timeout(make_chip, pki):
    ticks = itertools.count()
    reader = CardReader(DirectTransport(make_chip()), timer=lambda: float(next(ticks)),
                        read_timeout_s=5.0)
    with pytest.raises(CardReadTimeoutError, match="within 5 s"):
        reader.read_document(reader.transport.emulator.mrz.bac_key, trust=[pki.csca_pem])
    assert not reader.transport.emulator.powered

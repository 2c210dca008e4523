"""The reader seam against the in-process emulator: a full read and every fault preset."""

import datetime as dt
import io

import pytest
from PIL import Image

from drivers.idcard.base import CardReader, CardStatus, DirectTransport, bac_key_of
from drivers.idcard.emulator import PRESETS, EmrtdEmulator, make_test_pki
from drivers.idcard.errors import (
    BacFailedError,
    CardAbsentError,
    CardRemovedError,
    ChipSilentError,
    SecureMessagingError,
)
from drivers.idcard.mrz import BacKey, format_td1, parse_mrz


def _read(chip, keys=None, trust=None, **kwargs):
    reader = CardReader(DirectTransport(chip), **kwargs)
    return reader.read_document(keys or chip.mrz.bac_key,
                                trust=trust if trust is not None else [])


def test_full_read(make_chip, pki, face_jpeg, td1_lines):
    chip = make_chip()
    with CardReader(DirectTransport(chip)) as reader:
        assert reader.status() is CardStatus.READY
        doc = reader.read_document("\n".join(td1_lines), trust=[pki.csca_pem])
    assert doc.mrz == parse_mrz(td1_lines)
    assert (doc.mrz.document_number, doc.mrz.pin) == ("ID1234567", "22001199000123")
    assert doc.face_image == face_jpeg and doc.face_format == "jpeg"
    assert doc.passive_auth.ok, doc.passive_auth.reason
    assert doc.pace_supported is False and doc.pace_protocols == ()
    assert doc.data_groups == (1, 2)
    assert doc.chip_read_ms > 0
    assert not chip.powered  # the reader lets go of the card after reading


@pytest.mark.parametrize("keys", ["mrz-object", "bac-key", "information", "typed"])
def test_every_form_of_mrz_keys(make_chip, pki, keys):
    chip = make_chip()
    value = {"mrz-object": chip.mrz, "bac-key": chip.mrz.bac_key,
             "information": chip.mrz.bac_key.information,
             "typed": BacKey.from_fields("ID1234567", "1990-01-22", "310501")}[keys]
    assert bac_key_of(value) == chip.mrz.bac_key
    assert _read(chip, value, [pki.csca_pem]).passive_auth.ok


def test_pace_advertised_is_reported_and_bac_still_reads(make_chip, pki):
    doc = _read(make_chip(pace=True), trust=[pki.csca_pem])
    assert doc.pace_supported
    assert doc.pace_protocols == ("0.4.0.127.0.7.2.2.4.2.2",)
    assert doc.passive_auth.ok


def test_wrong_mrz_keys_raise_bac_failed(make_chip, pki):
    chip = make_chip()
    wrong = BacKey.from_fields("ID1234568", "900122", "310501")
    with pytest.raises(BacFailedError, match="MRZ keys"):
        _read(chip, wrong, [pki.csca_pem])
    assert not chip.powered


def test_card_pulled_mid_read(make_chip, pki):
    chip = make_chip(preset="card-pulled", pull_after_reads=6)
    reader = CardReader(DirectTransport(chip))
    with pytest.raises(CardRemovedError):
        reader.read_document(chip.mrz.bac_key, trust=[pki.csca_pem])
    assert reader.status() is CardStatus.NO_CARD
    with pytest.raises(CardAbsentError):
        reader.read_document(chip.mrz.bac_key, trust=[pki.csca_pem])


def test_card_put_back_reads_again(make_chip, pki):
    chip = make_chip(preset="card-pulled", pull_after_reads=6)
    with pytest.raises(CardRemovedError):
        _read(chip, trust=[pki.csca_pem])
    chip.preset = None
    chip.insert()
    assert _read(chip, trust=[pki.csca_pem]).passive_auth.ok


def test_wrong_mac_raises_secure_messaging_error(make_chip, pki):
    with pytest.raises(SecureMessagingError, match="MAC"):
        _read(make_chip(preset="wrong-mac"), trust=[pki.csca_pem])


def test_no_chip_answer_raises_chip_silent(make_chip, pki):
    with pytest.raises(ChipSilentError):
        _read(make_chip(preset="no-chip-answer"), trust=[pki.csca_pem])


def test_bad_sod_is_a_value_not_an_exception(make_chip, pki):
    doc = _read(make_chip(preset="bad-sod"), trust=[pki.csca_pem])
    assert not doc.passive_auth.ok
    assert doc.passive_auth.reason == "DG2 hash does not match EF.SOD"
    assert doc.mrz.document_number == "ID1234567"  # the commission still sees who it claims


def test_untrusted_signer_is_not_authentic(make_chip, pki):

    doc = _read(make_chip(), trust=[make_test_pki("KZ").csca_pem])
    assert not doc.passive_auth.ok
    assert "not issued by a trusted CSCA" in doc.passive_auth.reason


def test_every_preset_has_a_test():
    assert set(PRESETS) == {"card-pulled", "bad-sod", "wrong-mac", "no-chip-answer"}


def test_unknown_preset_is_refused(make_chip):
    with pytest.raises(ValueError, match="unknown preset"):
        make_chip(preset="melted")


@pytest.mark.parametrize("chunk", [0x10, 0xDF, 0x400], ids=["small", "short-sm", "extended"])
def test_chunk_sizes_read_the_same_photo(make_chip, pki, face_jpeg, chunk):
    doc = _read(make_chip(), trust=[pki.csca_pem], chunk=chunk)
    assert doc.face_image == face_jpeg


def test_photo_over_32k_uses_odd_read_binary(td1_lines, pki):
    buf = io.BytesIO()
    Image.effect_noise((300, 400), 90).convert("RGB").save(buf, "JPEG", quality=95)
    big = buf.getvalue()
    assert len(big) > 0x8000
    chip = EmrtdEmulator(td1_lines, big, pki)
    doc = _read(chip, trust=[pki.csca_pem])
    assert doc.face_image == big and doc.passive_auth.ok
    assert any(cmd[1] == 0xB1 for cmd, _ in chip.log)


def test_jpeg2000_face(td1_lines, pki):
    buf = io.BytesIO()
    Image.effect_noise((64, 80), 40).convert("RGB").save(buf, "JPEG2000")
    chip = EmrtdEmulator(td1_lines, buf.getvalue(), pki)
    doc = _read(chip, trust=[pki.csca_pem])
    assert (doc.face_format, doc.face_image) == ("jpeg2000", buf.getvalue())


def test_pin_from_dg11_when_the_mrz_has_none(pki, face_jpeg):


    lines = format_td1(document_type="ID", issuing_state="KGZ", document_number="ID7654321",
                       optional_data="", birth_date=dt.date(1979, 4, 2), sex="M",
                       expiry_date=dt.date(2029, 4, 1), nationality="KGZ",
                       surname="Bakirov", given_names="Nurlan")
    chip = EmrtdEmulator(lines, face_jpeg, pki,
                         dg11={"personal_number": "10204197900456",
                               "full_name": "БАКИРОВ<<НУРЛАН"})
    doc = _read(chip, trust=[pki.csca_pem])
    assert doc.data_groups == (1, 2, 11)
    assert doc.mrz.pin is None and doc.pin == "10204197900456"
    assert doc.personal_details["full_name"] == "БАКИРОВ<<НУРЛАН"
    assert doc.passive_auth.ok  # DG11 is hashed and checked too

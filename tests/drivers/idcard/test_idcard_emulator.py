"""The chip emulator enforces the access rules a real eMRTD does (ICAO 9303 Part 11)."""

import pytest

from drivers.idcard.apdu import CommandApdu, ResponseApdu
from drivers.idcard.bac import document_keys, ifd_authentication, ifd_session
from drivers.idcard.errors import CardRemovedError
from drivers.idcard.lds import EMRTD_AID

h = bytes.fromhex


def _send(chip, cmd: CommandApdu) -> ResponseApdu:
    return ResponseApdu.decode(chip.transmit(cmd.encode()))


def _bac(chip):
    chip.power_on()
    assert _send(chip, CommandApdu(0, 0xA4, 4, 0x0C, EMRTD_AID)).ok
    rnd_ic = _send(chip, CommandApdu(0, 0x84, 0, 0, le=8)).data
    _, kenc, kmac = document_keys(chip.mrz.bac_key.information)
    rnd_ifd, k_ifd = bytes(range(8)), bytes(range(16))
    answer = _send(chip, CommandApdu(0, 0x82, 0, 0,
                                     ifd_authentication(rnd_ifd, rnd_ic, k_ifd, kenc, kmac),
                                     le=40))
    return ifd_session(answer.data, rnd_ifd, rnd_ic, k_ifd, kenc, kmac)


def test_data_groups_need_bac(make_chip):
    chip = make_chip()
    chip.power_on()
    assert _send(chip, CommandApdu(0, 0xA4, 4, 0x0C, EMRTD_AID)).ok
    assert _send(chip, CommandApdu(0, 0xA4, 2, 0x0C, h("0101"))).sw == 0x6982
    assert _send(chip, CommandApdu(0, 0xB0, 0x81, 0, le=4)).sw == 0x6982


@pytest.mark.parametrize(("cmd", "sw"), [
    (CommandApdu(0, 0xA4, 4, 0x0C, h("A0000000031010")), 0x6A82),
    (CommandApdu(0, 0x82, 0, 0, bytes(40), le=40), 0x6985),
    (CommandApdu(0, 0xCA, 0, 0), 0x6D00),
    (CommandApdu(0, 0xA4, 2, 0x0C, h("011C")), 0x6A82),
], ids=["other-aid", "authenticate-without-challenge", "unknown-ins", "no-card-access"])
def test_refusals_before_bac(make_chip, cmd, sw):
    chip = make_chip()
    chip.power_on()
    if cmd.ins == 0x82:
        _send(chip, CommandApdu(0, 0xA4, 4, 0x0C, EMRTD_AID))
    assert _send(chip, cmd).sw == sw


def test_wrong_keys_get_6300(make_chip):
    chip = make_chip()
    chip.power_on()
    _send(chip, CommandApdu(0, 0xA4, 4, 0x0C, EMRTD_AID))
    rnd_ic = _send(chip, CommandApdu(0, 0x84, 0, 0, le=8)).data
    _, kenc, kmac = document_keys("L898902C<369080619406236")
    data = ifd_authentication(bytes(8), rnd_ic, bytes(16), kenc, kmac)
    assert _send(chip, CommandApdu(0, 0x82, 0, 0, data, le=40)).sw == 0x6300


def test_unprotected_command_after_bac_ends_the_session(make_chip):
    chip = make_chip()
    sm = _bac(chip)
    assert sm.unprotect(chip.transmit(sm.protect(CommandApdu(0, 0xA4, 2, 0x0C, h("0101"))))).ok
    assert _send(chip, CommandApdu(0, 0xB0, 0, 0, le=4)).sw == 0x6987
    # The old session is gone: even a well-protected command is refused now.
    assert ResponseApdu.decode(chip.transmit(
        sm.protect(CommandApdu(0, 0xB0, 0, 0, le=4)))).sw == 0x6982


def test_bad_mac_from_reader_gets_6988(make_chip):
    chip = make_chip()
    sm = _bac(chip)
    wire = bytearray(sm.protect(CommandApdu(0, 0xA4, 2, 0x0C, h("0101"))))
    wire[-3] ^= 0x01
    assert chip.transmit(bytes(wire)) == h("6988")


def test_pulled_card_raises_and_reports_absent(make_chip):
    chip = make_chip()
    chip.pull()
    assert not chip.present
    with pytest.raises(CardRemovedError):
        chip.transmit(h("00A4040C07A0000002471001"))


def test_atr_has_a_valid_check_byte(make_chip):
    atr = make_chip().atr
    check = 0
    for b in atr[1:]:
        check ^= b
    assert atr[0] == 0x3B and check == 0


def test_read_binary_by_short_file_identifier(make_chip):
    chip = make_chip()
    sm = _bac(chip)
    answer = sm.unprotect(chip.transmit(sm.protect(CommandApdu(0, 0xB0, 0x81, 0, le=4))))
    assert answer.ok and answer.data == chip.files[0x0101][:4]

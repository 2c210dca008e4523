"""BAC and secure messaging reproduce ICAO Doc 9303 Part 11 Appendix D exactly."""

import datetime as dt

import pytest

from drivers.idcard.apdu import CommandApdu, ResponseApdu
from drivers.idcard.bac import document_keys, ic_answer, ifd_authentication, ifd_session
from drivers.idcard.base import CardReader, DirectTransport
from drivers.idcard.emulator import EmrtdEmulator
from drivers.idcard.errors import BacFailedError, SecureMessagingError
from drivers.idcard.lds import FID_COM
from drivers.idcard.mrz import format_td3
from drivers.idcard.sm import SecureMessaging, adjust_parity, pad, retail_mac, unpad

h = bytes.fromhex
# Appendix D's random values (the JSON carries the derived ones).
RND_IC = h("4608F91988702212")
RND_IFD = h("781723860C06C226")
K_IFD = h("0B795240CB7049B01C19B33E32804F0B")
K_IC = h("0B4F80323EB3191CB04970CB4052790B")
E_IC_M_IC = h("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F"
              "2F2D235D074D7449")
EF_COM = h("60145F0104303130365F36063034303030305C026175")
# The chip's protected answers to the three APDUs of Appendix D.
PROTECTED_RESPONSES = [
    h("990290008E08FA855A5D4C50A8ED9000"),
    h("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
    h("871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000"),
]


def _session(appendix_d) -> SecureMessaging:
    return SecureMessaging(h(appendix_d["ks_enc"]), h(appendix_d["ks_mac"]),
                           h(appendix_d["ssc"]))


def test_document_keys(appendix_d):
    kseed, kenc, kmac = document_keys(appendix_d["mrz_information"])
    assert kseed == h(appendix_d["kseed"])
    assert kenc == h(appendix_d["kenc"])
    assert kmac == h(appendix_d["kmac"])


def test_ifd_authentication_data(appendix_d):
    _, kenc, kmac = document_keys(appendix_d["mrz_information"])
    data = ifd_authentication(RND_IFD, RND_IC, K_IFD, kenc, kmac)
    assert data == h(appendix_d["e_ifd"]) + h(appendix_d["m_ifd"])


def test_chip_answer_and_session_keys(appendix_d):
    _, kenc, kmac = document_keys(appendix_d["mrz_information"])
    command = h(appendix_d["e_ifd"]) + h(appendix_d["m_ifd"])
    answer, chip_side = ic_answer(command, RND_IC, K_IC, kenc, kmac)
    assert answer == E_IC_M_IC
    reader_side = ifd_session(answer, RND_IFD, RND_IC, K_IFD, kenc, kmac)
    for sm in (reader_side, chip_side):
        assert sm.ks_enc == h(appendix_d["ks_enc"])
        assert sm.ks_mac == h(appendix_d["ks_mac"])
        assert sm.ssc == int(appendix_d["ssc"], 16)


def test_protected_apdus_and_responses(appendix_d):
    sm = _session(appendix_d)
    commands = [CommandApdu(0x00, 0xA4, 0x02, 0x0C, h("011E")),
                CommandApdu(0x00, 0xB0, 0x00, 0x00, le=4),
                CommandApdu(0x00, 0xB0, 0x00, 0x04, le=18)]
    for cmd, expected, response in zip(commands, appendix_d["protected_apdus"],
                                       PROTECTED_RESPONSES, strict=True):
        assert sm.protect(cmd).hex().upper() == expected["apdu"]
        plain = sm.unprotect(response)
        assert plain.sw == 0x9000
        assert plain.data.hex().upper() == expected.get("plain_response", "")


def test_chip_side_opens_and_seals_the_same_apdus(appendix_d):
    chip = _session(appendix_d)
    opened = chip.open_command(h(appendix_d["protected_apdus"][0]["apdu"]))
    assert (opened.ins, opened.data) == (0xA4, h("011E"))
    assert chip.protect_response(ResponseApdu(b"", 0x9000)) == PROTECTED_RESPONSES[0]


def test_reader_against_emulator_sends_appendix_d_apdus(appendix_d, pki, face_jpeg):
    """The whole stack, keyed with Appendix D's randoms, puts Appendix D's bytes on the wire."""
    lines = format_td3(document_type="P", issuing_state="UTO", document_number="L898902C",
                       nationality="UTO", birth_date=dt.date(1969, 8, 6), sex="F",
                       expiry_date=dt.date(1994, 6, 23), surname="Eriksson",
                       given_names="Anna Maria")
    chip_random = iter([RND_IC, K_IC])
    reader_random = iter([RND_IFD, K_IFD])
    chip = EmrtdEmulator(lines, face_jpeg, pki, rng=lambda n: next(chip_random))
    chip.files[FID_COM] = EF_COM
    reader = CardReader(DirectTransport(chip), rng=lambda n: next(reader_random))
    doc = reader.read_document(appendix_d["mrz_information"], trust=[pki.csca_pem])
    assert doc.data_groups == (1, 2)
    wire = [cmd for cmd, _ in chip.log]
    mutual = next(i for i, cmd in enumerate(wire) if cmd[1] == 0x82)
    assert chip.log[mutual][1][:-2] == E_IC_M_IC
    assert [c.hex().upper() for c in wire[mutual + 1 : mutual + 4]] == [
        a["apdu"] for a in appendix_d["protected_apdus"]]
    assert [r for _, r in chip.log[mutual + 1 : mutual + 4]] == PROTECTED_RESPONSES


def test_padding_and_parity():
    assert pad(b"") == h("8000000000000000")
    assert pad(h("01020304050607")) == h("0102030405060780")
    assert unpad(pad(b"abc")) == b"abc"
    assert adjust_parity(h("00FF")) == h("01FE")
    with pytest.raises(SecureMessagingError):
        unpad(h("0102030405060708"))


def test_retail_mac_known_value(appendix_d):
    # Appendix D: M_IFD = MAC(Kmac, E_IFD).
    assert retail_mac(h(appendix_d["kmac"]), h(appendix_d["e_ifd"])) == h(appendix_d["m_ifd"])


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


@pytest.mark.parametrize(("response", "match"), [
    (_flip(PROTECTED_RESPONSES[0], 9), "MAC"),
    (_flip(PROTECTED_RESPONSES[1], 5), "MAC"),
    (PROTECTED_RESPONSES[0][:4] + PROTECTED_RESPONSES[0][-2:], "DO99 or DO8E"),
    (h("6988"), "rejected secure messaging"),
    (h("9000"), "without secure messaging"),
    (h("DE0100") + PROTECTED_RESPONSES[0], "unexpected data object"),
], ids=["mac-byte-flipped", "cryptogram-flipped", "mac-missing", "chip-sm-error",
        "plain-success", "unknown-object"])
def test_bad_protected_responses_raise(appendix_d, response, match):
    sm = _session(appendix_d)
    sm.protect(CommandApdu(0x00, 0xA4, 0x02, 0x0C, h("011E")))
    with pytest.raises(SecureMessagingError, match=match):
        sm.unprotect(response)


def test_mutual_authenticate_answer_from_wrong_keys_is_refused(appendix_d):
    _, kenc, kmac = document_keys("L898902C<369080619406237")
    with pytest.raises(BacFailedError):
        ifd_session(E_IC_M_IC, RND_IFD, RND_IC, K_IFD, kenc, kmac)
    with pytest.raises(BacFailedError):
        ifd_session(E_IC_M_IC[:20], RND_IFD, RND_IC, K_IFD, kenc, kmac)

"""APDU encoding (all ISO 7816-4 cases), BER-TLV, and the LDS files."""

import pytest

from drivers.errors import ProtocolError
from drivers.idcard.apdu import CommandApdu, ResponseApdu, encode_tlv, parse_tlvs, read_tlv
from drivers.idcard.errors import MalformedDataError
from drivers.idcard.lds import (
    build_card_access,
    build_com,
    build_dg1,
    build_dg2,
    parse_card_access,
    parse_com,
    parse_dg1,
    parse_dg2,
)

h = bytes.fromhex


@pytest.mark.parametrize(("cmd", "wire"), [
    (CommandApdu(0, 0xA4, 0, 0), "00A40000"),
    (CommandApdu(0, 0x84, 0, 0, le=8), "0084000008"),
    (CommandApdu(0, 0xB0, 0, 0, le=256), "00B0000000"),
    (CommandApdu(0, 0xA4, 2, 0x0C, h("011E")), "00A4020C02011E"),
    (CommandApdu(0, 0x82, 0, 0, h("AA"), le=40), "0082000001AA28"),
    (CommandApdu(0, 0xB0, 0, 0, le=1024), "00B00000000400"),
    (CommandApdu(0, 0xD6, 0, 0, bytes(300)), "00D6000000012C" + "00" * 300),
    (CommandApdu(0, 0xD6, 0, 0, bytes(300), le=65536), "00D6000000012C" + "00" * 300 + "0000"),
], ids=["case1", "case2s", "case2s-256", "case3s", "case4s", "case2e", "case3e", "case4e"])
def test_command_round_trip(cmd, wire):
    assert cmd.encode().hex().upper() == wire
    assert CommandApdu.decode(h(wire)) == cmd


@pytest.mark.parametrize("wire", ["00A400", "00A4000005AABB", "00A40000000005AA"],
                         ids=["short-header", "lc-too-long", "extended-lc-mismatch"])
def test_bad_commands_raise(wire):
    with pytest.raises(ProtocolError):
        CommandApdu.decode(h(wire))


def test_response():
    assert ResponseApdu.decode(h("01029000")) == ResponseApdu(h("0102"), 0x9000)
    with pytest.raises(ProtocolError):
        ResponseApdu.decode(h("90"))


@pytest.mark.parametrize("size", [0, 5, 127, 128, 255, 256, 70000])
def test_tlv_round_trip(size):
    value = bytes(size)
    for tag in (0x53, 0x5F1F, 0x7F61):
        tag_read, value_read, end = read_tlv(encode_tlv(tag, value))
        assert (tag_read, value_read) == (tag, value)


@pytest.mark.parametrize("wire", ["5F", "5305AABB", "5384000000", "53"],
                         ids=["cut-tag", "value-past-end", "length-form", "no-length"])
def test_bad_tlv_raises(wire):
    with pytest.raises(ProtocolError):
        read_tlv(h(wire))


def test_parse_tlvs_skips_padding():
    assert parse_tlvs(h("00FF530101")) == [(0x53, h("01"))]


def test_lds_files_round_trip(td1_lines, face_jpeg):
    assert parse_com(build_com([1, 2, 14]))[1] == [0x61, 0x75, 0x6E]
    assert parse_dg1(build_dg1(td1_lines)).lines == td1_lines
    face = parse_dg2(build_dg2(face_jpeg, width=160, height=200))
    assert (face.data, face.format, face.width, face.height) == (face_jpeg, "jpeg", 160, 200)


@pytest.mark.parametrize(("dg2", "match"), [
    (encode_tlv(0x61, b""), "not 75"),
    (encode_tlv(0x75, encode_tlv(0x02, b"\x01")), "7F61"),
    (encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x02, b"\x01"))), "7F60"),
    (encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x7F60, b""))), "5F2E"),
    (encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x7F60, encode_tlv(0x5F2E, b"XYZ")))),
     "19794-5"),
    (build_dg2(b"GIF89a" + bytes(40)), "neither JPEG"),
    (b"\x75\x82\x01", "DG2"),
], ids=["wrong-tag", "no-group", "no-template", "no-block", "not-fac", "gif", "truncated"])
def test_malformed_dg2(dg2, match):
    with pytest.raises(MalformedDataError, match=match):
        parse_dg2(dg2)


def test_malformed_dg1():
    with pytest.raises(MalformedDataError):
        parse_dg1(encode_tlv(0x61, encode_tlv(0x5F1F, b"TOO SHORT")))
    with pytest.raises(MalformedDataError):
        parse_dg1(encode_tlv(0x61, b""))


def test_card_access():
    assert parse_card_access(build_card_access()) == ["0.4.0.127.0.7.2.2.4.2.2"]
    # A SecurityInfos with only a Chip Authentication info advertises no PACE.
    ca_info = encode_tlv(0x31, encode_tlv(0x30, encode_tlv(0x06, h("04007F0007020203"))
                                          + encode_tlv(0x02, b"\x01")))
    assert parse_card_access(ca_info) == []
    with pytest.raises(MalformedDataError):
        parse_card_access(b"\x30\x00")

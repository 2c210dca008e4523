"""ZFM framing against hand-built byte vectors (checksums added up by hand)."""

import pytest

from drivers.fingerprint.packets import (
    ChecksumError,
    Command,
    Confirmation,
    FrameError,
    Packet,
    PacketId,
    PacketParser,
    ack_packet,
    checksum,
    command_packet,
    data_packets,
    decode_packet,
    encode_packet,
)

H = "ef 01 ff ff ff ff "

VECTORS = [
    # id, packet, wire bytes
    ("GenImg", command_packet(Command.GEN_IMG), H + "01 00 03 01 00 05"),
    ("UpImage", command_packet(Command.UP_IMAGE), H + "01 00 03 0a 00 0e"),
    ("Img2Tz-buffer-1", command_packet(Command.IMG2TZ, b"\x01"), H + "01 00 04 02 01 00 08"),
    ("UpChar-buffer-2", command_packet(Command.UP_CHAR, b"\x02"), H + "01 00 04 08 02 00 0f"),
    ("VfyPwd-0", command_packet(Command.VFY_PWD, bytes(4)), H + "01 00 07 13 00 00 00 00 00 1b"),
    ("ack-ok", ack_packet(Confirmation.OK), H + "07 00 03 00 00 0a"),
    ("ack-no-finger", ack_packet(Confirmation.NO_FINGER), H + "07 00 03 02 00 0c"),
    ("ack-wrong-password", ack_packet(Confirmation.WRONG_PASSWORD), H + "07 00 03 13 00 1d"),
    ("data-ff", Packet(PacketId.DATA, b"\xff" * 4), H + "02 00 06 ff ff ff ff 04 04"),
    ("end-empty", Packet(PacketId.END, b""), H + "08 00 02 00 0a"),
    (
        "other-address",
        command_packet(Command.GEN_IMG, address=0x12345678),
        "ef 01 12 34 56 78 01 00 03 01 00 05",
    ),
]


@pytest.mark.parametrize("packet,wire", [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS])
def test_encode_and_decode_match_hand_built_bytes(packet, wire):
    raw = bytes.fromhex(wire)
    assert encode_packet(packet) == raw
    assert decode_packet(raw) == packet


BAD_FRAMES = [
    ("bad-header", "ef 02 ff ff ff ff 01 00 03 01 00 05", FrameError),
    ("unknown-packet-id", H + "05 00 03 01 00 09", FrameError),
    ("length-too-small", H + "01 00 01 01 00 05", FrameError),
    ("length-beyond-256", H + "02 01 03 00", FrameError),
    ("length-disagrees", H + "01 00 04 01 00 05", FrameError),
    ("too-short", "ef 01 ff", FrameError),
    ("checksum-off-by-one", H + "01 00 03 01 00 06", ChecksumError),
    ("payload-flipped", H + "07 00 03 01 00 0a", ChecksumError),
]


@pytest.mark.parametrize("wire,error", [b[1:] for b in BAD_FRAMES], ids=[b[0] for b in BAD_FRAMES])
def test_decode_refuses_bad_frames(wire, error):
    with pytest.raises(error):
        decode_packet(bytes.fromhex(wire))


def test_checksum_wraps_at_16_bits():
    payload = b"\xff" * 256
    assert checksum(PacketId.DATA, payload) == (2 + 1 + 2 + 255 * 256) & 0xFFFF


def test_confirmation_codes_have_meanings():
    assert all(code.meaning for code in Confirmation)
    assert Confirmation.describe(0x02) == "0x02 no finger on the sensor"
    assert Confirmation.describe(0x7E) == "0x7E unknown confirmation code"


STREAM = b"".join(
    encode_packet(p)
    for p in (
        ack_packet(Confirmation.OK),
        Packet(PacketId.DATA, bytes(range(128))),
        Packet(PacketId.END, b"x"),
    )
)


@pytest.mark.parametrize(
    "slice_len", [1, 2, 7, 11, 64, len(STREAM)], ids=lambda n: f"slices-of-{n}"
)
def test_parser_reassembles_any_slicing(slice_len):
    parser = PacketParser()
    packets = []
    for i in range(0, len(STREAM), slice_len):
        packets += parser.feed(STREAM[i : i + slice_len])
    assert [p.pid for p in packets] == [PacketId.ACK, PacketId.DATA, PacketId.END]
    assert packets[1].payload == bytes(range(128))
    assert parser.pending == 0


@pytest.mark.parametrize(
    "noise",
    [b"\x00\x13\x37", b"\xef", b"\xef\x01\xff\xff\xff\xff\x09\x00"],
    ids=["garbage", "lone-ef", "header-in-noise"],
)
def test_parser_skips_noise_before_a_frame(noise):
    parser = PacketParser()
    packets = parser.feed(noise + encode_packet(ack_packet(Confirmation.OK)))
    assert [p.confirmation for p in packets] == [0]
    assert parser.skipped == len(noise)


def test_parser_holds_a_truncated_frame_as_pending():
    raw = encode_packet(ack_packet(Confirmation.OK))
    parser = PacketParser()
    assert parser.feed(raw[:7]) == []
    assert parser.pending == 7


def test_parser_raises_on_bad_checksum_and_carries_on():
    good = encode_packet(ack_packet(Confirmation.OK))
    bad = bytearray(good)
    bad[-1] ^= 1
    parser = PacketParser()
    with pytest.raises(ChecksumError) as caught:
        parser.feed(good + bytes(bad))
    assert [p.confirmation for p in caught.value.packets] == [0]
    assert [p.confirmation for p in parser.feed(good)] == [0]


@pytest.mark.parametrize("chunk", [32, 64, 128, 256])
def test_data_packets_split_and_end(chunk):
    data = bytes(range(256)) * 3
    packets = data_packets(data, chunk)
    assert [p.pid for p in packets[:-1]] == [PacketId.DATA] * (len(packets) - 1)
    assert packets[-1].pid == PacketId.END
    assert b"".join(p.payload for p in packets) == data


def test_data_packet_size_must_be_a_module_size():
    with pytest.raises(ValueError):
        data_packets(b"abc", 100)


def test_oversize_payload_is_refused():
    with pytest.raises(FrameError):
        encode_packet(Packet(PacketId.DATA, bytes(257)))

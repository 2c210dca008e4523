"""IPP/1.1 encoding (RFC 8010): every value type round-trips, every malformed message is named."""

import struct

import pytest

from drivers.docprinter import ipp
from drivers.docprinter.errors import IppError
from drivers.errors import ProtocolError

VALUES = [
    ("integer", ipp.INTEGER, -7),
    ("enum", ipp.ENUM, 5),
    ("boolean", ipp.BOOLEAN, True),
    ("text", ipp.TEXT, "Шайлоо участкасы — Ң ө ү"),
    ("name", ipp.NAME, "ballot"),
    ("keyword", ipp.KEYWORD, "iso_a4_210x297mm"),
    ("uri", ipp.URI, "ipp://127.0.0.1:631/ipp/print"),
    ("mime", ipp.MIME_TYPE, "image/pwg-raster"),
    ("resolution", ipp.RESOLUTION, ipp.Resolution(300, 600, 3)),
    ("range", ipp.RANGE, ipp.Range(1, 99)),
    ("text-with-language", ipp.TEXT_LANG, ipp.WithLanguage("ky", "Бюллетень")),
    ("octets", ipp.OCTET_STRING, b"\x00\xff"),
    ("no-value", ipp.NO_VALUE, None),
]


@pytest.mark.parametrize("tag,value", [v[1:] for v in VALUES], ids=[v[0] for v in VALUES])
def test_every_value_type_round_trips(tag, value):
    message = ipp.Message(ipp.OP_PRINT_JOB, 42, [
        ipp.Group(ipp.TAG_OPERATION, ipp.operation_attributes("ipp://h/ipp/print")),
        ipp.Group(ipp.TAG_JOB, [ipp.attr("x", tag, value, value)]),
    ], data=b"RaS2...")
    back = ipp.decode(ipp.encode(message))
    assert back == message
    assert back.get(ipp.TAG_JOB, "x").all == [value, value]


def test_a_collection_round_trips_with_nesting():
    size = (ipp.attr("x-dimension", ipp.INTEGER, 21000), ipp.attr("y-dimension", ipp.INTEGER, 29700))
    col = (ipp.Attribute("media-size", (ipp.Value(ipp.BEG_COLLECTION, size),)),
           ipp.attr("media-source", ipp.KEYWORD, "main"))
    message = ipp.Message(ipp.OK, 1, [ipp.Group(ipp.TAG_OPERATION, ipp.operation_attributes("u")),
                                      ipp.Group(ipp.TAG_PRINTER, [
                                          ipp.attr("media-col-default", ipp.BEG_COLLECTION, col)])])
    assert ipp.decode(ipp.encode(message)) == message


def test_the_wire_bytes_are_rfc_8010():
    """RFC 8010 section 3.1: version, operation, request id, then tag/name/value triples."""
    wire = ipp.encode(ipp.Message(ipp.OP_GET_PRINTER_ATTRIBUTES, 7, [
        ipp.Group(ipp.TAG_OPERATION, [ipp.attr("attributes-charset", ipp.CHARSET, "utf-8")])]))
    assert wire == (b"\x01\x01\x00\x0b\x00\x00\x00\x07" b"\x01"
                    b"\x47\x00\x12attributes-charset\x00\x05utf-8" b"\x03")


def _good() -> bytes:
    return ipp.encode(ipp.Message(ipp.OK, 3, [
        ipp.Group(ipp.TAG_OPERATION, ipp.operation_attributes("u")),
        ipp.Group(ipp.TAG_PRINTER, [ipp.attr("printer-state", ipp.ENUM, 3)])]))


def _attr(tag: int, name: bytes, value: bytes) -> bytes:
    return bytes([tag]) + struct.pack(">H", len(name)) + name + struct.pack(">H", len(value)) + value


HEAD = b"\x01\x01\x00\x00\x00\x00\x00\x01"
MALFORMED = [
    ("empty", b"", "shorter than its 8-byte header"),
    ("header-only", HEAD, "shorter than its 8-byte header"),
    ("no-end-tag", HEAD + b"\x01" + _attr(0x47, b"attributes-charset", b"utf-8"),
     "no end-of-attributes tag"),
    ("cut-in-name", _good()[:12], "needs"),
    ("cut-in-value", _good()[:-4], "needs"),
    ("attribute-before-group", HEAD + _attr(0x21, b"n", b"\0\0\0\1") + b"\x03", "before any"),
    ("orphan-additional-value", HEAD + b"\x04" + _attr(0x21, b"", b"\0\0\0\1") + b"\x03",
     "no attribute before it"),
    ("integer-of-3-bytes", HEAD + b"\x04" + _attr(0x21, b"n", b"\0\0\1") + b"\x03",
     "must be 4 bytes"),
    ("boolean-of-2", HEAD + b"\x04" + _attr(0x22, b"b", b"\x02") + b"\x03", "only 0 or 1"),
    ("resolution-of-8", HEAD + b"\x04" + _attr(0x32, b"r", b"\0" * 8) + b"\x03", "must be 9 bytes"),
    ("bad-utf8", HEAD + b"\x04" + _attr(0x41, b"t", b"\xff\xfe") + b"\x03", "not UTF-8"),
    ("reserved-delimiter", HEAD + b"\x00\x03", "reserved delimiter"),
    ("extension-tag", HEAD + b"\x04\x7f", "extension tag"),
    ("collection-left-open", HEAD + b"\x04" + _attr(0x34, b"c", b"") + b"\x03",
     "left open"),
    ("end-collection-alone", HEAD + b"\x04" + _attr(0x37, b"c", b"") + b"\x03",
     "without a begCollection"),
    ("member-outside", HEAD + b"\x04" + _attr(0x4A, b"c", b"x") + b"\x03", "outside a collection"),
    ("text-with-language-short", HEAD + b"\x04" + _attr(0x35, b"t", b"\x00\x05ky") + b"\x03",
     "malformed text/name with language"),
]


@pytest.mark.parametrize("data,fragment", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_messages_are_refused_with_a_reason(data, fragment):
    with pytest.raises(IppError, match=fragment) as caught:
        ipp.decode(data)
    assert isinstance(caught.value, ProtocolError)


def test_document_data_after_the_end_tag_is_kept():
    wire = _good() + b"RaS2 and the rest"
    assert ipp.decode(wire).data == b"RaS2 and the rest"

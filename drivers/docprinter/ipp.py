"""IPP/1.1 messages: the binary encoding of RFC 8010 and the codes of RFC 8011.

A ``Message`` is what travels in the body of an HTTP POST with
``Content-Type: application/ipp`` (RFC 8010 section 3.1): the version, an
operation id (request) or a status code (response), the request id, attribute
groups, an end-of-attributes tag, then the document data, if any.

``encode(message)`` writes exactly that; ``decode(data)`` reads it back and
raises ``IppError`` (a ``drivers.errors.ProtocolError``) on anything the
encoding does not allow, naming what and where: a message shorter than its
header, a length that runs past the end, a value of the wrong size for its
type (integer 4, boolean 1, resolution 9, rangeOfInteger 8, dateTime 11), an
attribute outside a group, an additional value with nothing before it, a
collection left open or closed twice, collections nested deeper than
``MAX_COLLECTION_DEPTH``, a name or value longer than 32,767 bytes (its
length is a SIGNED-SHORT, RFC 8010 section 3.1.4; ``encode`` refuses the same),
a missing end-of-attributes tag. Whatever ``decode`` returns, ``encode`` writes
again. Values
are Python values by tag (RFC 8010 section 3.9):

======================================  ======================================
integer, enum                           ``int``
boolean                                 ``bool``
text, name, keyword, uri, charset, ...  ``str`` (UTF-8)
textWithLanguage, nameWithLanguage      ``WithLanguage(language, text)``
resolution                              ``Resolution(x, y, units)``
rangeOfInteger                          ``Range(lower, upper)``
collection                              ``tuple[Attribute, ...]`` (its members)
octetString, dateTime                   ``bytes``
out-of-band (unknown, no-value, ...)    ``None``
======================================  ======================================

Example::

    request = Message(OP_GET_PRINTER_ATTRIBUTES, request_id=1, groups=[
        Group(TAG_OPERATION, operation_attributes("ipp://127.0.0.1:631/ipp/print")),
    ])
    wire = encode(request)
    assert decode(wire) == request
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from drivers.docprinter.errors import IppError

# -- delimiter tags (RFC 8010 section 3.5.1) -------------------------------------
TAG_OPERATION = 0x01
TAG_JOB = 0x02
TAG_END = 0x03
TAG_PRINTER = 0x04
TAG_UNSUPPORTED = 0x05
GROUP_TAGS = {0x01, 0x02, 0x04, 0x05, 0x06, 0x07}

# -- value tags (RFC 8010 section 3.5.2) ------------------------------------------
UNSUPPORTED, UNKNOWN, NO_VALUE = 0x10, 0x12, 0x13
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
OCTET_STRING, DATE_TIME, RESOLUTION, RANGE = 0x30, 0x31, 0x32, 0x33
BEG_COLLECTION, TEXT_LANG, NAME_LANG, END_COLLECTION = 0x34, 0x35, 0x36, 0x37
TEXT, NAME, KEYWORD, URI, URI_SCHEME = 0x41, 0x42, 0x44, 0x45, 0x46
CHARSET, LANGUAGE, MIME_TYPE, MEMBER_NAME = 0x47, 0x48, 0x49, 0x4A
EXTENSION = 0x7F
_STRING_TAGS = {TEXT, NAME, KEYWORD, URI, URI_SCHEME, CHARSET, LANGUAGE, MIME_TYPE, MEMBER_NAME}
_FIXED_SIZE = {INTEGER: 4, ENUM: 4, BOOLEAN: 1, RESOLUTION: 9, RANGE: 8, DATE_TIME: 11}
MAX_LENGTH = 0x7FFF          # name-length and value-length are SIGNED-SHORT (RFC 8010 section 3.1.4)
# Collections in IPP nest a few levels (media-col > media-size); a bound keeps a hostile message
# of nested begCollection tags from exhausting the decoder's stack.
MAX_COLLECTION_DEPTH = 16

# -- operations (RFC 8011 section 5.4.15) ----------------------------------------------
OP_PRINT_JOB = 0x0002
OP_VALIDATE_JOB = 0x0004
OP_CANCEL_JOB = 0x0008
OP_GET_JOB_ATTRIBUTES = 0x0009
OP_GET_JOBS = 0x000A
OP_GET_PRINTER_ATTRIBUTES = 0x000B

# -- status codes (RFC 8011 appendix B) --------------------------------------------
STATUS_NAMES = {
    0x0000: "successful-ok",
    0x0001: "successful-ok-ignored-or-substituted-attributes",
    0x0002: "successful-ok-conflicting-attributes",
    0x0400: "client-error-bad-request",
    0x0401: "client-error-forbidden",
    0x0404: "client-error-not-possible",
    0x0406: "client-error-not-found",
    0x0408: "client-error-request-entity-too-large",
    0x040A: "client-error-document-format-not-supported",
    0x040B: "client-error-attributes-or-values-not-supported",
    0x040D: "client-error-charset-not-supported",
    0x0411: "client-error-document-format-error",
    0x0500: "server-error-internal-error",
    0x0501: "server-error-operation-not-supported",
    0x0503: "server-error-version-not-supported",
    0x0504: "server-error-device-error",
    0x0506: "server-error-not-accepting-jobs",
    0x0507: "server-error-busy",
}
OK = 0x0000
BAD_REQUEST = 0x0400
NOT_POSSIBLE = 0x0404
NOT_FOUND = 0x0406
FORMAT_NOT_SUPPORTED = 0x040A
ATTRIBUTES_NOT_SUPPORTED = 0x040B
DOCUMENT_FORMAT_ERROR = 0x0411
INTERNAL_ERROR = 0x0500
OPERATION_NOT_SUPPORTED = 0x0501
VERSION_NOT_SUPPORTED = 0x0503
NOT_ACCEPTING_JOBS = 0x0506

# -- printer-state and job-state enums (RFC 8011 sections 5.4.11, 5.3.7) ----------
PRINTER_IDLE, PRINTER_PROCESSING, PRINTER_STOPPED = 3, 4, 5
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
JOB_TERMINAL = {JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED}

MIME_IPP = "application/ipp"


def status_name(code: int) -> str:
    return STATUS_NAMES.get(code, f"status 0x{code:04X}")


@dataclass(frozen=True)
class Resolution:
    x: int
    y: int
    units: int = 3          # 3 = dots per inch, 4 = dots per centimetre


@dataclass(frozen=True)
class Range:
    lower: int
    upper: int


@dataclass(frozen=True)
class WithLanguage:
    language: str
    text: str


@dataclass(frozen=True)
class Value:
    tag: int
    value: object


@dataclass(frozen=True)
class Attribute:
    """One attribute: a name and one or more values (each with its own tag)."""

    name: str
    values: tuple[Value, ...]

    @property
    def value(self) -> object:
        return self.values[0].value

    @property
    def all(self) -> list:
        return [v.value for v in self.values]


def attr(name: str, tag: int, *values: object) -> Attribute:
    """An attribute whose values all carry ``tag``."""
    if not values:
        raise ValueError(f"attribute {name!r} needs a value")
    return Attribute(name, tuple(Value(tag, v) for v in values))


@dataclass
class Group:
    tag: int
    attributes: list[Attribute] = field(default_factory=list)

    def get(self, name: str) -> Attribute | None:
        for a in self.attributes:
            if a.name == name:
                return a
        return None


@dataclass
class Message:
    """A request (``code`` = operation id) or a response (``code`` = status code)."""

    code: int
    request_id: int
    groups: list[Group] = field(default_factory=list)
    data: bytes = b""
    version: tuple[int, int] = (1, 1)

    def group(self, tag: int) -> Group | None:
        return next((g for g in self.groups if g.tag == tag), None)

    def get(self, tag: int, name: str) -> Attribute | None:
        for g in self.groups:
            if g.tag == tag and (a := g.get(name)) is not None:
                return a
        return None

    def value(self, tag: int, name: str, default: object = None) -> object:
        a = self.get(tag, name)
        return default if a is None else a.value


def operation_attributes(uri: str, *more: Attribute, language: str = "en") -> list[Attribute]:
    """The operation group every request starts with, in the order RFC 8011 4.1.4 requires."""
    return [attr("attributes-charset", CHARSET, "utf-8"),
            attr("attributes-natural-language", LANGUAGE, language),
            attr("printer-uri", URI, uri), *more]


# -- encoding ------------------------------------------------------------------------

def encode(message: Message) -> bytes:
    out = bytearray(struct.pack(">BBHi", *message.version, message.code, message.request_id))
    for group in message.groups:
        out.append(group.tag)
        for a in group.attributes:
            _encode_attribute(out, a.name, a.values)
    out.append(TAG_END)
    out += message.data
    return bytes(out)


def _encode_attribute(out: bytearray, name: str, values: tuple[Value, ...]) -> None:
    for i, v in enumerate(values):
        _encode_value(out, name if i == 0 else "", v)


def _encode_value(out: bytearray, name: str, v: Value) -> None:
    if v.tag == BEG_COLLECTION:
        _put(out, BEG_COLLECTION, name, b"")
        for member in v.value:
            _put(out, MEMBER_NAME, "", member.name.encode("utf-8"))
            _encode_attribute(out, "", member.values)
        _put(out, END_COLLECTION, "", b"")
        return
    _put(out, v.tag, name, _value_bytes(v))


def _put(out: bytearray, tag: int, name: str, value: bytes) -> None:
    raw_name = name.encode("utf-8")
    if len(raw_name) > 0x7FFF or len(value) > 0x7FFF:
        raise IppError(f"attribute {name!r}: a name or value longer than 32,767 bytes")
    out.append(tag)
    out += struct.pack(">H", len(raw_name)) + raw_name
    out += struct.pack(">H", len(value)) + value


def _value_bytes(v: Value) -> bytes:
    tag, value = v.tag, v.value
    if tag in (INTEGER, ENUM):
        return struct.pack(">i", value)
    if tag == BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag == RESOLUTION:
        return struct.pack(">iib", value.x, value.y, value.units)
    if tag == RANGE:
        return struct.pack(">ii", value.lower, value.upper)
    if tag in (TEXT_LANG, NAME_LANG):
        lang, text = value.language.encode("ascii"), value.text.encode("utf-8")
        return struct.pack(">H", len(lang)) + lang + struct.pack(">H", len(text)) + text
    if tag in _STRING_TAGS:
        return value.encode("utf-8")
    if 0x10 <= tag <= 0x1F:
        return b""
    if isinstance(value, bytes):
        return value
    raise IppError(f"cannot encode a value of tag 0x{tag:02X}: {value!r}")


# -- decoding ------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise IppError(f"{what} at byte {self.pos}: needs {n} bytes, "
                           f"the message ends after {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def short(self, what: str) -> int:
        return struct.unpack(">H", self.take(2, what))[0]

    def length(self, what: str) -> int:
        """A name-length or value-length: a SIGNED-SHORT that may not be negative."""
        at = self.pos
        n = self.short(what)
        if n > MAX_LENGTH:
            raise IppError(f"{what} at byte {at}: {n} (0x{n:04X}), a negative SIGNED-SHORT: "
                           f"at most {MAX_LENGTH}")
        return n


def decode(data: bytes) -> Message:
    """Parse one IPP message (see the module docstring for what is refused)."""
    if len(data) < 9:
        raise IppError(f"an IPP message of {len(data)} bytes: shorter than its 8-byte header "
                       "and end-of-attributes tag")
    major, minor, code, request_id = struct.unpack(">BBHi", data[:8])
    r = _Reader(data)
    r.pos = 8
    groups: list[Group] = []
    items = _items(r)
    for tag, name, value in items:
        if tag == TAG_END:
            return Message(code, request_id, groups, data[r.pos:], (major, minor))
        if tag < 0x10:
            if tag not in GROUP_TAGS:
                raise IppError(f"reserved delimiter tag 0x{tag:02X} at byte {r.pos - 1}")
            groups.append(Group(tag))
            continue
        if not groups:
            raise IppError(f"attribute {name!r} at byte {r.pos} before any attribute group")
        attrs = groups[-1].attributes
        parsed = _value(tag, value, items, name or (attrs[-1].name if attrs else ""))
        if name:
            attrs.append(Attribute(name, (parsed,)))
        elif not attrs:
            raise IppError(f"an additional value (empty name) at byte {r.pos} with no "
                           "attribute before it in its group")
        else:
            attrs[-1] = Attribute(attrs[-1].name, attrs[-1].values + (parsed,))
    raise IppError("no end-of-attributes tag: the message was cut short")


def _items(r: _Reader) -> Iterator[tuple[int, str, bytes]]:
    """(tag, name, value bytes) of every delimiter and attribute, in wire order."""
    while r.pos < len(r.data):
        tag = r.take(1, "tag")[0]
        if tag < 0x10:
            yield tag, "", b""
            if tag == TAG_END:
                return
            continue
        if tag == EXTENSION:
            raise IppError(f"extension tag 0x7F at byte {r.pos - 1}: not supported")
        name_len = r.length("name-length")
        raw_name = r.take(name_len, "name")
        value = r.take(r.length(f"value-length of {raw_name!r}"), f"value of {raw_name!r}")
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError as e:
            raise IppError(f"attribute name {raw_name!r} is not UTF-8") from e
        yield tag, name, value


def _value(tag: int, raw: bytes, items: Iterator, name: str, depth: int = 0) -> Value:
    size = _FIXED_SIZE.get(tag)
    if size is not None and len(raw) != size:
        raise IppError(f"{name}: a value of tag 0x{tag:02X} must be {size} bytes, not {len(raw)}")
    if tag in (INTEGER, ENUM):
        return Value(tag, struct.unpack(">i", raw)[0])
    if tag == BOOLEAN:
        if raw[0] > 1:
            raise IppError(f"{name}: boolean value {raw[0]} (only 0 or 1)")
        return Value(tag, bool(raw[0]))
    if tag == RESOLUTION:
        return Value(tag, Resolution(*struct.unpack(">iib", raw)))
    if tag == RANGE:
        lower, upper = struct.unpack(">ii", raw)
        return Value(tag, Range(lower, upper))
    if tag in (TEXT_LANG, NAME_LANG):
        return Value(tag, _with_language(raw, name))
    if tag == MEMBER_NAME:
        raise IppError(f"{name}: memberAttrName outside a collection")
    if tag in _STRING_TAGS:
        try:
            return Value(tag, raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise IppError(f"{name}: a string value that is not UTF-8") from e
    if tag == BEG_COLLECTION:
        if depth >= MAX_COLLECTION_DEPTH:
            raise IppError(f"{name}: collections nested more than {MAX_COLLECTION_DEPTH} deep")
        return Value(tag, _collection(items, name, depth + 1))
    if tag == END_COLLECTION:
        raise IppError(f"{name}: endCollection without a begCollection")
    if 0x10 <= tag <= 0x1F:
        return Value(tag, None)
    return Value(tag, bytes(raw))


def _collection(items: Iterator, name: str, depth: int) -> tuple[Attribute, ...]:
    members: list[Attribute] = []
    for tag, item_name, raw in items:
        if tag < 0x10:
            raise IppError(f"collection {name!r} left open at a delimiter tag 0x{tag:02X}")
        if item_name:
            raise IppError(f"collection {name!r}: a member value carries a name ({item_name!r})")
        if tag == END_COLLECTION:
            return tuple(members)
        if tag == MEMBER_NAME:
            try:
                members.append(Attribute(raw.decode("utf-8"), ()))
            except UnicodeDecodeError as e:
                raise IppError(f"collection {name!r}: a member name that is not UTF-8") from e
            continue
        if not members:
            raise IppError(f"collection {name!r}: a value before any memberAttrName")
        m = members[-1]
        members[-1] = Attribute(m.name, m.values + (_value(tag, raw, items, m.name, depth),))
    raise IppError(f"collection {name!r} left open: the message was cut short")


def _with_language(raw: bytes, name: str) -> WithLanguage:
    r = _Reader(raw)
    try:
        lang = r.take(r.short("language length"), "language").decode("ascii")
        text = r.take(r.short("text length"), "text").decode("utf-8")
    except (IppError, UnicodeDecodeError) as e:
        raise IppError(f"{name}: malformed text/name with language: {e}") from e
    if r.pos != len(raw):
        raise IppError(f"{name}: {len(raw) - r.pos} stray bytes after a text with language")
    return WithLanguage(lang, text)


def keywords(attribute: Attribute | None) -> list[str]:
    """The string values of an attribute (empty when it is absent or out-of-band)."""
    if attribute is None:
        return []
    return [v.value for v in attribute.values if isinstance(v.value, str)]


def flatten(attributes: Iterable[Attribute]) -> dict[str, list]:
    """name -> list of values (a view for logs and tests)."""
    return {a.name: a.all for a in attributes}

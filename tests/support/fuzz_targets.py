"""Fuzz targets: every parser of outside input, and the exceptions it is documented to raise.

A ``Target`` pairs a Hypothesis strategy (mutations of valid seeds, so inputs reach past
the first check, mixed with raw bytes) with a ``check(input)`` that calls the parser and
lets through only the exceptions its docstring names; anything else escaping is a bug.
Checks also assert the parser's own guarantees where it states them (round trips, status
codes). Used twice:

* tests/fuzz/test_fuzz_*.py (pytest marker ``fuzz``, in every CI run): a short campaign,
  ``CI_EXAMPLES`` inputs per target;
* bench/bench_fuzz.py: the long campaign (100,000 inputs per parser or more), printing
  inputs tried and escapes per parser.

Targets are built on demand (``build(name, workdir)``): some need a test PKI, an election, a
package or a receiver database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st
from PIL import Image
from sample_manifest import sample_manifest

from base.clock import FixedClock
from biometrics.errors import TemplateError
from biometrics.iso19794 import (
    Minutia,
    Template,
    decode_views,
    detect_standard,
    encode,
    encode_views,
)
from central.service import Receiver
from central.storage import Storage
from count.ballots.interpret import decode_image, interpret_sheet
from count.ballots.layout import render_sheet
from count.ballots.reading import SheetReading
from drivers.docprinter import ipp, raster
from drivers.docprinter.errors import IppError, RasterError
from drivers.docprinter.raster import MIME_PWG_RASTER
from drivers.errors import DriverError, ProtocolError
from drivers.fingerprint.packets import (
    Command,
    PacketParser,
    ack_packet,
    command_packet,
    data_packets,
    decode_packet,
    encode_packet,
)
from drivers.idcard.apdu import CommandApdu, ResponseApdu, encode_tlv, parse_tlvs
from drivers.idcard.base import CardReader, DirectTransport, DocumentRead
from drivers.idcard.emulator import EmrtdEmulator, make_test_pki
from drivers.idcard.errors import InvalidMrzError, MalformedDataError, SecureMessagingError
from drivers.idcard.lds import (
    FID_CARD_ACCESS,
    FID_COM,
    FID_SOD,
    build_card_access,
    dg_fid,
    parse_card_access,
    parse_com,
    parse_dg1,
    parse_dg2,
    parse_dg11,
)
from drivers.idcard.mrz import BacKey, format_td1, parse_mrz, split_lines
from drivers.idcard.passive_auth import PassiveAuthResult, passive_authentication
from drivers.idcard.sm import SecureMessaging, retail_mac
from provisioning.package import _template_rows, _template_validator, build_package
from station.election import Election
from station.errors import PackageError
from station.package import read_package
from sync import signing
from sync.canonical import canonical, parse
from sync.certificate import cert_ref, device_id_for, issue_certificate, verify_certificate
from sync.envelope import ZERO_HASH, DeviceSigner, make_batch, parse_batch, verify_envelope
from sync.errors import EnvelopeError, SyncError

CI_EXAMPLES = 300   # per target in the CI campaign: the whole of tests/fuzz stays well under 60 s


@dataclass
class Target:
    name: str
    strategy: st.SearchStrategy
    check: Callable[[Any], None]
    documented: tuple[type[BaseException], ...]   # what the parser may raise on bad input
    cheap: bool = True                            # cheap enough for 100,000 inputs in the bench
    close: Callable[[], None] = lambda: None
    # The bench's fast path: one input from a random.Random (the same mutations without
    # Hypothesis's bookkeeping, ~20x the inputs per second); None: the bench uses ``strategy``.
    sample: Callable[[random.Random], Any] | None = None


ACCEPTED, REFUSED = "accepted", "refused"   # what a check returns: the parser took the input or refused it


class Escape(AssertionError):
    """An exception the parser does not document escaped it (or a stated guarantee failed)."""


def guarded(documented: tuple[type[BaseException], ...], call: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``call(x)``, where the documented exceptions are answers and any other is an ``Escape``."""

    def check(x):
        try:
            call(x)
        except documented:
            return REFUSED
        except Escape:
            raise
        except Exception as e:  # noqa: BLE001 - that is what is looked for
            raise Escape(f"{type(e).__name__}: {e}") from e
        return ACCEPTED

    return check



# --- mutation strategies ---------------------------------------------------------------------

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xFF)


@st.composite
def _mutant(draw, seeds: tuple[bytes, ...], max_edits: int) -> bytes:
    b = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.integers(0, len(b)))
        op = draw(st.integers(0, 5))
        if op == 0 and b:                                     # replace a byte
            b[min(at, len(b) - 1)] = draw(st.integers(0, 255))
        elif op == 1 and b:                                   # an interesting value (lengths, tags)
            b[min(at, len(b) - 1)] = draw(st.sampled_from(_INTERESTING))
        elif op == 2:                                         # insert a few bytes
            b[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == 3:                                         # delete a run
            del b[at:at + draw(st.integers(1, 16))]
        elif op == 4:                                         # truncate
            del b[at:]
        else:                                                 # duplicate a run (repeated TLVs)
            n = draw(st.integers(1, 32))
            b[at:at] = b[at:at + n]
    return bytes(b)


def mutate(rng: random.Random, seeds, *, max_edits: int = 6, raw_max: int = 64) -> bytes:
    """``_mutant``'s edits (or raw bytes one time in four) drawn from ``rng``: the bench's fast path."""
    if rng.random() < 0.25:
        return rng.randbytes(rng.randint(0, raw_max))
    b = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, max_edits)):
        at = rng.randint(0, len(b))
        op = rng.randint(0, 5)
        if op == 0 and b:
            b[min(at, len(b) - 1)] = rng.randrange(256)
        elif op == 1 and b:
            b[min(at, len(b) - 1)] = rng.choice(_INTERESTING)
        elif op == 2:
            b[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 3:
            del b[at:at + rng.randint(1, 16)]
        elif op == 4:
            del b[at:]
        else:
            n = rng.randint(1, 32)
            b[at:at] = b[at:at + n]
    return bytes(b)


def mutated(seeds, *, max_edits: int = 6, raw_max: int = 64) -> st.SearchStrategy[bytes]:
    """Mostly mutations of valid ``seeds``; sometimes raw bytes."""
    seeds = tuple(seeds)
    return st.one_of(_mutant(seeds, max_edits), _mutant(seeds, max_edits), _mutant(seeds, max_edits),
                     st.binary(max_size=raw_max))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70) | st.text(max_size=8)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def rand_json(r: random.Random, depth: int = 0) -> Any:
    """A random JSON value (what JSON_VALUES draws), from ``r``."""
    k = r.randint(0, 9 if depth < 3 else 6)
    if k <= 6:
        return r.choice((None, True, False, r.randint(-2**70, 2**70), r.randint(-9, 9), r.random() * 1e6,
                         "".join(r.choice("a\u2028\ud800Ж\x00\"") for _ in range(r.randint(0, 6)))))
    if k <= 8:
        return [rand_json(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {"".join(r.choice("abkцs") for _ in range(r.randint(0, 4))): rand_json(r, depth + 1)
            for _ in range(r.randint(0, 4))}


def rand_replace(r: random.Random, doc: Any) -> Any:
    """``replace_somewhere`` from ``r``."""
    if isinstance(doc, dict) and doc and r.random() < 0.5:
        k = r.choice(sorted(doc))
        return {**doc, k: rand_replace(r, doc[k])}
    if isinstance(doc, list) and doc and r.random() < 0.5:
        i = r.randrange(len(doc))
        return doc[:i] + [rand_replace(r, doc[i])] + doc[i + 1:]
    return rand_json(r)


def replace_somewhere(doc: Any, draw) -> Any:
    """``doc`` with one randomly chosen value (or the whole) replaced by a random JSON value."""
    if isinstance(doc, dict) and doc and draw(st.booleans()):
        k = draw(st.sampled_from(sorted(doc)))
        return {**doc, k: replace_somewhere(doc[k], draw)}
    if isinstance(doc, list) and doc and draw(st.booleans()):
        i = draw(st.integers(0, len(doc) - 1))
        return doc[:i] + [replace_somewhere(doc[i], draw)] + doc[i + 1:]
    return draw(JSON_VALUES)


# --- biometrics: ISO/IEC 19794-2 --------------------------------------------------------------

def _iso19794() -> Target:

    t = Template(width=256, height=288, x_res_ppcm=197, y_res_ppcm=197, finger_position=2,
                 impression_type=0, quality=80,
                 minutiae=tuple(Minutia(("ending", "bifurcation")[i % 2], 10 + 20 * i, 12 + 25 * i,
                                        i * 1.40625 * 7, 40 + i) for i in range(8)),
                 extended=b"\x00\x01\x00\x02ab")
    seeds = (encode(t), encode_views([t, Template(**{**t.__dict__, "view_number": 1, "minutiae": ()})]),
             encode(Template(width=1, height=1, x_res_ppcm=1, y_res_ppcm=1, finger_position=0,
                             impression_type=8, quality=0)))

    def check(b: bytes) -> None:
        views = decode_views(b)
        if detect_standard(b) == "iso" and encode_views(views) != b:
            raise Escape("encode_views(decode_views(b)) != b for an ISO record that decodes")

    return Target("iso19794-decode", mutated(seeds), guarded((TemplateError,), check), (TemplateError,),
                  sample=lambda r: mutate(r, seeds))


# --- drivers: ZFM framing ----------------------------------------------------------------------

def _zfm() -> Target:

    frames = [encode_packet(p) for p in (command_packet(Command.GEN_IMG), ack_packet(0, b"\x01\x02"),
                                         *data_packets(bytes(range(200)), 128))]
    seeds = (*frames, b"".join(frames), b"junk\xef" + b"".join(frames))

    @st.composite
    def stream(draw):
        data = draw(mutated(seeds, max_edits=4))
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
        return data, cuts

    def check(x) -> None:
        data, cuts = x
        try:
            packet = decode_packet(data)
        except ProtocolError:
            pass
        else:
            if encode_packet(packet) != data:
                raise Escape("encode_packet(decode_packet(b)) != b")
        parser = PacketParser()
        whole = []
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            try:
                whole += parser.feed(data[a:b])
            except ProtocolError as e:
                whole += list(getattr(e, "packets", ()))
        for p in whole:
            if encode_packet(p) not in data:
                raise Escape("the parser yielded a packet the stream does not hold")

    def sample(r: random.Random):
        data = mutate(r, seeds, max_edits=4)
        return data, sorted(r.randint(0, len(data)) for _ in range(r.randint(0, 6)))

    return Target("zfm-packets", stream(), guarded((ProtocolError,), check), (ProtocolError,),
                  sample=sample)


# --- drivers: ID card (APDU, BER-TLV, LDS, MRZ, SM, EF.SOD, a whole read) ------------------

class _Card:
    """One good test card (TD1, DG11, PACE) and its PKI, built once per process."""

    _made = None

    @classmethod
    def get(cls):
        if cls._made is None:

            pki = make_test_pki("KG")
            buf = io.BytesIO()
            Image.effect_noise((40, 50), 40).convert("RGB").save(buf, "JPEG", quality=60)
            lines = format_td1(document_type="ID", issuing_state="KGZ", document_number="ID1234567",
                               optional_data="22001199000123", birth_date=dt.date(1990, 1, 22),
                               sex="F", expiry_date=dt.date(2031, 5, 1), nationality="KGZ",
                               surname="Asanova", given_names="Aigul")
            chip = EmrtdEmulator(lines, buf.getvalue(), pki, pace=True,
                                 dg11={"personal_number": "22001199000123", "full_name": "Асанова"})
            cls._made = (chip, pki, lines, buf.getvalue())
        return cls._made


def _apdu_tlv() -> Target:

    chip = _Card.get()[0]
    seeds = (*(c for c, _ in chip.log[:8]), bytes.fromhex("00a4040c07a0000002471001"),
             bytes.fromhex("00b0000000ffff"), *list(chip.files.values())[:3])

    def check(b: bytes) -> None:
        for call in (CommandApdu.decode, ResponseApdu.decode, parse_tlvs):
            try:
                call(b)
            except ProtocolError:
                pass
        try:
            cmd = CommandApdu.decode(b)
        except ProtocolError:
            return
        if CommandApdu.decode(cmd.encode()) != cmd:
            raise Escape("CommandApdu.decode(cmd.encode()) != cmd")

    _read_once(chip)
    return Target("apdu-ber-tlv", mutated(seeds), guarded((ProtocolError,), check), (ProtocolError,),
                  sample=lambda r: mutate(r, seeds))


def _read_once(chip) -> None:

    if not chip.log:
        CardReader(DirectTransport(chip)).read_document(chip.mrz.bac_key, trust=[])


def _lds() -> Target:

    chip = _Card.get()[0]
    parsers = {FID_COM: parse_com, dg_fid(1): parse_dg1, dg_fid(2): parse_dg2,
               dg_fid(11): parse_dg11, FID_CARD_ACCESS: parse_card_access}
    files = {**chip.files, FID_CARD_ACCESS: build_card_access()}
    strategy = st.sampled_from(sorted(parsers)).flatmap(
        lambda fid: st.tuples(st.just(fid), mutated((files[fid],), max_edits=4)))
    documented = (MalformedDataError, InvalidMrzError)
    def sample(r: random.Random):
        fid = r.choice(sorted(parsers))
        return fid, mutate(r, (files[fid],), max_edits=4)

    return Target("lds-files", strategy, guarded(documented, lambda x: parsers[x[0]](x[1])), documented,
                  sample=sample)


def _mrz() -> Target:

    lines = _Card.get()[2]
    td3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
           "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    alphabet = st.sampled_from("ABCXYZ0123456789<<<<\n \r\x00éЖ١")

    @st.composite
    def text(draw):
        base = list("\n".join(draw(st.sampled_from((lines, td3)))))
        for _ in range(draw(st.integers(0, 6))):
            at = draw(st.integers(0, len(base)))
            op = draw(st.integers(0, 2))
            if op == 0 and at < len(base):
                base[at] = draw(alphabet)
            elif op == 1:
                base.insert(at, draw(alphabet))
            elif at < len(base):
                del base[at]
        return "".join(base)

    def check(s: str) -> None:
        parse_mrz(s)
        parse_mrz(tuple(split_lines(s)))

    def keys(s: str) -> None:
        try:
            BacKey.from_information(s.replace("\n", "")[:30])
        except InvalidMrzError:
            pass
        parts = s.split()
        BacKey.from_fields(*(parts + ["", "", ""])[:3])

    def both(s: str) -> None:
        try:
            keys(s)
        except InvalidMrzError:
            pass
        check(s)

    both = guarded((InvalidMrzError,), both)
    chars = "ABCXYZ0123456789<<<<\n \r\x00éЖ١"

    def sample(r: random.Random) -> str:
        base = list("\n".join(r.choice((lines, td3))))
        for _ in range(r.randint(0, 6)):
            at = r.randint(0, len(base))
            op = r.randint(0, 2)
            if op == 0 and at < len(base):
                base[at] = r.choice(chars)
            elif op == 1:
                base.insert(at, r.choice(chars))
            elif at < len(base):
                del base[at]
        return "".join(base)

    return Target("mrz", st.one_of(text(), st.text(max_size=100)), both, (InvalidMrzError,),
                  sample=sample)


def _secure_messaging() -> Target:

    keys = (bytes(range(16)), bytes(range(16, 32)), bytes(8))

    @st.composite
    def answer(draw):
        """A chip's answer, MACed correctly (the card knows the session keys) or not at all."""
        objects = draw(st.lists(st.tuples(st.sampled_from((0x85, 0x87, 0x99, 0x8E, 0x97, 0x01)),
                                          st.binary(max_size=40)), max_size=4))
        body = b"".join(encode_tlv(t, v) for t, v in objects if t != 0x8E)
        macced = b"".join(encode_tlv(t, v) for t, v in objects if t in (0x85, 0x87, 0x99))
        if draw(st.booleans()):
            body += encode_tlv(0x8E, retail_mac(keys[1], (1).to_bytes(8, "big") + macced))
        raw = body + draw(st.binary(min_size=2, max_size=2))
        return draw(st.one_of(st.just(raw), _mutant((raw or b"\x90\x00",), 3)))

    def sample(r: random.Random) -> bytes:
        objects = [(r.choice((0x85, 0x87, 0x99, 0x8E, 0x97, 0x01)), r.randbytes(r.randint(0, 40)))
                   for _ in range(r.randint(0, 4))]
        body = b"".join(encode_tlv(t, v) for t, v in objects if t != 0x8E)
        macced = b"".join(encode_tlv(t, v) for t, v in objects if t in (0x85, 0x87, 0x99))
        if r.random() < 0.5:
            body += encode_tlv(0x8E, retail_mac(keys[1], (1).to_bytes(8, "big") + macced))
        raw = body + r.randbytes(2)
        return raw if r.random() < 0.5 else mutate(r, (raw,), max_edits=3)

    return Target("secure-messaging", answer(), sample=sample, check=
                  guarded((SecureMessagingError,), lambda raw: SecureMessaging(*keys).unprotect(raw)),
                  documented=(SecureMessagingError,))


def _sod() -> Target:

    chip, pki, _, _ = _Card.get()
    groups = {n: chip.files[dg_fid(n)] for n in (1, 2, 11)}
    sod = chip.files[FID_SOD]

    def check(b: bytes) -> None:
        # A mutated EF.SOD may still verify: SignedData's digestAlgorithms set and other DER
        # slack lie outside the signature, and passive authentication rightly ignores them.
        result = passive_authentication(b, groups, [pki.csca_pem])
        if not isinstance(result, PassiveAuthResult) or (result.ok and result.reason != "authentic"):
            raise Escape(f"passive_authentication returned {result!r}")

    return Target("ef-sod-passive-auth", mutated((sod,), max_edits=3), guarded((), check), (),
                  sample=lambda r: mutate(r, (sod,), max_edits=3))


def _card_read() -> Target:

    chip, pki, lines, jpeg = _Card.get()
    files = {**chip.files, FID_CARD_ACCESS: chip._mf_files[FID_CARD_ACCESS]}
    strategy = st.sampled_from(sorted(files)).flatmap(
        lambda fid: st.tuples(st.just(fid), mutated((files[fid],), max_edits=3)))

    def check(x) -> None:
        fid, data = x
        kw = {"card_access": data} if fid == FID_CARD_ACCESS else {"files": {fid: data}}
        card = EmrtdEmulator(lines, jpeg, pki, pace=True, dg11={"personal_number": "22001199000123"}, **kw)
        doc = CardReader(DirectTransport(card)).read_document(card.mrz.bac_key, trust=[pki.csca_pem])
        if not isinstance(doc, DocumentRead):
            raise Escape(f"read_document returned {doc!r}")

    return Target("card-read-document", strategy, guarded((DriverError,), check), (DriverError,),
                  cheap=False)


# --- station: the election package ------------------------------------------------------------

def _package(workdir: Path) -> Target:

    key = signing.generate_key()
    good = workdir / "package"
    if good.exists():
        shutil.rmtree(good)
    build_package(good, sample_manifest(7), [], key, templates=[("21710197800208", 0, _iso19794_seed())])
    manifest_bytes = (good / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    templates = (good / "templates.csv").read_bytes()
    work = workdir / "mutated"

    @st.composite
    def mutant(draw):
        kind = draw(st.sampled_from(("manifest-bytes", "manifest-values", "templates", "signature")))
        if kind == "manifest-bytes":
            return kind, draw(_mutant((manifest_bytes,), 4))
        if kind == "manifest-values":
            return kind, json.dumps(replace_somewhere(manifest, draw), ensure_ascii=False).encode()
        if kind == "templates":
            return kind, draw(_mutant((templates,), 4))
        return kind, draw(_mutant((b'{"signer":"x","signature":"AA=="}',), 4))

    def check(x) -> None:
        kind, data = x
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(good, work)
        if kind == "templates":
            (work / "templates.csv").write_bytes(data)
            list(_template_rows(work / "templates.csv", _template_validator()))
            return
        if kind == "signature":
            (work / "manifest.sig").write_bytes(data)
        else:
            # Signed again by the CEC key: what lies behind the signature is fuzzed too.
            (work / "manifest.json").write_bytes(data)
            (work / "manifest.sig").write_text(json.dumps({
                "signer": signing.key_id(key.public_key()),
                "signature": signing.b64(signing.sign(key, data))}))
        read_package(work, key.public_key())

    return Target("package-read", mutant(), guarded((PackageError,), check), (PackageError,), cheap=False)


def _iso19794_seed() -> bytes:

    return encode(Template(width=256, height=288, x_res_ppcm=197, y_res_ppcm=197, finger_position=0,
                           impression_type=0, quality=60, minutiae=(Minutia("ending", 1, 2, 0.0, 50),)))


# --- sync: canonical JSON, envelopes ----------------------------------------------------------

def _sync_seeds():

    authority, key = signing.generate_key(), signing.generate_key()
    device = device_id_for(key.public_key())
    cert = issue_certificate(authority, device, key.public_key(), "st-0042", "kg-2025-parl",
                             dt.datetime(2025, 11, 1, tzinfo=dt.UTC), dt.datetime(2025, 12, 31, tzinfo=dt.UTC))
    signer = DeviceSigner(key, device, cert_ref(cert), "kg-2025-parl", "st-0042",
                          FixedClock("2025-11-30T08:00:00+00:00"))
    envs, prev = [], ZERO_HASH
    for seq in (1, 2):
        s = signer.seal("identify", seq, prev, "identification-receipt",
                        {"number": seq, "pin": f"2171019780020{seq}", "at": "2025-11-30T08:00:00Z",
                         "table": "1", "names": ["Асанова", "\u2028"], "n": [0, -1, 2**53 - 1]})
        envs.append(s.envelope)
        prev = s.hash
    batch = make_batch(device, "identify", envs, cert)
    return authority, key, cert, envs, batch


def _canonical() -> Target:

    _, _, _, envs, batch = _sync_seeds()
    seeds = (json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode(),
             json.dumps(envs[0]).encode(), b'{"a":[1,[2,[3,{"b":null}]]],"c":"\\ud800\\u0000"}',
             b"[" * 70 + b"]" * 70, b"[" + b"9" * 40 + b"]")

    def check(b: bytes) -> None:
        doc = parse(b)
        try:
            out = canonical(doc)
        except EnvelopeError:
            pass
        else:
            if parse(out) != doc:
                raise Escape("parse(canonical(doc)) != doc")
        try:
            parse_batch(b)
        except EnvelopeError:
            pass

    return Target("canonical-parse", mutated(seeds, max_edits=8, raw_max=200),
                  guarded((EnvelopeError,), check), (EnvelopeError,),
                  sample=lambda r: mutate(r, seeds, max_edits=8, raw_max=200))


def _envelope() -> Target:

    authority, key, cert, envs, _ = _sync_seeds()
    texts = tuple(json.dumps(e, ensure_ascii=False).encode() for e in envs)

    @st.composite
    def envelope(draw):
        if draw(st.booleans()):
            try:
                return "env", parse(draw(_mutant(texts, 4)))
            except EnvelopeError:
                return "env", draw(JSON_VALUES)
        which = draw(st.sampled_from(("env", "cert")))
        return which, replace_somewhere(envs[0] if which == "env" else cert, draw)

    def check(x) -> None:
        which, doc = x
        if which == "env":
            verify_envelope(doc, key.public_key())
            return
        if isinstance(doc, dict) and isinstance(doc.get("signed"), dict):
            try:  # signed again by the authority: what lies behind the signature is fuzzed too
                doc = signing.sign_document(authority, doc["signed"])
            except EnvelopeError:
                pass
        verify_certificate(doc, authority.public_key())

    def sample(r: random.Random):
        if r.random() < 0.5:
            try:
                return "env", parse(mutate(r, texts, max_edits=4))
            except EnvelopeError:
                return "env", rand_json(r)
        which = r.choice(("env", "cert"))
        return which, rand_replace(r, envs[0] if which == "env" else cert)

    return Target("envelope-verify", envelope(), guarded((SyncError,), check), (SyncError,),
                  sample=sample)


# --- central: the receiver's HTTP handler -----------------------------------------------------

def _receiver(workdir: Path) -> Target:

    authority, _, _, _, batch = _sync_seeds()
    db = workdir / "central.db"
    for p in workdir.glob("central.db*"):
        p.unlink()
    storage = Storage(db)
    rx = Receiver(storage, signing.generate_key(), authority.public_key(), election_id="kg-2025-parl")
    text = json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode()
    seeds = (text, text.replace(b'"seq":2', b'"seq":3'), text.replace(b"st-0042", b"st-0043"))

    @st.composite
    def request(draw):
        body = draw(mutated(seeds, max_edits=5, raw_max=100))
        enc = draw(st.sampled_from(("gzip", "gzip", "identity", None, "GZIP ", "br", "x-gzip", "")))
        if enc and enc.strip().lower() == "gzip" and draw(st.integers(0, 3)):
            body = gzip.compress(body, mtime=0)
            if draw(st.booleans()):
                body = draw(_mutant((body,), 3))
        return body, enc

    def check(x) -> None:
        reply = rx.handle_batch(*x)
        if reply.status not in (200, 400, 403, 413, 429):
            raise Escape(f"HTTP {reply.status}: {reply.body}")

    return Target("receiver-handle-batch", request(), guarded((), check), (), cheap=False,
                  close=storage.close)


# --- count: scanner images ----------------------------------------------------------------------

def _sheet() -> tuple[Election, np.ndarray]:
    election = Election.from_manifest(sample_manifest(7))
    return election, np.asarray(render_sheet(election, election.ballot_styles[0].id, dpi=60))


def _ballot_files() -> Target:
    election, sheet = _sheet()
    files = []
    for fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        buf = io.BytesIO()
        Image.fromarray(sheet[::4, ::4]).save(buf, fmt)
        files.append(buf.getvalue())

    def check(data: bytes) -> None:
        img = decode_image(data)
        if isinstance(img, str):
            return
        if not isinstance(interpret_sheet(img, election), SheetReading):
            raise Escape("interpret_sheet returned no SheetReading")

    return Target("ballot-image-files", mutated(files, max_edits=4, raw_max=100), guarded((), check), (),
                  cheap=False)


def _ballot_arrays() -> Target:
    election, sheet = _sheet()

    @st.composite
    def image(draw):
        if draw(st.integers(0, 3)) == 0:
            dtype = draw(st.sampled_from((np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int8)))
            shape = draw(st.lists(st.integers(0, 5), max_size=4))
            return np.full(shape, draw(st.integers(0, 1)), dtype)
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        img = sheet.copy()
        for _ in range(draw(st.integers(0, 4))):
            y, x = rng.integers(0, img.shape[0]), rng.integers(0, img.shape[1])
            h, w = rng.integers(1, img.shape[0] // 2), rng.integers(1, img.shape[1] // 2)
            img[y:y + h, x:x + w] = rng.integers(0, 256, size=img[y:y + h, x:x + w].shape)
        crop = draw(st.integers(0, 3))
        if crop:
            img = img[: img.shape[0] * crop // 4]
        if draw(st.booleans()):
            img = np.ascontiguousarray(img[::-1, ::-1])
        if draw(st.booleans()):
            img = np.stack([img] * draw(st.sampled_from((1, 3, 4))), axis=-1)
        return img

    def check(img) -> None:
        if not isinstance(interpret_sheet(img, election), SheetReading):
            raise Escape("interpret_sheet returned no SheetReading")

    return Target("ballot-image-arrays", image(), guarded((), check), (), cheap=False)


# --- drivers: the document printer's IPP messages and PWG raster pages ------------------------

def _ipp() -> Target:
    uri = "ipp://127.0.0.1:631/ipp/print"
    media = ipp.attr("media-col", ipp.BEG_COLLECTION, (
        ipp.Attribute("media-size", (ipp.Value(ipp.BEG_COLLECTION, (
            ipp.attr("x-dimension", ipp.INTEGER, 21000), ipp.attr("y-dimension", ipp.INTEGER, 29700))),)),
        ipp.attr("media-source", ipp.KEYWORD, "main")))
    messages = [
        ipp.Message(ipp.OP_GET_PRINTER_ATTRIBUTES, 1, [ipp.Group(ipp.TAG_OPERATION, ipp.operation_attributes(
            uri, ipp.attr("requested-attributes", ipp.KEYWORD, "printer-state", "media-ready")))]),
        ipp.Message(ipp.OP_PRINT_JOB, 2, [
            ipp.Group(ipp.TAG_OPERATION, ipp.operation_attributes(
                uri, ipp.attr("requesting-user-name", ipp.NAME, "uchastok"),
                ipp.attr("job-name", ipp.NAME, "ballot"),
                ipp.attr("ipp-attribute-fidelity", ipp.BOOLEAN, True),
                ipp.attr("document-format", ipp.MIME_TYPE, MIME_PWG_RASTER))),
            ipp.Group(ipp.TAG_JOB, [ipp.attr("media", ipp.KEYWORD, "iso_a4_210x297mm"), media,
                                    ipp.attr("print-color-mode", ipp.KEYWORD, "monochrome")])],
            data=b"RaS2" + bytes(range(40))),
        ipp.Message(ipp.OK, 3, [
            ipp.Group(ipp.TAG_OPERATION, [ipp.attr("attributes-charset", ipp.CHARSET, "utf-8"),
                                          ipp.attr("attributes-natural-language", ipp.LANGUAGE, "en"),
                                          ipp.attr("status-message", ipp.TEXT_LANG,
                                                   ipp.WithLanguage("ru", "Бумага закончилась"))]),
            ipp.Group(ipp.TAG_PRINTER, [
                ipp.attr("printer-state", ipp.ENUM, ipp.PRINTER_STOPPED),
                ipp.attr("printer-state-reasons", ipp.KEYWORD, "media-empty-error", "media-jam-error"),
                ipp.attr("printer-resolution-supported", ipp.RESOLUTION, ipp.Resolution(300, 300),
                         ipp.Resolution(600, 600)),
                ipp.attr("copies-supported", ipp.RANGE, ipp.Range(1, 1)),
                ipp.attr("printer-current-time", ipp.DATE_TIME, bytes(11)),
                ipp.attr("printer-alert", ipp.OCTET_STRING, b"code=jam"),
                ipp.attr("printer-info", ipp.UNKNOWN, None),
                ipp.attr("media-col-ready", ipp.BEG_COLLECTION, media.value, media.value)]),
            ipp.Group(ipp.TAG_JOB, [ipp.attr("job-id", ipp.INTEGER, 7),
                                    ipp.attr("job-state", ipp.ENUM, ipp.JOB_STOPPED)])]),
    ]
    seeds = tuple(ipp.encode(m) for m in messages)

    def check(b: bytes) -> None:
        message = ipp.decode(b)
        # What decodes encodes again and reads back the same (the module's round trip).
        try:
            again = ipp.decode(ipp.encode(message))
        except IppError as e:
            raise Escape(f"a decoded message does not encode again: {e}") from e
        if again != message:
            raise Escape("decode(encode(decode(b))) != decode(b)")

    return Target("ipp-decode", mutated(seeds, max_edits=8, raw_max=200), guarded((IppError,), check),
                  (IppError,), sample=lambda r: mutate(r, seeds, max_edits=8, raw_max=200))


def _raster_stream(header: bytes, lines: list[bytes]) -> bytes:
    return raster.SYNC + header + b"".join(lines)


def _raster_seeds() -> tuple[bytes, ...]:
    a = np.full((24, 40), 255, dtype=np.uint8)
    a[3:9, 5:30] = 0
    a[12:20, ::3] = 90
    a[21] = np.arange(40, dtype=np.uint8) * 6
    gray = raster.encode_pages([raster.RasterPage(Image.fromarray(a), 300),
                                raster.RasterPage(Image.fromarray(a[:8, :16]), 150)], media="iso_a5_148x210mm")

    def header(width, height, bits, space, per_line):
        h = bytearray(gray[4:4 + raster.HEADER_SIZE])
        for name, value in (("Width", width), ("Height", height), ("BitsPerPixel", bits),
                            ("ColorSpace", space), ("BytesPerLine", per_line)):
            struct.pack_into(">I", h, raster._OFF[name], value)
        return bytes(h)

    # black_1, 20 pixels (3 bytes) a line: a literal run, a repeat run, the white fill (128).
    black = _raster_stream(header(20, 6, 1, raster.CS_BLACK, 3),
                           [b"\x00\xfe\xf0\x0f\x80", b"\x02\x02\xaa", b"\x01\x00\xff\x80"])
    # srgb_8, 4 pixels a line: literal runs of 3-byte pixels, a repeat, the white fill.
    rgb = _raster_stream(header(4, 3, 24, raster.CS_SRGB, 12),
                         [b"\x00\xfd" + bytes(range(12)), b"\x00\x01\x10\x20\x30\x80",
                          b"\x00\x03\x00\x00\x00"])
    return gray, black, rgb


def _raster() -> Target:
    seeds = _raster_seeds()

    def check(b: bytes) -> None:
        pages = raster.decode_pages(b)
        for header, image in pages:
            if image.mode != "L" or image.size != (header.width, header.height):
                raise Escape(f"a {header.width} x {header.height} page decoded as {image.mode} {image.size}")
        if pages[0][0].color_space == raster.CS_SGRAY and pages[0][0].width * pages[0][0].height <= 100_000:
            # An 8-bit grey page encodes again (repeat runs only) to the same pixels.
            header, image = pages[0]
            [(_, back)] = raster.decode_pages(raster.encode_pages([raster.RasterPage(image, header.dpi[0])]))
            if back.tobytes() != image.tobytes():
                raise Escape("an 8-bit grey page does not encode again to the same pixels")

    return Target("pwg-raster-decode", mutated(seeds, max_edits=8, raw_max=200),
                  guarded((RasterError,), check), (RasterError,),
                  sample=lambda r: mutate(r, seeds, max_edits=8, raw_max=200))


BUILDERS: dict[str, Callable[..., Target]] = {
    "iso19794-decode": lambda w: _iso19794(),
    "zfm-packets": lambda w: _zfm(),
    "apdu-ber-tlv": lambda w: _apdu_tlv(),
    "lds-files": lambda w: _lds(),
    "mrz": lambda w: _mrz(),
    "secure-messaging": lambda w: _secure_messaging(),
    "ef-sod-passive-auth": lambda w: _sod(),
    "card-read-document": lambda w: _card_read(),
    "package-read": _package,
    "canonical-parse": lambda w: _canonical(),
    "envelope-verify": lambda w: _envelope(),
    "receiver-handle-batch": _receiver,
    "ballot-image-files": lambda w: _ballot_files(),
    "ballot-image-arrays": lambda w: _ballot_arrays(),
    "ipp-decode": lambda w: _ipp(),
    "pwg-raster-decode": lambda w: _raster(),
}


def build(name: str, workdir: Path) -> Target:
    workdir.mkdir(parents=True, exist_ok=True)
    return BUILDERS[name](workdir)


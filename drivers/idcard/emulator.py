"""A clean-room eMRTD chip emulator, written from ICAO 9303 Parts 10 and 11.

It is product code: the demo, the tests and the benchmark read it through the
same driver as a real card, in-process (``DirectTransport``) or through real
pcscd via vsmartcard-vpcd (``drivers.idcard.vpcd``).

What it answers (ISO/IEC 7816-4 APDUs, ``EmrtdEmulator.transmit``):

* SELECT by file id in the master file (EF.CardAccess 011C, unprotected) and
  SELECT of the eMRTD application (AID A0000002471001);
* GET CHALLENGE and MUTUAL AUTHENTICATE (BAC keyed from its own MRZ: wrong
  MRZ keys get 6300 and no session);
* after BAC, only secure-messaging SELECT EF and READ BINARY (B0 with offset
  or short EF id, B1 with DO54 offsets over 32767); a bad MAC gets a plain
  6988 and ends the session; anything unprotected after BAC gets 6987;
* files: EF.COM, DG1 (from the MRZ), DG2 (ISO/IEC 19794-5 record around the
  face image), DG11 when ``dg11`` fields are given, EF.SOD (signed by the given document signer), and, when
  ``pace=True``, an EF.CardAccess advertising PACE (the chip still does BAC).

Hostile cards: ``files={fid: bytes}`` serves any bytes as any elementary file
of the application (over or beside the ones built above: a garbled DG1, an
EF.SOD with a broken certificate), and ``card_access=bytes`` serves any bytes
as EF.CardAccess, which a reader reads before BAC. The chip still does BAC
and secure messaging correctly: what the reader gets is exactly those bytes.

Failure presets (``preset=``), each a condition a polling station will meet:

* ``"card-pulled"``: after ``pull_after_reads`` READ BINARY commands the card
  is gone: ``transmit`` raises ``CardRemovedError``, ``present`` is False;
* ``"bad-sod"``: EF.SOD is validly signed but its DG2 hash is of other bytes;
* ``"wrong-mac"``: every secure-messaging answer carries a corrupted MAC;
* ``"no-chip-answer"``: the card has an ATR but answers no APDU (empty answer).

Helpers make a test CSCA + document-signer pair (``make_test_pki``) and a
valid EF.SOD (``build_sod``).

Example::

    pki = make_test_pki()
    chip = EmrtdEmulator(mrz_lines, jpeg_bytes, pki)
    reader = CardReader(DirectTransport(chip))
    doc = reader.read_document(chip.mrz.bac_key, trust=[pki.csca_pem])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from drivers.errors import ProtocolError
from drivers.idcard import apdu as iso
from drivers.idcard.apdu import CommandApdu, ResponseApdu, encode_tlv, parse_tlvs
from drivers.idcard.bac import document_keys, ic_answer
from drivers.idcard.errors import CardRemovedError, SecureMessagingError
from drivers.idcard.lds import (
    EMRTD_AID,
    FID_CARD_ACCESS,
    FID_COM,
    FID_SOD,
    build_card_access,
    build_com,
    build_dg1,
    build_dg2,
    build_dg11,
    dg_fid,
)
from drivers.idcard.mrz import MRZ, parse_mrz
from drivers.idcard.passive_auth import (
    LDS_SECURITY_OBJECT_OID,
    LDSSecurityObject,
    signed_attributes_bytes,
)
from drivers.idcard.sm import SecureMessaging

PRESETS = ("card-pulled", "bad-sod", "wrong-mac", "no-chip-answer")

_HASH = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
         "sha1": hashes.SHA1}


# --- test PKI and EF.SOD -----------------------------------------------------


@dataclass(frozen=True)
class TestPki:
    """A country signing CA (CSCA) and one document signer (DS) it issued."""

    __test__ = False  # not a pytest class

    csca_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    csca_cert: x509.Certificate
    ds_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ds_cert: x509.Certificate

    @property
    def csca_pem(self) -> bytes:
        return self.csca_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def ds_pem(self) -> bytes:
        return self.ds_cert.public_bytes(serialization.Encoding.PEM)


def _new_key(key_type: str):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_test_pki(country: str = "KG", *, key_type: str = "ec",
                  now: dt.datetime | None = None) -> TestPki:
    """A self-signed test CSCA and a DS certificate it signs (``key_type`` "ec" or "rsa")."""
    now = now or dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Uchastok test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    csca_key, ds_key = _new_key(key_type), _new_key(key_type)
    csca_name = name(f"Test CSCA {country}")
    csca = (x509.CertificateBuilder().subject_name(csca_name).issuer_name(csca_name)
            .public_key(csca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=15 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(csca_key, hashes.SHA256()))
    ds = (x509.CertificateBuilder().subject_name(name(f"Test DS {country}"))
          .issuer_name(csca_name).public_key(ds_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=11 * 365))
          .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                       False), critical=True)
          .sign(csca_key, hashes.SHA256()))
    return TestPki(csca_key, csca, ds_key, ds)


def load_or_make_test_pki(folder: Path) -> TestPki:
    """The test PKI kept in ``folder`` (card-csca.pem, card-ds.pem, card-ds.key, mode 0600),
    made there on first use: cards made later chain to the certificates a package already carries."""
    files = [folder / n for n in ("card-csca.pem", "card-ds.pem", "card-ds.key")]
    if all(f.exists() for f in files):
        csca = x509.load_pem_x509_certificate(files[0].read_bytes())
        ds = x509.load_pem_x509_certificate(files[1].read_bytes())
        ds_key = serialization.load_pem_private_key(files[2].read_bytes(), password=None)
        return TestPki(None, csca, ds_key, ds)  # the CSCA key is not needed after issuing
    pki = make_test_pki()
    files[0].write_bytes(pki.csca_pem)
    files[1].write_bytes(pki.ds_pem)
    fd = os.open(files[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pki.ds_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return pki


def build_sod(data_groups: dict[int, bytes], ds_key, ds_cert: x509.Certificate, *,
              digest: str = "sha256") -> bytes:
    """EF.SOD (tag 77): CMS SignedData over the LDSSecurityObject of ``data_groups``."""
    lds = LDSSecurityObject({
        "version": 0,
        "hash_algorithm": {"algorithm": digest},
        "data_group_hash_values": [
            {"data_group_number": n, "data_group_hash_value": hashlib.new(digest, b).digest()}
            for n, b in sorted(data_groups.items())],
    })
    lds_bytes = lds.dump()
    cert = asn1_x509.Certificate.load(ds_cert.public_bytes(serialization.Encoding.DER))
    is_ec = isinstance(ds_key, ec.EllipticCurvePrivateKey)
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number})}),
        "digest_algorithm": {"algorithm": digest},
        "signed_attrs": [
            {"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]},
            {"type": "message_digest", "values": [hashlib.new(digest, lds_bytes).digest()]},
        ],
        "signature_algorithm": {"algorithm": f"{digest}_ecdsa" if is_ec else f"{digest}_rsa"},
        "signature": b"",
    })
    to_sign = signed_attributes_bytes(signer)
    algorithm = _HASH[digest]()
    signer["signature"] = (ds_key.sign(to_sign, ec.ECDSA(algorithm)) if is_ec
                           else ds_key.sign(to_sign, padding.PKCS1v15(), algorithm))
    signed = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": {"content_type": LDS_SECURITY_OBJECT_OID,
                               "content": core.ParsableOctetString(lds_bytes)},
        "certificates": [cert],
        "signer_infos": [signer],
    })
    return encode_tlv(0x77, cms.ContentInfo({"content_type": "signed_data",
                                             "content": signed}).dump())


def _atr(historical: bytes = b"UCHASTOK-eMRTD") -> bytes:
    # TS=3B; T0: TD1 follows, K historical bytes; TD1: TD2 follows, T=0; TD2: T=1; TCK.
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3B" + body + bytes([tck])


# --- the chip ----------------------------------------------------------------


class EmrtdEmulator:
    """One eMRTD chip: answers ``transmit(apdu) -> response`` (see the module docstring)."""

    def __init__(self, mrz: MRZ | str | tuple[str, ...], face_image: bytes, pki: TestPki, *,
                 preset: str | None = None, pace: bool = False,
                 rng: Callable[[int], bytes] = os.urandom, pull_after_reads: int = 6,
                 face_size: tuple[int, int] = (0, 0), dg11: dict[str, str] | None = None,
                 files: dict[int, bytes] | None = None, card_access: bytes | None = None):
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        self.mrz = mrz if isinstance(mrz, MRZ) else parse_mrz(mrz)
        self.preset = preset
        self.pace = pace
        self._rng = rng
        self._pull_after = pull_after_reads
        self.atr = _atr()
        dg1 = build_dg1(self.mrz.lines)
        dg2 = build_dg2(face_image, width=face_size[0], height=face_size[1])
        groups = {1: dg1, 2: dg2}
        if dg11:
            groups[11] = build_dg11(**dg11)
        hashed = dict(groups)
        if preset == "bad-sod":
            hashed[2] = dg2 + b"tampered"
        self.files: dict[int, bytes] = {dg_fid(n): content for n, content in groups.items()}
        self.files[FID_COM] = build_com(sorted(groups))
        self.files[FID_SOD] = build_sod(hashed, pki.ds_key, pki.ds_cert)
        self.files.update(files or {})
        self._mf_files = {FID_CARD_ACCESS: build_card_access()} if pace else {}
        if card_access is not None:
            self._mf_files[FID_CARD_ACCESS] = card_access
        _, self._kenc, self._kmac = document_keys(self.mrz.bac_key.information)
        self.present = True
        self.powered = False
        self.reads = 0
        self.log: list[tuple[bytes, bytes]] = []  # (command, response) as on the wire
        self._reset_state()

    def __repr__(self) -> str:
        return (f"EmrtdEmulator({self.mrz.document_number!r}, preset={self.preset!r}, "
                f"pace={self.pace}, present={self.present})")

    def _reset_state(self) -> None:
        self._in_app = False
        self._selected: bytes | None = None
        self._rnd_ic: bytes | None = None
        self._sm: SecureMessaging | None = None

    # --- card presence and power (vpcd control codes) ---

    def power_on(self) -> None:
        self.powered = True
        self._reset_state()

    def power_off(self) -> None:
        self.powered = False
        self._reset_state()

    def reset(self) -> None:
        self._reset_state()

    def pull(self) -> None:
        """Take the card out of the reader."""
        self.present = False
        self._reset_state()

    def insert(self) -> None:
        """Put the card back (and reset the pulled-card counter)."""
        self.present = True
        self.reads = 0
        self._reset_state()

    # --- APDUs ---

    def transmit(self, raw: bytes) -> bytes:
        if not self.present:
            raise CardRemovedError("the card has left the reader")
        if self.preset == "no-chip-answer":
            return b""
        response = self._answer(raw)
        self.log.append((raw, response))
        return response

    def _answer(self, raw: bytes) -> bytes:
        try:
            cmd = CommandApdu.decode(raw)
        except ProtocolError:
            return iso.SW_WRONG_LENGTH.to_bytes(2, "big")
        if self._sm is not None:
            if cmd.cla & 0x0C != 0x0C:
                self._sm = None
                return iso.SW_SM_MISSING.to_bytes(2, "big")
            try:
                plain = self._sm.open_command(raw)
            except SecureMessagingError:
                self._sm = None  # Part 11 §9.8.6: an SM error ends the session
                return iso.SW_SM_INCORRECT.to_bytes(2, "big")
            resp = self._dispatch(plain)
            return self._sm.protect_response(resp, odd=plain.ins == iso.INS_READ_BINARY_ODD,
                                             corrupt_mac=self.preset == "wrong-mac")
        return self._dispatch(cmd).encode()

    def _dispatch(self, cmd: CommandApdu) -> ResponseApdu:
        handler = {iso.INS_SELECT: self._select, iso.INS_GET_CHALLENGE: self._get_challenge,
                   iso.INS_MUTUAL_AUTHENTICATE: self._mutual_authenticate,
                   iso.INS_READ_BINARY: self._read_binary,
                   iso.INS_READ_BINARY_ODD: self._read_binary_odd}.get(cmd.ins)
        if handler is None:
            return ResponseApdu(b"", iso.SW_INS_NOT_SUPPORTED)
        return handler(cmd)

    def _select(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.p1 == 0x04:
            if cmd.data != EMRTD_AID:
                return ResponseApdu(b"", iso.SW_FILE_NOT_FOUND)
            self._in_app, self._selected, self._sm = True, None, None
            return ResponseApdu(b"", iso.SW_OK)
        if cmd.p1 in (0x00, 0x02) and len(cmd.data) == 2:
            fid = int.from_bytes(cmd.data, "big")
            if fid == 0x3F00:
                self._in_app, self._selected = False, None
                return ResponseApdu(b"", iso.SW_OK)
            if self._in_app:
                if self._sm is None:
                    return ResponseApdu(b"", iso.SW_SECURITY_NOT_SATISFIED)
                files = self.files
            else:
                files = self._mf_files
            if fid not in files:
                return ResponseApdu(b"", iso.SW_FILE_NOT_FOUND)
            self._selected = files[fid]
            return ResponseApdu(b"", iso.SW_OK)
        return ResponseApdu(b"", iso.SW_WRONG_P1P2)

    def _get_challenge(self, cmd: CommandApdu) -> ResponseApdu:
        if not self._in_app:
            return ResponseApdu(b"", iso.SW_CONDITIONS)
        if cmd.le not in (8, 256):
            return ResponseApdu(b"", iso.SW_WRONG_LENGTH)
        self._rnd_ic = self._rng(8)
        return ResponseApdu(self._rnd_ic, iso.SW_OK)

    def _mutual_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        rnd_ic, self._rnd_ic = self._rnd_ic, None
        if not self._in_app or rnd_ic is None:
            return ResponseApdu(b"", iso.SW_CONDITIONS)
        answer = ic_answer(cmd.data, rnd_ic, self._rng(16), self._kenc, self._kmac)
        if answer is None:
            return ResponseApdu(b"", iso.SW_AUTH_FAILED)
        data, session = answer
        # The answer itself goes out in clear; the session starts with the next command.
        self._sm = session
        return ResponseApdu(data, iso.SW_OK)

    def _count_read(self) -> None:
        self.reads += 1
        if self.preset == "card-pulled" and self.reads > self._pull_after:
            self.pull()
            raise CardRemovedError("the card was pulled out during the read")

    def _read_from(self, offset: int, le: int | None) -> tuple[bytes, int]:
        content = self._selected
        if content is None:
            return b"", iso.SW_CONDITIONS
        if offset > len(content):
            return b"", iso.SW_WRONG_P1P2
        chunk = content[offset : offset + (le or 256)]
        sw = iso.SW_END_OF_FILE if le and len(chunk) < le else iso.SW_OK
        return chunk, sw

    def _read_binary(self, cmd: CommandApdu) -> ResponseApdu:
        if self._in_app and self._sm is None:
            return ResponseApdu(b"", iso.SW_SECURITY_NOT_SATISFIED)
        self._count_read()
        if cmd.p1 & 0x80:
            files = self.files if self._in_app else self._mf_files
            fid = 0x0100 | (cmd.p1 & 0x1F)
            if fid not in files:
                return ResponseApdu(b"", iso.SW_FILE_NOT_FOUND)
            self._selected = files[fid]
            offset = cmd.p2
        else:
            offset = (cmd.p1 << 8) | cmd.p2
        data, sw = self._read_from(offset, cmd.le)
        return ResponseApdu(data, sw)

    def _read_binary_odd(self, cmd: CommandApdu) -> ResponseApdu:
        if self._in_app and self._sm is None:
            return ResponseApdu(b"", iso.SW_SECURITY_NOT_SATISFIED)
        self._count_read()
        try:
            objects = dict(parse_tlvs(cmd.data))
        except ProtocolError:
            return ResponseApdu(b"", iso.SW_WRONG_DATA)
        if 0x54 not in objects:
            return ResponseApdu(b"", iso.SW_WRONG_DATA)
        offset = int.from_bytes(objects[0x54], "big")
        # Le counts the whole DO53 answer; leave room for its tag and length.
        le = (cmd.le or 256) - 4
        data, sw = self._read_from(offset, le)
        return ResponseApdu(encode_tlv(0x53, data), sw)

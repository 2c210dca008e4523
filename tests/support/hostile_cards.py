"""Hostile ID cards: the three inputs that crashed the identify daemon (audit finding 3).

Each is built from a good chip's own files, changed where the audit's fuzzing found a
parser that let a non-driver exception out, and served by the chip emulator
(``EmrtdEmulator(files=..., card_access=...)``) like any other card:

* ``EMPTY_OID_CARD_ACCESS``: an EF.CardAccess (readable without BAC) whose PACEInfo
  has an empty OBJECT IDENTIFIER (the OID reader indexed byte 0: ``IndexError``);
* ``sod_with_bad_certificate_version``: an EF.SOD whose document-signer certificate
  says X.509 version 8 (cryptography raises ``InvalidVersion``, not a ``ValueError``);
* ``sod_with_overlong_digest_oid``: an EF.SOD whose SignerInfo digest algorithm OID
  claims 87 bytes (asn1crypto parses lazily and raised ``ValueError`` outside the
  checks' ``try``).
"""

from __future__ import annotations

from drivers.idcard.apdu import encode_tlv
from drivers.idcard.lds import FID_SOD
from drivers.idcard.passive_auth import sod_content

EMPTY_OID_CARD_ACCESS = encode_tlv(0x31, encode_tlv(0x30, encode_tlv(0x06, b"")
                                                    + encode_tlv(0x02, b"\x02")))
SHA256_OID = bytes.fromhex("0609608648016503040201")  # tag, length 9, 2.16.840.1.101.3.4.2.1


def sod_with_bad_certificate_version(sod: bytes) -> bytes:
    """The same EF.SOD with its DS certificate's version field set to 7 (X.509 "v8")."""
    cert = sod_content(sod)["content"]["certificates"][0].chosen.dump()
    at = sod.index(cert)
    version = cert.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2 (v3)
    out = bytearray(sod)
    out[at + version + 4] = 7
    return bytes(out)


def sod_with_overlong_digest_oid(sod: bytes) -> bytes:
    """The same EF.SOD with the SignerInfo's digest-algorithm OID length 9 made 0x57.

    The SHA-256 identifier occurs in digestAlgorithms, in the LDS security object and
    last in the SignerInfo (the signature algorithm is ecdsa-with-SHA256, another OID).
    """
    at = sod.rindex(SHA256_OID)
    out = bytearray(sod)
    out[at + 1] = 0x57
    return bytes(out)


def hostile_files(chip, kind: str) -> dict:
    """``EmrtdEmulator`` keyword arguments that make a copy of ``chip`` the hostile card ``kind``."""
    if kind == "empty-oid-card-access":
        return {"card_access": EMPTY_OID_CARD_ACCESS}
    if kind == "bad-certificate-version":
        return {"files": {FID_SOD: sod_with_bad_certificate_version(chip.files[FID_SOD])}}
    if kind == "overlong-digest-oid":
        return {"files": {FID_SOD: sod_with_overlong_digest_oid(chip.files[FID_SOD])}}
    raise ValueError(f"unknown hostile card {kind!r}")


HOSTILE_CARDS = ("empty-oid-card-access", "bad-certificate-version", "overlong-digest-oid")

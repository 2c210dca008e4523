"""Passive authentication of an eMRTD (ICAO 9303 Part 11 §5.1, Part 10 §4.6.2).

``passive_authentication(ef_sod, data_groups, trust)`` returns a value, never
raises for a bad document, whatever its bytes (an exception inside a check is
that check failing: fail closed). In order, it:

1. parses EF.SOD (tag 77 around a CMS ContentInfo whose SignedData
   encapsulates an LDSSecurityObject, OID 2.23.136.1.1.1);
2. finds the document signer (DS) certificate named by the SignerInfo in the
   SignedData's certificates (or among ``trust``);
3. checks that the DS certificate is itself in ``trust`` or is directly issued
   by a certificate in ``trust`` (the CSCA certificates the election package
   carries) - signature and issuer name, and optionally validity at ``at``;
4. checks the signed attributes (content type, message digest of the
   LDSSecurityObject) and the CMS signature over them (RSA PKCS#1 v1.5,
   RSASSA-PSS or ECDSA);
5. compares the hash of every data group read with the value in the
   LDSSecurityObject; a data group read but not listed fails.

The result is ``PassiveAuthResult(ok, reason, signer)``; ``reason`` says
which step failed in words for the commission's screen and the audit log.

Example::

    result = passive_authentication(sod_bytes, {1: dg1, 2: dg2}, [csca_pem])
    if not result.ok:
        refuse("card not authentic: " + result.reason)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from drivers.errors import ProtocolError
from drivers.idcard.apdu import read_tlv

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"


class DataGroupHash(core.Sequence):
    _fields = [("data_group_number", core.Integer),
               ("data_group_hash_value", core.OctetString)]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class LDSSecurityObject(core.Sequence):
    """Part 10 §4.6.2.2: version, hash algorithm, data-group hashes, optional LDS version."""

    _fields = [("version", core.Integer), ("hash_algorithm", algos.DigestAlgorithm),
               ("data_group_hash_values", DataGroupHashValues),
               ("lds_version_info", LDSVersionInfo, {"optional": True})]


@dataclass(frozen=True)
class PassiveAuthResult:
    ok: bool
    reason: str  # "authentic" when ok
    signer: str | None = None  # DS certificate subject, when found

    @classmethod
    def fail(cls, reason: str, signer: str | None = None) -> PassiveAuthResult:
        return cls(False, reason, signer)


_HASHES = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
           "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def load_certificates(trust: Iterable[bytes | str | x509.Certificate]) -> list[x509.Certificate]:
    """PEM (one or many), DER or already-loaded certificates into a list."""
    out: list[x509.Certificate] = []
    for item in trust:
        if isinstance(item, x509.Certificate):
            out.append(item)
            continue
        raw = item.encode("ascii") if isinstance(item, str) else bytes(item)
        if b"-----BEGIN" in raw:
            out.extend(x509.load_pem_x509_certificates(raw))
        else:
            out.append(x509.load_der_x509_certificate(raw))
    return out


def sod_content(ef_sod: bytes) -> cms.ContentInfo:
    """The CMS ContentInfo inside EF.SOD (tag 77); ``ValueError`` or ``ProtocolError`` if not."""
    tag, value, _ = read_tlv(ef_sod)
    if tag != 0x77:
        raise ValueError(f"EF.SOD starts with tag {tag:X}, not 77")
    info = cms.ContentInfo.load(value)
    if info["content_type"].native != "signed_data":
        raise ValueError("EF.SOD does not hold CMS SignedData")
    return info


def _signer_cert(signed: cms.SignedData, signer: cms.SignerInfo,
                 extra: list[x509.Certificate]) -> x509.Certificate | None:
    sid = signer["sid"]
    candidates = [x509.load_der_x509_certificate(c.chosen.dump())
                  for c in signed["certificates"] or [] if c.name == "certificate"] + extra
    for cert in candidates:
        if sid.name == "issuer_and_serial_number":
            issuer = sid.chosen["issuer"].dump()
            if (cert.serial_number == sid.chosen["serial_number"].native
                    and asn1_x509.Name.load(cert.issuer.public_bytes()).dump() == issuer):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.chosen.native:
                return cert
    return None


def _chains(ds: x509.Certificate, trust: list[x509.Certificate]) -> bool:
    for anchor in trust:
        if anchor == ds:
            return True
        if anchor.subject != ds.issuer:
            continue
        try:
            ds.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _verify_signature(cert: x509.Certificate, signer: cms.SignerInfo, message: bytes) -> None:
    sig_algo = signer["signature_algorithm"]
    signature = signer["signature"].native
    digest_name = signer["digest_algorithm"]["algorithm"].native
    key = cert.public_key()
    kind = sig_algo.signature_algo
    if kind == "rsassa_pss":
        params = sig_algo["parameters"]
        pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]()
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature("RSASSA-PSS signature with a non-RSA key")
        key.verify(signature, message,
                   padding.PSS(padding.MGF1(pss_hash), params["salt_length"].native), pss_hash)
        return
    try:
        digest_name = sig_algo.hash_algo
    except ValueError:
        pass  # plain "rsassa_pkcs1v15" / "ecdsa": the hash is the SignerInfo's
    algorithm = _HASHES[digest_name]()
    if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, padding.PKCS1v15(), algorithm)
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, message, ec.ECDSA(algorithm))
    else:
        raise InvalidSignature(f"signature algorithm {kind} does not fit the signer's key")


def signed_attributes_bytes(signer: cms.SignerInfo) -> bytes:
    """The exact bytes a CMS signature covers: the signed attributes as a SET (tag 31)."""
    raw = signer["signed_attrs"].dump()
    return b"\x31" + raw[1:]


def passive_authentication(ef_sod: bytes, data_groups: dict[int, bytes],
                           trust: Iterable[bytes | str | x509.Certificate], *,
                           at: dt.datetime | None = None) -> PassiveAuthResult:
    """Verify EF.SOD against ``trust`` and the data groups read (see the module docstring)."""
    try:
        anchors = load_certificates(trust)
    except ValueError as exc:
        return PassiveAuthResult.fail(f"trusted certificates do not load: {exc}")
    if not anchors:
        return PassiveAuthResult.fail("no trusted CSCA or document-signer certificates given")
    try:
        return _verify(ef_sod, data_groups, anchors, at)
    except Exception as exc:  # noqa: BLE001 - fail closed on whatever the card's bytes make a parser raise
        # EF.SOD goes through two third-party DER parsers: asn1crypto (lazily, at each field
        # access below) and cryptography's X.509. What they raise on hostile bytes is not part
        # of their contracts (ValueError, TypeError, KeyError, IndexError, InvalidVersion, ...
        # were all seen). A document is authentic only when every check returns: anything
        # raised on the way is a failed check, named in the reason.
        said = " ".join(str(exc).split())  # one line for the screen and the audit log
        return PassiveAuthResult.fail(f"EF.SOD does not parse ({type(exc).__name__}: {said})")


def _verify(ef_sod: bytes, data_groups: dict[int, bytes], anchors: list[x509.Certificate],
            at: dt.datetime | None) -> PassiveAuthResult:
    try:
        signed = sod_content(ef_sod)["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != LDS_SECURITY_OBJECT_OID:
            return PassiveAuthResult.fail("EF.SOD does not hold an LDS security object")
        lds_bytes = encap["content"].contents
        lds = LDSSecurityObject.load(lds_bytes)
        dg_hash_algorithm = lds["hash_algorithm"]["algorithm"].native
        dg_hashes = {item["data_group_number"].native: item["data_group_hash_value"].native
                     for item in lds["data_group_hash_values"]}
        signers = list(signed["signer_infos"])
    except (ValueError, TypeError, KeyError, ProtocolError) as exc:
        return PassiveAuthResult.fail(f"EF.SOD does not parse: {exc}")
    if len(signers) != 1:
        return PassiveAuthResult.fail(f"EF.SOD has {len(signers)} signers, not 1")
    signer = signers[0]
    try:
        ds = _signer_cert(signed, signer, anchors)
    except ValueError as exc:
        return PassiveAuthResult.fail(f"document-signer certificate does not load: {exc}")
    if ds is None:
        return PassiveAuthResult.fail("EF.SOD names no document-signer certificate it carries")
    subject = ds.subject.rfc4514_string()
    if not _chains(ds, anchors):
        return PassiveAuthResult.fail("document signer is not issued by a trusted CSCA", subject)
    if at is not None and not (ds.not_valid_before_utc <= at <= ds.not_valid_after_utc):
        return PassiveAuthResult.fail("document-signer certificate is not valid now", subject)
    if not signer["signed_attrs"]:
        return PassiveAuthResult.fail("EF.SOD signature has no signed attributes", subject)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES or dg_hash_algorithm not in _HASHES:
        return PassiveAuthResult.fail(f"hash algorithm {digest_name} is not supported", subject)
    attrs = {a["type"].native: a["values"] for a in signer["signed_attrs"]}
    content_type = attrs.get("content_type")
    if content_type is None or content_type[0].dotted != LDS_SECURITY_OBJECT_OID:
        return PassiveAuthResult.fail("signed content-type attribute is wrong", subject)
    message_digest = attrs.get("message_digest")
    expected = hashlib.new(digest_name, lds_bytes).digest()
    if message_digest is None or not hmac.compare_digest(message_digest[0].native, expected):
        return PassiveAuthResult.fail("signed message digest does not match the content", subject)
    try:
        _verify_signature(ds, signer, signed_attributes_bytes(signer))
    except (InvalidSignature, KeyError, ValueError) as exc:
        return PassiveAuthResult.fail(f"EF.SOD signature does not verify ({exc})", subject)
    for number, content in sorted(data_groups.items()):
        listed = dg_hashes.get(number)
        if listed is None:
            return PassiveAuthResult.fail(f"DG{number} is not listed in EF.SOD", subject)
        if not hmac.compare_digest(hashlib.new(dg_hash_algorithm, content).digest(), listed):
            return PassiveAuthResult.fail(f"DG{number} hash does not match EF.SOD", subject)
    return PassiveAuthResult(True, "authentic", subject)

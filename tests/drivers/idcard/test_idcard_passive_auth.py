"""Passive authentication: EF.SOD chains to a trusted CSCA, its signature and hashes hold."""

import datetime as dt

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from drivers.idcard.apdu import encode_tlv, read_tlv
from drivers.idcard.emulator import build_sod, make_test_pki
from drivers.idcard.passive_auth import passive_authentication

DGS = {1: b"\x61\x03\x5f\x1f\x00", 2: b"\x75\x02\x7f\x61"}


@pytest.fixture(scope="module")
def rsa_pki():
    return make_test_pki("KG", key_type="rsa")


def _sod(pki, dgs=DGS, **kwargs):
    return build_sod(dgs, pki.ds_key, pki.ds_cert, **kwargs)


@pytest.mark.parametrize("trust", ["csca-pem", "csca-der", "ds-itself", "bundle"])
def test_authentic(pki, trust):
    anchors = {
        "csca-pem": [pki.csca_pem],
        "csca-der": [pki.csca_cert.public_bytes(serialization.Encoding.DER)],
        "ds-itself": [pki.ds_pem],
        "bundle": [make_test_pki("KZ").csca_pem + pki.csca_pem],
    }[trust]
    result = passive_authentication(_sod(pki), DGS, anchors)
    assert result.ok and result.reason == "authentic"
    assert result.signer == "CN=Test DS KG,O=Uchastok test,C=KG"


@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512", "sha1"])
def test_authentic_rsa_with_each_hash(rsa_pki, digest):
    assert passive_authentication(_sod(rsa_pki, digest=digest), DGS, [rsa_pki.csca_pem]).ok


def _resign_signature(sod: bytes) -> bytes:
    _, value, _ = read_tlv(sod)
    info = cms.ContentInfo.load(value)
    signer = info["content"]["signer_infos"][0]
    sig = bytearray(signer["signature"].native)
    sig[-5] ^= 0x01
    signer["signature"] = bytes(sig)
    return encode_tlv(0x77, info.dump(force=True))


def _swap_certificate(sod: bytes, other) -> bytes:

    _, value, _ = read_tlv(sod)
    info = cms.ContentInfo.load(value)
    info["content"]["certificates"] = [asn1_x509.Certificate.load(
        other.ds_cert.public_bytes(serialization.Encoding.DER))]
    return encode_tlv(0x77, info.dump(force=True))


def test_reasons_for_documents_that_are_not_authentic(pki, rsa_pki):
    cases = {
        "untrusted": (_sod(pki), DGS, [rsa_pki.csca_pem], "not issued by a trusted CSCA"),
        "no-trust": (_sod(pki), DGS, [], "no trusted"),
        "dg2-changed": (_sod(pki), {1: DGS[1], 2: DGS[2] + b"x"}, [pki.csca_pem],
                        "DG2 hash does not match"),
        "dg-not-listed": (_sod(pki, {1: DGS[1]}), DGS, [pki.csca_pem], "DG2 is not listed"),
        "signature-flipped": (_resign_signature(_sod(pki)), DGS, [pki.csca_pem],
                              "signature does not verify"),
        "garbage": (b"\x77\x03\x30\x01\x00", DGS, [pki.csca_pem], "does not parse"),
        "not-tag-77": (b"\x30\x00", DGS, [pki.csca_pem], "does not parse"),
        "cert-missing": (_swap_certificate(_sod(pki), rsa_pki), DGS, [pki.csca_pem],
                         "names no document-signer"),
    }
    for name, (sod, dgs, trust, reason) in cases.items():
        result = passive_authentication(sod, dgs, trust)
        assert not result.ok, name
        assert reason in result.reason, (name, result.reason)


def test_ds_expired_at_the_given_time(pki):

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=12 * 365)
    result = passive_authentication(_sod(pki), DGS, [pki.csca_pem], at=later)
    assert not result.ok and "not valid" in result.reason


def test_bad_trust_input_is_a_reason(pki):
    result = passive_authentication(_sod(pki), DGS, [b"not a certificate"])
    assert not result.ok and "do not load" in result.reason

"""load_device: the one builder of the device's signer, and the certificate must name its key."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fixtures_sync import ELECTION, STATION
from sync_world import Station

from base.clock import FixedClock
from base.paths import Paths
from sync import signing
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.device import load_device
from sync.envelope import ZERO_HASH, verify_envelope
from sync.errors import CertificateMismatchError, DeviceCredentialsError, VerificationError
from sync.uploader import main, open_station


def _cert(authority, key, station=STATION, election=ELECTION, device_id=None):
    pub = key.public_key()
    return issue_certificate(authority, device_id or device_id_for(pub), pub, station, election,
                             dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                             dt.datetime(2025, 12, 31, tzinfo=dt.UTC))


@pytest.fixture
def files(tmp_path):
    return tmp_path / "keys" / "device.key", tmp_path / "device-cert.json"


def _install(files, key, cert):
    signing.save_private_key(key, files[0])
    files[1].write_text(json.dumps(cert))


def test_signer_seals_verifiable_envelopes_naming_the_certificate(files, authority):
    key = signing.generate_key()
    cert = _cert(authority, key)
    _install(files, key, cert)
    clock = FixedClock()
    device = load_device(*files, clock=clock, authority_pub=authority.public_key())
    assert device.device_id == device_id_for(key.public_key())
    assert device.certificate == cert
    s = device.signer
    assert (s.cert_ref, s.election_id, s.station_id, s.clock) == (cert_ref(cert), ELECTION, STATION, clock)
    sealed = s.seal("count", 1, ZERO_HASH, "polls-event", {"event": "opened", "at": "2025-11-30T02:00:00Z"})
    verify_envelope(sealed.envelope, key.public_key())
    assert "PRIVATE" not in repr(device)


def test_the_package_election_and_station_are_used_when_given(files, authority):
    key = signing.generate_key()
    _install(files, key, _cert(authority, key))
    signer = load_device(*files, election_id="kg-2026", station_id="st-0099").signer
    assert (signer.election_id, signer.station_id) == ("kg-2026", "st-0099")


def test_a_certificate_for_another_key_is_refused(files, authority):
    key, other = signing.generate_key(), signing.generate_key()
    _install(files, key, _cert(authority, other))        # a certificate copied from another device
    with pytest.raises(CertificateMismatchError, match="not for this device's key"):
        load_device(*files)


def test_a_certificate_naming_our_key_under_another_device_id_is_refused(files, authority):
    key = signing.generate_key()
    _install(files, key, _cert(authority, key, device_id="dev-0000000000000000"))
    with pytest.raises(CertificateMismatchError):
        load_device(*files)


def test_a_mismatch_is_a_verification_error(files, authority):
    key = signing.generate_key()
    _install(files, key, _cert(authority, signing.generate_key()))
    with pytest.raises(VerificationError):
        load_device(*files)


def test_a_certificate_from_another_authority_is_refused_when_the_authority_is_given(files, authority):
    key = signing.generate_key()
    _install(files, key, _cert(signing.generate_key(), key))
    load_device(*files)                                   # names our key: usable without the authority
    with pytest.raises(VerificationError):
        load_device(*files, authority_pub=authority.public_key())


@pytest.mark.parametrize("damage,match", [
    (lambda key, cert: key.unlink(), "no key"),
    (lambda key, cert: key.chmod(0o644), "cannot load the device key"),
    (lambda key, cert: key.write_bytes(b"not a key"), "cannot load the device key"),
    (lambda key, cert: cert.unlink(), "no certificate"),
    (lambda key, cert: cert.write_text("{"), "cannot read the device certificate"),
    (lambda key, cert: cert.write_text("[]"), "not a device certificate"),
], ids=["key-missing", "key-readable-by-others", "key-not-pem", "cert-missing", "cert-not-json",
        "cert-not-a-document"])
def test_missing_or_unusable_files_are_credential_errors(files, authority, damage, match):
    key = signing.generate_key()
    _install(files, key, _cert(authority, key))
    damage(*files)
    with pytest.raises(DeviceCredentialsError, match=match):
        load_device(*files)


def test_the_uploader_refuses_a_certificate_for_another_key(tmp_path, authority, ack_key, capsys):
    st = Station(tmp_path / "st", authority)
    st.install_trust(ack_key.public_key(), authority.public_key())
    st.paths.role("count").cert.write_text(json.dumps(_cert(authority, signing.generate_key())))
    try:
        with pytest.raises(CertificateMismatchError):
            open_station(Paths.from_env(st.home))
        assert main(["--home", str(st.home), "--url", "http://127.0.0.1:9", "--once"]) == 2
        assert "not for this device's key" in capsys.readouterr().out
    finally:
        st.close()

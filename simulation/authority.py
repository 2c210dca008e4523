"""The CEC and provisioning-authority side, for tests and the demo.

A real election's package is built and signed at the CEC; this module does the
same with demo keys so the whole chain can be exercised on one machine:

- the demo CEC key (signs packages; also acts as provisioning authority and
  signs device certificates) is created once at ``default_cec_key_path()``, or
  taken from ``--signing-key FILE`` (created there if missing);
- ``build_demo_package(out, ...)`` writes a signed package to ``out``, the CEC
  public key to ``out.cec.pub`` (beside, never inside), and the demo's other
  secrets (the receiver's ack key, the ID-card document signer) to
  ``out.secrets/``: they belong to the central server and the card issuer, not
  to the device.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from biometrics.match import SYNTHETIC_CALIBRATION_FILE
from drivers.idcard.emulator import load_or_make_test_pki
from provisioning.package import build_package
from simulation.election import demo_manifest, demo_voters, enrol_all
from station.package import Package
from sync import signing


def default_cec_key_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "uchastok" / "demo-cec.key"


def load_or_create_key(path: str | os.PathLike) -> signing.PrivateKey:
    path = Path(path)
    if path.exists():
        return signing.load_private_key(path)
    key = signing.generate_key()
    signing.save_private_key(key, path)
    return key


def secrets_dir(pkg_dir: str | os.PathLike) -> Path:
    return Path(str(pkg_dir).rstrip("/") + ".secrets")


def cec_pub_path(pkg_dir: str | os.PathLike) -> Path:
    return Path(str(pkg_dir).rstrip("/") + ".cec.pub")


def document_signer(secrets: Path):
    """The demo card issuer's test CSCA + document signer (``drivers.idcard.emulator.TestPki``).

    Created once in ``secrets`` (card-csca.pem, card-ds.pem, card-ds.key) and
    reloaded after, so the package's trust/document-signers.pem and the
    synthetic ID cards the simulators make later agree.
    """
    return load_or_make_test_pki(secrets)


def _document_signer_pem(secrets: Path) -> bytes:
    """Test CSCA + document-signer certificates for synthetic ID cards (when the card driver is present)."""
    pki = document_signer(secrets)
    return pki.csca_pem + pki.ds_pem


def build_demo_package(out: str | os.PathLike, *, voters: int = 300, seed: int = 1,
                       signing_key: str | os.PathLike | None = None, templates: bool = True,
                       package_version: int = 1, station_number: int = 1234,
                       voting_day=None,
                       progress: Callable[[str, int, int], None] | None = None) -> Package:
    out = Path(out)
    cec = load_or_create_key(signing_key or default_cec_key_path())
    secrets = secrets_dir(out)
    secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    ack = load_or_create_key(secrets / "ack-server.key")
    manifest = demo_manifest(seed, station_number=station_number, package_version=package_version,
                             **({"voting_day": voting_day} if voting_day else {}))
    rows = list(demo_voters(seed, voters, **({"voting_day": voting_day} if voting_day else {})))
    tmpl: list = []
    if templates:
        cb = (lambda d, t: progress("templates", d, t)) if progress else None
        tmpl = list(enrol_all(seed, [r[0] for r in rows], progress=cb))
    trust = {"ack-server.pub": (signing.public_text(signing.public_key(ack)) + "\n").encode(),
             "provisioning.pub": (signing.public_text(signing.public_key(cec)) + "\n").encode(),
             "document-signers.pem": _document_signer_pem(secrets)}
    if templates:
        # The demo's fingers are synthetic, and synthetic fingers resemble each other far more
        # than real ones: the package carries thresholds from synthetic impostors (at the same
        # target FMR), as a real package would carry its sensors' (docs/biometrics.md).
        trust["fingerprint-calibration.json"] = SYNTHETIC_CALIBRATION_FILE.read_bytes()
    pkg = build_package(out, manifest, rows, cec, templates=tmpl, trust=trust)
    signing.save_public_key(signing.public_key(cec), cec_pub_path(out))
    (secrets / "seed").write_text(f"{seed}\n")
    return pkg

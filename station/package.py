"""The election package on the device: verified before anything reads it.

Format: docs/election-package.md. A directory::

    manifest.json        canonical JSON (RFC 8785): election, station, contests,
                         ballot styles, package_version, and ``files``: every
                         other file with its SHA-256 and size
    manifest.sig         {"signer": KEYID, "signature": BASE64}: Ed25519 by the
                         CEC key over the exact bytes of manifest.json
    voters.csv           the station's voter list (header + rows, UTF-8)
    templates.csv        pin,finger,iso_base64 (ISO/IEC 19794-2:2005 records)
    trust/ack-server.pub         the central server's ack key
    trust/provisioning.pub       the provisioning authority (device certificates)
    trust/document-signers.pem   CSCA / document-signer certificates for ID cards

Verification comes before any reading (ARCHITECTURE.md invariant 3):
``read_package`` checks, in order, the size of manifest.json, its signature
against the pinned CEC key, the exact set of files, and each file's size and
SHA-256; only then does anything parse the manifest's content or the list.
Both roles read the package through this module; building and importing it are
``provisioning.package``'s.

Example::

    pkg = read_package("pkg/", cec_pub=load_public_key("pkg.cec.pub"))
    election = current_package(paths).election
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from base.paths import Paths
from station.election import Election
from station.errors import PackageError
from sync import signing
from sync.canonical import parse
from sync.errors import EnvelopeError, VerificationError

FORMAT = "uchastok-election-package/1"
MAX_MANIFEST_BYTES = 16 << 20
SIGNED_FILES = ("manifest.json", "manifest.sig")


@dataclass(frozen=True)
class Package:
    dir: Path
    manifest: dict
    election: Election
    hash: str                  # SHA-256 of manifest.json: names this exact package

    def file(self, name: str) -> Path:
        return self.dir / name

    @property
    def voter_rows(self) -> int:
        return int(self.manifest["voters"]["rows"])


def read_package(pkg_dir: str | os.PathLike, cec_pub: signing.PublicKey) -> Package:
    """Verify everything, then parse the manifest. Raises PackageError naming the file."""
    d = Path(pkg_dir)
    manifest, data = _verified_manifest(d, cec_pub)
    mpath = d / "manifest.json"
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise PackageError(f"{mpath}: no files list")
    present = {p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file()} - set(SIGNED_FILES)
    for name in sorted(set(listed) - present):
        raise PackageError(f"{d / name}: listed in the manifest but missing")
    for name in sorted(present - set(listed)):
        raise PackageError(f"{d / name}: extra file not listed in the manifest")
    for name in sorted(listed):
        p, want = d / name, listed[name]
        if not (isinstance(want, dict) and isinstance(want.get("sha256"), str)
                and isinstance(want.get("bytes"), int) and not isinstance(want.get("bytes"), bool)):
            raise PackageError(f"{mpath}: files[{name!r}] must hold sha256 (text) and bytes (integer)")
        if p.is_symlink():
            raise PackageError(f"{p}: symbolic links are not allowed in a package")
        if p.stat().st_size != want.get("bytes"):
            raise PackageError(f"{p}: size {p.stat().st_size} differs from the manifest's {want.get('bytes')}")
        if signing.sha256_file(p) != want.get("sha256"):
            raise PackageError(f"{p}: SHA-256 differs from the manifest (file altered)")
    # Everything verified: now the content may be read.
    return _parsed(d, manifest, data, listed)


def _verified_manifest(d: Path, cec_pub: signing.PublicKey) -> tuple[dict, bytes]:
    mpath, spath = d / "manifest.json", d / "manifest.sig"
    for p in (mpath, spath):
        if not p.is_file():
            raise PackageError(f"{p}: missing (not an election package?)")
    if mpath.stat().st_size > MAX_MANIFEST_BYTES:
        raise PackageError(f"{mpath}: {mpath.stat().st_size} bytes is over the {MAX_MANIFEST_BYTES} limit")
    data = mpath.read_bytes()
    try:
        sig = json.loads(spath.read_text())
        if sig.get("signer") != signing.key_id(cec_pub):
            raise VerificationError(f"signed by key {sig.get('signer')!r}, not by the pinned CEC key"
                                    f" {signing.key_id(cec_pub)!r}")
        signing.verify(cec_pub, signing.unb64(sig.get("signature", ""), "signature"), data)
    except (ValueError, AttributeError, VerificationError) as e:
        raise PackageError(f"{mpath}: refused, its signature in manifest.sig does not hold: {e}") from e
    try:
        manifest = parse(data)
    except EnvelopeError as e:
        raise PackageError(f"{mpath}: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"{mpath}: format is not {FORMAT}")
    return manifest, data


def read_election(pkg_dir: str | os.PathLike, cec_pub: signing.PublicKey) -> Election:
    """The election of a package, verified by the manifest's signature alone.

    For the count role: the signed manifest is all it needs, so it never opens
    (nor needs read access to) the voter list and templates (ARCHITECTURE.md invariant 2).
    """
    manifest, _ = _verified_manifest(Path(pkg_dir), cec_pub)
    return Election.from_manifest(manifest)


def _parsed(d: Path, manifest: dict, data: bytes, listed: dict) -> Package:
    mpath = d / "manifest.json"
    election = Election.from_manifest(manifest)
    v = manifest.get("voters")
    if (not isinstance(v, dict) or not isinstance(v.get("file"), str) or v["file"] not in listed
            or not isinstance(v.get("rows"), int) or isinstance(v.get("rows"), bool)):
        raise PackageError(f"{mpath}: voters entry missing or malformed")
    return Package(dir=d, manifest=manifest, election=election, hash=signing.sha256_hex(data))


def pinned_cec_key(paths: Paths) -> signing.PublicKey:
    if not paths.cec_pub.exists():
        raise PackageError("no CEC key is pinned on this device: run `uchastok provision init --cec-key FILE` first")
    return signing.load_public_key(paths.cec_pub)


def voter_list_problem(paths: Paths) -> str | None:
    """Why identify.db's voter list is not the loaded package's (an interrupted load), or None."""
    mpath = paths.package_dir / "manifest.json"
    if not mpath.exists() or not paths.identify_db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{paths.identify_db}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT manifest_sha256 FROM voter_list WHERE id = 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return f"identify.db cannot be read: {e}"
    want = signing.sha256_file(mpath)
    if row is None or row[0] != want:
        return ("the voter list in identify.db is not the loaded package's (an interrupted"
                " `provision load`?): run `uchastok provision load` again")
    return None


def current_package(paths: Paths) -> Package | None:
    """The loaded package, re-verified against the pinned key (None if nothing is loaded)."""
    if not (paths.package_dir / "manifest.json").exists():
        return None
    return read_package(paths.package_dir, pinned_cec_key(paths))

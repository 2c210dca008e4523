"""A CEC-signed templates.csv with a byte outside ASCII is a clear PackageError (audit finding 8).

It used to raise UnicodeDecodeError with a traceback from inside the import. The load is
refused naming file and line, and nothing on the device changes: the package in place, the
voter list and the templates stay as they were.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from provisioning.package import load_package
from simulation.authority import load_or_create_key
from station.errors import PackageError
from sync import signing
from sync.canonical import canonical


def _resigned_v2(pkg_dir, key, name: str, data: bytes) -> None:
    """Replace one file and sign the manifest again as package version 2 (a validly signed bad package)."""
    (pkg_dir / name).write_bytes(data)
    m = json.loads((pkg_dir / "manifest.json").read_bytes())
    m["files"][name] = {"sha256": signing.sha256_hex(data), "bytes": len(data)}
    m["package_version"] = 2
    mb = canonical(m)
    (pkg_dir / "manifest.json").write_bytes(mb)
    (pkg_dir / "manifest.sig").write_text(json.dumps({"signer": signing.key_id(signing.public_key(key)),
                                                      "signature": signing.b64(signing.sign(key, mb))}))


def _state(paths) -> tuple:
    conn = sqlite3.connect(paths.identify_db)
    try:
        rows = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("voter", "template")]
    finally:
        conn.close()
    files = sorted((p.relative_to(paths.package_dir).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
                   for p in paths.package_dir.rglob("*") if p.is_file())
    return rows, files


@pytest.mark.parametrize("where", ["first-row", "later-row", "header"])
def test_non_ascii_byte_in_templates_is_a_package_error_and_nothing_changes(device, package, where):
    load_package(device, package.dir)                       # a good list is in place
    before = _state(device)
    assert before[0][1] > 0                                 # with templates
    key = load_or_create_key(package.key)
    lines = (package.dir / "templates.csv").read_bytes().split(b"\n")
    line = {"header": 1, "first-row": 2, "later-row": len(lines) - 1}[where]
    lines[line - 1] = lines[line - 1][:5] + b"\xd0\x9f" + lines[line - 1][5:]   # a Cyrillic letter
    _resigned_v2(package.dir, key, "templates.csv", b"\n".join(lines))
    with pytest.raises(PackageError, match=rf"templates.csv:{line}: not ASCII \(byte 0xD0 at column 6\)"):
        load_package(device, package.dir)
    assert _state(device) == before

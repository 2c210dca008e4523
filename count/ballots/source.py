"""Where the ballot tools get the election from: a verified package, or a bare manifest.

``election_from(package, cec_key=None, pinned=None)``:
- a directory is an election package (docs/election-package.md), read with
  ``station.package.read_package`` against the CEC public key: the one
  given, else the device's pinned key (``pinned``, Paths.cec_pub), else the
  demo convention ``<DIR>.cec.pub`` beside the package; no key → PackageError;
- a ``.json`` file is a bare manifest (development and tests: NOT verified).

Example::

    election = election_from("/tmp/pkg")          # uses /tmp/pkg.cec.pub in the demo
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from station.election import Election
from station.errors import PackageError
from station.package import read_package
from sync.signing import load_public_key


def election_from(package: str | os.PathLike, cec_key: str | os.PathLike | None = None,
                  pinned: str | os.PathLike | None = None) -> Election:
    p = Path(package)
    if p.is_file():
        try:
            manifest = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise PackageError(f"{p}: not a readable manifest: {e}") from e
        return Election.from_manifest(manifest)
    if not p.is_dir():
        raise PackageError(f"{p}: no such package directory or manifest file")

    candidates = [cec_key, pinned, str(p).rstrip("/") + ".cec.pub"]
    key = next((Path(k) for k in candidates if k and Path(k).is_file()), None)
    if key is None:
        raise PackageError(f"{p}: no CEC public key to verify it (give --cec-key)")
    return read_package(p, load_public_key(key)).election

"""No module imports another module's private names (a leading underscore): what two modules
share is public and documented where it is defined (identify/claims.py used to take the
uploader's socket watchdog as ``_adapter``, ``_is_loopback``, ``_SocketRegistry``; now
sync/uploader.py's ``cuttable_adapter``, ``is_loopback``, ``SocketRegistry``)."""

from __future__ import annotations

import ast
from pathlib import Path

import requests

from sync import uploader

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("base", "drivers", "sync", "station", "biometrics", "count", "identify", "provisioning",
            "simulation", "screens", "cli", "central")


def private_imports() -> list[str]:
    out = []
    for package in PACKAGES:
        for f in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
                if isinstance(node, ast.ImportFrom) and node.module \
                        and node.module.split(".")[0] in PACKAGES:
                    out += [f"{f.relative_to(ROOT)}: from {node.module} import {a.name}"
                            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    return out


def test_no_module_imports_a_private_name_of_another():
    assert private_imports() == []


def test_the_uploaders_shared_transport_is_public():
    registry = uploader.SocketRegistry()
    adapter = uploader.cuttable_adapter(registry)
    assert isinstance(adapter, requests.adapters.HTTPAdapter) and adapter.max_retries.total == 0
    registry.cut()                               # nothing in flight: nothing to cut, no error
    assert uploader.is_loopback("http://127.0.0.1:8443/") and uploader.is_loopback("http://localhost/")
    assert uploader.is_loopback("http://[::1]:80/")
    assert not uploader.is_loopback("http://10.0.0.5/") and not uploader.is_loopback("http://cec.kg/")

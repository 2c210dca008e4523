"""Reading systemd unit files in tests: one parser for the unit, drop-in and install tests."""

from __future__ import annotations

from pathlib import Path


def parse_unit(path: Path) -> dict[str, list[str]]:
    """``Section.Key`` -> its values in order (keys repeat: DeviceAllow=, SystemCallFilter=; an empty
    value is kept, as systemd reads it to reset a list); a line ending in a backslash goes on."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out

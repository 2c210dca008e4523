"""Lay the station software and its system files onto a Raspberry Pi OS root.

``install(root, source=...)`` writes, under ``root`` (``/`` on the device, a
scratch directory in tests or when preparing an SD card image):

- the software in ``/opt/uchastok``: a virtual environment
  (``/opt/uchastok/venv``, ``pip install`` of the source tree or of a wheel
  from ``wheelhouse``), or in *light* mode a copy of the source tree in
  ``/opt/uchastok/app`` with two wrapper scripts at the same paths the units
  name (``venv/bin/uchastok``, ``venv/bin/uchastok-sync``); the guides always
  go to ``/opt/uchastok/app/docs``;
- ``/usr/local/bin/uchastok``, a link to the CLI;
- the units, the roles' outbox sockets and the target in
  ``/etc/systemd/system``, enabled the way ``systemctl enable`` would
  (symlinks in ``*.wants``; the outbox services are socket-activated);
- ``/etc/sysusers.d/uchastok.conf``, ``/etc/tmpfiles.d/uchastok.conf``,
  ``/etc/udev/rules.d/99-uchastok.rules``, a journald drop-in that keeps the
  journal persistent but bounded (a full disk is a reliability case);
- ``/etc/uchastok/uchastok.toml``, the default configuration, only when none
  exists: a technician's edits survive a reinstall;
- when that file's ``[claims]`` is on (a ``url`` and a ``mode`` other than
  ``off``: identify/claims.py), the identify unit's drop-in
  ``uchastok-identify.service.d/claims.conf`` (from
  ``systemd/uchastok-identify.service.d/claims.conf.in``) and the unit's own
  hosts file ``/etc/uchastok/identify-hosts``: network access to the centre's
  addresses only (``IPAddressAllow=``, every other address denied, DNS
  included), the centre's name resolved from that file. The addresses are the
  URL's host when it is an IP address, else ``centre_addresses`` (``--centre-address``);
  a name with no address given is a ProvisioningError (the install needs no
  network, and the unit may not ask a DNS server). With ``[claims]`` off, both
  files are removed (docs/remote-voting.md "The identify unit and the network").

Guarantees: idempotent (a second run writes nothing and reports every file
unchanged); files are written atomically (temporary file, fsync,
``os.replace``); modes are explicit. With ``apply=True`` (the default when
``root`` is ``/``) it then runs ``systemd-sysusers`` and
``systemd-tmpfiles --create`` against the root, and on a live system reloads
udev and systemd. Users, groups and directory modes are thus the ones
sysusers.d/tmpfiles.d describe, also after every boot.

Example::

    report = install(Path("/"), source=Path("/home/tech/uchastok"))
    report = install(Path("/tmp/sdroot"), source=repo, light=True, apply=True)

CLI: ``uchastok provision install --root DIR [--light]``; before anything is
installed, from the source tree: ``sudo python3 -m provisioning.install``
(needs only Debian's python3-click).
"""

from __future__ import annotations

import contextlib
import filecmp
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import click

from base.files import atomic_write
from station.errors import ProvisioningError

PREFIX = Path("opt/uchastok")
UNITS = ("uchastok-identify.service", "uchastok-count.service", "uchastok-sync.service",
         "uchastok-identify-outbox.socket", "uchastok-count-outbox.socket",
         "uchastok-identify-outbox.service", "uchastok-count-outbox.service",
         "uchastok.target")
# Enabled in uchastok.target.wants; the outbox services start when the uploader connects.
ENABLED = UNITS[:5]
# The identify unit's network, only with online claims (``claims_network``).
CLAIMS_DROPIN = Path("etc/systemd/system/uchastok-identify.service.d/claims.conf")
CLAIMS_HOSTS = Path("etc/uchastok/identify-hosts")
# What the light mode copies: the importable packages and the guides.
PACKAGES = ("base", "drivers", "sync", "station", "biometrics", "count", "identify", "provisioning",
            "simulation", "screens", "cli")
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")

ENTRY_POINTS = {
    # wrapper name -> Python statement run with the arguments in sys.argv[1:]
    "uchastok": "from cli import main; main(sys.argv[1:])",
    "uchastok-sync": "from sync.uploader import main; sys.exit(main())",
    "uchastok-outbox": "from station.outbox_service import main; sys.exit(main())",
}

DEFAULT_CONFIG = """\
# Uchastok station configuration (written once by `uchastok provision install`;
# later installs keep this file). Device names come from
# /etc/udev/rules.d/99-uchastok.rules.

[station]
# Language of the screens and of the commission's commands: ky, ru or en.
# Printed documents always carry Kyrgyz and Russian.
language = "ky"

[identify]
sensor = "/dev/uchastok-fingerprint"   # or "/dev/serial0" when wired to the Pi's UART
mrz_reader = "/dev/uchastok-mrz"
card_reader = ""                       # part of the PC/SC reader name; "" = the first reader
printer = "/dev/uchastok-printer"
printer_baud = 19200

# The count role's scanner is set in /etc/uchastok/count.env
# (UCHASTOK_SCANNER=sane:DEVICE); by default the first SANE scanner found.

[health]
# Free space on /var/lib/uchastok: warn below disk_warn_mb, refuse new records
# below disk_floor_mb (station/health.py).
disk_warn_mb = 512
disk_floor_mb = 64
"""

JOURNALD_DROPIN = """\
# Uchastok: keep the journal across power cuts, but never let it fill the disk
# the station's records live on.
[Journal]
Storage=persistent
SystemMaxUse=200M
SystemKeepFree=512M
"""

WRAPPER = """\
#!/bin/sh
# Written by `uchastok provision install --light`: runs the copied source tree
# in {app} with {python}. A full install puts a virtual environment here.
here=$(dirname "$(readlink -f "$0")")
PYTHONPATH="$here/../../app${{PYTHONPATH:+:$PYTHONPATH}}" \\
PYTHONDONTWRITEBYTECODE=1 \\
exec {python} -c 'import sys; {statement}' "$@"
"""


@dataclass
class InstallReport:
    """What an install did, paths relative to the root."""

    root: Path
    mode: str
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"root": str(self.root), "mode": self.mode, "written": self.written,
                "unchanged": len(self.unchanged), "removed": self.removed,
                "applied": self.applied}


def default_source() -> Path:
    """The source tree this module was imported from (a checkout)."""
    return Path(__file__).resolve().parents[1]


def install(root: Path, *, source: Path | None = None, python: str | None = None,
            light: bool = False, wheelhouse: Path | None = None,
            apply: bool | None = None, centre_addresses: Sequence[str] = ()) -> InstallReport:
    """Install onto ``root``; see the module docstring. Returns what changed.

    ``centre_addresses``: the centre's IP addresses, for the identify unit's online claims when
    ``[claims] url`` names the centre by a host name.
    """
    root = Path(root).absolute()
    source = Path(source or default_source()).absolute()
    if not (source / "systemd").is_dir() or not (source / "station").is_dir():
        raise ProvisioningError(f"{source} is not an Uchastok source tree (no systemd/, station/)")
    if apply is None:
        apply = root == Path("/")
    report = InstallReport(root, "light" if light else "venv")
    target = _Target(root, report)

    # 1. Software.
    app = PREFIX / "app"
    if light:
        for pkg in PACKAGES:
            target.sync_tree(source / pkg, app / pkg)
        for name, statement in ENTRY_POINTS.items():
            target.write(PREFIX / "venv/bin" / name, WRAPPER.format(
                app=f"/{app}", python=python or "/usr/bin/python3", statement=statement), 0o755)
    else:
        _build_venv(root / PREFIX / "venv", source, python or sys.executable, wheelhouse, report)
    target.sync_tree(source / "docs", app / "docs")
    # The technician and the commission type `uchastok`, not the venv path.
    target.link(Path("usr/local/bin/uchastok"), f"/{PREFIX}/venv/bin/uchastok")

    # 2. System files.
    for unit in UNITS:
        target.copy(source / "systemd" / unit, Path("etc/systemd/system") / unit, 0o644)
    target.copy(source / "systemd/sysusers.d/uchastok.conf", Path("etc/sysusers.d/uchastok.conf"),
                0o644)
    target.copy(source / "systemd/tmpfiles.d/uchastok.conf", Path("etc/tmpfiles.d/uchastok.conf"),
                0o644)
    target.copy(source / "systemd/udev/99-uchastok.rules",
                Path("etc/udev/rules.d/99-uchastok.rules"), 0o644)
    target.write(Path("etc/systemd/journald.conf.d/uchastok.conf"), JOURNALD_DROPIN, 0o644)

    # 3. Enable, as `systemctl enable uchastok.target` would (WantedBy= lines).
    target.link(Path("etc/systemd/system/multi-user.target.wants/uchastok.target"),
                "/etc/systemd/system/uchastok.target")
    for unit in ENABLED:
        target.link(Path("etc/systemd/system/uchastok.target.wants") / unit,
                    f"/etc/systemd/system/{unit}")

    # 4. Configuration, once.
    target.write(Path("etc/uchastok/uchastok.toml"), DEFAULT_CONFIG, 0o640, keep_existing=True)

    # 5. The identify unit's network, to the centre only, when the configuration claims online.
    network = claims_network(root / "etc/uchastok/uchastok.toml", centre_addresses)
    if network is None:
        target.remove(CLAIMS_DROPIN)
        target.remove(CLAIMS_HOSTS)
    else:
        template = (source / "systemd/uchastok-identify.service.d/claims.conf.in").read_text()
        target.write(CLAIMS_DROPIN, template.replace("@ADDRESSES@", " ".join(network[1])), 0o644)
        target.write(CLAIMS_HOSTS, hosts_file(*network), 0o644)

    if apply:
        _apply(root, report)
    return report


def claims_network(config: Path, centre_addresses: Sequence[str] = ()) -> tuple[str, list[str]] | None:
    """(the centre's host, its addresses) when ``config``'s ``[claims]`` is on, else None.

    On: a ``url`` and a ``mode`` other than ``off`` (the identify unit reads no environment
    file, so its URL is the table's: identify/claims.py ``ClaimConfig``). Raises
    ProvisioningError for a file that is not TOML, a URL without a host, an address that is
    not one, or a host name with no address given.
    """
    try:
        table = tomllib.loads(config.read_text()).get("claims") if config.exists() else None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ProvisioningError(f"{config}: {e}") from e
    if not isinstance(table, dict) or not table.get("url") or table.get("mode") == "off":
        return None
    host = urlparse(str(table["url"])).hostname
    if not host:
        raise ProvisioningError(f"{config}: [claims] url {table['url']!r} names no host")
    given = list(centre_addresses)
    with contextlib.suppress(ValueError):
        given = [str(ipaddress.ip_address(host)), *given]
    if not given:
        raise ProvisioningError(
            f"{config}: [claims] url names the host {host!r}: give the centre's addresses"
            " (--centre-address ADDR, once for each): the identify unit may reach only them"
            " and asks no DNS server")
    out = []
    for a in given:
        try:
            addr = str(ipaddress.ip_address(a))
        except ValueError as e:
            raise ProvisioningError(f"centre address {a!r} is not an IP address") from e
        if addr not in out:
            out.append(addr)
    return host, out


def hosts_file(host: str, addresses: Sequence[str]) -> str:
    """The identify unit's /etc/hosts: localhost, and the centre's name at its addresses."""
    lines = ["# Written by `uchastok provision install`: the identify unit's /etc/hosts",
             "# (uchastok-identify.service.d/claims.conf). It may ask no DNS server.",
             "127.0.0.1\tlocalhost", "::1\tlocalhost"]
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return "\n".join(lines) + "\n"           # an address needs no name
    return "\n".join([*lines, *(f"{a}\t{host}" for a in addresses)]) + "\n"


class _Target:
    """Writes under the root, recording what changed."""

    def __init__(self, root: Path, report: InstallReport):
        self.root = root
        self.report = report

    def write(self, rel: Path, text: str, mode: int, *, keep_existing: bool = False) -> None:
        self._write_bytes(rel, text.encode(), mode, keep_existing=keep_existing)

    def copy(self, src: Path, rel: Path, mode: int) -> None:
        self._write_bytes(rel, src.read_bytes(), mode)

    def _write_bytes(self, rel: Path, data: bytes, mode: int, *,
                     keep_existing: bool = False) -> None:
        dest = self.root / rel
        if dest.exists() and keep_existing:
            self.report.unchanged.append(str(rel))
            return
        if dest.exists() and dest.read_bytes() == data:
            if (dest.stat().st_mode & 0o7777) == mode:
                self.report.unchanged.append(str(rel))
            else:
                os.chmod(dest, mode)
                self.report.written.append(str(rel))
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, data, mode=mode)
        self.report.written.append(str(rel))

    def remove(self, rel: Path) -> None:
        """Remove a file this install wrote once and no longer wants (absent: nothing to do)."""
        dest = self.root / rel
        if dest.is_symlink() or dest.exists():
            dest.unlink()
            self.report.removed.append(str(rel))
            with contextlib.suppress(OSError):
                dest.parent.rmdir()      # the drop-in directory, when it held only this file

    def link(self, rel: Path, points_to: str) -> None:
        dest = self.root / rel
        if dest.is_symlink() and os.readlink(dest) == points_to:
            self.report.unchanged.append(str(rel))
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        dest.symlink_to(points_to)
        self.report.written.append(str(rel))

    def sync_tree(self, src: Path, rel: Path) -> None:
        """Make ``rel`` an exact copy of ``src`` (minus caches): copy, then prune."""
        if not src.is_dir():
            return
        wanted: set[Path] = set()
        ignore = COPY_IGNORE
        for dirpath, dirnames, filenames in os.walk(src):
            skip = ignore(dirpath, dirnames + filenames)
            dirnames[:] = sorted(d for d in dirnames if d not in skip)
            for name in sorted(filenames):
                if name in skip:
                    continue
                s = Path(dirpath) / name
                r = rel / s.relative_to(src)
                wanted.add(r)
                d = self.root / r
                if d.exists() and filecmp.cmp(s, d, shallow=False):
                    self.report.unchanged.append(str(r))
                    continue
                self.copy(s, r, 0o755 if os.access(s, os.X_OK) else 0o644)
        top = self.root / rel
        for dirpath, _dirnames, filenames in os.walk(top, topdown=False):
            for name in filenames:
                r = (Path(dirpath) / name).relative_to(self.root)
                if r not in wanted:
                    (self.root / r).unlink()
                    self.report.removed.append(str(r))
            with contextlib.suppress(OSError):
                Path(dirpath).rmdir()  # only succeeds when empty


def _run(cmd: list[str], report: InstallReport) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise ProvisioningError(f"cannot run {cmd[0]}: {e}") from e
    if r.returncode != 0:
        raise ProvisioningError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    report.applied.append(" ".join(cmd))


def _build_venv(venv: Path, source: Path, python: str, wheelhouse: Path | None,
                report: InstallReport) -> None:
    """Create (or reuse) the virtual environment and install the software into it.

    Runs on the device itself (root ``/``) or on a machine of the same
    architecture: a venv is not relocatable across CPUs.
    """
    if not (venv / "bin/python").exists():
        _run([python, "-m", "venv", str(venv)], report)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--upgrade"]
    if wheelhouse is not None:
        pip += ["--no-index", "--find-links", str(wheelhouse), "uchastok"]
    else:
        pip += [str(source)]
    _run(pip, report)


def _apply(root: Path, report: InstallReport) -> None:
    """Create users, groups, directories; on a live system reload udev and systemd."""
    if shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None:
        raise ProvisioningError("systemd-sysusers/systemd-tmpfiles not found: is this Debian?")
    live = root == Path("/")
    rootopt = [] if live else [f"--root={root}"]
    _run(["systemd-sysusers", *rootopt], report)
    _run(["systemd-tmpfiles", "--create", *rootopt], report)
    if live:
        if shutil.which("udevadm"):
            _run(["udevadm", "control", "--reload"], report)
            _run(["udevadm", "trigger", "--action=add"], report)
        if Path("/run/systemd/system").is_dir():
            _run(["systemctl", "daemon-reload"], report)


@click.command(name="install")
@click.option("--root", "root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/"), show_default=True,
              help="Install onto this root directory (an SD card mounted elsewhere, a scratch dir).")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Uchastok source tree (default: the running one).")
@click.option("--python", default=None,
              help="Interpreter for the venv (or named in the light wrappers).")
@click.option("--light", is_flag=True,
              help="Copy the source tree and write wrapper scripts instead of building a venv.")
@click.option("--wheelhouse", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Install from these wheels, offline.")
@click.option("--apply/--no-apply", default=None,
              help="Run systemd-sysusers and systemd-tmpfiles on the root "
                   "(default: only when the root is /).")
@click.option("--centre-address", "centre_addresses", multiple=True, metavar="ADDR",
              help="The centre's IP address, for online claims when [claims] url names it by a host"
                   " name (repeat for each address).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def install_command(root: Path, source: Path | None, python: str | None, light: bool,
                    wheelhouse: Path | None, apply: bool | None, centre_addresses: tuple[str, ...],
                    as_json: bool) -> None:
    """Install the software, units, users, tmpfiles and udev rules onto a root.

    Idempotent: running it again changes nothing; /etc/uchastok/uchastok.toml
    is written only when missing.

    With online claims ([claims] url in uchastok.toml), the identify unit may reach the
    centre's addresses only (--centre-address when the url names a host).

    \b
    Example:
      sudo uchastok provision install
      uchastok provision install --root /tmp/sdroot --light --apply --json
      sudo uchastok provision install --centre-address 203.0.113.10
    """
    report = install(root, source=source, python=python, light=light, wheelhouse=wheelhouse,
                     apply=apply, centre_addresses=centre_addresses)
    if as_json:

        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, sort_keys=True))
        return
    click.echo(f"installed onto {report.root} ({report.mode}): {len(report.written)} written, "
               f"{len(report.unchanged)} unchanged, {len(report.removed)} removed")
    for cmd in report.applied:
        click.echo(f"  ran: {cmd}")


if __name__ == "__main__":
    install_command()

"""Where configuration and state live.

On an appliance: configuration in ``/etc/uchastok`` and state in
``/var/lib/uchastok``. Given ``--home DIR`` or ``UCHASTOK_HOME=DIR``, both move
under that one directory (``DIR/etc`` and ``DIR/var``), so tests, the demo and
several simulated devices run side by side without root.

Each role has its own directory under the state directory (``identify/``,
``count/``; 0700, its Unix user's on the appliance) holding its SQLite file
and its signing key; its certificate and enrolment request are public and sit
in the configuration. The uploader (``uchastok-sync``) owns only ``sync/`` and
reaches each role's outbox through the role's socket in ``run_dir``
(docs/technician-guide.md "Who can read what").

Example::

    paths = Paths.from_env(home="/tmp/station-1")
    paths.station_db              # /tmp/station-1/var/station.db
    paths.role("count").db        # /tmp/station-1/var/count/count.db
    paths.role("count").key       # /tmp/station-1/var/count/device.key
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "UCHASTOK_HOME"
APPLIANCE_CONFIG = Path("/etc/uchastok")
APPLIANCE_STATE = Path("/var/lib/uchastok")
APPLIANCE_RUN = Path("/run/uchastok")
# The station's roles, each with its own files, key and Unix user (ARCHITECTURE.md "Roles and processes").
ROLES = ("identify", "count")
# The signed manifest's name inside an election package directory (station/package.py).
PACKAGE_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RoleFiles:
    """One role's files: private ones in ``dir`` (its database, its key), public ones in the configuration."""

    role: str
    dir: Path                 # <state>/<role>: 0700, only the role's user (and root) may enter
    db: Path                  # the role's SQLite file (its state and its outbox)
    key: Path                 # the role's Ed25519 signing key (0600)
    cert: Path                # <config>/<role>-cert.json: the authority's certificate for that key
    enrolment_request: Path   # <config>/<role>-enrolment-request.json
    outbox_socket: Path       # <run>/<role>-outbox.sock: the uploader's only way to the outbox


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    state_dir: Path

    @classmethod
    def from_env(cls, home: str | os.PathLike | None = None) -> Paths:
        home = home or os.environ.get(ENV_HOME)
        if home:
            root = Path(home).absolute()
            return cls(config_dir=root / "etc", state_dir=root / "var")
        return cls(config_dir=APPLIANCE_CONFIG, state_dir=APPLIANCE_STATE)

    @classmethod
    def from_state_dir(cls, state_dir: str | os.PathLike) -> Paths:
        """The layout around a known state directory: the appliance's, or a home's ``DIR/var``."""
        state_dir = Path(state_dir).absolute()
        if state_dir == APPLIANCE_STATE:
            return cls(config_dir=APPLIANCE_CONFIG, state_dir=state_dir)
        return cls(config_dir=state_dir.parent / "etc", state_dir=state_dir)

    def ensure(self) -> Paths:
        """Create the directories: state 0750, each role's 0700, keys 0750, the uploader's 0700.

        On the appliance systemd-tmpfiles makes them with their owners (systemd/tmpfiles.d);
        in a ``--home`` the modes are the same and one user owns everything.
        """
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        for files in self.roles.values():
            files.dir.mkdir(exist_ok=True, mode=0o700)
        self.keys_dir.mkdir(exist_ok=True, mode=0o750)
        self.sync_dir.mkdir(exist_ok=True, mode=0o700)
        return self

    # State files: one SQLite file per role, in the role's own directory, plus station.db (ARCHITECTURE.md).
    @property
    def station_db(self) -> Path:
        return self.state_dir / "station.db"

    def role(self, name: str) -> RoleFiles:
        """The files of role ``name`` (``identify`` or ``count``)."""
        if name not in ROLES:
            raise ValueError(f"unknown role {name!r} (expected one of {ROLES})")
        d = self.state_dir / name
        return RoleFiles(role=name, dir=d, db=d / f"{name}.db", key=d / "device.key",
                         cert=self.config_dir / f"{name}-cert.json",
                         enrolment_request=self.config_dir / f"{name}-enrolment-request.json",
                         outbox_socket=self.run_dir / f"{name}-outbox.sock")

    @property
    def roles(self) -> dict[str, RoleFiles]:
        return {name: self.role(name) for name in ROLES}

    @property
    def identify_db(self) -> Path:
        return self.role("identify").db

    @property
    def count_db(self) -> Path:
        return self.role("count").db

    @property
    def role_dbs(self) -> dict[str, Path]:
        """The role files that hold an outbox, by stream (sync/envelope.py ``STREAMS``)."""
        return {name: files.db for name, files in self.roles.items()}

    @property
    def run_dir(self) -> Path:
        """Runtime files: the roles' outbox sockets (``/run/uchastok`` on the appliance)."""
        return APPLIANCE_RUN if self.state_dir == APPLIANCE_STATE else self.state_dir / "run"

    @property
    def sync_dir(self) -> Path:
        """The uploader's own directory: the only one under the state directory it may enter."""
        return self.state_dir / "sync"

    @property
    def link_state(self) -> Path:
        """The uploader's link state (sync/uploader.py), read by ``uchastok status``."""
        return self.sync_dir / "sync-link.json"

    @property
    def keys_dir(self) -> Path:
        """Secrets the two roles share and the uploader never sees (0750, group ``uchastok``)."""
        return self.state_dir / "keys"

    @property
    def pin_key(self) -> Path:
        """The station's PIN key: commission PIN verifiers in station.db are keyed with it
        (station/polls.py), so a copy of station.db alone cannot be guessed offline."""
        return self.keys_dir / "pin.key"

    @property
    def cec_pub(self) -> Path:
        return self.config_dir / "cec.pub"

    @property
    def package_dir(self) -> Path:
        """The verified copy of the loaded election package."""
        return self.state_dir / "package"

    @property
    def package_manifest(self) -> Path:
        return self.package_dir / PACKAGE_MANIFEST

    @property
    def trust_dir(self) -> Path:
        """The trust roots that travel in the election package."""
        return self.package_dir / "trust"

    @property
    def ack_pub(self) -> Path:
        """The central receiver's ack key."""
        return self.trust_dir / "ack-server.pub"

    @property
    def provisioning_pub(self) -> Path:
        """The provisioning authority's key (device certificates)."""
        return self.trust_dir / "provisioning.pub"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "uchastok.toml"

    @property
    def output_dir(self) -> Path:
        """Printed documents from simulated printers, exports."""
        return self.state_dir / "out"

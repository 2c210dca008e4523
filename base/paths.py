"""Where configuration and state live.

On an appliance: configuration in ``/etc/uchastok`` and state in
``/var/lib/uchastok``. Given ``--home DIR`` or ``UCHASTOK_HOME=DIR``, both move
under that one directory (``DIR/etc`` and ``DIR/var``), so tests, the demo and
several simulated devices run side by side without root.

Example::

    paths = Paths.from_env(home="/tmp/station-1")
    paths.station_db   # /tmp/station-1/var/station.db
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "UCHASTOK_HOME"
APPLIANCE_CONFIG = Path("/etc/uchastok")
APPLIANCE_STATE = Path("/var/lib/uchastok")
# The signed manifest's name inside an election package directory (station/package.py).
PACKAGE_MANIFEST = "manifest.json"


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
        """Create both directories (state 0750: voters and keys live there)."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        return self

    # State files: one SQLite file per role plus station.db (ARCHITECTURE.md).
    @property
    def station_db(self) -> Path:
        return self.state_dir / "station.db"

    @property
    def identify_db(self) -> Path:
        return self.state_dir / "identify.db"

    @property
    def count_db(self) -> Path:
        return self.state_dir / "count.db"

    @property
    def role_dbs(self) -> dict[str, Path]:
        """The role files that hold an outbox, by stream (sync/envelope.py ``STREAMS``)."""
        return {"identify": self.identify_db, "count": self.count_db}

    @property
    def link_state(self) -> Path:
        """The uploader's link state (sync/uploader.py), read by ``uchastok status``."""
        return self.state_dir / "sync-link.json"

    @property
    def keys_dir(self) -> Path:
        return self.state_dir / "keys"

    @property
    def device_key(self) -> Path:
        return self.keys_dir / "device.key"

    @property
    def device_cert(self) -> Path:
        return self.config_dir / "device-cert.json"

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

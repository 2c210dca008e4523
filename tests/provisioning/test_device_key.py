"""The device key on disk: a corrupt key is a clear error (provisioning/identity.py)."""

from __future__ import annotations

import pytest

from provisioning.identity import identity, init_device
from provisioning.status import device_status
from simulation.authority import cec_pub_path
from station.errors import ProvisioningError


def test_corrupt_device_key_is_a_clear_error(paths, package):
    init_device(paths, cec_pub_path(package.dir))
    paths.role("count").key.write_text("not a key")
    paths.role("count").key.chmod(0o600)
    with pytest.raises(ProvisioningError, match="unusable device key"):
        identity(paths, "count")
    devices = device_status(paths)["devices"]
    assert devices["count"] is None and devices["identify"]["id"].startswith("dev-")

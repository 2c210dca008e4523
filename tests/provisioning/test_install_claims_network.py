"""The identify unit's network with online claims (issue #14; docs/remote-voting.md "The identify
unit and the network").

uchastok-identify.service has no network (PrivateNetwork=yes, AF_UNIX only), which would block
``POST /v1/claims`` at a remote-voting site and at a home station with ``[claims]``. When
uchastok.toml's ``[claims]`` is on, ``provision install`` adds the drop-in
``uchastok-identify.service.d/claims.conf``: the network, to the centre's addresses only
(IPAddressDeny=any stays), and the unit's own hosts file instead of DNS. With ``[claims]``
off (the default) the unit is as it was, and a drop-in from an earlier install is removed.
``systemd-analyze`` verifies and scores the unit with its drop-in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_install import base_os
from unit_files import parse_unit as parse

from provisioning.install import CLAIMS_DROPIN, CLAIMS_HOSTS, install, install_command
from station.errors import ProvisioningError

IDENTIFY = "uchastok-identify.service"




def effective(root: Path) -> dict[str, list[str]]:
    """The identify unit with its drop-in applied: a later value replaces a single setting, an
    empty one resets a list, list settings add up."""
    unit = parse(root / "etc/systemd/system" / IDENTIFY)
    dropin = root / CLAIMS_DROPIN
    if dropin.exists():
        for key, values in parse(dropin).items():
            if key in ("Service.RestrictAddressFamilies", "Service.IPAddressAllow",
                       "Service.IPAddressDeny", "Service.BindReadOnlyPaths"):
                merged = unit.get(key, [])
                for v in values:
                    merged = [] if v == "" else [*merged, v]
                unit[key] = merged
            else:
                unit[key] = values[-1:]
    return unit


def configure(root: Path, claims: str) -> None:
    config = root / "etc/uchastok/uchastok.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[station]\nlanguage = "ky"\n\n' + claims)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "root"


def run(root, source, **kw):
    return install(root, source=source, light=True, python=sys.executable, apply=False, **kw)


def test_without_claims_the_identify_unit_has_no_network(root, source):
    run(root, source)
    assert not (root / CLAIMS_DROPIN).exists() and not (root / CLAIMS_HOSTS).exists()
    u = effective(root)
    assert (u["Service.PrivateNetwork"], u["Service.RestrictAddressFamilies"]) == (["yes"], ["AF_UNIX"])


def test_a_site_reaches_the_centres_address_and_nothing_else(root, source):
    configure(root, '[claims]\nmode = "always"\nurl = "https://203.0.113.10:8443/"\nca = "/etc/uchastok/cec-ca.pem"\n')
    report = run(root, source)
    assert str(CLAIMS_DROPIN) in report.written and str(CLAIMS_HOSTS) in report.written
    u = effective(root)
    assert u["Service.PrivateNetwork"] == ["no"]
    assert u["Service.RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert u["Service.IPAddressDeny"] == ["any", "any"] and u["Service.IPAddressAllow"] == ["203.0.113.10"]
    assert u["Service.BindReadOnlyPaths"] == ["/etc/uchastok/identify-hosts:/etc/hosts"]
    # the rest of the confinement is the unit's own, untouched
    assert u["Service.User"] == ["uchastok-identify"] and "/var/lib/uchastok/sync" in \
        " ".join(u["Service.InaccessiblePaths"])
    hosts = (root / CLAIMS_HOSTS).read_text()
    assert "localhost" in hosts and "203.0.113.10" not in hosts      # an address needs no name
    assert (run(root, source).written, run(root, source).removed) == ([], [])   # idempotent


def test_a_home_station_naming_the_centre_by_name_gets_its_addresses_in_its_own_hosts_file(root, source):
    configure(root, '[claims]\nurl = "https://results.shailoo.gov.kg/"\n')      # when-online at home
    run(root, source, centre_addresses=["203.0.113.10", "2001:db8::10", "203.0.113.10"])
    assert effective(root)["Service.IPAddressAllow"] == ["203.0.113.10 2001:db8::10"]
    hosts = (root / CLAIMS_HOSTS).read_text().splitlines()
    assert "203.0.113.10\tresults.shailoo.gov.kg" in hosts and "2001:db8::10\tresults.shailoo.gov.kg" in hosts


def test_turning_claims_off_removes_the_network_again(root, source):
    configure(root, '[claims]\nurl = "http://127.0.0.1:8080/"\n')
    run(root, source)
    assert (root / CLAIMS_DROPIN).exists()
    configure(root, '[claims]\nmode = "off"\nurl = "http://127.0.0.1:8080/"\n')
    report = run(root, source)
    assert sorted(report.removed) == sorted([str(CLAIMS_DROPIN), str(CLAIMS_HOSTS)])
    assert not (root / CLAIMS_DROPIN).parent.exists()
    assert effective(root)["Service.PrivateNetwork"] == ["yes"]


BAD = [
    ("a-host-name-without-addresses", '[claims]\nurl = "https://results.shailoo.gov.kg/"\n', (),
     "give the centre's addresses"),
    ("an-address-that-is-not-one", '[claims]\nurl = "https://results.shailoo.gov.kg/"\n', ("results",),
     "'results' is not an IP address"),
    ("a-url-without-a-host", '[claims]\nurl = "https:///v1"\n', (), "names no host"),
    ("not-toml", '[claims\nurl = "x"\n', (), "uchastok.toml"),
]


@pytest.mark.parametrize("claims,addresses,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_claims_network_that_cannot_be_confined_is_refused(root, source, claims, addresses, words):
    run(root, source)
    configure(root, claims)
    with pytest.raises(ProvisioningError, match=re.escape(words)):
        run(root, source, centre_addresses=addresses)
    assert not (root / CLAIMS_DROPIN).exists()


def test_the_cli_takes_the_centres_addresses(root, source):
    configure(root, '[claims]\nurl = "https://results.shailoo.gov.kg/"\n')
    r = CliRunner().invoke(install_command, ["--root", str(root), "--light", "--no-apply", "--source",
                                             str(source), "--centre-address", "203.0.113.10"])
    assert r.exit_code == 0, r.output
    assert effective(root)["Service.IPAddressAllow"] == ["203.0.113.10"]


@pytest.fixture
def claims_root(tmp_path, source):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    r = base_os(tmp_path / "root")
    configure(r, '[claims]\nmode = "always"\nurl = "https://results.shailoo.gov.kg/"\n')
    install(r, source=source, light=True, python=sys.executable, apply=False,
            centre_addresses=["203.0.113.10"])
    subprocess.run(["systemd-sysusers", f"--root={r}"], check=True, capture_output=True)
    return r


def test_systemd_verifies_the_unit_with_its_dropin(claims_root):
    r = subprocess.run(["systemd-analyze", "verify", "--recursive-errors=yes", f"--root={claims_root}", IDENTIFY],
                       capture_output=True, text=True)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


def test_the_unit_with_network_to_the_centre_stays_confined(claims_root):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={claims_root}", "--no-pager",
                        IDENTIFY], capture_output=True, text=True)
    m = re.search(rf"Overall exposure level for {re.escape(IDENTIFY)}: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    print(f"{IDENTIFY} with claims.conf: exposure {m.group(1)}")
    assert float(m.group(1)) <= 3.0
    # systemd read the drop-in: the host's network, through an allow list of the centre's address
    assert "Service has access to the host's network" in r.stdout, r.stdout
    assert "IP address allow list with non-localhost entries" in r.stdout, r.stdout

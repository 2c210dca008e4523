"""The units verify cleanly and are hardened (issue 7 "Scope" 1; FIELD-NOTES "systemd").

``systemd-analyze verify`` exits 0 on many problems, so any output at all is
a failure; it also needs each ``ExecStart`` binary to exist, which the
scratch root provides (light install: wrapper scripts at the unit's paths).

Least privilege (docs/technician-guide.md "Who can read what"): the
uploader, the only networked process, runs as its own user outside the group
``uchastok``, sees none of /var/lib/uchastok but its own directory, and
reaches the outboxes through the roles' sockets; each role's file and key are
its user's alone. ``test_who_can_open_what`` checks it with real users and
modes, as those users.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from unit_files import parse_unit

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
ROLE_SERVICES = ["uchastok-identify.service", "uchastok-count.service"]
OUTBOX_SERVICES = ["uchastok-identify-outbox.service", "uchastok-count-outbox.service"]
SERVICES = [*ROLE_SERVICES, "uchastok-sync.service", *OUTBOX_SERVICES]
SOCKETS = ["uchastok-identify-outbox.socket", "uchastok-count-outbox.socket"]
UNITS = [*SERVICES, *SOCKETS, "uchastok.target"]
MAX_EXPOSURE = 3.0


def need_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (chown)")


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")




@pytest.mark.parametrize("unit", UNITS)
def test_verify_prints_nothing(installed_root, unit):
    need("systemd-analyze")
    r = subprocess.run(["systemd-analyze", "verify", "--recursive-errors=yes",
                        f"--root={installed_root}", unit], capture_output=True, text=True)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


def test_verify_would_catch_a_missing_executable(installed_root, tmp_path):
    """The check above is not vacuous: a unit naming a missing binary is reported."""
    need("systemd-analyze")
    unit = installed_root / "etc/systemd/system/uchastok-broken.service"
    unit.write_text("[Service]\nType=notify\nExecStart=/opt/uchastok/venv/bin/nothing-here\n")
    try:
        r = subprocess.run(["systemd-analyze", "verify", "--recursive-errors=yes",
                            f"--root={installed_root}", unit.name], capture_output=True, text=True)
    finally:
        unit.unlink()
    assert "nothing-here" in r.stdout + r.stderr and r.returncode != 0


@pytest.mark.parametrize("unit", SERVICES)
def test_security_exposure_at_most_3(installed_root, unit):
    need("systemd-analyze")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        f"--root={installed_root}", "--no-pager", unit],
                       capture_output=True, text=True)
    m = re.search(rf"Overall exposure level for {re.escape(unit)}: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    exposure = float(m.group(1))
    print(f"{unit}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE


@pytest.mark.parametrize("unit", SERVICES)
def test_service_contract(unit):
    u = parse_unit(SYSTEMD / unit)
    assert u["Service.Type"] == ["notify"]
    assert u["Service.NotifyAccess"] == ["main"]
    # The uploader's one request may take its 90 s deadline; it pings between requests.
    assert u["Service.WatchdogSec"] == (["3min"] if unit == "uchastok-sync.service" else ["30s"])
    assert u["Service.Restart"] == ["on-failure"]
    assert u["Unit.StartLimitBurst"] and u["Unit.StartLimitIntervalSec"]
    assert u["Service.ExecStart"][0].startswith("/opt/uchastok/venv/bin/uchastok")
    assert u["Service.ProtectSystem"] == ["strict"]
    assert u["Service.NoNewPrivileges"] == ["yes"]
    assert u["Service.CapabilityBoundingSet"] == [""]
    assert u["Service.DevicePolicy"] == ["closed"]
    assert u["Service.MemoryDenyWriteExecute"] == ["yes"]
    assert "@system-service" in u["Service.SystemCallFilter"]
    # A shared StateDirectory= would be chowned to each unit's user in turn.
    assert "Service.StateDirectory" not in u
    if unit == "uchastok-sync.service":
        assert (u["Service.User"], u["Service.Group"], u["Service.UMask"]) == (
            ["uchastok-sync"], ["uchastok-sync"], ["0077"])
        return
    role = unit.removeprefix("uchastok-").split("-")[0].removesuffix(".service")
    assert u["Service.User"] == [f"uchastok-{role}"]
    assert u["Service.Group"] == ["uchastok"]
    assert u["Service.UMask"] == ["0007"]
    if unit in ROLE_SERVICES:
        assert u["Service.ReadWritePaths"] == ["/var/lib/uchastok"]
        assert u["Install.WantedBy"] == ["uchastok.target"]
    else:   # socket-activated; writes only its role's directory
        assert u["Service.ReadWritePaths"] == [f"/var/lib/uchastok/{role}"]
        assert u["Service.ExecStart"] == [f"/opt/uchastok/venv/bin/uchastok-outbox --role {role}"]
        assert u["Unit.Requires"] == [f"uchastok-{role}-outbox.socket"]


@pytest.mark.parametrize(("unit", "other"), [
    ("uchastok-identify.service", "count"),
    ("uchastok-count.service", "identify"),
    ("uchastok-identify-outbox.service", "count"),
    ("uchastok-count-outbox.service", "identify"),
], ids=["identify", "count", "identify-outbox", "count-outbox"])
def test_roles_without_network_and_without_each_others_data(unit, other):
    u = parse_unit(SYSTEMD / unit)
    assert u["Service.RestrictAddressFamilies"] == ["AF_UNIX"]
    assert u["Service.IPAddressDeny"] == ["any"]
    assert u["Service.PrivateNetwork"] == ["yes"]
    hidden = " ".join(u["Service.InaccessiblePaths"]).split()
    assert {f"/var/lib/uchastok/{other}", "/var/lib/uchastok/sync"} <= set(hidden)
    # Not the package's voter list: every role re-verifies the whole package
    # (provisioning/package.py read_package hashes every file it lists).
    assert not any("/package/" in p for p in hidden)


def test_identify_waits_for_pcscd():
    u = parse_unit(SYSTEMD / "uchastok-identify.service")
    assert "pcscd.socket" in u["Unit.Wants"][0] and "pcscd.socket" in u["Unit.After"][0]


def test_sync_has_network_and_no_devices():
    u = parse_unit(SYSTEMD / "uchastok-sync.service")
    assert set(u["Service.RestrictAddressFamilies"][0].split()) >= {"AF_INET", "AF_INET6"}
    assert u["Service.PrivateDevices"] == ["yes"]
    assert "Service.DeviceAllow" not in u


def test_sync_sees_only_its_own_directory_of_the_state():
    """An empty read-only file system over /var/lib/uchastok, its own directory bound back in."""
    u = parse_unit(SYSTEMD / "uchastok-sync.service")
    assert u["Service.TemporaryFileSystem"] == ["/var/lib/uchastok:ro"]
    assert u["Service.BindPaths"] == ["/var/lib/uchastok/sync"]
    assert not any(k in u for k in ("Service.ReadWritePaths", "Service.BindReadOnlyPaths",
                                    "Service.SupplementaryGroups", "Service.ConfigurationDirectory"))
    for sock in SOCKETS:     # it waits for the roles' sockets, its only way to the outboxes
        assert sock in u["Unit.Wants"][0] and sock in u["Unit.After"][0]


@pytest.mark.parametrize("role", ["identify", "count"])
def test_outbox_socket_only_the_uploader_may_connect(role):
    u = parse_unit(SYSTEMD / f"uchastok-{role}-outbox.socket")
    assert u["Socket.ListenStream"] == [f"/run/uchastok/{role}-outbox.sock"]
    assert (u["Socket.SocketUser"], u["Socket.SocketGroup"], u["Socket.SocketMode"]) == (
        [f"uchastok-{role}"], ["uchastok-sync"], ["0660"])
    assert u["Install.WantedBy"] == ["uchastok.target"]


def test_systemd_252_options_only():
    """RestartSteps=/RestartMaxDelaySec= came in 254; bookworm has 252."""
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text()
        assert not re.search(r"^Restart(Steps|MaxDelaySec)=", text, re.M), unit


# -- sysusers, tmpfiles, udev ----------------------------------------------------

def _passwd(root: Path, name: str) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in
            (root / "etc" / name).read_text().splitlines() if line}


def test_sysusers_creates_role_users_and_groups(installed_root):
    users = _passwd(installed_root, "passwd")
    groups = _passwd(installed_root, "group")
    gid = groups["uchastok"][2]
    for role in ("identify", "count"):
        entry = users[f"uchastok-{role}"]
        assert entry[3] == gid and entry[6].endswith("nologin")
    # The uploader: a group of its own, and not a member of `uchastok`.
    sync = users["uchastok-sync"]
    assert sync[3] == groups["uchastok-sync"][2] != gid and sync[6].endswith("nologin")
    members = {g: set(filter(None, groups[g][3].split(","))) for g in groups}
    assert "uchastok-sync" not in members["uchastok"]
    assert {"uchastok-identify", "uchastok-count"} <= members["gpio"]
    assert "uchastok-identify" in members["dialout"]
    assert "uchastok-count" in members["scanner"]
    assert "uchastok-count" in members["dialout"]       # the printer's serial line
    assert "uchastok-sync" not in members["gpio"] | members["dialout"] | members["scanner"]


@pytest.mark.parametrize(("rel", "mode", "owner", "group"), [
    ("var/lib/uchastok", 0o2771, "root", "uchastok"),
    ("var/lib/uchastok/identify", 0o700, "uchastok-identify", "uchastok"),
    ("var/lib/uchastok/count", 0o700, "uchastok-count", "uchastok"),
    ("var/lib/uchastok/sync", 0o700, "uchastok-sync", "uchastok-sync"),
    ("var/lib/uchastok/keys", 0o2750, "root", "uchastok"),
    ("var/lib/uchastok/package", 0o2750, "root", "uchastok"),
    ("etc/uchastok", 0o755, "root", "uchastok"),
    ("etc/uchastok/uchastok.toml", 0o640, "root", "uchastok"),
], ids=lambda v: v if isinstance(v, str) and "/" in v else None)
def test_tmpfiles_modes_and_owners(installed_root, rel, mode, owner, group):
    need_root("systemd-tmpfiles")
    st = (installed_root / rel).stat()
    users = {int(e[2]): n for n, e in _passwd(installed_root, "passwd").items()}
    groups = {int(e[2]): n for n, e in _passwd(installed_root, "group").items()}
    assert oct(st.st_mode & 0o7777) == oct(mode)
    assert users.get(st.st_uid, "root" if st.st_uid == 0 else st.st_uid) == owner
    assert groups.get(st.st_gid) == group


def test_tmpfiles_puts_back_modes_of_existing_files_and_creates_none(installed_root):
    """Provisioning as root leaves files 0600/0644; tmpfiles makes them the roles' again."""
    need_root("systemd-tmpfiles")
    state = installed_root / "var/lib/uchastok"
    assert not list(state.glob("**/*.db"))          # an empty file is not a database
    made = {"station.db": 0o644, "identify/identify.db": 0o644, "identify/identify.db-wal": 0o644,
            "count/count.db": 0o644, "identify/device.key": 0o600, "count/device.key": 0o600,
            "keys/pin.key": 0o600}
    try:
        for name, mode in made.items():
            (state / name).write_bytes(b"")
            (state / name).chmod(mode)
        subprocess.run(["systemd-tmpfiles", "--create", f"--root={installed_root}"], check=True,
                       capture_output=True)
        users = {int(e[2]): n for n, e in _passwd(installed_root, "passwd").items()}
        got = {name: (oct((state / name).stat().st_mode & 0o777),
                      users.get((state / name).stat().st_uid, "root")) for name in made}
    finally:
        for name in made:
            (state / name).unlink()
    # In a role's directory the owner becomes the role's and modes are kept (the directory is 0700).
    assert got == {"station.db": ("0o660", "root"),
                   "identify/identify.db": ("0o644", "uchastok-identify"),
                   "identify/identify.db-wal": ("0o644", "uchastok-identify"),
                   "count/count.db": ("0o644", "uchastok-count"),
                   "identify/device.key": ("0o600", "uchastok-identify"),
                   "count/device.key": ("0o600", "uchastok-count"),
                   "keys/pin.key": ("0o640", "root")}


UDEV_KEYS = re.compile(
    r'^(SUBSYSTEM|KERNEL|DEVPATH|ACTION|ATTRS?\{\w+\}|ENV\{\w+\}|SYMLINK|GROUP|MODE|TAG)'
    r'(==|!=|\+=|=)"[^"]*"$')


def test_udev_rules_are_well_formed_and_name_the_devices():
    rules = (SYSTEMD / "udev/99-uchastok.rules").read_text()
    lines = [ln for ln in rules.splitlines() if ln.strip() and not ln.startswith("#")]
    for line in lines:
        for part in (p.strip() for p in line.split(", ")):
            assert UDEV_KEYS.match(part), f"bad udev clause {part!r} in {line!r}"
        assert any(op in line for op in ("==", "!=")), f"rule without a match: {line}"
    for name in ("uchastok-fingerprint", "uchastok-printer", "uchastok-mrz"):
        assert f'SYMLINK+="{name}"' in rules
    # The ids the comments promise are the ids the rules match.
    assert 'ATTRS{idVendor}=="10c4", ATTRS{idProduct}=="ea60"' in rules
    assert 'ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523"' in rules
    # The printer's rules come before the MRZ catch-all for ttyACM ports.
    assert rules.index('SYMLINK+="uchastok-printer"') < rules.index('SYMLINK+="uchastok-mrz"')


# -- MemoryDenyWriteExecute= --------------------------------------------------------

MDWE_PROBE = textwrap.dedent("""
    import ctypes, sys
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:        # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        sys.exit(77)
    import mmap
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        sys.exit("W+X mapping was allowed: the probe proves nothing")
    except OSError:
        pass
    import numpy as np, cv2, zxingcpp, PIL.Image, serial, smartcard, sqlite3, gpiozero
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    img = (np.random.default_rng(1).random((120, 120)) * 255).astype(np.uint8)
    cv2.threshold(cv2.GaussianBlur(img, (5, 5), 0), 0, 255, cv2.THRESH_OTSU)
    zxingcpp.read_barcodes(img)
    Ed25519PrivateKey.generate().sign(b"x")
    assert ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)(41) == 42
""")


def test_libraries_work_without_writable_executable_memory():
    """MemoryDenyWriteExecute=yes must not break NumPy, OpenCV, zxing, ctypes callbacks.

    The kernel's PR_SET_MDWE (Linux 6.3+) refuses the same mappings as the
    unit's seccomp filter; skipped on older kernels.
    """
    if not hasattr(ctypes, "CDLL"):
        pytest.skip("no ctypes")
    r = subprocess.run([sys.executable, "-c", MDWE_PROBE], capture_output=True, text=True,
                       timeout=120)
    if r.returncode == 77:
        pytest.skip("kernel without PR_SET_MDWE")
    assert r.returncode == 0, r.stderr


# -- who can open what, as the real users ---------------------------------------------

OPEN_PROBE = textwrap.dedent("""
    import json, os, sys
    out = {}
    for path, how in json.loads(sys.argv[1]):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT if how == "write" else os.O_RDONLY, 0o600)
            os.close(fd)
            out[path] = "ok"
        except OSError as e:
            out[path] = e.__class__.__name__
    print(json.dumps(out))
""")

# (file under var/lib/uchastok, how) -> may identify / count / the uploader open it?
ACCESS = {
    ("identify/identify.db", "read"): ("ok", "denied", "denied"),       # the voter list, identifications
    ("identify/identify.db-wal", "read"): ("ok", "denied", "denied"),
    ("identify/device.key", "read"): ("ok", "denied", "denied"),
    ("count/count.db", "read"): ("denied", "ok", "denied"),             # tallies, sheet records
    ("count/device.key", "read"): ("denied", "ok", "denied"),
    ("station.db", "read"): ("ok", "ok", "denied"),                      # audit log, PIN verifiers
    ("keys/pin.key", "read"): ("ok", "ok", "denied"),
    ("package/voters.csv", "read"): ("ok", "ok", "denied"),
    ("sync/sync-link.json", "write"): ("denied", "denied", "ok"),
}


@pytest.fixture
def appliance_root():
    """A root with the station's users and directories only (sysusers + tmpfiles), where other
    users may reach /var/lib/uchastok (pytest's own temporary directories are closed to them)."""
    need_root("systemd-tmpfiles")
    need("systemd-sysusers")
    root = Path(tempfile.mkdtemp(prefix="uchastok-modes-"))
    root.chmod(0o755)
    try:
        for name in ("sysusers.d", "tmpfiles.d"):
            dest = root / "etc" / name / "uchastok.conf"
            dest.parent.mkdir(parents=True)
            shutil.copyfile(SYSTEMD / name / "uchastok.conf", dest)
        subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True)
        subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}"], check=True, capture_output=True)
        yield root
    finally:
        shutil.rmtree(root)


def _ids(root: Path, user: str) -> tuple[int, int, list[int]]:
    users, groups = _passwd(root, "passwd"), _passwd(root, "group")
    extra = [int(e[2]) for g, e in groups.items() if user in e[3].split(",")]
    return int(users[user][2]), int(users[user][3]), extra


def test_who_can_open_what(appliance_root):
    """The uploader cannot open the voter list, the sheet records, a key, station.db or the PIN key;
    each role opens its own file and key and not the other's (files made by root, as provisioning
    makes them, then `systemd-tmpfiles --create` as the technician guide says)."""
    state = appliance_root / "var/lib/uchastok"
    for rel, how in ACCESS:
        if how == "read":    # root's umask: 0644, as provisioning leaves them
            (state / rel).write_bytes(b"SQLite format 3\0")
    subprocess.run(["systemd-tmpfiles", "--create", f"--root={appliance_root}"], check=True,
                   capture_output=True)
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    got = {}
    for i, user in enumerate(("uchastok-identify", "uchastok-count", "uchastok-sync")):
        uid, gid, extra = _ids(appliance_root, user)
        r = subprocess.run([python, "-c", OPEN_PROBE,
                            json.dumps([[str(state / rel), how] for rel, how in ACCESS])],
                           user=uid, group=gid, extra_groups=extra, capture_output=True, text=True,
                           timeout=60, cwd="/")
        assert r.returncode == 0, r.stderr
        for path, outcome in json.loads(r.stdout).items():
            rel = str(Path(path).relative_to(state))
            how = next(h for f, h in ACCESS if f == rel)
            got[(rel, how, user)] = "ok" if outcome == "ok" else "denied"
            assert outcome in ("ok", "PermissionError"), (rel, user, outcome)
        for (rel, how), expected in ACCESS.items():
            assert got[(rel, how, user)] == expected[i], f"{user} {how} {rel}"

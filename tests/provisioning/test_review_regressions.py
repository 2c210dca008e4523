"""Regressions found in review: each was a real bug, each test failed before its fix."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import multiprocessing
import sqlite3

import pytest

from identify.daemon import open_identifier
from identify.voters import pin_problem
from provisioning import package as pk
from provisioning.identity import identity, init_device
from provisioning.package import build_package, load_package
from provisioning.status import device_status
from simulation.authority import cec_pub_path, load_or_create_key
from simulation.election import demo_manifest, demo_voters
from station import polls
from station.db import MIGRATIONS, open_station_db
from station.errors import PackageError, PollsError, ProvisioningError, VoterListError
from station.package import voter_list_problem
from sync import signing
from sync.canonical import canonical


def _feb30_rows():
    rows = list(demo_voters(11, 10))
    r = rows[4]
    r[0] = "1" + "30021999" + r[0][9:]      # PIN and birth date agree on a day that does not exist
    r[5] = "1999-02-30"
    return rows


def test_a_date_that_does_not_exist_is_refused_even_when_pin_and_birth_agree(device, package, tmp_path):
    key = load_or_create_key(package[1])
    bad = build_package(tmp_path / "b", demo_manifest(7), _feb30_rows(), key)
    with pytest.raises(VoterListError, match=r"voters.csv:6: malformed PIN"):
        load_package(device, bad.dir)


def _resign(pkg_dir, key, name: str, data: bytes) -> None:
    """Replace one file of a package and sign the manifest again (a validly signed bad package)."""


    (pkg_dir / name).write_bytes(data)
    m = json.loads((pkg_dir / "manifest.json").read_bytes())
    m["files"][name] = {"sha256": signing.sha256_hex(data), "bytes": len(data)}
    mb = canonical(m)
    (pkg_dir / "manifest.json").write_bytes(mb)
    (pkg_dir / "manifest.sig").write_text(json.dumps({"signer": signing.key_id(signing.public_key(key)),
                                                      "signature": signing.b64(signing.sign(key, mb))}))


def test_non_utf8_voter_list_is_a_clear_error(device, package, tmp_path):
    key = load_or_create_key(package[1])
    bad = build_package(tmp_path / "b", demo_manifest(7), demo_voters(12, 5), key)
    lines = (bad.dir / "voters.csv").read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b",\xff", 1)          # line 4: a byte that is not UTF-8
    _resign(bad.dir, key, "voters.csv", b"\n".join(lines))
    with pytest.raises(VoterListError, match=r"voters.csv:\d+: not a UTF-8 CSV row"):
        load_package(device, bad.dir)


def test_interrupted_load_is_detected_and_a_retry_repairs_it(device, package, tmp_path, monkeypatch):

    load_package(device, package[0])
    key = load_or_create_key(package[1])
    v2 = build_package(tmp_path / "v2", demo_manifest(7, package_version=2), demo_voters(7, 10), key)

    def power_cut(*a, **k):
        raise KeyboardInterrupt("power cut after the voter list committed")

    monkeypatch.setattr(pk, "_swap_in", power_cut)
    with pytest.raises(KeyboardInterrupt):
        load_package(device, v2.dir)
    assert "interrupted" in voter_list_problem(device)
    assert any("interrupted" in e for e in device_status(device).get("errors", []))

    with pytest.raises(PackageError, match="interrupted"):
        open_identifier(device, v2.election)
    monkeypatch.undo()
    load_package(device, v2.dir)
    assert voter_list_problem(device) is None


def test_the_bytes_imported_are_the_bytes_verified(device, package, monkeypatch):
    """The source medium changing after the copy cannot slip unsigned rows in."""

    real = pk._stage_copy

    def then_tamper(src, target):
        staged = real(src, target)
        p = src / "voters.csv"
        p.write_bytes(p.read_bytes().replace(b"ID", b"XX"))
        return staged

    monkeypatch.setattr(pk, "_stage_copy", then_tamper)
    load_package(device, package[0])

    conn = sqlite3.connect(device.identify_db)
    assert conn.execute("SELECT count(*) FROM voter WHERE document_number LIKE 'XX%'").fetchone()[0] == 0


def test_corrupt_device_key_is_a_clear_error(paths, package):

    init_device(paths, cec_pub_path(package[0]))
    paths.device_key.write_text("not a key")
    paths.device_key.chmod(0o600)
    with pytest.raises(ProvisioningError, match="unusable device key"):
        identity(paths)
    assert device_status(paths)["device"] is None


def _guess(db, pin):
    conn = open_station_db(db)
    try:
        polls.authorize(conn, "1", pin)
        return "ok"
    except PollsError as e:
        return str(e)
    finally:
        conn.close()


def test_parallel_wrong_pins_cannot_exceed_the_lockout(tmp_path):
    db = tmp_path / "station.db"
    conn = open_station_db(db)
    polls.set_member_pin(conn, "1", "Асанова Б.", "4821")
    conn.close()
    with cf.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _guess(db, "0000"), range(24)))
    assert results.count("wrong PIN") <= polls.MAX_PIN_FAILURES
    assert _guess(db, "4821").startswith("member 1 is locked")


def _open_fresh(db):
    open_station_db(db).close()
    return True


def test_several_processes_migrating_one_fresh_file(tmp_path):
    db = tmp_path / "station.db"
    ctx = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(4, mp_context=ctx) as pool:
        assert all(pool.map(_open_fresh, [db] * 4))

    names = [r[0] for r in sqlite3.connect(db).execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [m.name for m in MIGRATIONS]


def test_pin_digits_are_ascii():

    assert pin_problem("2" + "١٢٠٣١٩٩٠" + "00001") is not None   # Arabic-Indic digits
    assert dt.date(1990, 3, 12)

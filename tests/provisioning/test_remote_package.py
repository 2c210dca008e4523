"""A remote-voting site's package: the national list with homes, every district's contests (issue #14, 1).

docs/election-package.md "A remote-voting site's package": ``station.kind``
"remote-site" and its ``district``; every territorial contest names the ОИК it
elects; ``voters.csv`` is the national list with each voter's home station and
home district; templates only for the voters who applied to vote remotely. It is
built, signed, verified and loaded like any package: a tampered one is refused and
changes nothing, a bad row names its line and imports nothing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from identify import voters
from identify.store import open_identify_db
from provisioning.package import build_package, load_package
from simulation.authority import cec_pub_path, load_or_create_key
from simulation.election import demo_manifest, demo_voters
from simulation.remote import (
    build_remote_site_package,
    national_list,
    remote_site_manifest,
    site_entry,
)
from station.errors import PackageError, VoterListError
from station.package import read_election
from sync import signing
from sync.canonical import canonical

HOME = ("UIK-1234", "OIK-07")
N = 400


@pytest.fixture(scope="module")
def site_package(demo_package, tmp_path_factory):
    """A site in OIK-03 with districts 3, 7, 12; the demo station's 12 voters (home UIK-1234) first."""
    root = tmp_path_factory.mktemp("remote-site")
    home_rows = list(demo_voters(5, 12))
    pkg = build_remote_site_package(root / "site", voters=N, seed=5, districts=(3, 7, 12),
                                    home_rows=home_rows, home=HOME, signing_key=demo_package.key,
                                    secrets=root / "secrets")
    return pkg, home_rows


@pytest.fixture
def site(site_package, tmp_path):
    """A private copy of the site's package (tests may tamper with it)."""
    pkg, home_rows = site_package
    dst = tmp_path / "site"
    shutil.copytree(pkg.dir, dst)
    return dst, home_rows


def table_count(paths, table: str) -> int:
    if not paths.identify_db.exists():
        return 0
    conn = sqlite3.connect(paths.identify_db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_the_site_package_loads_with_the_national_list(device, site):
    d, home_rows = site
    pkg = load_package(device, d)
    e = pkg.election
    assert (e.station.kind, e.station.district, e.station.remote_site) == ("remote-site", "OIK-03", True)
    assert e.districts == {"district-03": "OIK-03", "district-07": "OIK-07", "district-12": "OIK-12"}
    assert [s.id for s in e.ballot_styles] == ["bs-district-03", "bs-district-07", "bs-district-12",
                                               "bs-party-list"]
    assert table_count(device, "voter") == table_count(device, "voter_home") == N
    conn = open_identify_db(device.identify_db)
    try:
        v = voters.by_pin(conn, home_rows[0][0])
        assert (v.home_station, v.home_district) == HOME          # the demo station's voter, at home there
        assert voters.by_document(conn, v.document_number).home_district == "OIK-07"
        found = voters.search_by_name(conn, v.surname)          # the commission's manual search: homes too
        assert v.pin in {x.pin for x in found} and all(x.home_district for x in found)
        homes = voters.home_districts(conn)
        assert set(homes) == {"OIK-03", "OIK-07", "OIK-12"} and sum(homes.values()) == N
        other = conn.execute("SELECT pin FROM voter_home WHERE home_district = 'OIK-12' LIMIT 1").fetchone()[0]
        w = voters.by_pin(conn, other)
        assert w.home_district == "OIK-12" and w.district in (None, "district-12")
        # The subset of templates: the voters who applied to vote remotely, and only they.
        applied = {r[0] for r in conn.execute("SELECT pin FROM voter WHERE remote = 1")}
        enrolled = {r[0] for r in conn.execute("SELECT DISTINCT pin FROM template")}
        assert enrolled == applied and 0 < len(applied) < N // 10
    finally:
        conn.close()


def test_the_count_role_reads_every_district_from_the_manifest_alone(site, demo_package):
    d, _ = site
    (d / "voters.csv").unlink()
    e = read_election(d, signing.load_public_key(cec_pub_path(demo_package.dir)))
    assert [c.id for c in e.contests] == ["district-03", "district-07", "district-12", "party-list"]


@pytest.mark.parametrize("name", ["manifest.json", "voters.csv", "templates.csv"])
def test_a_tampered_site_package_is_refused_and_changes_nothing(device, package, site, name):
    load_package(device, package.dir)                  # the station's own list is in place
    before = table_count(device, "voter")
    d, _ = site
    p = d / name
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    with pytest.raises(PackageError):
        load_package(device, d)
    assert table_count(device, "voter") == before and table_count(device, "voter_home") == 0


def _national_rows(change: str) -> list[list[str]]:
    rows = list(national_list(9, 30, [("UIK-0301", "OIK-03"), ("UIK-1201", "OIK-12")]))
    r = next(i for i, row in enumerate(rows) if row[7] and row[9] == "0" and i > 3)
    if change == "no-home-station":
        rows[r][11] = ""
    elif change == "unknown-home-district":
        rows[r][12] = "OIK-29"
    elif change == "contest-of-another-district":
        rows[r][7] = "district-07" if rows[r][12] != "OIK-07" else "district-03"
    elif change == "short-row":
        rows[r] = rows[r][:11]
    elif change == "duplicate-pin":
        rows[r] = [rows[1][0], *rows[r][1:]]
    return rows, r + 2


@pytest.mark.parametrize("change, words", [
    ("no-home-station", "home_station and home_district are required"),
    ("unknown-home-district", "elected by no contest"),
    ("contest-of-another-district", "does not elect the home district"),
    ("short-row", "expected 13 columns"),
    ("duplicate-pin", "duplicate PIN"),
])
def test_a_bad_national_row_names_its_line_and_imports_nothing(device, package, tmp_path, change, words):
    load_package(device, package.dir)
    before = table_count(device, "voter")
    rows, line = _national_rows(change)
    bad = build_package(tmp_path / "bad", remote_site_manifest(9, districts=(3, 7, 12), package_version=2),
                        rows, load_or_create_key(package.key))
    with pytest.raises(VoterListError, match=words) as e:
        load_package(device, bad.dir)
    assert f"voters.csv:{line}" in str(e.value)
    assert table_count(device, "voter") == before and table_count(device, "voter_home") == 0


def test_a_station_list_is_not_a_national_list(device, package, tmp_path):
    """A site's manifest signed over a voters.csv with a station list's columns: the header is named."""
    key = load_or_create_key(package.key)
    m = remote_site_manifest(9, districts=(3, 7, 12))
    station = {k: v for k, v in m["station"].items() if k not in ("kind", "district")}
    pkg = build_package(tmp_path / "p", {**m, "station": station}, demo_voters(9, 5), key)
    signed = json.loads((pkg.dir / "manifest.json").read_bytes())
    signed["station"] = m["station"]                     # the CEC signs it as a remote site
    data = canonical(signed)
    (pkg.dir / "manifest.json").write_bytes(data)
    (pkg.dir / "manifest.sig").write_text(json.dumps({"signer": signing.key_id(signing.public_key(key)),
                                                      "signature": signing.b64(signing.sign(key, data))}))
    with pytest.raises(VoterListError, match="voters.csv:1: header must be .*home_station,home_district"):
        load_package(device, pkg.dir)
    assert table_count(device, "voter") == 0


def test_a_station_package_after_a_site_package_leaves_no_homes(device, site, tmp_path, package):
    d, _ = site
    load_package(device, d)
    assert table_count(device, "voter_home") == N
    v2 = build_package(tmp_path / "v2", demo_manifest(7, package_version=2), demo_voters(7, 10),
                       load_or_create_key(package.key))
    load_package(device, v2.dir)
    assert (table_count(device, "voter"), table_count(device, "voter_home")) == (10, 0)


def test_the_site_is_registered_at_the_centre_without_a_list_of_its_own():
    m = remote_site_manifest(1)
    e = site_entry(m)
    assert e["kind"] == "remote-site" and e["district"] == "OIK-03" and "voters_on_list" not in e
    assert len([c for c in m["contests"] if c["kind"] == "candidate"]) == 30      # every district of 2025

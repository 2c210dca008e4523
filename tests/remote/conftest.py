"""Fixtures of the remote-voting chaos tests: two packages of one election, two homes, the centre.

``home_package``: the demo package of the voters' home station UIK-5678 (the same seed,
so the same 12 voters, the same CEC key and the same ack key as ``demo_package``, whose
station UIK-1234 plays the remote-voting site). ``chaos``: both homes provisioned with
polls open and their ``[claims]`` (the site: ``always``; the home: ``when-online``), the
centre as a process behind one fault proxy, both tables as processes.
"""

from __future__ import annotations

import shutil
import sqlite3
from types import SimpleNamespace

import pytest
from remote_chaos_world import (
    HOME,
    SITE,
    CentralProc,
    Link,
    StationProc,
    ack_key_of,
    prepare_centre,
)

from simulation.authority import build_demo_package, cec_pub_path, secrets_dir
from simulation.table import provision_home
from sync import signing

DEMO_SEED = 5


@pytest.fixture(scope="session")
def home_package(tmp_path_factory, demo_package):
    out = tmp_path_factory.mktemp("home-package") / "pkg"
    secrets = secrets_dir(out)
    secrets.mkdir(parents=True, mode=0o700)
    shutil.copy(demo_package.secrets / "ack-server.key", secrets / "ack-server.key")
    pkg = build_demo_package(out, voters=demo_package.voters, seed=DEMO_SEED, signing_key=demo_package.key,
                             station_number=5678)
    return SimpleNamespace(dir=pkg.dir, secrets=secrets, key=demo_package.key)


def claims_config(paths, url: str, mode: str) -> None:
    paths.config_file.write_text(f'[claims]\nurl = "{url}"\nmode = "{mode}"\nwait_s = 2.0\nresend_cap_s = 2.0\n')


@pytest.fixture
def chaos(tmp_path, demo_package, home_package):
    site_home = provision_home(tmp_path / "site", demo_package.dir, signing_key=demo_package.key, state="open")
    home_home = provision_home(tmp_path / "home", home_package.dir, signing_key=home_package.key, state="open")
    conn = sqlite3.connect(site_home.identify_db)
    pins = [r[0] for r in conn.execute("SELECT pin FROM voter ORDER BY rowid")]
    conn.close()
    ack = ack_key_of(demo_package.secrets)
    cec_pub = signing.load_public_key(cec_pub_path(demo_package.dir))
    db = tmp_path / "central.db"
    prepare_centre(db, ack, cec_pub, [site_home, home_home], pins)
    central = CentralProc(db, demo_package.secrets / "ack-server.key", cec_pub_path(demo_package.dir)).start()
    link = Link(central)
    claims_config(site_home, link.url, "always")
    claims_config(home_home, link.url, "when-online")
    site = StationProc(site_home, demo_package.secrets)
    home = StationProc(home_home, home_package.secrets)
    world = SimpleNamespace(central=central, link=link, site=site, home=home, pins=pins, db=db,
                            site_id=SITE, home_id=HOME)
    try:
        site.start()
        home.start()
        yield world
    finally:
        for s in (site, home):
            s.stop()
        link.close()
        central.kill()

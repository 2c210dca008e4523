"""A remote-voting site's election package, for tests, benchmarks and the demo.

DOMAIN.md "Remote voting": the law of 9 June 2025 No. 113 lets a voter vote at
any station outside their home district after online identification. A
remote-voting site (a market, a mall, a hospital, a mine: 27 on 30 Nov 2025)
therefore holds what no regular station does (docs/election-package.md "A
remote-voting site's package"):

- ``station.kind`` "remote-site" and the ``district`` where it stands (a voter
  of that district is refused there: inside the home district only at the
  own station);
- every district's candidate contest (``district-NN`` electing ``OIK-NN``,
  the 30 multi-mandate districts of 2025, each with its ballot style) and the
  party list;
- the national list (4.3 M voters at full size) with each voter's home
  station and home district (``identify.voters.NATIONAL_COLUMNS``);
- fingerprint templates only for a subset: by default the voters who applied
  in advance to vote at a remote site (``remote`` = 1, seed ``002_…`` item
  2.2). The whole country's templates on a device in a market are the whole
  country's fingerprints lost with one stolen box; the others are identified
  by their ID card (its chip authenticated by passive authentication, the
  PIN read from it, the photo on the chip shown to the commission) and
  recorded as a manual identification (``no-fingerprint-enrolled``), and the
  centre's online claim grants each voter once (sync/claims.py).

The districts' candidates, the party list and the election are those of
simulation/election.py (same seed: the same ``district-07`` and party list as
the demo's home station), so the ballots of the site and of the home station
are of one election. Everything is deterministic in ``seed``.

Example::

    manifest = remote_site_manifest(1, site_number=9001, site_district="OIK-03")
    rows = national_list(1, 4_300_000, stations=[("UIK-1001", "OIK-01"), ...])
    build_remote_site_package(out, voters=2_000, home_rows=station_rows, home=("UIK-1234", "OIK-07"))
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from biometrics.match import SYNTHETIC_CALIBRATION_FILE
from provisioning.package import build_package
from simulation.authority import (
    cec_pub_path,
    default_cec_key_path,
    document_signer,
    load_or_create_key,
    secrets_dir,
)
from simulation.election import (
    VOTING_DAY,
    demo_manifest,
    demo_voters,
    district_candidates,
    district_contest,
    enrol_all,
)
from simulation.national import OIKS, REGIONS
from station.package import Package
from sync import signing

SITE_NUMBER = 9001
SITE_DISTRICT = "OIK-03"


def site_id(number: int) -> str:
    return f"RV-{number}"


def remote_site_manifest(seed: int = 1, *, site_number: int = SITE_NUMBER, site_district: str = SITE_DISTRICT,
                         districts: Iterable[int] = range(1, OIKS + 1), package_version: int = 1,
                         voting_day=VOTING_DAY) -> dict:
    """The manifest (without its files list) of a remote-voting site standing in ``site_district``.

    ``districts``: the numbers of the districts whose contests it carries (all 30 by
    default); ``district-07`` is the demo election's own (simulation/election.py).
    """
    base = demo_manifest(seed, station_number=site_number, package_version=package_version,
                         voting_day=voting_day)
    home, party_list = base["contests"]
    contests = []
    for n in sorted(set(districts)):
        if home["id"] == f"district-{n:02d}":
            contests.append(home)
        else:
            contests.append(district_contest(n, district_candidates(random.Random(f"district-{seed}-{n}"))))
    number = int(site_district.rsplit("-", 1)[-1])
    station = {
        **base["station"], "id": site_id(site_number), "kind": "remote-site", "district": site_district,
        "name": {"ky": f"№{site_number} аралыктан добуш берүү пункту (Ош базары)",
                 "ru": f"Пункт дистанционного голосования №{site_number} (Ошский рынок)"},
        "address": {"ky": "Бишкек ш., Бейшеналиева көч., 42", "ru": "г. Бишкек, ул. Бейшеналиевой, 42"},
        "oik": {"code": site_district, "name": {"ky": f"№{number} шайлоо округу",
                                                "ru": f"Избирательный округ №{number}"}},
        "tik": {"code": "TIK-GB-OKT", "name": {"ky": "Октябрь району", "ru": "Октябрьский район"}},
    }
    return {**base, "station": station, "contests": [*contests, party_list],
            "ballot_styles": [{"id": f"bs-{c['id']}", "contests": [c["id"]]} for c in [*contests, party_list]]}


def site_entry(manifest: dict) -> dict:
    """The site as the centre's station list has it (central/storage.py ``register_stations``).

    A site has no voters' list of its own (its voters are on their home stations'
    lists), so it brings no ``voters_on_list``.
    """
    st = manifest["station"]
    return {k: st[k] for k in ("id", "number", "name", "region", "oik", "tik", "kind", "district")}


def home_station_entry(station: str, district: str, voters_on_list: int) -> dict:
    """A home station of the national list's synthetic voters (``stations`` of ``build_remote_site_package``)
    as the centre's station list has it: one per district by default, ``UIK-NN01`` in ``OIK-NN``."""
    n = int(district.rsplit("-", 1)[-1])
    code, ky, ru, _ = REGIONS[(n - 1) % len(REGIONS)]
    number = int(station.rsplit("-", 1)[-1])
    return {"id": station, "number": number, "kind": "station", "district": district,
            "name": {"ky": f"№{number} шайлоо участкасы", "ru": f"Избирательный участок №{number}"},
            "region": {"code": code, "name": {"ky": ky, "ru": ru}},
            "oik": {"code": district, "name": {"ky": f"№{n} шайлоо округу", "ru": f"Избирательный округ №{n}"}},
            "tik": {"code": f"TIK-{n:02d}", "name": {"ky": f"№{n} аймактык шайлоо комиссиясы",
                                                    "ru": f"Территориальная избирательная комиссия №{n}"}},
            "voters_on_list": voters_on_list}


def national_list(seed: int, n: int, stations: Sequence[tuple[str, str]], *,
                  home_rows: Iterable[list[str]] = (), home: tuple[str, str] | None = None,
                  voting_day=VOTING_DAY) -> Iterator[list[str]]:
    """``n`` national-list rows (``NATIONAL_COLUMNS``), unique PINs.

    ``home_rows`` (a station's voters.csv rows, e.g. the demo station's) come first with
    ``home`` = (their station, its district), so the same voters are on both lists; then
    synthetic voters spread over ``stations`` ((station id, district) pairs) in turn, each
    with the contest of the home district as the residence's (``district-NN`` for ``OIK-NN``).
    """
    seen: set[str] = set()
    done = 0
    for row in home_rows:
        if home is None:
            raise ValueError("home_rows need home=(station, district)")
        if done == n:
            return
        seen.add(row[0])
        yield [*row, *home]
        done += 1
    if not stations:
        raise ValueError("a national list needs stations to be the voters' home")
    rng = random.Random(f"national-{seed}")
    k = rng.randrange(len(stations))
    for row in demo_voters(seed + 7919, 2 * n + 100, voting_day=voting_day):
        if done == n:
            return
        if row[0] in seen:
            continue
        station, district = stations[k]
        k = (k + 1) % len(stations)
        if row[7]:
            row[7] = f"district-{district.rsplit('-', 1)[-1]}"
        yield [*row, station, district]
        done += 1


def build_remote_site_package(out: str | os.PathLike, *, voters: int = 2_000, seed: int = 1,
                              site_number: int = SITE_NUMBER, site_district: str = SITE_DISTRICT,
                              stations: Sequence[tuple[str, str]] | None = None,
                              home_rows: Sequence[list[str]] = (), home: tuple[str, str] | None = None,
                              districts: Iterable[int] = range(1, OIKS + 1),
                              template_pins: Collection[str] | None = None,
                              signing_key: str | os.PathLike | None = None,
                              secrets: str | os.PathLike | None = None, package_version: int = 1,
                              voting_day=VOTING_DAY,
                              progress: Callable[[str, int, int], None] | None = None) -> Package:
    """Write a signed remote-site package to ``out``, its CEC public key beside it, as
    simulation/authority.py ``build_demo_package`` does (the same demo CEC key by default).

    ``stations``: the home stations of the synthetic voters (default: one per district,
    ``UIK-<district>01``); ``template_pins``: the voters whose templates it carries
    (default: those who applied for remote voting, ``remote`` = 1; empty: none);
    ``secrets``: the demo's secrets directory to take the centre's ack key and the card
    issuer's test PKI from (the home station's ``DIR.secrets``, so that both devices
    trust one centre and one card issuer; default ``out.secrets``, created).
    """
    out = Path(out)
    cec = load_or_create_key(signing_key or default_cec_key_path())
    secrets = Path(secrets) if secrets is not None else secrets_dir(out)
    secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    ack = load_or_create_key(secrets / "ack-server.key")
    numbers = sorted(set(districts))
    manifest = remote_site_manifest(seed, site_number=site_number, site_district=site_district,
                                    districts=numbers, package_version=package_version, voting_day=voting_day)
    if stations is None:
        stations = [(f"UIK-{n:02d}01", f"OIK-{n:02d}") for n in numbers]
    # Streamed (4.3 M rows at full size): the template subset is collected while the rows are
    # written and enrolled after them (build_package writes templates.csv after voters.csv).
    wanted = None if template_pins is None else set(template_pins)
    pins: list[str] = []

    def rows() -> Iterator[list[str]]:
        for i, r in enumerate(islice(national_list(seed, voters, stations, home_rows=home_rows, home=home,
                                                   voting_day=voting_day), voters), start=1):
            if (r[10] == "1") if wanted is None else (r[0] in wanted):
                pins.append(r[0])
            if progress and i % 100_000 == 0:
                progress("voters", i, voters)
            yield r

    def templates() -> Iterator[tuple[str, int, bytes]]:
        cb = (lambda d, t: progress("templates", d, t)) if progress else None
        if pins:
            yield from enrol_all(seed, pins, progress=cb)

    pki = document_signer(secrets)
    trust = {"ack-server.pub": (signing.public_text(signing.public_key(ack)) + "\n").encode(),
             "provisioning.pub": (signing.public_text(signing.public_key(cec)) + "\n").encode(),
             "document-signers.pem": pki.csca_pem + pki.ds_pem}
    if template_pins is None or template_pins:
        # The synthetic fingers' thresholds (simulation/authority.py says why), with any subset.
        trust["fingerprint-calibration.json"] = SYNTHETIC_CALIBRATION_FILE.read_bytes()
    pkg = build_package(out, manifest, rows(), cec, templates=templates(), trust=trust)
    signing.save_public_key(signing.public_key(cec), cec_pub_path(out))
    if not (secrets / "seed").exists():
        (secrets / "seed").write_text(f"{seed}\n")
    return pkg

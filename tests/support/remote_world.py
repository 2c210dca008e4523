"""A small national day with a remote-voting site, for the centre's and the portal's tests (issue #14, 5).

``build_remote_world(dir, db)`` registers three Regions' worth of ОИКs with one
regular station each and a remote-voting site standing in OIK-03, the national
list (every station's voters with their home station and district), device
certificates from a test authority, and uploads through ``Receiver.handle_batch``
what each sends (tests/support/portal_world.py's devices and PINs):

| station  | where            | what arrives                                                     |
|----------|------------------|------------------------------------------------------------------|
| UIK-1001 | KG-C, OIK-01     | 40 receipts, protocol: district-01 + party-list                  |
| UIK-2001 | KG-O, OIK-02     | 30 receipts, protocol: district-02 + party-list                  |
| UIK-3001 | KG-O, OIK-03     | 20 receipts, protocol: district-03 + party-list                  |
| RV-9001  | KG-O, OIK-03     | a remote site: 7 voters of OIK-01 and 4 of OIK-02 (one by an online claim, its receipt later), 1 PIN not on the national list; protocol: district-01 (OIK-01), district-02 (OIK-02), party-list |

The site is registered with the national list's size as its ``voters_on_list``
(as a package manifest registers it): no area may count it.

Example::

    w = build_remote_world(tmp_path)
    aggregate.results(w.storage, "oik")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from portal_world import DAY, ELECTION, Device, pin_of, utc

from base.clock import FixedClock
from central.portal.app import PortalContext
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.envelope import encode_batch, make_batch

SITE = "RV-9001"
REGIONS = {"KG-C": {"ky": "Чүй облусу", "ru": "Чуйская область"},
           "KG-O": {"ky": "Ош облусу", "ru": "Ошская область"}}
# station -> (region, ОИК, ТИК, voters on the list, receipts)
STATIONS = {
    "UIK-1001": ("KG-C", "OIK-01", "TIK-C-ALA", 100, 40),
    "UIK-2001": ("KG-O", "OIK-02", "TIK-O-CITY", 80, 30),
    "UIK-3001": ("KG-O", "OIK-03", "TIK-O-KSU", 60, 20),
}
NATIONAL = 4_300_000                      # the site's package's list: never an area's
REMOTE = {"OIK-01": 7, "OIK-02": 4}       # voters of these districts who came to the site
STRANGER = "21212199000777"               # identified at the site offline, not on the national list
CANDIDATES = ["c-01", "c-02", "c-03"]
PARTIES = ["p-doorr", "p-onugu"]


def contest_manifest(number: int) -> dict:
    return {"id": f"district-{number:02d}", "kind": "candidate", "district": f"OIK-{number:02d}",
            "title": {"ky": f"№ {number} шайлоо округу", "ru": f"Избирательный округ № {number}"},
            "candidates": [{"id": c, "surname": f"Асанов-{number}-{c}", "name": "Бакыт"} for c in CANDIDATES]}


CONTESTS = [contest_manifest(1), contest_manifest(2), contest_manifest(3),
            {"id": "party-list", "kind": "party-list", "title": {"ky": "Партиялык тизмелер", "ru": "Партийные списки"},
             "parties": [{"id": "p-doorr", "name": {"ky": "Жаңы Доор", "ru": "Новая эра"}},
                         {"id": "p-onugu", "name": {"ky": "Өнүгүү", "ru": "Развитие"}}]}]


def entry(sid: str, region: str, oik: str, tik: str, on_list: int | None, kind: str = "station") -> dict:
    e = {"id": sid, "number": int(sid.split("-")[1]),
         "name": {"ky": f"{sid} Өнүгүү", "ru": f"{sid} Развитие"},
         "region": {"code": region, "name": REGIONS[region]},
         "oik": {"code": oik, "name": {"ky": f"{oik} ОШК", "ru": f"ОИК {oik}"}},
         "tik": {"code": tik, "name": {"ky": f"{tik} АШК", "ru": f"ТИК {tik}"}}, "voters_on_list": on_list}
    if kind != "station":
        e.update(kind=kind, district=oik)
    return e


def candidate(cid: str, district: str | None, votes: list[int], invalid: int = 1, blank: int = 0) -> dict:
    v = dict(zip(CANDIDATES, votes, strict=True))
    v["against-all"] = 0
    c = {"contest": cid, "kind": "candidate", "ballots_read": sum(votes) + invalid + blank, "valid": sum(votes),
         "invalid": invalid, "blank": blank, "marginal_sheets": 0, "votes": v, "preferences": {}}
    if district:
        c["district"] = district
    return c


def party_list(votes: list[int], invalid: int = 1) -> dict:
    v = dict(zip(PARTIES, votes, strict=True))
    v["against-all"] = 0
    return {"contest": "party-list", "kind": "party-list", "ballots_read": sum(votes) + invalid,
            "valid": sum(votes), "invalid": invalid, "blank": 0, "marginal_sheets": 0, "votes": v,
            "preferences": {p: {} for p in PARTIES}}


def protocol(station: str, on_list: int | None, identified: int, contests: list[dict], **extra) -> dict:
    return {"election": ELECTION, "station": station, "closed_at": utc(14, 5), "voters_on_list": on_list,
            "voters_identified": identified, "contests": contests,
            "control": [{"relation": "ballots<=identified", "ok": True, "detail": ""}], "test_mode": False,
            **extra}


@dataclass
class RemoteWorld:
    storage: Storage
    receiver: Receiver
    authority: signing.PrivateKey
    centre_key: signing.PrivateKey
    clock: FixedClock
    pins: dict[str, list[str]] = field(default_factory=dict)     # home station -> its voters' PINs
    site_pins: list[str] = field(default_factory=list)
    protocols: dict[str, dict] = field(default_factory=dict)
    devices: dict[str, dict[str, Device]] = field(default_factory=dict)

    def context(self, downloads: Path, **options) -> PortalContext:
        return PortalContext(self.storage, self.authority.public_key(), self.centre_key, ELECTION,
                             downloads=downloads, contests=CONTESTS, clock=self.clock,
                             **{"refresh_seconds": 0, **options})

    def upload(self, device: Device, envelopes: list[dict]) -> None:
        reply = self.receiver.handle_batch(_batch(device, envelopes), "gzip", "127.0.0.1")
        assert reply.status == 200, reply.body
        bad = [r for r in reply.body["signed"]["results"] if r["status"] != "stored"]
        assert not bad, bad

    def close(self) -> None:
        self.storage.close()


def _batch(device: Device, envelopes: list[dict]) -> bytes:
    return encode_batch(make_batch(device.id, device.stream, envelopes, device.cert))


def receipt(device: Device, i: int, pin: str, at: str, ballots: list[str]) -> dict:
    return device.seal("identification-receipt", {
        "receipt": f"R-{i:06d}", "pin": pin, "method": "card+finger", "manual_reason": None,
        "identified_at": at, "ballots": ballots, "table": "1"}, at)


def build_remote_world(directory: Path, db: str | Path | None = None, *,
                       site_protocol: dict | None = None) -> RemoteWorld:
    """The day of the module doc in ``db`` (SQLite file or ``postgresql://`` URL; default directory/central.db).

    ``site_protocol``: the site's protocol body instead of the usual one (a test that spoils it).
    """
    authority, centre = signing.generate_key(), signing.generate_key()
    clock = FixedClock(f"{DAY}T14:20:00+00:00")
    storage = Storage(db or Path(directory) / "central.db")
    rx = Receiver(storage, centre, authority.public_key(), election_id=ELECTION, clock=clock)
    storage.register_election(ELECTION, str(DAY), "Asia/Bishkek", "08:00", "20:00")
    rx.register_stations([entry(sid, *v[:4]) for sid, v in STATIONS.items()]
                         + [entry(SITE, "KG-O", "OIK-03", "TIK-O-KSU", NATIONAL, "remote-site")])
    w = RemoteWorld(storage, rx, authority, centre, clock)
    for sid, (_, oik, _, on_list, _came) in STATIONS.items():
        number = int(sid.split("-")[1])
        w.pins[sid] = [pin_of(number, i) for i in range(on_list)]
        storage.register_national_voters([(p, sid, oik) for p in w.pins[sid]])
    # The regular stations: receipts of their first ``came`` voters, a protocol of their district.
    for k, (sid, (_, _oik, _, on_list, came)) in enumerate(STATIONS.items(), start=1):
        ident, count = Device(authority, sid, "identify"), Device(authority, sid, "count")
        w.devices[sid] = {"identify": ident, "count": count}
        rx.enroll(ident.cert)
        rx.enroll(count.cert)
        cid = f"district-{k:02d}"
        w.upload(ident, [receipt(ident, i + 1, p, utc(3 + i % 10, i % 60), [cid, "party-list"])
                         for i, p in enumerate(w.pins[sid][:came])])
        read = came - 1
        body = protocol(sid, on_list, came, [candidate(cid, None, [read - 1 - 2 * k, 2 * k, 0]),
                                             party_list([read - 1 - k, k])])
        w.protocols[sid] = body
        w.upload(count, [count.seal("results-protocol", body, utc(14, 6))])
    # The site: voters from other districts, one of them claimed online first (central/claims.py).
    ident, count = Device(authority, SITE, "identify"), Device(authority, SITE, "count")
    w.devices[SITE] = {"identify": ident, "count": count}
    rx.enroll(ident.cert)
    rx.enroll(count.cert)
    homes = {"OIK-01": "UIK-1001", "OIK-02": "UIK-2001"}
    envs, n = [], 0
    for district, how_many in REMOTE.items():
        for pin in w.pins[homes[district]][-how_many:]:        # never identified at home
            n += 1
            at = utc(6, n)
            if n == 1:
                granted, _ = storage.claim_identification(pin, SITE, ident.id, f"R-{n:06d}", at, "online-claim")
                assert granted
            w.site_pins.append(pin)
            envs.append(receipt(ident, n, pin, at, [f"district-{int(district[-2:]):02d}", "party-list"]))
    n += 1
    envs.append(receipt(ident, n, STRANGER, utc(7), ["party-list"]))
    w.site_pins.append(STRANGER)
    w.upload(ident, envs)
    body = site_protocol or protocol(SITE, NATIONAL, n, [
        candidate("district-01", "OIK-01", [4, 2, 0]),       # 7 ballots: 6 valid, 1 invalid
        candidate("district-02", "OIK-02", [1, 2, 0]),       # 4 ballots
        party_list([6, 5])], remote_site=True, district="OIK-03")
    w.protocols[SITE] = body
    w.upload(count, [count.seal("results-protocol", body, utc(14, 6))])
    return w

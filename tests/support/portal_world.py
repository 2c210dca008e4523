"""A small national day for the portal's tests: stations registered, devices certified, uploads received.

``build_world(dir)`` registers eight stations in two Regions, three ОИКs and
four ТИКs, gives each station an identify device and a count device with
certificates from a test provisioning authority, and uploads through
``Receiver.handle_batch`` (signed envelopes, sync/envelope.py, as a station's
uploader sends them) what each station sends on the day:

| station   | what arrives                                               | portal status |
|-----------|------------------------------------------------------------|---------------|
| UIK-1001  | receipts, summary, protocol                                | verified      |
| UIK-1002  | receipts, summary, protocol, then the manual count         | verified, manual count with differences (one above the threshold) |
| UIK-1003  | receipts, summary, a protocol whose votes do not add up    | held          |
| UIK-1004  | receipts only (polls still open there)                     | reporting     |
| UIK-2001  | receipts, summary, protocol                                | verified      |
| UIK-2002  | receipts, summary, protocol, then a corrected revision     | verified, two revisions |
| UIK-2003  | receipts, summary, protocol                                | verified      |
| UIK-2004  | nothing                                                    | missing       |

Receipts carry real-looking PINs (``World.pins``: every one, so a test can
check that no page or download shows any); identification times spread over
the day 08:00-20:00 Bishkek time (02:00-14:00 UTC). Names carry the Kyrgyz
letters Ң Ө Ү.

``served(ctx)`` runs ``Starlette(routes=portal_routes(ctx))`` under uvicorn on a
free loopback port (as tests/support/screens_world.py does for the screens).

Example::

    world = build_world(tmp_path)
    with served(world.context(tmp_path / "downloads")) as url:
        requests.get(url + "/ru/station/UIK-1002")
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from asgi_served import serving
from starlette.applications import Starlette

from base.clock import FixedClock
from central.portal.app import PortalContext, portal_routes
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import ZERO_HASH, DeviceSigner, encode_batch, make_batch

ELECTION = "kg-2025-parl"
DAY = dt.date(2025, 11, 30)

REGIONS = {
    "KG-C": {"ky": "Чүй облусу", "ru": "Чуйская область"},
    "KG-O": {"ky": "Ош шаары", "ru": "город Ош"},
}
OIKS = {
    "OIK-01": ("KG-C", {"ky": "№ 1 округдук шайлоо комиссиясы", "ru": "ОИК № 1"}),
    "OIK-02": ("KG-O", {"ky": "№ 2 округдук шайлоо комиссиясы", "ru": "ОИК № 2"}),
    "OIK-03": ("KG-O", {"ky": "№ 3 округдук шайлоо комиссиясы", "ru": "ОИК № 3"}),
}
TIKS = {
    "TIK-C-ALA": ("OIK-01", {"ky": "Аламүдүн району", "ru": "Аламудунский район"}),
    "TIK-C-SOK": ("OIK-01", {"ky": "Сокулук району", "ru": "Сокулукский район"}),
    "TIK-O-CITY": ("OIK-02", {"ky": "Ош шаарынын АШК", "ru": "ТИК города Ош"}),
    "TIK-O-KSU": ("OIK-03", {"ky": "Кара-Суу району", "ru": "Кара-Суйский район"}),
}
# station -> (ТИК, on the list, receipts, what arrives)
STATIONS = {
    "UIK-1001": ("TIK-C-ALA", 180, 112, "protocol"),
    "UIK-1002": ("TIK-C-ALA", 160, 97, "manual"),
    "UIK-1003": ("TIK-C-SOK", 150, 88, "held"),
    "UIK-1004": ("TIK-C-SOK", 170, 64, "receipts"),
    "UIK-2001": ("TIK-O-CITY", 200, 131, "protocol"),
    "UIK-2002": ("TIK-O-CITY", 190, 120, "corrected"),
    "UIK-2003": ("TIK-O-KSU", 140, 79, "protocol"),
    "UIK-2004": ("TIK-O-KSU", 120, 0, "nothing"),
}
SCHOOLS = {"UIK-1001": ("Аламүдүн, № 12 орто мектеп", "Аламудун, средняя школа № 12"),
           "UIK-1002": ("Лебединовка, маданият үйү", "Лебединовка, дом культуры"),
           "UIK-1003": ("Сокулук, № 3 гимназия", "Сокулук, гимназия № 3"),
           "UIK-1004": ("Шопоков, Өнөр жай колледжи", "Шопоков, промышленный колледж"),
           "UIK-2001": ("Ош, Үмөталиев атындагы мектеп", "Ош, школа им. Умоталиева"),
           "UIK-2002": ("Ош, Төлөйкөн базары", "Ош, рынок Тёлёйкён"),
           "UIK-2003": ("Кара-Суу, Жаңы-Жол мектеби", "Кара-Суу, школа Жаны-Жол"),
           "UIK-2004": ("Кара-Суу, Көк-Жар айылы", "Кара-Суу, село Кок-Жар")}

CONTESTS = [
    {"id": "district-07", "kind": "candidate",
     "title": {"ky": "№ 7 шайлоо округу", "ru": "Избирательный округ № 7"},
     "candidates": [
         {"id": "c-01", "surname": "Асанова", "name": "Гүлнара", "patronymic": "Төлөнбаевна"},
         {"id": "c-02", "surname": "Үсөнов", "name": "Бакыт", "patronymic": "Эңсебекович"},
         {"id": "c-03", "surname": "Исаков", "name": "Тимур", "patronymic": "Маратович"},
         {"id": "c-04", "surname": "Жээнбекова", "name": "Айгүл", "patronymic": "Өмүровна"}]},
    {"id": "party-list", "kind": "party-list",
     "title": {"ky": "Партиялык тизмелер", "ru": "Партийные списки"},
     "parties": [
         {"id": "p-doorr", "name": {"ky": "Жаңы Доор", "ru": "Новая эра"}},
         {"id": "p-onugu", "name": {"ky": "Өнүгүү", "ru": "Развитие"}},
         {"id": "p-birdik", "name": {"ky": "Бирдик", "ru": "Единство"}},
         {"id": "p-toolor", "name": {"ky": "Тоолор", "ru": "Горы"}}]},
]
CANDIDATES = ["c-01", "c-02", "c-03", "c-04"]
PARTIES = ["p-doorr", "p-onugu", "p-birdik", "p-toolor"]


def utc(hour: int, minute: int = 0, second: int = 0) -> str:
    return f"{DAY}T{hour:02d}:{minute:02d}:{second:02d}Z"


def pin_of(station_no: int, i: int) -> str:
    """A valid PIN (sync/pin.py): sex, a real birth date, a serial unique per station and voter."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=station_no % 1000 * 97 + i * 13)
    return f"{1 + i % 2}{born:%d%m%Y}{station_no % 10}{station_no // 1000}{i:03d}"


class Device:
    """One certified device of a station: key, certificate, signer, its streams' heads."""

    def __init__(self, authority, station: str, role: str):
        self.key = signing.generate_key()
        self.id = device_id_for(self.key.public_key())
        self.cert = issue_certificate(authority, self.id, self.key.public_key(), station, ELECTION,
                                      dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                                      dt.datetime(2025, 12, 31, tzinfo=dt.UTC), (role,))
        self.clock = FixedClock(f"{DAY}T01:00:00+00:00")
        self.signer = DeviceSigner(self.key, self.id, cert_ref(self.cert), ELECTION, station, self.clock)
        self.stream = role
        self.seq, self.prev = 0, ZERO_HASH

    def seal(self, kind: str, body: dict, at: str) -> dict:
        self.clock.set(at.replace("Z", "+00:00"))
        self.seq += 1
        sealed = self.signer.seal(self.stream, self.seq, self.prev, kind, body)
        self.prev = sealed.hash
        return sealed.envelope


def contest_bodies(rng: random.Random, read: int) -> list[dict]:
    out = []
    for cid, kind, options in (("district-07", "candidate", CANDIDATES),
                               ("party-list", "party-list", PARTIES)):
        invalid, blank = rng.randint(1, 4), rng.randint(0, 3)
        valid = read - invalid - blank
        against = rng.randint(0, 4)
        weights = [rng.random() + 0.2 for _ in options]
        votes = {o: int((valid - against) * w / sum(weights)) for o, w in zip(options, weights, strict=True)}
        votes[options[0]] += valid - against - sum(votes.values())
        votes["against-all"] = against
        prefs = {p: {str(n): rng.randint(0, 5) for n in range(1, 6)} for p in options} \
            if kind == "party-list" else {}
        out.append({"contest": cid, "kind": kind, "ballots_read": read, "valid": valid,
                    "invalid": invalid, "blank": blank, "marginal_sheets": rng.randint(0, 2),
                    "votes": votes, "preferences": prefs})
    return out


def protocol(station: str, on_list: int, identified: int, rng: random.Random) -> dict:
    read = identified - rng.randint(0, 2)
    return {"election": ELECTION, "station": station, "closed_at": utc(14, 5),
            "voters_on_list": on_list, "voters_identified": identified,
            "contests": contest_bodies(rng, read),
            "control": [{"relation": "identified<=voters-on-list", "ok": True, "detail": ""},
                        {"relation": "ballots<=identified", "ok": True, "detail": ""},
                        {"relation": "votes=valid", "ok": True, "detail": ""}],
            "test_mode": False}


def manual_count(body: dict, prev_hash: str, changed: dict[str, int]) -> dict:
    """The official manual count as a new revision (count/manual_protocol.py): ``changed`` line -> difference."""
    lines = [{"line": "voters_identified", "contest": None, "machine": body["voters_identified"]}]
    for c in body["contests"]:
        cid = c["contest"]
        lines += [{"line": f"{cid}/ballots_found", "contest": cid, "machine": c["ballots_read"]},
                  {"line": f"{cid}/valid", "contest": cid, "machine": c["valid"]},
                  {"line": f"{cid}/invalid", "contest": cid, "machine": c["invalid"] + c["blank"]}]
        lines += [{"line": f"{cid}/votes:{o}", "contest": cid, "machine": n} for o, n in c["votes"].items()]
    for line in lines:
        d = changed.get(line["line"], 0)
        line.update(manual=line["machine"] + d, difference=d)
    section = {"lines": lines, "control": [{"relation": "valid+invalid=ballots", "ok": True, "detail": ""},
                                           {"relation": "votes=valid", "ok": True, "detail": ""}],
               "explanation": "Бир бюллетень үкөктүн түбүнөн кийин табылды / Один бюллетень найден позже",
               "differences": sum(1 for line in lines if line["difference"])}
    return {**body, "manual_count": section, "supersedes": prev_hash}


@dataclass
class World:
    storage: Storage
    receiver: Receiver
    authority: signing.PrivateKey
    centre_key: signing.PrivateKey
    clock: FixedClock
    pins: list[str] = field(default_factory=list)
    devices: dict[str, dict[str, Device]] = field(default_factory=dict)
    protocol_hashes: dict[str, list[str]] = field(default_factory=dict)

    def context(self, downloads: Path, **options) -> PortalContext:
        return PortalContext(self.storage, self.authority.public_key(), self.centre_key, ELECTION,
                             downloads=downloads, contests=CONTESTS, clock=self.clock,
                             **{"refresh_seconds": 0, **options})

    def upload(self, device: Device, envelopes: list[dict]) -> dict:
        """One batch through the receiver, as the uploader sends it; every envelope must be stored."""
        for i in range(0, len(envelopes), 500):
            part = envelopes[i:i + 500]
            reply = self.receiver.handle_batch(encode_batch(make_batch(device.id, device.stream, part,
                                                                       device.cert)), "gzip", "127.0.0.1")
            assert reply.status == 200, reply.body
            bad = [r for r in reply.body["signed"]["results"] if r["status"] != "stored"]
            assert not bad, bad
        return reply.body

    def close(self) -> None:
        self.storage.close()


def station_entries() -> list[dict]:
    out = []
    for sid, (tik, on_list, _, _) in STATIONS.items():
        oik = TIKS[tik][0]
        region = OIKS[oik][0]
        ky, ru = SCHOOLS[sid]
        out.append({"id": sid, "number": int(sid.split("-")[1]), "name": {"ky": ky, "ru": ru},
                    "region": {"code": region, "name": REGIONS[region]},
                    "oik": {"code": oik, "name": OIKS[oik][1]},
                    "tik": {"code": tik, "name": TIKS[tik][1]}, "voters_on_list": on_list})
    return out


def build_world(directory: Path, db: str | Path | None = None, seed: int = 13) -> World:
    """The national day of the module doc, stored in ``db`` (a SQLite file or a ``postgresql://``
    URL; by default ``directory/central.db``)."""
    rng = random.Random(seed)
    authority, centre = signing.generate_key(), signing.generate_key()
    clock = FixedClock(f"{DAY}T14:20:00+00:00")
    storage = Storage(db or Path(directory) / "central.db")
    rx = Receiver(storage, centre, authority.public_key(), election_id=ELECTION, clock=clock)
    storage.register_election(ELECTION, str(DAY), "Asia/Bishkek", "08:00", "20:00")
    rx.register_stations(station_entries())
    world = World(storage, rx, authority, centre, clock)
    for sid, (_, on_list, receipts, arrives) in STATIONS.items():
        if arrives == "nothing":
            continue
        number = int(sid.split("-")[1])
        ident, count = Device(authority, sid, "identify"), Device(authority, sid, "count")
        world.devices[sid] = {"identify": ident, "count": count}
        envs = [ident.seal("polls-event", {"event": "opened", "at": utc(2)}, utc(2))]
        for i in range(receipts):
            minute = int(720 * (i + rng.random()) / max(receipts, 1))   # 02:00-14:00 UTC
            at = utc(2 + minute // 60, minute % 60, rng.randint(0, 59))
            pin = pin_of(number, i)
            world.pins.append(pin)
            envs.append(ident.seal("identification-receipt", {
                "receipt": f"R-{i + 1:06d}", "pin": pin, "method": "card+finger", "manual_reason": None,
                "identified_at": at, "ballots": ["district-07", "party-list"], "table": str(1 + i % 2)}, at))
        if arrives != "receipts":
            envs.append(ident.seal("polls-event", {"event": "closed", "at": utc(14)}, utc(14)))
            envs.append(ident.seal("identification-summary", {
                "voters_on_list": on_list, "identified": receipts, "by_method": {"card+finger": receipts},
                "at": utc(14, 1)}, utc(14, 1)))
        world.upload(ident, envs)
        if arrives == "receipts":
            continue
        body = protocol(sid, on_list, receipts, rng)
        if arrives == "held":     # a control relation fails: the votes do not add up to the valid ballots
            body["contests"][1]["votes"][PARTIES[0]] += 40
        count_envs = [count.seal("polls-event", {"event": "opened", "at": utc(2)}, utc(2)),
                      count.seal("polls-event", {"event": "closed", "at": utc(14)}, utc(14)),
                      count.seal("results-protocol", body, utc(14, 6))]
        world.protocol_hashes[sid] = [count.prev]
        world.upload(count, count_envs)
        if arrives in ("manual", "corrected"):
            clock.advance(3600)
            if arrives == "manual":
                # 3 votes read for the wrong party, 1 valid ballot the commission found invalid:
                # one difference above the flag (3 > max(2, 1%)), the others below it
                again = manual_count(body, count.prev, {"party-list/votes:p-onugu": 3,
                                                        "party-list/votes:p-doorr": -1,
                                                        "party-list/votes:p-birdik": -2,
                                                        "district-07/invalid": 1, "district-07/valid": -1,
                                                        "district-07/votes:c-01": -1})
            else:
                again = {**body, "contests": [dict(c) for c in body["contests"]]}
                again["contests"][0] = {**again["contests"][0], "invalid": again["contests"][0]["invalid"] + 2,
                                        "blank": again["contests"][0]["blank"] - 0,
                                        "valid": again["contests"][0]["valid"] - 2}
                votes = dict(again["contests"][0]["votes"])
                votes[CANDIDATES[0]] -= 2
                again["contests"][0]["votes"] = votes
            world.upload(count, [count.seal("results-protocol", again, utc(15, 10))])
            world.protocol_hashes[sid].append(count.prev)
            clock.advance(-3600)
    return world




def served(ctx: PortalContext):
    """The portal alone on a free port of 127.0.0.1; yields its base URL."""
    return serving(Starlette(routes=portal_routes(ctx)))

"""A simulated national voting day for the central server: every station's device signs like a real one.

2,513 stations (the count of the 2025 parliamentary election) under the nine
first-level units of ISO 3166-2:KG, 30 ОИК (the 2025 multi-mandate districts)
and two ТИК per ОИК; each station has a list of 500-3,000 voters (4.3 M in
all at full size), one device with a certificate from the day's authority,
and on its streams what a real station sends: identification receipts (one
per voter who came: turnout 30-65 %, times spread over 08:00-20:00 Bishkek
time), an identification summary, the close and the results protocol, whose
figures agree with the receipts (so every station passes the centre's checks
unless a test spoils it).

``scale`` shrinks the number of voters who came (the lists stay full size),
so a CI run or a quick benchmark signs thousands of receipts instead of
millions; the benchmark says which scale it ran.

Everything is deterministic from ``seed`` except the keys.

Example::

    day = NationalDay(stations=50, scale=0.01)
    receiver.register_stations(day.station_list())
    for station in day.stations:
        for stream, batch in day.batches(station):
            receiver.handle_batch(batch, "gzip")
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from base.clock import FixedClock
from sync import signing
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import ZERO_HASH, DeviceSigner, encode_batch, make_batch

ELECTION = "kg-2025-parliament"
VOTING_DAY = dt.date(2025, 11, 30)
STATIONS = 2513
BISHKEK = dt.timezone(dt.timedelta(hours=6))
REGIONS = [("KG-GB", "Бишкек шаары", "город Бишкек", 0.17), ("KG-GO", "Ош шаары", "город Ош", 0.06),
           ("KG-C", "Чүй облусу", "Чуйская область", 0.15), ("KG-Y", "Ысык-Көл облусу",
                                                            "Иссык-Кульская область", 0.08),
           ("KG-N", "Нарын облусу", "Нарынская область", 0.05), ("KG-T", "Талас облусу",
                                                               "Таласская область", 0.04),
           ("KG-J", "Жалал-Абад облусу", "Джалал-Абадская область", 0.19),
           ("KG-O", "Ош облусу", "Ошская область", 0.18), ("KG-B", "Баткен облусу",
                                                          "Баткенская область", 0.08)]
OIKS = 30
PARTIES = [f"party-{k}" for k in range(1, 13)]


@dataclass
class SimStation:
    id: str
    number: int
    region: tuple[str, str, str]
    oik: int
    tik: str
    voters_on_list: int
    came: int
    key: signing.PrivateKey
    device_id: str
    certificate: dict

    def entry(self) -> dict:
        code, ky, ru = self.region
        return {"id": self.id, "number": self.number,
                "name": {"ky": f"№{self.number} шайлоо участогу", "ru": f"Избирательный участок №{self.number}"},
                "region": {"code": code, "name": {"ky": ky, "ru": ru}},
                "oik": {"code": f"OIK-{self.oik:02d}", "name": {"ky": f"№{self.oik} шайлоо округу",
                                                                "ru": f"Избирательный округ №{self.oik}"}},
                "tik": {"code": self.tik, "name": {"ky": f"{self.tik} ТШК", "ru": f"ТИК {self.tik}"}},
                "voters_on_list": self.voters_on_list}


class NationalDay:
    """The stations, their keys and certificates, and their signed batches."""

    def __init__(self, stations: int = STATIONS, scale: float = 1.0, seed: int = 2025,
                 authority: signing.PrivateKey | None = None, election: str = ELECTION,
                 first_number: int = 1001):
        self.rng = random.Random(seed)
        self.seed = seed
        self.scale = scale
        self.election = election
        self.authority = authority or signing.generate_key()
        self.stations: list[SimStation] = []
        weights = [r[3] for r in REGIONS]
        for i in range(stations):
            region = self.rng.choices(REGIONS, weights)[0][:3]
            oik = 1 + (REGIONS.index(next(r for r in REGIONS if r[0] == region[0])) * OIKS // len(REGIONS)
                       + self.rng.randrange(max(1, OIKS // len(REGIONS)))) % OIKS
            tik = f"TIK-{oik:02d}-{1 + self.rng.randrange(2)}"
            on_list = self.rng.randint(500, 3000)
            came = round(on_list * self.rng.uniform(0.30, 0.65) * scale)
            key = signing.generate_key()
            device = device_id_for(key.public_key())
            number = first_number + i
            cert = issue_certificate(self.authority, device, key.public_key(), f"UIK-{number}", election,
                                     dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                                     dt.datetime(2025, 12, 31, tzinfo=dt.UTC))
            self.stations.append(SimStation(f"UIK-{number}", number, region, oik, tik, on_list, came,
                                            key, device, cert))

    def __repr__(self) -> str:
        return f"NationalDay({len(self.stations)} stations, scale={self.scale}, receipts={self.receipts})"

    @property
    def receipts(self) -> int:
        return sum(s.came for s in self.stations)

    def station_list(self) -> list[dict]:
        return [s.entry() for s in self.stations]

    def election_entry(self) -> dict:
        return {"id": self.election, "voting_day": VOTING_DAY.isoformat(), "time_zone": "Asia/Bishkek",
                "polls_open": "08:00", "polls_close": "20:00"}

    def pin(self, station: SimStation, i: int) -> str:
        """A PIN of the sync/pin.py form, unique per (station, i)."""
        born = dt.date(1950, 1, 1) + dt.timedelta(days=(station.number * 7 + i // 100_000) % 20000)
        return f"{1 + (i % 2)}{born:%d%m%Y}{(station.number * 37 + i) % 100_000:05d}"

    def receipt(self, station: SimStation, i: int) -> dict:
        minute = (i * 720) // max(1, station.came)      # spread over 08:00-20:00 local
        at = dt.datetime.combine(VOTING_DAY, dt.time(8, 0), BISHKEK) + dt.timedelta(minutes=minute,
                                                                                   seconds=i % 60)
        return {"receipt": f"R-{i + 1:06d}", "pin": self.pin(station, i), "method": "card+finger",
                "manual_reason": None, "identified_at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ballots": [f"district-{station.oik:02d}", "party-list"], "table": str(1 + i % 3)}

    def protocol(self, station: SimStation) -> dict:
        rng = random.Random(f"{self.seed}-{station.id}")
        read = max(0, station.came - rng.randint(0, min(3, station.came)))

        def contest(cid: str, kind: str, options: list[str]) -> dict:
            invalid = min(read, rng.randint(0, max(0, read // 50)))
            valid = read - invalid
            votes, left = {}, valid
            for o in options[:-1]:
                n = rng.randint(0, left // 2) if left else 0
                votes[o] = n
                left -= n
            votes[options[-1]] = left
            return {"contest": cid, "kind": kind, "ballots_read": read, "valid": valid,
                    "invalid": invalid, "blank": 0, "marginal_sheets": 0, "votes": votes,
                    "preferences": {}}
        district = f"district-{station.oik:02d}"
        return {"election": self.election, "station": station.id, "closed_at": "2025-11-30T15:10:00Z",
                "voters_on_list": station.voters_on_list, "voters_identified": station.came,
                "contests": [contest(district, "candidate", [f"cand-{k}" for k in range(1, 8)] + ["against-all"]),
                             contest("party-list", "party-list", [*PARTIES, "against-all"])],
                "control": [{"relation": "ballots<=identified", "ok": True, "detail": ""}],
                "test_mode": False}

    def envelopes(self, station: SimStation, stream: str) -> Iterator[dict]:
        clock = FixedClock("2025-11-30T02:00:00+00:00")
        signer = DeviceSigner(station.key, station.device_id, cert_ref(station.certificate), self.election,
                              station.id, clock)
        prev, seq = ZERO_HASH, 0

        def seal(kind: str, body: dict) -> dict:
            nonlocal prev, seq
            seq += 1
            s = signer.seal(stream, seq, prev, kind, body)
            prev = s.hash
            return s.envelope
        if stream == "identify":
            for i in range(station.came):
                yield seal("identification-receipt", self.receipt(station, i))
            yield seal("identification-summary", {"voters_on_list": station.voters_on_list,
                                                  "identified": station.came, "at": "2025-11-30T14:00:00Z"})
        else:
            yield seal("polls-event", {"event": "closed", "at": "2025-11-30T14:00:00Z"})
            yield seal("results-protocol", self.protocol(station))

    def batches(self, station: SimStation, size: int = 500) -> Iterator[tuple[str, bytes, int]]:
        """(stream, gzip batch bytes, envelopes in it): identify first, then count."""
        for stream in ("identify", "count"):
            chunk: list[dict] = []
            for env in self.envelopes(station, stream):
                chunk.append(env)
                if len(chunk) == size:
                    yield stream, encode_batch(make_batch(station.device_id, stream, chunk,
                                                          station.certificate)), len(chunk)
                    chunk = []
            if chunk:
                yield stream, encode_batch(make_batch(station.device_id, stream, chunk,
                                                      station.certificate)), len(chunk)

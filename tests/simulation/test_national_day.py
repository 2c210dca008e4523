"""The simulated national day signs like real stations: every station passes the centre's checks."""

from __future__ import annotations

from central import aggregate
from central.service import Receiver
from central.storage import Storage
from simulation.national import NationalDay
from sync import signing


def test_a_small_national_day_is_verified_everywhere(tmp_path):
    day = NationalDay(stations=12, scale=0.01, seed=7)
    rx = Receiver(Storage(tmp_path / "c.db"), signing.generate_key(), day.authority.public_key())
    rx.register_stations(day.station_list())
    rx.storage.register_election(**{k if k != "id" else "election_id": v
                                    for k, v in day.election_entry().items()})
    sent = 0
    for st in day.stations:
        for _, batch, n in day.batches(st, size=7):
            reply = rx.handle_batch(batch, "gzip")
            assert reply.status == 200
            assert {r["status"] for r in reply.body["signed"]["results"]} == {"stored"}
            sent += n
    assert rx.storage.envelope_count() == sent == day.receipts + 3 * len(day.stations)
    s = aggregate.stations(rx.storage)
    assert s["counts"]["verified"] == 12 and s["held"] == []
    national = aggregate.results(rx.storage, "national")["groups"][0]
    assert national["voters_identified"] == day.receipts
    assert len({st.region[0] for st in day.stations}) > 1
    rx.storage.close()

"""The Identifier on a real identify.db: each route, each refusal, the one transaction, the race."""

from __future__ import annotations

import json
import sqlite3
import threading

import numpy as np
import pytest

import identify.identifier as identification
from biometrics.extract import extract
from drivers.idcard.base import CardReader, DirectTransport
from identify.daemon import open_identifier
from identify.identifier import counts
from identify.receipts import pending
from identify.rules import Status, verification_code
from simulation.table import finger_impression, outsider, voter_card
from station import polls
from station.errors import IdentificationError
from station.events import verify_chain
from sync.canonical import parse
from sync.errors import OutboxFullError
from sync.outbox import Outbox


def probe(table, pin: str):
    for index in range(2, 12):
        img = finger_impression(table.seed, pin, index)
        if extract(img).ok:
            return img
    raise AssertionError("no usable impression")


def read_card(table, voter, preset=None):
    card = voter_card(voter, table.pki, preset=preset)
    with CardReader(DirectTransport(card)) as reader:
        return reader.read_document(card.mrz.bac_key, table.trust)


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def test_card_and_finger_records_identification_receipt_queue_and_envelope_together(table):
    v = table.voters[0]
    out = table.identifier.by_card(read_card(table, v), probe(table, v.pin))
    assert out.accepted and out.method == "card+finger" and out.receipt.number == 1
    conn = table.identifier.conn
    ident = dict(rows(conn, "SELECT * FROM identification")[0])
    assert ident["pin"] == v.pin and json.loads(ident["ballots"]) == list(out.ballots)
    assert ident["match_threshold"] == out.fingerprint.threshold and ident["match_fmr"] == 0.0001
    assert [r[0] for r in rows(conn, "SELECT receipt FROM print_queue WHERE printed_at IS NULL")] == [1]
    env = parse(rows(conn, "SELECT envelope FROM outbox")[0][0])
    assert env["kind"] == "identification-receipt" and env["stream"] == "identify"
    body = env["body"]
    assert body["receipt"] == "R-000001" and body["pin"] == v.pin and body["method"] == "card+finger"
    assert body["manual_reason"] is None and body["ballots"] == ["district-07", "party-list"]
    # The server can recompute the printed code from the envelope alone.
    assert verification_code(env["election"], env["station"], body) == body["verification_code"] == out.receipt.code
    assert verify_chain(conn).ok
    events = [r[0] for r in rows(conn, "SELECT event FROM audit_log")]
    assert "voter-identified" in events


def test_receipt_numbers_are_sequential(table):
    numbers = [table.identifier.manual(v.pin, "m1", "sensor-failure").receipt.number for v in table.voters[:4]]
    assert numbers == [1, 2, 3, 4]


@pytest.mark.parametrize("case", ["not-on-list", "already-identified", "fingerprint-mismatch",
                                  "no-fingerprint-enrolled", "card-not-authentic", "polls-not-open",
                                  "not-eligible"])
def test_every_refusal_is_reachable_and_records_nothing_but_its_audit_line(table, case):
    ident = table.identifier
    v = table.voters[1]
    if case == "already-identified":
        assert ident.manual(v.pin, "m1", "sensor-failure").accepted
    before = ident.conn.execute("SELECT count(*) FROM identification").fetchone()[0]
    if case == "not-on-list":
        out = ident.by_card(read_card(table, outsider()), probe(table, v.pin))
    elif case == "card-not-authentic":
        out = ident.by_card(read_card(table, v, preset="bad-sod"), probe(table, v.pin))
    elif case == "fingerprint-mismatch":      # two fingers enrolled: the other one is asked for, then final
        first = ident.by_card(read_card(table, v), probe(table, table.voters[2].pin))
        assert first.status is Status.OTHER_FINGER
        out = ident.by_card(read_card(table, v), probe(table, table.voters[3].pin), previous=first)
    elif case == "no-fingerprint-enrolled":
        ident.conn.execute("DELETE FROM template WHERE pin = ?", (v.pin,))
        out = ident.by_document_number(v.document_number, probe(table, v.pin))
    elif case == "polls-not-open":
        polls.apply(ident.station_conn, "pause")
        out = ident.by_card(read_card(table, v), probe(table, v.pin))
    elif case == "not-eligible":
        minor = ("21012200900019", "ID7777777", "Жаш", "Бала", "", "2009-12-10", "M", "district-07",
                 "2012-02-12", 0, 0)
        ident.conn.execute("INSERT INTO voter VALUES (?,?,?,?,?,?,?,?,?,?,?)", minor)
        out = ident.manual(minor[0], "m1", "card-unreadable")
    else:
        out = ident.by_card(read_card(table, v), probe(table, v.pin))
    assert out.status is Status.REFUSED and out.reason == case
    assert out.message_ky and out.message_ru
    assert ident.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == before
    last = ident.conn.execute("SELECT event, outcome, details FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert (last[0], last[1]) == ("identification-refused", "refused") and case in last[2]


def test_typed_document_number_route(table):
    v = table.voters[3]
    out = table.identifier.by_document_number(v.document_number.lower(), probe(table, v.pin))
    assert out.accepted and out.method == "document+finger"


def test_poor_capture_asks_to_press_again_and_records_nothing(table):
    v = table.voters[0]
    blank = np.full((288, 256), 230, np.uint8)
    out = table.identifier.by_card(read_card(table, v), blank)
    assert out.status is Status.RETRY and out.reason == "poor-capture"
    assert table.identifier.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 0


def test_fingerprint_search_then_commission_confirms(table):
    v = table.voters[4]
    ident = table.identifier
    out = ident.by_fingerprint(probe(table, v.pin))
    assert out.status is Status.CONFIRM and out.candidates[0].pin == v.pin
    assert ident.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 0
    with pytest.raises(IdentificationError):
        ident.confirm_candidate(table.voters[5].pin, "m1")        # not a candidate of that search
    out = ident.by_fingerprint(probe(table, v.pin))
    done = ident.confirm_candidate(v.pin, "m1")
    assert done.accepted and done.method == "finger-search"
    assert ident.conn.execute("SELECT member FROM identification").fetchone()[0] == "m1"


def test_manual_identifications_are_counted_separately_with_their_reason(table):
    ident = table.identifier
    v0, v1 = table.voters[0], table.voters[1]
    ident.by_card(read_card(table, v0), probe(table, v0.pin))
    ident.manual(v1.pin, "m1", "injury-or-disability")
    c = counts(ident.conn)
    assert c["by_method"]["card+finger"] == 1 and c["by_method"]["manual"] == 1
    assert c["manual_by_reason"] == {"injury-or-disability": 1}
    with pytest.raises(IdentificationError):
        ident.manual(table.voters[2].pin, "m1", "felt-like-it")


def test_outbox_full_refuses_the_whole_identification(table):
    ident = table.identifier
    ident.outbox = Outbox(ident.conn, ident.outbox.signer, "identify", cap=1)
    assert ident.manual(table.voters[0].pin, "m1", "sensor-failure").accepted
    with pytest.raises(OutboxFullError):
        ident.manual(table.voters[1].pin, "m1", "sensor-failure")
    assert ident.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
    assert ident.conn.execute("SELECT count(*) FROM receipt").fetchone()[0] == 1
    assert len(pending(ident.conn)) == 1


def test_two_tables_racing_on_one_voter_identify_once(table, home):
    """Two Identifiers, two connections, two threads, released together on the same voter."""
    second = open_identifier(home, table.election, table="2")
    try:
        for v in table.voters[:4]:
            gate = threading.Barrier(2)
            results = {}

            def go(name, ident, pin=v.pin, gate=gate, results=results):
                gate.wait()
                results[name] = ident.manual(pin, "m1", "sensor-failure")

            threads = [threading.Thread(target=go, args=("1", table.identifier)),
                       threading.Thread(target=go, args=("2", second))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted(str(r.status) for r in results.values())
            assert statuses == ["accepted", "refused"]
            loser = next(r for r in results.values() if not r.accepted)
            assert loser.reason == "already-identified"
            n = table.identifier.conn.execute("SELECT count(*) FROM identification WHERE pin = ?",
                                              (v.pin,)).fetchone()[0]
            assert n == 1
        env = table.identifier.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert env == 4
    finally:
        second.close_connections()


def test_the_unique_constraint_holds_without_the_check(table):
    """Even a writer that skips every check cannot record a voter twice."""
    table.identifier.manual(table.voters[0].pin, "m1", "sensor-failure")
    with pytest.raises(sqlite3.IntegrityError):
        table.identifier.conn.execute(
            "INSERT INTO identification(pin, method, manual_reason, table_id, identified_at, ballots)"
            " VALUES (?, 'manual', 'sensor-failure', '9', '2025-11-30T08:00:00Z', '[]')", (table.voters[0].pin,))


def test_a_race_lost_at_commit_becomes_already_identified(table, home, monkeypatch):
    """The loser passed its check before the winner committed: the UNIQUE pin stops it at commit."""

    v = table.voters[0]
    second = open_identifier(home, table.election, table="2")
    real = identification.identified
    blind = {"calls": 0}

    def stale_check(conn, pin):          # the loser's check ran before the winner's commit
        blind["calls"] += 1
        return None if blind["calls"] == 1 else real(conn, pin)

    try:
        assert table.identifier.manual(v.pin, "m1", "sensor-failure").accepted
        monkeypatch.setattr(identification, "identified", stale_check)
        out = second.manual(v.pin, "m1", "sensor-failure")
        assert out.status is Status.REFUSED and out.reason == "already-identified"
        assert out.earlier.table == "1"
        assert second.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
        assert second.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    finally:
        second.close_connections()

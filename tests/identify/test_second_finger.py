"""Two enrolled fingers at the table: the other finger when the first does not match (rule 5).

The demo package enrols two fingers per voter (positions 2 and 7, two presses
each: simulation/election.py ``ENROLLED_FINGERS``); these tests also give a voter
two fingers of one template each as a register may and check the identifier's and the daemon's flow: first finger
matches -> accepted; first does not -> ``other-finger`` (nothing recorded but its
audit line), then the second capture is the last; the same finger again is a retry;
the threshold is the two-finger rule's (target FMR / (2 templates x 2 captures)).
"""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import identify.daemon as identify_daemon
from biometrics.enrolment import enrol
from biometrics.extract import extract
from biometrics.match import default_calibration, synthetic_calibration
from biometrics.synthetic import SyntheticFinger, finger_seed
from drivers.idcard.base import CardReader, DirectTransport
from identify.daemon import PACKAGE_CALIBRATION, package_calibration
from identify.rules import Status
from simulation.table import voter_card
from station.errors import IdentificationError, PackageError

NOT_ENROLLED = 3     # a third finger of the voter: never enrolled


def press(table, pin: str, finger: int, start: int = 2):
    """The first press from ``start`` on of the voter's synthetic ``finger`` that extraction accepts."""
    f = SyntheticFinger(finger_seed(table.seed, pin, finger))
    for index in range(start, start + 10):
        img = f.impression(index)
        if extract(img).ok:
            return img
    raise AssertionError("no usable impression")


def give_two_fingers(table, voter, positions=(2, 7)) -> None:
    """Replace the voter's templates with two fingers, one template each (finger = position x 10)."""
    rows = [(voter.pin, pos * 10, enrol(SyntheticFinger(finger_seed(table.seed, voter.pin, f)), (0,),
                                        finger_position=pos)[0])
            for f, pos in enumerate(positions)]
    conn = table.identifier.conn
    conn.execute("DELETE FROM template WHERE pin = ?", (voter.pin,))
    conn.executemany("INSERT INTO template(pin, finger, record) VALUES (?,?,?)", rows)


def read_card(table, voter):
    card = voter_card(voter, table.pki)
    with CardReader(DirectTransport(card)) as reader:
        return reader.read_document(card.mrz.bac_key, table.trust)


def count(conn, sql="SELECT count(*) FROM identification"):
    return conn.execute(sql).fetchone()[0]


def events(conn):
    return [r[0] for r in conn.execute("SELECT event FROM audit_log ORDER BY seq")]


@pytest.fixture
def voter(table):
    v = table.voters[6]
    give_two_fingers(table, v)
    return v


def test_first_finger_matching_is_accepted_at_the_two_finger_threshold(table, voter):
    out = table.identifier.by_card(read_card(table, voter), press(table, voter.pin, 0))
    assert out.accepted
    cal = synthetic_calibration()          # the demo package's: its fingers are synthetic
    row = table.identifier.conn.execute("SELECT match_threshold, match_fmr FROM identification").fetchone()
    assert row[0] == cal.threshold(cal.target_fmr / 4) > cal.threshold()
    assert row[1] == cal.target_fmr                     # the voter-level target is what is recorded


def test_first_finger_not_matching_asks_for_the_other_then_the_second_is_accepted(table, voter):
    ident = table.identifier
    document = read_card(table, voter)
    first = ident.by_card(document, press(table, voter.pin, NOT_ENROLLED))
    assert first.status is Status.OTHER_FINGER and first.reason == "other-finger"
    assert not first.fingerprint.match and first.attempt.fingers == (2, 7)
    assert "указательный палец левой руки" in first.message_ru and "сол колдун сөөмөйү" in first.message_ky
    assert first.to_json()["next"] == "other-finger" and first.to_json()["fingers"] == [2, 7]
    assert count(ident.conn) == 0 and events(ident.conn)[-1] == "second-finger-asked"
    second = ident.by_card(document, press(table, voter.pin, 1), previous=first)
    assert second.accepted and second.method == "card+finger"
    assert count(ident.conn) == 1


def test_the_second_capture_is_the_last(table, voter):
    ident = table.identifier
    document = read_card(table, voter)
    stranger = table.voters[7].pin
    first = ident.by_card(document, press(table, stranger, 0))
    assert first.status is Status.OTHER_FINGER
    second = ident.by_card(document, press(table, stranger, 1), previous=first)
    assert second.status is Status.REFUSED and second.reason == "fingerprint-mismatch" and second.offer_manual
    assert second.attempt is None and "next" not in second.to_json()
    with pytest.raises(IdentificationError):
        ident.by_card(document, press(table, voter.pin, 0), previous=second)   # no third capture
    assert count(ident.conn) == 0
    assert events(ident.conn)[-2:] == ["second-finger-asked", "identification-refused"]


def test_the_same_finger_placed_again_is_a_retry(table, voter):
    ident = table.identifier
    document = read_card(table, voter)
    img = press(table, voter.pin, NOT_ENROLLED)
    first = ident.by_card(document, img)
    again = ident.by_card(document, img, previous=first)
    assert again.status is Status.RETRY and again.reason == "same-finger"
    assert again.attempt == first.attempt and "другой палец" in again.message_ru
    done = ident.by_card(document, press(table, voter.pin, 1), previous=again)
    assert done.accepted


def test_a_previous_outcome_of_another_voter_is_refused(table, voter):
    ident = table.identifier
    first = ident.by_card(read_card(table, voter), press(table, voter.pin, NOT_ENROLLED))
    other = table.voters[8]
    give_two_fingers(table, other)
    with pytest.raises(IdentificationError):
        ident.by_card(read_card(table, other), press(table, other.pin, 0), previous=first)
    with pytest.raises(IdentificationError):      # an outcome that asked for nothing
        ident.by_card(read_card(table, voter), press(table, voter.pin, 0),
                      previous=ident.by_card(read_card(table, table.voters[9]), press(table, voter.pin, 0)))
    assert count(ident.conn) == 0


def test_one_enrolled_finger_gets_no_second_capture(table):
    """A voter with two presses of one finger (the register enrolled one finger): a mismatch is final."""
    v = table.voters[5]
    table.identifier.conn.execute("DELETE FROM template WHERE pin = ? AND finger >= 70", (v.pin,))
    out = table.identifier.by_card(read_card(table, v), press(table, table.voters[4].pin, 0))
    assert out.status is Status.REFUSED and out.reason == "fingerprint-mismatch" and out.attempt is None
    cal = synthetic_calibration()
    assert out.fingerprint.threshold == cal.threshold(cal.target_fmr / 2)   # 2 templates, 1 capture


def test_search_without_a_document_finds_the_voter_by_either_finger(table, voter):
    ident = table.identifier
    for finger in (0, 1):
        out = ident.by_fingerprint(press(table, voter.pin, finger))
        assert out.status is Status.CONFIRM and out.candidates[0].pin == voter.pin, finger


def test_search_that_finds_nobody_asks_for_another_finger_once(table, voter):
    ident = table.identifier
    first = ident.by_fingerprint(press(table, voter.pin, NOT_ENROLLED))
    assert first.status is Status.OTHER_FINGER and first.attempt.pin is None
    found = ident.by_fingerprint(press(table, voter.pin, 1), previous=first)
    assert found.status is Status.CONFIRM and found.candidates[0].pin == voter.pin
    first = ident.by_fingerprint(press(table, voter.pin, NOT_ENROLLED))
    none = ident.by_fingerprint(press(table, voter.pin, NOT_ENROLLED + 1), previous=first)
    assert none.status is Status.REFUSED and none.reason == "no-candidate"


# --- the daemon ----------------------------------------------------------------------------

def serve(table, voter, first_image, on_prompt):
    table.daemon.on_prompt = on_prompt
    table.sensor_sim.place_finger(first_image)
    card = voter_card(voter, table.pki)
    table.insert_card(card)
    table.mrz.put(card.mrz.bac_key)
    try:
        return table.daemon.serve_voter()
    finally:
        table.remove_card()
        table.sensor_sim.lift_finger()
        table.daemon.on_prompt = None


def test_daemon_asks_for_the_other_finger_and_the_voter_places_it(table, voter):
    prompts = []

    def screen(result):
        prompts.append((result.status, result.outcome.reason, result.message_ru))
        table.sensor_sim.place_finger(press(table, voter.pin, 1))     # the voter changes finger

    result = serve(table, voter, press(table, voter.pin, NOT_ENROLLED), screen)
    assert result.status == "accepted" and result.printed
    assert [p[:2] for p in prompts] == [("other-finger", "other-finger")]
    assert prompts[0][2].startswith("Отпечаток не совпал: приложите другой палец")


def test_daemon_voter_who_leaves_the_same_finger_gets_the_mismatch_and_the_manual_route(table, voter):
    prompts = []
    table.daemon.max_captures = 2
    result = serve(table, voter, press(table, voter.pin, NOT_ENROLLED),
                   lambda r: prompts.append(r.outcome.reason))
    assert prompts == ["other-finger", "same-finger", "same-finger"]
    assert result.status == "refused" and result.outcome.reason == "fingerprint-mismatch"
    assert result.outcome.offer_manual
    conn = table.identifier.conn
    assert count(conn) == 0
    last = conn.execute("SELECT event, details FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert last[0] == "identification-refused" and "not-given" in last[1]


# --- the package's calibration -------------------------------------------------------------

def test_the_table_decides_with_the_calibration_its_package_carries(table, home):
    assert package_calibration(home) == synthetic_calibration()
    assert table.identifier.matcher.calibration == synthetic_calibration()
    assert synthetic_calibration().threshold() > default_calibration().threshold()


@pytest.mark.parametrize("content", [b"{not json", b'{"thresholds": {"0.0001": 2.0}, "target_fmr": 0.0001}',
                                     b'{"thresholds": {"0.001": 0.1}, "target_fmr": 0.0001}'],
                         ids=["not-json", "threshold-above-one", "no-target-threshold"])
def test_a_package_calibration_nobody_can_read_stops_the_table(tmp_path, monkeypatch, content):
    (tmp_path / "trust").mkdir()
    (tmp_path / PACKAGE_CALIBRATION).write_bytes(content)
    monkeypatch.setattr(identify_daemon, "current_package", lambda paths: SimpleNamespace(dir=tmp_path))
    with pytest.raises(PackageError, match="fingerprint-calibration.json"):
        package_calibration(object())


# --- the capture-quality gate ----------------------------------------------------------------

def smeared(table, pin):
    img = press(table, pin, 0).astype(np.float32)
    noisy = cv2.GaussianBlur(img, (0, 0), 2.0) + np.random.default_rng(0).normal(0, 40, img.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_a_poor_capture_is_a_retry_before_any_matching(table, voter, monkeypatch):
    ident = table.identifier

    def no_matching(*_a, **_k):
        raise AssertionError("a capture under the quality gate reached the matcher")

    monkeypatch.setattr(ident.matcher, "verify", no_matching)
    monkeypatch.setattr(ident.matcher, "search", no_matching)
    out = ident.by_card(read_card(table, voter), smeared(table, voter.pin))
    assert out.status is Status.RETRY and out.reason == "poor-capture" and "low-quality" in out.message_ru
    assert ident.by_fingerprint(smeared(table, voter.pin)).reason == "poor-capture"
    assert count(ident.conn) == 0

"""The calibration keeps the highest impostor scores: thresholds for the two-finger rule's rates."""

import json
import math

import numpy as np
import pytest

from biometrics.errors import CalibrationError
from biometrics.match import Calibration, comparisons, decide_attempt


def impostors(n=20_000, seed=3):
    return np.random.default_rng(seed).random(n) * 0.05


@pytest.mark.parametrize("fmr", [0.001, 0.0001, 0.00005, 0.00003, 0.0000125])
def test_a_threshold_read_off_the_tail_admits_at_most_its_share(fmr):
    scores = impostors()
    cal = Calibration.from_impostor_scores(scores, fmrs=(0.001,), target_fmr=0.001)
    thr = cal.threshold(fmr)
    allowed = math.floor(fmr * len(scores))
    assert np.sum(scores >= thr) == allowed      # exactly the share, not one more
    # the same as a threshold computed for that rate directly
    assert thr == Calibration.from_impostor_scores(scores, fmrs=(fmr,)).thresholds[fmr]


def test_the_tail_round_trips_through_json_and_has_a_reach(tmp_path):
    cal = Calibration.from_impostor_scores(impostors(), fmrs=(0.0001,), tail=8)
    cal.save(tmp_path / "c.json")
    again = Calibration.load(tmp_path / "c.json")
    assert again == cal and len(again.tail) == 8
    assert again.threshold(0.0003) == cal.threshold(0.0003)     # k = 6 < 8
    with pytest.raises(KeyError):
        again.threshold(0.001)                                  # k = 20: beyond the 8 kept


def test_a_calibration_without_a_tail_knows_only_its_named_rates():
    cal = Calibration({0.0001: 0.03}, 0.0001, 1000, "old file")
    assert cal.threshold() == 0.03
    with pytest.raises(KeyError):
        cal.threshold(0.00005)


def test_the_rule_divides_the_target_by_the_comparisons_an_impostor_gets():
    assert comparisons(2, 2) == 4 and comparisons(1, 1) == 1 and comparisons(0, 2) == 2
    scores = impostors()
    cal = Calibration.from_impostor_scores(scores, fmrs=(0.001,), target_fmr=0.001)
    d = decide_attempt(0.049, 2, 2, cal)
    assert d.threshold == cal.threshold(0.00025) and d.target_fmr == 0.001
    assert np.sum(scores >= d.threshold) <= 0.00025 * len(scores)


GOOD = {"thresholds": {"0.0001": 0.06}, "target_fmr": 0.0001, "impostor_scores": 100,
        "impostor_tail": [0.07, 0.05], "source": "test"}


@pytest.mark.parametrize("change", [
    {"thresholds": {"0.0001": 0.0}}, {"thresholds": {"0.0001": 1.5}}, {"thresholds": {"2": 0.5}},
    {"thresholds": {"0.0001": "high"}}, {"thresholds": []}, {"target_fmr": 0.001},
    {"impostor_tail": [0.05, 0.07]}, {"impostor_tail": [1.2]}, {"impostor_scores": 1},
    {"thresholds": {"0.0001": float("nan")}}, None,
], ids=["zero", "above-one", "rate-above-one", "not-a-number", "not-an-object", "target-without-threshold",
        "tail-not-best-first", "tail-above-one", "tail-longer-than-scores", "nan", "not-an-object-at-all"])
def test_a_malformed_calibration_is_refused_with_its_reason(tmp_path, change):
    data = b"[]" if change is None else json.dumps(dict(GOOD, **change)).encode()
    with pytest.raises(CalibrationError):
        Calibration.from_json(data)
    (tmp_path / "c.json").write_bytes(data)
    with pytest.raises(CalibrationError, match="c.json"):
        Calibration.load(tmp_path / "c.json")


def test_a_good_calibration_reads_back():
    cal = Calibration.from_json(json.dumps(GOOD).encode())
    assert cal.threshold() == 0.06 and cal.tail == (0.07, 0.05)

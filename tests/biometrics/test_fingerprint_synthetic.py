"""Synthetic fingers: deterministic, sensor format, varied presses."""

import numpy as np
import pytest

from biometrics.synthetic import SENSOR_SHAPE, SyntheticFinger, finger_seed


def test_impression_is_in_the_sensor_format(fingers):
    img = fingers[0].impression(0)
    assert img.shape == SENSOR_SHAPE == (288, 256)
    assert img.dtype == np.uint8
    assert set(np.unique(img)) <= {17 * i for i in range(16)}
    assert img.std() > 30  # ridges, not a flat grey


def test_same_seed_same_pixels():
    a, b = SyntheticFinger(99), SyntheticFinger(99)
    assert np.array_equal(a.impression(3), b.impression(3))
    assert a.finger_class == b.finger_class


def test_presses_of_one_finger_differ(fingers):
    f = fingers[1]
    assert not np.array_equal(f.impression(0), f.impression(1))
    assert not np.array_equal(f.impression(2), f.impression(5))


def test_different_seeds_differ(fingers):
    assert not np.array_equal(fingers[0].master, fingers[1].master)


def test_master_is_cached(fingers):
    assert fingers[0].master is fingers[0].master


def test_finger_seed_is_stable_and_distinct():
    s = finger_seed(2026, "21234567890123")
    assert s == finger_seed(2026, "21234567890123", 0)
    assert 0 <= s < 2 ** 63
    others = {finger_seed(2026, "21234567890124"), finger_seed(2027, "21234567890123"),
              finger_seed(2026, "21234567890123", 1)}
    assert s not in others and len(others) == 3


def test_enrolment_presses_are_taken_in_good_conditions(fingers):
    for f in fingers:
        assert f.conditions(0).condition == "normal"
        assert f.conditions(1).condition == "normal"


def test_voting_day_presses_vary():
    seen = {SyntheticFinger(s).conditions(k).condition for s in range(30) for k in range(2, 8)}
    assert seen == {"normal", "dry", "wet", "partial"}


@pytest.mark.parametrize("condition", ["normal", "dry", "wet", "partial"])
def test_forced_conditions_render(condition, fingers):
    img = fingers[2].impression(4, condition=condition)
    assert img.shape == SENSOR_SHAPE


def test_partial_press_leaves_background():
    img = SyntheticFinger(5).impression(2, condition="partial")
    assert np.mean(img >= 187) > 0.3  # a good part of the window is untouched background


def test_unknown_condition_is_refused(fingers):
    with pytest.raises(ValueError):
        fingers[0].impression(2, condition="oily")

"""Extraction: good presses give templates; every bad capture is a retry, never a template."""

import numpy as np
import pytest

from biometrics.extract import MIN_MINUTIAE, extract
from biometrics.iso19794 import ISO_ANGLE_UNIT, decode, encode
from biometrics.synthetic import SyntheticFinger


def test_good_press_gives_a_template(extractions):
    r = extractions[0, 0]
    assert r.status == "ok" and r.reason == "" and r.ok
    t = r.template
    assert len(t.minutiae) >= MIN_MINUTIAE
    assert (t.width, t.height, t.x_res_ppcm, t.y_res_ppcm) == (256, 288, 197, 197)
    assert 0 < r.quality <= 100
    assert 7.0 <= r.ridge_period <= 12.5
    for m in t.minutiae:
        assert 0 <= m.x < 256 and 0 <= m.y < 288 and 1 <= m.quality <= 100
        assert m.angle_deg / ISO_ANGLE_UNIT == round(m.angle_deg / ISO_ANGLE_UNIT)


def test_template_survives_its_record(extractions):
    t = extractions[1, 0].template
    assert decode(encode(t)) == t


def test_every_normal_press_is_accepted(extractions):
    assert all(r.ok for r in extractions.values())


def test_dry_and_wet_presses_still_extract():
    f = SyntheticFinger(21)
    assert extract(f.impression(3, condition="dry")).ok
    assert extract(f.impression(3, condition="wet")).ok


def _partial(fingers):
    img = fingers[0].impression(2, condition="normal").copy()
    img[:, 90:] = 221  # only a strip of the print touched the glass
    return img


def _speckle():
    rng = np.random.default_rng(1)
    return (rng.integers(13, 16, (288, 256)) * 17).astype(np.uint8)


BAD = [
    ("blank", lambda f: np.full((288, 256), 221, np.uint8), "blank"),
    ("blank-noise", lambda f: _speckle(), "blank"),
    ("black", lambda f: np.zeros((288, 256), np.uint8), "saturated"),
    ("saturated", lambda f: np.minimum(f[0].impression(0), 17).astype(np.uint8), "saturated"),
    ("mostly-dark", lambda f: (f[0].impression(0) // 8).astype(np.uint8), "saturated"),
    ("partial", _partial, "partial"),
    ("wrong-size", lambda f: np.full((200, 200), 128, np.uint8), "wrong-size"),
    ("transposed", lambda f: f[0].impression(0).T.copy(), "wrong-size"),
    ("wrong-depth-16bit", lambda f: f[0].impression(0).astype(np.uint16) * 257, "wrong-depth"),
    ("wrong-depth-float", lambda f: f[0].impression(0).astype(np.float32), "wrong-depth"),
    ("wrong-depth-colour", lambda f: np.dstack([f[0].impression(0)] * 3), "wrong-depth"),
    ("one-dimensional", lambda f: np.zeros(288 * 256, np.uint8), "wrong-size"),
]


@pytest.mark.parametrize("make, reason", [(m, r) for _, m, r in BAD], ids=[i for i, _, _ in BAD])
def test_bad_capture_is_a_retry_with_no_minutiae(make, reason, fingers):
    r = extract(make(fingers))
    assert r.status == "retry" and not r.ok
    assert r.reason == reason
    assert r.template.minutiae == ()


def test_any_size_accepted_when_asked(fingers):
    img = np.pad(fingers[3].impression(0), ((16, 16), (32, 32)), constant_values=221)
    assert extract(img).reason == "wrong-size"
    assert extract(img, expect_shape=None).ok

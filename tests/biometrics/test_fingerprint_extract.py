"""Extraction: good presses give templates; every bad capture is a retry, never a template.

Any sensor: any image size, any stated resolution (resampled to 500 ppi); a
resolution that does not fit the ridges is a retry, never a template.
"""

import math

import cv2
import numpy as np
import pytest

from biometrics.extract import MIN_MINUTIAE, extract
from biometrics.iso19794 import ISO_ANGLE_UNIT, decode, encode
from biometrics.match import decide, score
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
    img[:, 40:] = 221  # only a strip of the print touched the glass
    return img


def _smudge_blob():
    """A latent-like smudge: a dark, noisy stain with no ridges."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:288, :256]
    blob = 220 - 90 * np.exp(-(((yy - 150) / 70) ** 2 + ((xx - 128) / 55) ** 2))
    return np.clip(blob + rng.normal(0, 6, blob.shape), 0, 255).astype(np.uint8)


def _smudged_print(fingers):
    """A print smeared flat: blurred, washed out, noisy."""
    rng = np.random.default_rng(0)
    blurred = cv2.GaussianBlur(fingers[2].impression(0), (0, 0), 3.0).astype(np.float32)
    faint = 220 - (220 - blurred) * 0.4 + rng.normal(0, 4, blurred.shape)
    return np.clip(faint, 0, 255).astype(np.uint8)


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
    ("latent-smudge", lambda f: _smudge_blob(), "blank"),
    ("smudged-print", _smudged_print, "blank"),
    ("too-small", lambda f: np.full((40, 200), 128, np.uint8), "wrong-size"),
    ("too-large", lambda f: np.full((2100, 300), 128, np.uint8), "wrong-size"),
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


def test_any_size_is_accepted(fingers):
    padded = np.pad(fingers[3].impression(0), ((16, 16), (32, 32)), constant_values=221)
    r = extract(padded)
    assert r.ok and (r.template.width, r.template.height) == (320, 320)
    assert extract(fingers[3].impression(0).T.copy()).ok


@pytest.mark.parametrize("ppi", [569.0, 400.0])
def test_an_image_at_another_resolution_matches_once_stated(ppi, extractions, fingers):
    """A 569-ppi (or 400-ppi) scan of the same press matches its 500-ppi mates."""
    s = ppi / 500.0
    img = cv2.resize(fingers[1].impression(0, condition="normal"), None, fx=s, fy=s,
                     interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    r = extract(img, ppi=ppi)
    assert r.ok and r.template.x_res_ppcm == 197
    assert abs(r.template.width - 256) <= 1 and abs(r.template.height - 288) <= 1
    assert decide(score(extractions[1, 2].template, r.template)).match


@pytest.mark.parametrize("ppi", [1000.0, 250.0, 0.0, -500.0, math.nan, math.inf, 5000.0])
def test_a_resolution_that_does_not_fit_the_ridges_is_a_retry(ppi, fingers):
    """Stated twice (or half) the real resolution, the ridges are 4.5 (or 18) pixels apart
    at 500 ppi: no finger has that; nonsense resolutions are refused outright."""
    r = extract(fingers[0].impression(0), ppi=ppi)
    assert r.status == "retry" and r.reason == "wrong-resolution"
    assert r.template.minutiae == ()


@pytest.mark.parametrize("ppi", [800.0, 400.0])
def test_a_wrong_stated_resolution_is_never_a_false_accept(ppi, extractions, fingers):
    """Within the human range a wrong resolution may still extract; it never matches another
    finger."""
    for i in range(1, 6):
        r = extract(fingers[i].impression(0, condition="normal"), ppi=ppi)
        if r.ok:
            assert not decide(score(extractions[0, 2].template, r.template)).match

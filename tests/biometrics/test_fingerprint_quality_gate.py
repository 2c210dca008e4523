"""The capture-quality gate: a capture whose ridges are not clear is a retry before any matching."""

import cv2
import numpy as np
import pytest

from biometrics.extract import CAPTURE_MIN_QUALITY, extract
from biometrics.match import can_match
from biometrics.synthetic import SyntheticFinger


def degraded(blur: float, noise: float) -> np.ndarray:
    """A clean enrolment press, blurred and drowned in sensor noise (a smeared, noisy capture)."""
    img = SyntheticFinger(11).impression(0).astype(np.float32)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    noisy = img + np.random.default_rng(0).normal(0, noise, img.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_a_smeared_noisy_capture_is_refused_by_the_gate_though_minutiae_come_out():
    img = degraded(2.0, 40)
    plain = extract(img)
    assert plain.ok and len(plain.template.minutiae) >= 12      # extraction alone would match it
    assert plain.quality < CAPTURE_MIN_QUALITY
    gated = extract(img, min_quality=CAPTURE_MIN_QUALITY)
    assert gated.status == "retry" and gated.reason == "low-quality"
    assert not gated.template.minutiae and not can_match(gated.template)   # never a comparison


def test_a_clean_capture_passes_the_gate():
    r = extract(SyntheticFinger(11).impression(0), min_quality=CAPTURE_MIN_QUALITY)
    assert r.ok and r.quality >= CAPTURE_MIN_QUALITY


@pytest.mark.parametrize("worse", [(0.0, 60.0), (2.0, 30.0), (2.0, 40.0)], ids=["noise", "blur+noise", "more"])
def test_quality_falls_as_the_ridges_blur(worse):
    better = {(0.0, 60.0): (0.0, 0.0), (2.0, 30.0): (0.0, 60.0), (2.0, 40.0): (2.0, 30.0)}[worse]
    assert extract(degraded(*worse)).quality < extract(degraded(*better)).quality

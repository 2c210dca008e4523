"""Matching: genuine above impostor, empty templates cannot match, search agrees with score."""

import math
from dataclasses import replace

import numpy as np
import pytest

from biometrics.iso19794 import Minutia, Template, decode, encode
from biometrics.match import (
    PARAMS,
    Calibration,
    Candidate,
    Gallery,
    can_match,
    compare,
    comparisons,
    cylinders,
    decide,
    decide_attempt,
    default_calibration,
    local_similarity,
    score,
    synthetic_calibration,
)

EMPTY = Template(256, 288, 197, 197, 0, 0, 0, ())
TWO = Template(256, 288, 197, 197, 0, 0, 50, (Minutia("ending", 10, 10, 0.0, 50),
                                              Minutia("bifurcation", 40, 40, 90.0, 50)))


def test_genuine_scores_exceed_impostor_scores(extractions):
    n = 6
    genuine = [score(extractions[i, 2].template, extractions[i, 0].template) for i in range(n)]
    impostor = [score(extractions[i, 2].template, extractions[j, 0].template)
                for i in range(n) for j in range(n) if i != j]
    assert min(genuine) > max(impostor)
    assert all(0.0 <= s <= 1.0 for s in genuine + impostor)


def test_calibrated_decisions_on_synthetic_fingers(extractions):
    cal = synthetic_calibration()   # synthetic fingers resemble each other more than real ones
    for i in range(6):
        assert cal.decide(score(extractions[i, 3].template, extractions[i, 1].template)).match
        other = (i + 1) % 6
        d = cal.decide(score(extractions[i, 3].template, extractions[other, 1].template))
        assert not d.match and d.reason == "below-threshold"


def test_synthetic_thresholds_are_apart_from_the_real_ones():
    real, synthetic = default_calibration(), synthetic_calibration()
    assert synthetic.target_fmr == real.target_fmr and synthetic.threshold() > real.threshold()
    assert "synthetic" in synthetic.source and "real impostors" in real.source


def test_self_score_is_high(extractions):
    t = extractions[0, 0].template
    assert score(t, t) > 0.5


def test_score_is_the_same_from_the_record(extractions):
    a, b = extractions[2, 2].template, extractions[2, 0].template
    assert score(decode(encode(a)), decode(encode(b))) == score(a, b)


@pytest.mark.parametrize("probe, enrolled", [
    (EMPTY, "enrolled"), ("enrolled", EMPTY), (EMPTY, EMPTY), (TWO, "enrolled"),
], ids=["empty-probe", "empty-enrolled", "both-empty", "two-minutiae"])
def test_templates_that_cannot_match_score_zero(probe, enrolled, extractions):
    good = extractions[0, 0].template
    probe = good if probe == "enrolled" else probe
    enrolled = good if enrolled == "enrolled" else enrolled
    s = score(probe, enrolled)
    assert s == 0.0
    d = decide(s)
    assert not d.match and d.reason == "cannot-match"


def test_can_match(extractions):
    assert can_match(extractions[0, 0].template)
    assert not can_match(EMPTY) and not can_match(TWO)


def test_local_similarity_shape_and_range(extractions):
    a, b = cylinders(extractions[0, 0].template), cylinders(extractions[0, 1].template)
    g = local_similarity(a, b)
    assert g.shape == (len(a), len(b))
    assert g.min() >= 0.0 and g.max() <= 1.0 and g.max() > 0.5


@pytest.fixture(scope="module")
def gallery(extractions):
    items = [(f"pin{i}", extractions[i, e].template) for i in range(6) for e in (0, 1)]
    items.append(("empty", EMPTY))  # kept, never found
    return Gallery.build(items)


def test_search_finds_the_finger_with_the_score_of_its_best_template(gallery, extractions):
    for i in range(6):
        probe = extractions[i, 3].template
        found = gallery.search(probe, top=3)
        assert found[0].key == f"pin{i}"
        best = max(score(probe, extractions[i, e].template) for e in (0, 1))
        assert found[0].score == pytest.approx(best)
        assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
        assert len({c.key for c in found}) == len(found)


@pytest.mark.parametrize("probe", [EMPTY, TWO], ids=["empty", "two-minutiae"])
def test_search_with_an_unmatchable_probe_finds_nothing(gallery, probe):
    assert gallery.search(probe) == []


def test_search_of_an_empty_gallery():
    assert Gallery.build([]).search(TWO) == []
    assert len(Gallery.build([("a", EMPTY)])) == 1


def test_candidate_is_a_value():
    assert Candidate("a", 0.5) == Candidate("a", 0.5)


def test_calibration_threshold_admits_at_most_the_target_share():
    rng = np.random.default_rng(0)
    scores = rng.random(10_000) * 0.1
    cal = Calibration.from_impostor_scores(scores, fmrs=(0.001, 0.0001), target_fmr=0.001)
    for fmr, thr in cal.thresholds.items():
        assert np.mean(scores >= thr) <= fmr
        assert np.mean(scores >= np.nextafter(np.sort(scores)[::-1][math.floor(fmr * 1e4)], 0)) > fmr
    assert cal.decide(0.2).match and not cal.decide(0.01).match
    assert cal.decide(0.2).target_fmr == 0.001


def test_calibration_round_trips_through_json(tmp_path):
    cal = Calibration({0.001: 0.04, 0.0001: 0.05}, 0.0001, 1234, "test")
    cal.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == cal


def test_shipped_calibration_records_its_operating_point():
    cal = default_calibration()
    assert cal.target_fmr in cal.thresholds
    d = decide(1.0)
    assert d.match and d.threshold == cal.threshold() and d.target_fmr == cal.target_fmr
    assert decide(0.5, threshold=0.6, target_fmr=0.001) == decide(0.5, 0.6, 0.001)
    assert not decide(0.5, threshold=0.6, target_fmr=0.001).match


def _rescaled(t: Template, ppi: float) -> Template:
    """The same minutiae as a record taken at ``ppi`` (coordinates and header scaled)."""
    s = ppi / 500.0
    ppcm = round(197 * s)
    return replace(t, width=math.ceil(t.width * s), height=math.ceil(t.height * s),
                   x_res_ppcm=ppcm, y_res_ppcm=ppcm,
                   minutiae=tuple(replace(m, x=round(m.x * s), y=round(m.y * s))
                                  for m in t.minutiae))


def test_a_record_at_another_resolution_is_matched_at_500_ppi(extractions):
    probe, enrolled = extractions[4, 2].template, extractions[4, 0].template
    at_569 = decode(encode(_rescaled(enrolled, 569.0)))
    assert at_569.x_res_ppcm == 224
    assert score(probe, at_569) == pytest.approx(score(probe, enrolled), abs=0.03)
    assert decide(score(probe, at_569)).match


ODD_CONVENTIONS = {
    # origin at the bottom left: y counted upwards
    "origin-at-bottom": lambda t: replace(t, minutiae=tuple(
        replace(m, y=t.height - 1 - m.y) for m in t.minutiae)),
    # angles clockwise instead of counter-clockwise
    "angles-clockwise": lambda t: replace(t, minutiae=tuple(
        replace(m, angle_deg=(360.0 - m.angle_deg) % 360.0) for m in t.minutiae)),
    # 2-degree ANSI units written where ISO's 1.40625-degree units belong
    "angles-in-ansi-units": lambda t: replace(t, minutiae=tuple(
        replace(m, angle_deg=(m.angle_deg / 2.0 * 1.40625) % 360.0) for m in t.minutiae)),
    # resolution stated in pixels per inch where the record wants per centimetre
    "resolution-in-ppi": lambda t: replace(t, x_res_ppcm=500, y_res_ppcm=500),
}


@pytest.mark.parametrize("convert", ODD_CONVENTIONS.values(), ids=ODD_CONVENTIONS.keys())
def test_a_record_with_odd_conventions_is_never_a_false_accept(convert, extractions):
    """Another extractor's record that breaks the ISO conventions decodes (its bytes are
    well formed) but matches nobody else: a clear "no match", never a false accept.

    At the threshold for these synthetic fingers: they resemble each other
    more than real fingers do, so the real calibration's threshold would let
    plain synthetic impostors through as well (see the test above)."""
    threshold = synthetic_calibration().threshold()
    for i in range(6):
        odd = decode(encode(convert(extractions[i, 0].template)))
        for j in range(6):
            if j != i:
                assert not decide(score(extractions[j, 2].template, odd), threshold=threshold).match


@pytest.mark.parametrize("ppcm", [500, 60, 1000])
def test_a_record_at_a_resolution_no_scanner_has_cannot_match(ppcm, extractions):
    t = extractions[0, 0].template
    odd = decode(encode(replace(t, x_res_ppcm=ppcm, y_res_ppcm=ppcm)))
    d = decide(score(extractions[0, 2].template, odd))
    assert d.score == 0.0 and not d.match and d.reason == "cannot-match"


def test_two_fingers_each_comparison_held_to_the_target_over_templates_times_captures():
    cal = Calibration({0.001: 0.02, 0.0001: 0.03, 0.000025: 0.035}, 0.0001, 1000, "test")
    second = decide_attempt(0.036, 2, 2, cal)
    assert second.match and second.threshold == 0.035 and second.target_fmr == 0.0001
    # 0.032 passes one comparison's threshold (0.03) but not a quarter of the target's (0.035)
    assert not decide_attempt(0.032, 2, 2, cal).match
    assert decide_attempt(0.032, 1, 1, cal).match
    assert decide_attempt(0.0, 2, 2, cal).reason == "cannot-match"
    with pytest.raises(KeyError):
        decide_attempt(0.5, 3, 2, cal)       # no threshold for FMR 0.0001 / 6 and no tail to read it from


def test_shipped_calibration_covers_the_two_finger_rule():
    cal = default_calibration()
    thresholds = [cal.threshold(cal.target_fmr / comparisons(t, c)) for t, c in ((1, 1), (2, 1), (2, 2), (4, 2))]
    assert thresholds == sorted(thresholds) and thresholds[0] == cal.threshold()


def _random_template(n: int, seed: int) -> Template:
    rng = np.random.default_rng(seed)
    return Template(256, 288, 197, 197, 0, 0, 60, tuple(
        Minutia("ending" if rng.random() < 0.5 else "bifurcation", int(rng.integers(20, 236)),
                int(rng.integers(20, 268)), float(rng.integers(0, 256)) * 1.40625, 60)
        for _ in range(n)))


@pytest.mark.parametrize("n", [40, 60, 80])
def test_unrelated_templates_score_near_zero_whatever_their_density(n):
    # Independent random minutiae pair up by chance under the best alignment,
    # the more the denser they are (without the chance share: mean 0.012 at 40
    # minutiae, 0.019 at 80); only pairing beyond chance counts.
    scores = [score(_random_template(n, s), _random_template(n, 1000 + s)) for s in range(30)]
    assert np.mean(scores) < 0.01


def _with_qualities(t: Template, qualities) -> Template:
    return replace(t, minutiae=tuple(replace(m, quality=int(q))
                                     for m, q in zip(t.minutiae, qualities, strict=True)))


def test_pairing_weighs_minutiae_by_quality_on_either_sides_own_scale(extractions):
    probe, enrolled = extractions[0, 2].template, extractions[0, 0].template
    flat_probe = _with_qualities(probe, [60] * len(probe.minutiae))
    flat_enrolled = _with_qualities(enrolled, [60] * len(enrolled.minutiae))
    counted = replace(PARAMS, pairing_quality=0.0)
    # Minutiae rated alike (another extractor rating every one 60): the share is the plain count.
    assert compare(cylinders(flat_probe), cylinders(flat_enrolled)) == pytest.approx(
        compare(cylinders(flat_probe, counted), cylinders(flat_enrolled, counted), counted),
        rel=1e-6)
    # One side's qualities on another scale leave the pairing share as it is
    # (the local similarity's own quality weight switched off to see it alone).
    share_only = replace(PARAMS, quality_weight=0.0)
    low = _with_qualities(probe, [max(1, m.quality // 2) for m in probe.minutiae])
    high = _with_qualities(probe, [2 * max(1, m.quality // 2) for m in probe.minutiae])
    e = cylinders(enrolled, share_only)
    assert compare(cylinders(low, share_only), e, share_only) == pytest.approx(
        compare(cylinders(high, share_only), e, share_only), rel=1e-6)


def test_doubtful_minutiae_that_do_not_pair_disprove_less(extractions):
    enrolled = extractions[0, 0].template
    rng = np.random.default_rng(5)
    xs = [m.x for m in enrolled.minutiae]
    ys = [m.y for m in enrolled.minutiae]
    extra = [Minutia("ending", int(rng.integers(min(xs), max(xs))), int(rng.integers(min(ys), max(ys))),
                     float(rng.integers(0, 256)) * 1.40625, 0) for _ in range(len(xs) // 2)]
    sure = replace(enrolled, minutiae=enrolled.minutiae + tuple(replace(m, quality=80) for m in extra))
    doubtful = replace(enrolled, minutiae=enrolled.minutiae + tuple(replace(m, quality=5) for m in extra))
    # Spurious minutiae in a noisy patch, rated as doubtful by the extractor,
    # pull a genuine comparison down less than the same points rated sure.
    assert score(doubtful, enrolled) > score(sure, enrolled)


def test_a_few_minutiae_rated_far_above_the_rest_cannot_carry_a_record(extractions):
    # Another extractor rates three minutiae 100 and the rest 1: weighted by
    # absolute quality those three would decide the pairing share. Relative
    # to the record's best quarter, the rest count fully, as if all were alike.
    enrolled, probe = extractions[1, 0].template, extractions[1, 2].template
    n = len(enrolled.minutiae)
    skewed = _with_qualities(enrolled, [100 if i < 3 else 1 for i in range(n)])
    alike = _with_qualities(enrolled, [1] * n)
    share_only = replace(PARAMS, quality_weight=0.0)
    p = cylinders(probe, share_only)
    assert compare(p, cylinders(skewed, share_only), share_only) == pytest.approx(
        compare(p, cylinders(alike, share_only), share_only), rel=1e-6)


def _line(x0, y0, dx, dy, angle, n=20):
    return Template(256, 288, 197, 197, 0, 0, 50, tuple(
        Minutia("ending", x0 + dx * i, y0 + dy * i, angle, 60) for i in range(n)))


@pytest.mark.parametrize("other", [_line(25, 150, 10, 0, 0.0), _line(20, 60, 10, 7, 45.0)],
                         ids=["another-line", "a-diagonal"])
def test_a_record_whose_minutiae_span_no_area_cannot_match(other, extractions):
    # Minutiae on a line have no common region with anything: a few pairs
    # would otherwise pass for a full match (such records scored 1.0).
    line = _line(20, 140, 10, 0, 0.0)
    assert not can_match(line)
    assert score(other, line) == 0.0 and score(line, line) == 0.0
    assert score(extractions[0, 2].template, line) == 0.0
    d = decide(score(line, other))
    assert not d.match and d.reason == "cannot-match"

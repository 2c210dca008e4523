"""Minutiae matching: Minutia Cylinder-Code (Cappelli, Ferrara, Maltoni 2010), 1:1 and 1:N.

A live capture is compared with the templates the population register
enrolled. This module guarantees:

* ``score(probe, enrolled)`` is a similarity in [0, 1], symmetric in spirit
  (not bit for bit), deterministic, and 0 when either template cannot be
  matched (no minutiae, too few to build a valid cylinder): a bad template
  can never produce a false accept.
* ``Gallery.build(items).search(probe, top)`` returns the best keys (e.g.
  voters' PINs; a key may own several templates) with exactly the score that
  ``score`` gives for the key's best template, best first.
* ``decide_attempt(score, templates, captures)``: the two-finger rule. A
  voter with two enrolled fingers presents the second when the first does not
  match; each capture is compared with every enrolled template, and each
  comparison is held to the threshold of the target FMR divided by
  ``templates x captures``, so the voter's FMR stays within the target (union
  bound) whichever finger comes first.
* ``decide(score)`` compares a score with the threshold chosen for a target
  false-match rate (``calibration.json`` beside this file: real impostor
  scores of public FVC2002 and FVC2004 sets, written by ``bench/bench_biometrics.py --real
  ... --calibrate``, which names its source in the file; a package may carry
  its own, see identify/daemon.py ``package_calibration``), and
  returns the threshold and rate with the verdict, so every decision records
  the operating point it was taken at.

Templates are compared at 500 ppi: a record taken at another resolution
(its header's pixels per centimetre) has its coordinates scaled first; one
outside 250-1000 ppi cannot match (score 0).

How: each minutia gets a *cylinder*, a 3-D histogram of its neighbours in its
own rotated frame (``NS x NS`` spatial cells of radius ``R`` times ``ND``
direction cells), binarised (the bit version of MCC). Cells outside the
convex hull of the minutiae (enlarged by ``omega``, 50 pixels as in the
paper: on real prints the tighter 20 of the synthetic tuning left a third of
the cylinders invalid) are invalid; a cylinder with fewer than 60% valid cells
or too few neighbours is dropped. Two cylinders compare by
the normalised Hamming distance over the cells valid in both, computed for
all pairs at once with four matrix products, and weighted by the
minutiae's quality (30% of it: ``0.7 + 0.3 * sqrt(qa * qb)``, qualities in
0..1; measured on real prints, this lowered the pooled EER of the tuning sets
from 3.9% to 3.6%). The global score consolidates
the local similarities with Local Similarity Sort and Relaxation (LSSR):
the best pairs are re-weighted by the geometric compatibility of distances,
direction differences and radial angles with the other pairs. Then a pairing
consolidation: the best relaxed pairs each propose a rigid alignment, the one
that pairs the most minutiae wins, and the score weighs LSSR by the share of
the common region's minutiae that pair up beyond the share unrelated prints
reach by chance (``_pairing``, ``chance_share``). Each minutia counts in that
share by its quality relative to its template's best quarter
(``pairing_quality``, ``_weights``): a doubtful minutia of a noisy patch
neither proves a match when it pairs nor disproves one when it does not.
Relative weights make a record whose extractor rates its minutiae on
another scale, or rates them all alike, compare as fairly as our own, and
no few minutiae rated far above the rest can carry a record.

1:N search runs in two stages: (1) every probe cylinder against every
gallery cylinder, with a compact pooled cylinder (2x2 spatial and 2 direction
cells summed: 108 numbers)
and one BLAS matrix product over the whole gallery (multi-threaded by the
BLAS library, the GIL released), each template scored by its best cylinder
matches; (2) the exact score for the ``shortlist`` best templates.

Example::

    s = score(live.template, enrolled)        # 0.0 .. 1.0
    verdict = decide(s)                       # Decision(match=..., threshold=..., target_fmr=...)
    gallery = Gallery.build([("21234567890123", enrolled), ...])
    best = gallery.search(live.template, top=5)   # [Candidate(key, score), ...]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from biometrics.errors import CalibrationError
from biometrics.iso19794 import Template

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
# Thresholds from synthetic impostors: synthetic fingers resemble each other far
# more than real ones do (their impostor scores reach the real threshold), so
# the demo and the tests that decide on synthetic fingers use these; they are
# no evidence of accuracy (docs/biometrics.md "Synthetic fingers").
SYNTHETIC_CALIBRATION_FILE = Path(__file__).with_name("calibration-synthetic.json")
WORKING_PPCM = 197  # 500 ppi: the resolution cylinders are built at
PPCM_RANGE = (98, 394)  # 250-1000 ppi: the record resolutions that can be matched


@dataclass(frozen=True)
class MccParams:
    """Cylinder and consolidation parameters (the paper's, scaled to a small 500-dpi sensor)."""

    radius: float = 65.0
    ns: int = 12
    nd: int = 6
    sigma_s: float = 28.0 / 3.0
    sigma_d: float = 2.0 * math.pi / 9.0
    mu_psi: float = 0.01
    omega: float = 50.0
    min_vc: float = 0.60
    min_m: int = 2
    min_me: float = 0.60
    delta_theta: float = math.pi / 2
    min_np: int = 4
    max_np: int = 12
    mu_p: float = 20.0
    tau_p: float = 0.4
    n_rel: int = 5
    w_r: float = 0.5
    mu1: float = 5.0
    tau1: float = -1.6
    mu2: float = math.pi / 12
    tau2: float = -30.0
    mu3: float = math.pi / 12
    tau3: float = -30.0
    pool: int = 2  # spatial cells (pool x pool) summed for the search stage
    pool_d: int = 2  # direction cells summed for the search stage
    full_overlap: int = 16  # cylinders needed for an undamped score
    quality_weight: float = 0.3  # share of a local similarity that depends on minutia quality
    hypotheses: int = 12  # best relaxed pairs tried as alignments for the pairing
    pair_distance: float = 14.0  # pixels: aligned minutiae closer than this pair up
    pair_angle: float = math.pi / 6  # and directions closer than this
    hull_margin: float = 10.0  # pixels around the other side's hull that count as common region
    min_common: int = 8  # minutiae in the common region counted at least (a tiny overlap proves little)
    pair_support: int = 30  # pairs for full credit
    chance_share: float = 0.15  # share of the common region's minutiae that pairs up by chance
    pairing_quality: float = 1.0  # power of a minutia's quality as its weight in the pairing share (0: counts)


PARAMS = MccParams()
MIN_SPAN_PX2 = 1500.0  # area (px2 at 500 ppi) the matched minutiae's convex hull must cover


def _sigmoid(v, mu: float, tau: float):
    return 1.0 / (1.0 + np.exp(np.clip(-tau * (v - mu), -60.0, 60.0)))


def _wrap(d):
    """An angle difference wrapped to [-pi, pi] (rint is much cheaper than mod)."""
    return d - (2 * np.pi) * np.rint(d / (2 * np.pi))


def _angle_diff(a, b):
    """b - a wrapped to [-pi, pi]."""
    return _wrap(b - a)


@dataclass(frozen=True)
class Cylinders:
    """A template prepared for matching: its valid cylinders (bit-packed) and their minutiae."""

    xy: np.ndarray  # (n, 2) float32, y up
    theta: np.ndarray  # (n,) radians, counter-clockwise
    bits: np.ndarray  # (n, words) uint64: cell bits, zero where invalid
    valid: np.ndarray  # (n, words) uint64: valid cells (spatial validity repeated per direction)
    cells: np.ndarray  # (n, words) uint64: valid spatial cells
    pooled: np.ndarray  # (n, d) float32, unit length (search stage)
    quality: np.ndarray | None = None  # (n,) float32 in (0, 1]: the minutiae's quality

    def __len__(self) -> int:
        return len(self.theta)


def _pack(flags: np.ndarray) -> np.ndarray:
    """Rows of booleans as rows of uint64 words (zero padded)."""
    packed = np.packbits(flags.astype(bool), axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


if hasattr(np, "bitwise_count"):
    def _popcount(words: np.ndarray) -> np.ndarray:
        return np.bitwise_count(words).sum(-1, dtype=np.int32)
else:  # NumPy < 2: count bytes through a table
    _BYTE_COUNTS = np.array([bin(i).count("1") for i in range(256)], np.int32)

    def _popcount(words: np.ndarray) -> np.ndarray:
        b = np.ascontiguousarray(words).view(np.uint8)
        return _BYTE_COUNTS[b].sum(-1)


def _pair_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """popcount(a_i AND b_j) for all pairs of rows: (len(a), len(b)) int32."""
    return _popcount(a[:, None, :] & b[None, :, :])


def _cell_offsets(p: MccParams) -> tuple[np.ndarray, np.ndarray]:
    step = 2 * p.radius / p.ns
    idx = (np.arange(p.ns) - (p.ns - 1) / 2) * step
    u, v = np.meshgrid(idx, idx, indexing="xy")
    offsets = np.stack([u.ravel(), v.ravel()], 1)
    inside = np.hypot(offsets[:, 0], offsets[:, 1]) <= p.radius
    return offsets.astype(np.float32), inside


_OFFSETS, _INSIDE = _cell_offsets(PARAMS)
_DPHI = (-np.pi + (np.arange(PARAMS.nd) + 0.5) * 2 * np.pi / PARAMS.nd).astype(np.float32)
EMPTY_DIM = (-(-PARAMS.ns // PARAMS.pool)) ** 2 * (PARAMS.nd // PARAMS.pool_d)


def _empty_cylinders() -> Cylinders:
    p = PARAMS
    words = _pack(np.zeros((0, p.ns * p.ns * p.nd), bool))
    return Cylinders(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), words, words,
                     _pack(np.zeros((0, p.ns * p.ns), bool)), np.zeros((0, EMPTY_DIM), np.float32))


def cylinders(template: Template, p: MccParams = PARAMS) -> Cylinders:
    """The MCC cylinders of a template (empty when it cannot be matched)."""
    ms = template.minutiae
    n = len(ms)
    if n < 3 or not all(PPCM_RANGE[0] <= r <= PPCM_RANGE[1]
                        for r in (template.x_res_ppcm, template.y_res_ppcm)):
        return _empty_cylinders()
    # Cylinders are built at 500 ppi: a record taken at another resolution is
    # scaled (its header says which). A resolution no finger scanner has
    # (outside 250-1000 ppi, e.g. pixels per inch written where centimetres
    # belong) cannot be matched: shrunk that much, any template resembles any
    # other.
    sx = WORKING_PPCM / template.x_res_ppcm
    sy = WORKING_PPCM / template.y_res_ppcm
    x = np.array([m.x for m in ms], np.float32) * np.float32(sx)
    y_img = np.array([m.y for m in ms], np.float32) * np.float32(sy)
    theta = np.radians(np.array([m.angle_deg for m in ms], np.float32))
    xy = np.stack([x, -y_img], 1)
    # Cell centres in each minutia's rotated frame: (n, cells, 2), y up.
    c, s = np.cos(theta), np.sin(theta)
    ox, oy = _OFFSETS[:, 0], _OFFSETS[:, 1]
    cx = x[:, None] + c[:, None] * ox[None] - s[:, None] * oy[None]
    cy = xy[:, 1][:, None] + s[:, None] * ox[None] + c[:, None] * oy[None]
    # Validity: inside the radius, inside the image and the enlarged convex hull.
    width, height = math.ceil(template.width * sx), math.ceil(template.height * sy)
    valid = _hull_validity(width, height, x, y_img, cx, -cy, p) & _INSIDE[None]
    # Spatial contribution of every minutia t to every cell of cylinder m.
    dx = cx[:, :, None] - x[None, None, :]
    dy = cy[:, :, None] - xy[:, 1][None, None, :]
    spatial = np.exp(-(dx * dx + dy * dy) / (2 * p.sigma_s ** 2)) / (p.sigma_s * math.sqrt(2 * math.pi))
    spatial *= (1 - np.eye(n, dtype=np.float32))[:, None, :]  # m does not count itself
    # Directional contribution: the neighbour's direction relative to m's, per direction cell.
    rel = _angle_diff(theta[:, None], theta[None, :])  # (n, n)
    dd = _angle_diff(_DPHI[None, None, :], rel[:, :, None])  # (n, n, nd)
    step_d = 2 * math.pi / p.nd
    directional = np.exp(-dd * dd / (2 * p.sigma_d ** 2)) * (
        step_d / (p.sigma_d * math.sqrt(2 * math.pi)))
    values = np.matmul(spatial, directional.astype(np.float32))  # (n, cells, nd)
    bits = (values > p.mu_psi) & valid[:, :, None]
    # Cylinder validity: enough valid cells and enough neighbours.
    capacity = int(_INSIDE.sum())
    dist = np.hypot(x[:, None] - x[None, :], xy[:, 1][:, None] - xy[:, 1][None, :])
    neighbours = (dist <= p.radius + 3 * p.sigma_s).sum(1) - 1
    keep = (valid.sum(1) >= p.min_vc * capacity) & (neighbours >= p.min_m)
    if not keep.any():
        return _empty_cylinders()
    # Minutiae that span (almost) no area, on a line or in a speck, are no
    # print (real templates span at least 6,000 px2 at 500 ppi): their common
    # region with anything is undefined, so a few pairs would pass for a match.
    spread = xy[keep].astype(np.float32)
    if len(spread) < 3 or cv2.contourArea(cv2.convexHull(spread)) < MIN_SPAN_PX2:
        return _empty_cylinders()
    n_keep = int(keep.sum())
    bits = bits[keep].reshape(n_keep, -1)
    valid = valid[keep]
    full = np.repeat(valid, p.nd, axis=1)
    quality = np.array([max(m.quality, 1) for m in ms], np.float32)[keep] / 100.0
    return Cylinders(xy[keep], theta[keep], _pack(bits), _pack(full), _pack(valid),
                     _pool(bits.astype(np.float32), p), quality)


def _hull_validity(w: int, h: int, x, y_img, cx, cy_img, p: MccParams) -> np.ndarray:
    pts = np.stack([x, y_img], 1).astype(np.int32)
    hull = cv2.convexHull(pts)
    area = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(area, hull, 1)
    outside = cv2.distanceTransform(1 - area, cv2.DIST_L2, 3)
    allowed = outside <= p.omega
    ix = np.rint(cx).astype(np.intp)
    iy = np.rint(cy_img).astype(np.intp)
    in_img = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    ok = np.zeros(ix.shape, bool)
    ok[in_img] = allowed[iy[in_img], ix[in_img]]
    return ok


def _pool(bits: np.ndarray, p: MccParams) -> np.ndarray:
    n = bits.shape[0]
    cube = bits.reshape(n, p.ns, p.ns, p.nd)
    pad = (-p.ns) % p.pool
    if pad:
        cube = np.pad(cube, ((0, 0), (0, pad), (0, pad), (0, 0)))
    m = cube.shape[1] // p.pool
    pooled = cube.reshape(n, m, p.pool, m, p.pool, p.nd // p.pool_d, p.pool_d).sum(
        (2, 4, 6)).reshape(n, -1)
    norm = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norm, 1e-6)).astype(np.float32)


def local_similarity(a: Cylinders, b: Cylinders, p: MccParams = PARAMS) -> np.ndarray:
    """The (len(a), len(b)) matrix of normalised bit-cylinder similarities (0 if not comparable)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    # Bit counts restricted to the cells valid in both cylinders (a's bits are
    # already zero where a is invalid), by AND and popcount of packed words.
    ab = _pair_counts(a.bits, b.bits)
    a_in_b = _pair_counts(a.bits, b.valid)
    b_in_a = _pair_counts(a.valid, b.bits)
    common = _pair_counts(a.cells, b.cells)
    xor = a_in_b + b_in_a - 2 * ab
    denom = np.sqrt(a_in_b) + np.sqrt(b_in_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(denom > 0, 1 - np.sqrt(xor) / denom, 0.0)
    ok = common >= p.min_me * int(_INSIDE.sum())
    # |direction difference| <= delta_theta, as a cosine test (no angle wrapping).
    ca, sa, cb, sb = np.cos(a.theta), np.sin(a.theta), np.cos(b.theta), np.sin(b.theta)
    ok &= (np.outer(ca, cb) + np.outer(sa, sb)) >= math.cos(p.delta_theta) - 1e-6
    if p.quality_weight and a.quality is not None and b.quality is not None:
        gamma = gamma * ((1 - p.quality_weight)
                         + p.quality_weight * np.sqrt(np.outer(a.quality, b.quality)))
    return np.where(ok, gamma, 0.0).astype(np.float32)


def _n_pairs(na: int, nb: int, p: MccParams) -> int:
    z = 1 / (1 + math.exp(-p.tau_p * (min(na, nb) - p.mu_p)))
    return p.min_np + round(z * (p.max_np - p.min_np))


def compare(a: Cylinders, b: Cylinders, p: MccParams = PARAMS) -> float:
    """The LSSR global score of two prepared templates, in [0, 1]."""
    na, nb = len(a), len(b)
    if na == 0 or nb == 0:
        return 0.0
    gamma = local_similarity(a, b, p)
    n_p = _n_pairs(na, nb, p)
    n_r = min(na, nb)
    flat = gamma.ravel()
    top = np.argpartition(-flat, n_r - 1)[:n_r] if n_r < flat.size else np.arange(flat.size)
    lam0 = flat[top].astype(np.float64)
    if not np.any(lam0 > 0):
        return 0.0
    ia, ib = np.divmod(top, nb)
    # Compatibility of each pair of selected pairs (distances, directions, radial angles).
    pa, pb = a.xy[ia], b.xy[ib]
    # delta: the rotation each selected pair implies; consistent pairs agree.
    delta = a.theta[ia] - b.theta[ib]
    va = pa[None, :, :] - pa[:, None, :]
    vb = pb[None, :, :] - pb[:, None, :]
    d1 = np.abs(np.hypot(va[..., 0], va[..., 1]) - np.hypot(vb[..., 0], vb[..., 1]))
    d2 = np.abs(_wrap(delta[None, :] - delta[:, None]))
    ra = np.arctan2(va[..., 1], va[..., 0])
    rb = np.arctan2(vb[..., 1], vb[..., 0])
    d3 = np.abs(_wrap(ra - rb - delta[:, None]))
    rho = (_sigmoid(d1, p.mu1, p.tau1) * _sigmoid(d2, p.mu2, p.tau2)
           * _sigmoid(d3, p.mu3, p.tau3))
    np.fill_diagonal(rho, 0.0)
    # The same minutia used twice cannot support itself.
    rho[(ia[:, None] == ia[None, :]) | (ib[:, None] == ib[None, :])] = 0.0
    lam = lam0.copy()
    k = max(len(lam) - 1, 1)
    for _ in range(p.n_rel):
        lam = p.w_r * lam + (1 - p.w_r) * (rho @ lam) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        efficiency = np.where(lam0 > 0, lam / lam0, 0.0)
    n_p = min(n_p, len(lam))
    best = np.argsort(-efficiency, kind="stable")[:n_p]
    # Few comparable cylinders (a partial press) make a few lucky pairs look
    # good: damp the score until the overlap has ``full_overlap`` cylinders.
    overlap = math.sqrt(min(1.0, min(na, nb) / p.full_overlap))
    local = float(np.clip(lam[best].mean() * overlap, 0.0, 1.0))
    paired, in_a, in_b, w_paired, w_a, w_b = _pairing(a, b, ia, ib, lam, p)
    # Consolidation by pairing: the share of the minutiae in the common region
    # that pair up under one rigid alignment, with at least ``pair_support``
    # pairs for full credit. The local score alone let small, dense or noisy
    # prints resemble each other (real impostors of FVC2004 DB2 and synthetic
    # fingers); measured on FVC2002 DB1-3 B, the pooled EER went from 3.2% to
    # 2.3% and FNMR at FMR 0.01% from 14.2% to 7.5% (FVC2004 DB1-3 B, not
    # tuned on: 10.5% -> 8.3%, 41.7% -> 29.3%).
    #
    # Fifth round: the share is weighted by the minutiae's quality relative
    # to their template's (``_weights``; each side's common region holds its
    # paired minutiae and counts at least ``min_common`` minutiae of the
    # template's mean weight, so the share never exceeds 1).
    # On the tuning sets' impostors within and across the sets, FNMR at FMR
    # 0.1% / 0.01% 10.4 / 13.4% -> 9.4 / 11.2% (FVC2002 4.1 / 6.1 -> 3.8 /
    # 5.1%, FVC2004 DB1-2 21.1 / 26.6 -> 18.6 / 21.8%): failing genuine pairs
    # and the strongest impostors both had more minutiae than the others, and
    # the extra ones sit where the ridges are least clear.
    share = w_paired / math.sqrt(w_a * w_b) if paired else 0.0
    # Unrelated prints pair part of their minutiae by chance under the best of
    # the alignments, the more so the denser they are: only the share beyond
    # ``chance_share`` counts. Chosen on FVC2002 DB1-3 B (FNMR at FMR 0.01%
    # of their impostors within and across the sets 6.4% -> 5.7%), it held on
    # FVC2004 DB1-2 B (32.1% -> 30.9%); EER there rose (8.7% -> 9.5%): weak
    # genuine pairs fall to 0 with the impostors.
    share = max(share - p.chance_share, 0.0)
    support = math.sqrt(min(1.0, paired / p.pair_support))
    return float(np.clip(math.sqrt(local) * share * support, 0.0, 1.0))


def _weights(c: Cylinders, p: MccParams) -> np.ndarray:
    """Each minutia's weight in the pairing share: its quality relative to the template's own.

    Relative to the template's upper quartile and capped at 1, so the best
    quarter of a template's minutiae count fully whatever scale its extractor
    rates on, and no few minutiae can carry a template: a record rating three
    minutiae 100 and the rest 1 would otherwise let those three decide the
    share (FVC2002 impostors against such records: FMR at the shipped
    threshold 0.029-0.057% with absolute weights, 0.004-0.007% relative).
    """
    if c.quality is None or not p.pairing_quality or len(c) == 0:
        return np.ones(len(c), np.float32)
    top = max(float(np.percentile(c.quality, 75)), 1e-6)
    return np.minimum(c.quality / np.float32(top), 1).astype(np.float32) ** np.float32(p.pairing_quality)


def _pairing(a: Cylinders, b: Cylinders, ia, ib, lam,
             p: MccParams) -> tuple[int, int, int, float, float, float]:
    """Minutiae paired under the best rigid alignment, and each side's minutiae in the common region.

    Each of the ``hypotheses`` best relaxed pairs proposes an alignment of b on
    a (its rotation and its translation); under each, minutiae pair when they
    are mutual nearest neighbours within ``pair_distance`` pixels and
    ``pair_angle`` radians. The alignment whose pairs weigh most (each pair
    by the geometric mean of its two minutiae's weights) wins; the common
    region is each side's convex hull (enlarged by ``hull_margin``) in the
    other's frame, and holds the paired minutiae. Returns the pairs, each
    side's minutiae in the common region, the pairs' weight and each side's
    common region's weight, at least ``min_common`` minutiae of the
    template's mean weight.
    """
    order = np.argsort(-lam, kind="stable")[:p.hypotheses]
    if order.size == 0:
        return 0, 0, 0, 0.0, 0.0, 0.0
    # Every hypothesis at once: (h, len(b)) moved minutiae, (h, len(a), len(b)) distances.
    i, j = ia[order], ib[order]
    d = (a.theta[i] - b.theta[j]).astype(np.float32)
    c, s = np.cos(d)[:, None], np.sin(d)[:, None]
    rx = b.xy[None, :, 0] - b.xy[j, 0][:, None]
    ry = b.xy[None, :, 1] - b.xy[j, 1][:, None]
    mx = c * rx - s * ry + a.xy[i, 0][:, None]
    my = s * rx + c * ry + a.xy[i, 1][:, None]
    dist = np.hypot(a.xy[None, :, 0, None] - mx[:, None, :], a.xy[None, :, 1, None] - my[:, None, :])
    turn = np.abs(_wrap(a.theta[None, :, None] - (b.theta[None, None, :] + d[:, None, None])))
    dist = np.where((dist <= p.pair_distance) & (turn <= p.pair_angle), dist, np.inf)
    near_b = dist.argmin(2)  # (h, len(a))
    near_a = dist.argmin(1)  # (h, len(b))
    hs = np.arange(len(order))[:, None]
    idx = np.arange(len(a))[None, :]
    mutual = np.isfinite(dist[hs, idx, near_b]) & (near_a[hs, near_b] == idx)
    wa, wb = _weights(a, p), _weights(b, p)
    weighed = (mutual * np.sqrt(wa[None, :] * wb[near_b])).sum(1)
    h = int(np.argmax(weighed))  # the first of the best, as the hypotheses are ranked
    best = int(mutual[h].sum())
    if not best:
        return 0, 0, 0, 0.0, 0.0, 0.0
    best_xy = np.stack([mx[h], my[h]], 1)
    paired_b = np.zeros(len(b), bool)
    paired_b[near_b[h][mutual[h]]] = True
    in_a = _inside_hull(a.xy, best_xy, p.hull_margin) | mutual[h]
    in_b = _inside_hull(best_xy, a.xy, p.hull_margin) | paired_b
    return (best, int(in_a.sum()), int(in_b.sum()), float(weighed[h]),
            max(float(wa[in_a].sum()), p.min_common * float(wa.mean())),
            max(float(wb[in_b].sum()), p.min_common * float(wb.mean())))


def _inside_hull(points: np.ndarray, around: np.ndarray, margin: float) -> np.ndarray:
    """Which ``points`` lie within ``margin`` of the convex hull of ``around`` (all edges at once)."""
    hull = cv2.convexHull(around.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return np.zeros(len(points), bool)
    edges = np.roll(hull, -1, axis=0) - hull
    if np.sum(hull[:, 0] * np.roll(hull[:, 1], -1) - np.roll(hull[:, 0], -1) * hull[:, 1]) < 0:
        edges, hull = -edges, np.roll(hull, -1, axis=0)   # counter-clockwise: inside is on the left
    length = np.maximum(np.hypot(edges[:, 0], edges[:, 1]), 1e-9)
    rel = points[:, None, :].astype(np.float64) - hull[None, :, :]
    left = (edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0]) / length[None]
    return (left >= -margin).all(1)


def score(probe: Template, enrolled: Template) -> float:
    """Similarity of a live template and an enrolled one, 0..1 (0: cannot match)."""
    return compare(cylinders(probe), cylinders(enrolled))


def can_match(template: Template) -> bool:
    """Whether a template has enough minutiae to build at least one valid cylinder."""
    return len(cylinders(template)) > 0


# -- calibrated decisions -------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A verdict with the operating point it was taken at."""

    match: bool
    score: float
    threshold: float
    target_fmr: float
    reason: str = ""  # "", "below-threshold", "cannot-match"


@dataclass(frozen=True)
class Calibration:
    """Score thresholds chosen for target false-match rates.

    ``tail`` keeps the highest impostor scores of the calibration (best
    first), so a threshold for any rate down to ``1 / impostor_scores`` can be
    read off (``threshold``): the two-finger rule holds each comparison to a
    fraction of the target that depends on how many templates the voter has.
    """

    thresholds: dict[float, float]
    target_fmr: float
    impostor_scores: int = 0
    source: str = ""
    tail: tuple[float, ...] = ()

    @classmethod
    def load(cls, path: Path | str = CALIBRATION_FILE) -> Calibration:
        """Read a calibration file; ``CalibrationError`` naming the file if it is malformed."""
        try:
            return cls.from_json(Path(path).read_bytes())
        except (OSError, CalibrationError) as e:
            raise CalibrationError(f"{path}: {e}") from e

    @classmethod
    def from_json(cls, data: bytes) -> Calibration:
        """A calibration from its JSON bytes, checked: thresholds in (0, 1] keyed by rates in
        (0, 1), the target among them, the impostor tail best first and in [0, 1]."""
        try:
            d = json.loads(data)
            thresholds = {float(k): float(v) for k, v in d["thresholds"].items()}
            cal = cls(thresholds=thresholds, target_fmr=float(d["target_fmr"]),
                      impostor_scores=int(d.get("impostor_scores", 0)), source=str(d.get("source", "")),
                      tail=tuple(float(v) for v in d.get("impostor_tail", ())))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise CalibrationError(f"not a calibration ({type(e).__name__}: {e})") from e
        if not all(0 < f < 1 and 0 < t <= 1 and math.isfinite(t) for f, t in thresholds.items()):
            raise CalibrationError("thresholds must map rates in (0, 1) to scores in (0, 1]")
        if cal.target_fmr not in thresholds:
            raise CalibrationError(f"no threshold for the target FMR {cal.target_fmr:g}")
        if any(not (0 <= v <= 1) for v in cal.tail) or list(cal.tail) != sorted(cal.tail, reverse=True):
            raise CalibrationError("the impostor tail must be scores in [0, 1], best first")
        if cal.impostor_scores < len(cal.tail):
            raise CalibrationError("the impostor tail is longer than the impostor scores it came from")
        return cal

    def save(self, path: Path | str = CALIBRATION_FILE) -> None:
        data = {"thresholds": {repr(k): v for k, v in sorted(self.thresholds.items())},
                "target_fmr": self.target_fmr, "impostor_scores": self.impostor_scores,
                "source": self.source, "impostor_tail": list(self.tail)}
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def from_impostor_scores(cls, scores, fmrs=(0.001, 0.0005, 0.0001, 0.00005, 0.000025),
                             target_fmr: float = 0.0001,
                             source: str = "", tail: int = 64) -> Calibration:
        """Thresholds such that at most ``fmr`` of these impostor scores reach them."""
        s = np.sort(np.asarray(scores, np.float64))[::-1]
        thresholds = {float(fmr): _threshold_of(s, len(s), fmr) for fmr in fmrs}
        return cls(thresholds, float(target_fmr), len(s), source,
                   tuple(float(v) for v in s[:tail]))

    def threshold(self, fmr: float | None = None) -> float:
        """The threshold for ``fmr`` (default: the target): a named one, else from the tail."""
        fmr = float(self.target_fmr if fmr is None else fmr)
        if fmr in self.thresholds:
            return self.thresholds[fmr]
        if self.tail and _allowed(fmr, self.impostor_scores) < len(self.tail):
            return _threshold_of(np.asarray(self.tail), self.impostor_scores, fmr)
        raise KeyError(f"no threshold calibrated for FMR {fmr:g} "
                       f"({self.impostor_scores} impostor scores, {len(self.tail)} kept)")

    def decide(self, value: float, fmr: float | None = None) -> Decision:
        fmr = float(self.target_fmr if fmr is None else fmr)
        return decide(value, self.threshold(fmr), fmr)


def _threshold_of(best_first: np.ndarray, total: int, fmr: float) -> float:
    """Strictly above the (k+1)-th highest of ``total`` impostor scores: at most k = floor(fmr
    x total) of them reach it (0 impostors allowed: above the highest)."""
    k = _allowed(fmr, total)
    above = float(best_first[k]) if k < len(best_first) else 0.0
    return float(math.nextafter(above, 2.0))


def _allowed(fmr: float, total: int) -> int:
    """Impostor scores a threshold for ``fmr`` may admit: floor(fmr x total), robust to rounding
    (0.0003 x 20,000 is 5.999... in binary)."""
    return int(math.floor(fmr * total + 1e-9))


def comparisons(templates: int, captures: int) -> int:
    """Comparisons an impostor gets in one identification: each capture against each template."""
    return max(1, templates) * max(1, captures)


def decide_attempt(value: float, templates: int, captures: int,
                   calibration: Calibration | None = None) -> Decision:
    """The decision for one capture of a voter's identification (the two-finger rule).

    The voter has ``templates`` enrolled templates (of one or more fingers) and
    may present ``captures`` fingers (2 when two fingers are enrolled: the
    second only when the first does not match). Each capture is compared with
    every template and its best score decides. An impostor thus gets at most
    ``templates x captures`` comparisons, so each is held to the threshold of
    the target FMR divided by that number: by the union bound the voter's
    false-match rate stays within the target, whichever finger is placed first.
    The decision records the voter-level target.
    """
    cal = calibration or default_calibration()
    per_comparison = cal.target_fmr / comparisons(templates, captures)
    d = decide(value, cal.threshold(per_comparison), per_comparison)
    return replace(d, target_fmr=cal.target_fmr)


def decide(value: float, threshold: float | None = None, target_fmr: float | None = None,
           ) -> Decision:
    """Match if ``value`` reaches the threshold (default: the calibrated one)."""
    if threshold is None:
        cal = default_calibration()
        fmr = cal.target_fmr if target_fmr is None else float(target_fmr)
        threshold = cal.threshold(fmr)
        target_fmr = fmr
    if value <= 0.0:
        return Decision(False, 0.0, threshold, target_fmr or 0.0, "cannot-match")
    ok = value >= threshold
    return Decision(ok, float(value), float(threshold), float(target_fmr or 0.0),
                    "" if ok else "below-threshold")


_DEFAULT: list[Calibration] = []


def default_calibration() -> Calibration:
    """The calibration shipped beside this module (read once): real impostors."""
    if not _DEFAULT:
        _DEFAULT.append(Calibration.load())
    return _DEFAULT[0]


def synthetic_calibration() -> Calibration:
    """Thresholds for synthetic fingers (the demo, tests): synthetic impostors, same target FMR."""
    return Calibration.load(SYNTHETIC_CALIBRATION_FILE)


# -- 1:N search -------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    key: str
    score: float


class Gallery:
    """The enrolled templates of a station, prepared for 1:N search."""

    def __init__(self, keys: list[str], prepared: list[Cylinders], shortlist: int = 32) -> None:
        self.keys = keys
        self.prepared = prepared
        self.shortlist = shortlist
        sizes = np.array([len(c) for c in prepared], np.intp)
        self._usable = np.flatnonzero(sizes > 0)
        usable = [prepared[i] for i in self._usable]
        used = sizes[self._usable]
        self._starts = (np.cumsum(used) - used).astype(np.intp)
        self._pooled = (np.concatenate([c.pooled for c in usable]) if usable
                        else np.zeros((0, EMPTY_DIM), np.float32))
        # Each template's pooled rows become a view of the big array (no second copy).
        for i, start in zip(self._usable, self._starts, strict=True):
            c = prepared[i]
            prepared[i] = replace(c, pooled=self._pooled[start:start + len(c)])

    @property
    def nbytes(self) -> int:
        """Memory held by the prepared templates (arrays only)."""
        per = sum(c.xy.nbytes + c.theta.nbytes + c.bits.nbytes + c.valid.nbytes + c.cells.nbytes
                  for c in self.prepared)
        return per + self._pooled.nbytes

    @classmethod
    def build(cls, items: list[tuple[str, Template]], shortlist: int = 32) -> Gallery:
        """Prepare ``(key, template)`` pairs; templates that cannot match are kept but never found."""
        return cls([k for k, _ in items], [cylinders(t) for _, t in items], shortlist)

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"Gallery({len(self.keys)} templates, {len(set(self.keys))} keys)"

    def search(self, probe: Template | Cylinders, top: int = 5) -> list[Candidate]:
        """The ``top`` keys most similar to the probe, best first (scores as ``score``)."""
        pc = probe if isinstance(probe, Cylinders) else cylinders(probe)
        if len(pc) == 0 or self._usable.size == 0:
            return []
        # Stage 1: pooled cylinders, one matrix product over the whole gallery.
        sims = pc.pooled @ self._pooled.T  # (n_probe, total)
        best = np.maximum.reduceat(sims, self._starts, axis=1)  # (n_probe, usable templates)
        k = min(8, best.shape[0])
        coarse = -np.partition(-best, k - 1, axis=0)[:k].mean(0)
        m = min(self.shortlist, coarse.size)
        shortlist = np.argpartition(-coarse, m - 1)[:m] if m < coarse.size else np.arange(m)
        # Stage 2: the exact score of the shortlisted templates.
        by_key: dict[str, float] = {}
        for t in shortlist:
            idx = int(self._usable[t])
            s = compare(pc, self.prepared[idx])
            key = self.keys[idx]
            if s > by_key.get(key, -1.0):
                by_key[key] = s
        ranked = sorted(by_key.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return [Candidate(k, s) for k, s in ranked if s > 0]

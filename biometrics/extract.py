"""Minutiae extraction: a sensor image to an ISO/IEC 19794-2 template with a quality verdict.

The station's sensor uploads a 256 x 288 image (4-bit grey, about 500 dpi,
dark ridges on a light background). ``extract`` turns it into minutiae, or
tells the caller to ask the voter to press again. It never guesses: a blank,
saturated, partial or poor capture, or an image of the wrong size or depth,
gives ``status == "retry"`` with a ``reason`` and an empty template, which
``match`` scores as 0 (cannot match): a bad capture can never be a false
accept.

Pipeline (each step vectorised with NumPy/OpenCV; about 15-25 ms an image):

1. **Checks**: shape and dtype; blank (almost no contrast) and saturated
   (mostly black) images.
2. **Segmentation**: local standard deviation in 16-pixel blocks separates
   the print from the background; the largest region is kept. A print
   covering too little of the window is "partial".
3. **Orientation field**: smoothed structure tensor of Sobel gradients
   (doubled angles), with its coherence as a local quality.
4. **Ridge frequency**: the peak of the radial power spectrum of the print.
5. **Enhancement**: a bank of 16 even Gabor filters tuned to that frequency,
   applied in the frequency domain; each pixel takes the response of its own
   orientation (interpolated between neighbouring filters).
6. **Binarisation** at zero, removal of small ridge fragments and holes.
7. **Thinning** (Zhang-Suen, by 8-neighbourhood lookup tables).
8. **Minutiae** by crossing number (1: ending, 3: bifurcation); angle from
   the orientation field, turned towards the ridge (ending) or the branches
   (bifurcation), expressed counter-clockwise from the x axis as ISO requires.
9. **False minutiae removal**: points near the print's border, pairs closer
   than about half a ridge period (breaks, spurs, bridges), clusters.
10. **Quality**: per minutia from coherence and border distance; for the
    image from coherence, print area and minutiae count (0-100).

Example::

    result = extract(image)
    if result.status == "ok":
        record = encode(result.template)
    else:
        print("press again:", result.reason)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from biometrics.gabor import even_gabor
from biometrics.iso19794 import ISO_ANGLE_UNIT, Minutia, MinutiaKind, Template

SENSOR_SHAPE = (288, 256)
RESOLUTION_PPCM = 197  # 500 dpi
BLOCK = 16
MIN_AREA_FRACTION = 0.40  # of the sensor window covered by the print
MIN_MINUTIAE = 12
MIN_QUALITY = 20
BORDER_MARGIN = 10.0  # pixels from the print's edge where minutiae are unreliable
ORIENTATION_BINS = 16
PERIOD_RANGE = (6.0, 14.0)
MAX_MINUTIAE = 80


@dataclass(frozen=True)
class Extraction:
    """The result of one capture: a template, or a reason to press again."""

    template: Template
    quality: int
    status: str  # "ok" or "retry"
    reason: str = ""  # "", "blank", "saturated", "partial", "too-few-minutiae", ...
    area_fraction: float = 0.0
    ridge_period: float = 0.0
    details: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _empty(width: int = SENSOR_SHAPE[1], height: int = SENSOR_SHAPE[0],
           finger_position: int = 0) -> Template:
    return Template(width=width, height=height, x_res_ppcm=RESOLUTION_PPCM,
                    y_res_ppcm=RESOLUTION_PPCM, finger_position=finger_position,
                    impression_type=0, quality=0, minutiae=())


def _retry(reason: str, **kw) -> Extraction:
    return Extraction(template=_empty(), quality=0, status="retry", reason=reason, **kw)


def extract(image: np.ndarray, *, finger_position: int = 0,
            expect_shape: tuple[int, int] | None = SENSOR_SHAPE) -> Extraction:
    """Minutiae and quality of one 500-dpi grey image (rows, columns), or a retry verdict.

    ``expect_shape=None`` accepts any 2-D image from 128 to 1024 pixels a side
    (still assumed 500 dpi).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        return _retry("wrong-depth")
    if image.ndim != 2:
        return _retry("wrong-depth" if image.ndim == 3 else "wrong-size")
    if expect_shape is not None and image.shape != tuple(expect_shape):
        return _retry("wrong-size")
    if not (128 <= image.shape[0] <= 1024 and 128 <= image.shape[1] <= 1024):
        return _retry("wrong-size")
    img = image.astype(np.float32)
    if float(np.mean(img <= 34)) > 0.6 or float(img.mean()) < 40:
        return _retry("saturated")  # pressed too hard, wet, or a covered sensor
    if float(img.std()) < 6.0 or float(img.mean()) > 248:
        return _retry("blank")

    mask, area = _segment(img)
    if area < 0.05:
        return _retry("blank", area_fraction=area)
    if area < MIN_AREA_FRACTION:
        return _retry("partial", area_fraction=area)

    norm = _normalise(img, mask)
    theta, coherence = _orientation(norm)
    period = _ridge_period(norm, mask)
    enhanced = _enhance(norm, theta, period)
    ridges = ((enhanced > 0) & mask).astype(np.uint8)
    ridges = _clean(ridges, period)
    skeleton = _thin(ridges)
    minutiae = _minutiae(skeleton, theta, coherence, mask, period)
    h, w = image.shape
    quality = _image_quality(coherence, mask, area, len(minutiae))
    template = Template(width=w, height=h, x_res_ppcm=RESOLUTION_PPCM,
                        y_res_ppcm=RESOLUTION_PPCM, finger_position=finger_position,
                        impression_type=0, quality=quality, minutiae=tuple(minutiae))
    details = {"mask": mask, "skeleton": skeleton, "enhanced": enhanced, "theta": theta}
    if len(minutiae) < MIN_MINUTIAE:
        return Extraction(_empty(w, h, finger_position), quality, "retry", "too-few-minutiae",
                          area, period, details)
    if quality < MIN_QUALITY:
        return Extraction(_empty(w, h, finger_position), quality, "retry", "low-quality",
                          area, period, details)
    return Extraction(template, quality, "ok", "", area, period, details)


def _segment(img: np.ndarray) -> tuple[np.ndarray, float]:
    """Foreground mask (bool) of the print and the fraction of the window it covers."""
    h, w = img.shape
    mean = cv2.boxFilter(img, -1, (BLOCK, BLOCK))
    sq = cv2.boxFilter(img * img, -1, (BLOCK, BLOCK))
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    fg = (std > 22.0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=4)
    if n <= 1:
        return np.zeros((h, w), bool), 0.0
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = labels == biggest
    # Fill holes (a dry patch inside the print is still print).
    inv = (~mask).astype(np.uint8)
    n2, lab2, st2, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    for i in range(1, n2):
        x, y, bw, bh, _a = st2[i]
        if x > 0 and y > 0 and x + bw < w and y + bh < h:
            mask |= lab2 == i
    return mask, float(mask.mean())


def _normalise(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance grey with ridges positive (they are dark on the sensor)."""
    mean = cv2.GaussianBlur(img, (0, 0), 8)
    centred = mean - img
    var = cv2.GaussianBlur(centred * centred, (0, 0), 8)
    out = centred / np.sqrt(var + 25.0)
    out[~mask] = 0
    return out


def _orientation(norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge orientation (radians, image axes, mod pi) and its coherence (0..1)."""
    gx = cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), 6)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), 6)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), 6)
    c2 = gxx - gyy
    s2 = 2 * gxy
    # A second smoothing of the doubled-angle field removes noise around cores.
    c2s = cv2.GaussianBlur(c2, (0, 0), 5)
    s2s = cv2.GaussianBlur(s2, (0, 0), 5)
    normal = 0.5 * np.arctan2(s2s, c2s)
    theta = np.mod(normal + np.pi / 2, np.pi).astype(np.float32)
    coherence = np.sqrt(c2 * c2 + s2 * s2) / (gxx + gyy + 1e-6)
    return theta, np.clip(coherence, 0, 1).astype(np.float32)


def _ridge_period(norm: np.ndarray, mask: np.ndarray) -> float:
    """Mean ridge period in pixels: the peak of the radial power spectrum."""
    h, w = norm.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    power = np.abs(np.fft.rfft2(norm * win)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    band = (radius > 1 / PERIOD_RANGE[1]) & (radius < 1 / PERIOD_RANGE[0])
    bins = np.linspace(1 / PERIOD_RANGE[1], 1 / PERIOD_RANGE[0], 33)
    idx = np.digitize(radius[band], bins)
    sums = np.bincount(idx, weights=power[band], minlength=len(bins) + 1)[1:len(bins)]
    if not np.any(sums > 0):
        return 9.0
    peak = int(np.argmax(sums))
    freq = 0.5 * (bins[peak] + bins[peak + 1])
    return float(np.clip(1 / freq, *PERIOD_RANGE))


_BANK_CACHE: dict[tuple[int, int, float], np.ndarray] = {}


def _gabor_spectra(shape: tuple[int, int], period: float) -> np.ndarray:
    """Frequency responses (bins, H, W//2+1) of the even Gabor bank for this period."""
    period = round(period * 4) / 4  # a handful of banks, each built once
    key = (shape[0], shape[1], period)
    if key not in _BANK_CACHE:
        sigma = 0.5 * period
        size = int(2 * np.ceil(3 * sigma) + 1)
        spectra = []
        for i in range(ORIENTATION_BINS):
            k = even_gabor(size, sigma, i * np.pi / ORIENTATION_BINS, period)
            padded = np.zeros(shape, np.float32)
            padded[:size, :size] = k
            padded = np.roll(padded, (-(size // 2), -(size // 2)), axis=(0, 1))
            spectra.append(np.fft.rfft2(padded))
        _BANK_CACHE[key] = np.stack(spectra).astype(np.complex64)
        if len(_BANK_CACHE) > 16:
            _BANK_CACHE.pop(next(iter(_BANK_CACHE)))
    return _BANK_CACHE[key]


def _enhance(norm: np.ndarray, theta: np.ndarray, period: float) -> np.ndarray:
    h, w = norm.shape
    ph, pw = h + 32, w + 32  # padding keeps the circular convolution off the far side
    padded = cv2.copyMakeBorder(norm, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=0)
    spectra = _gabor_spectra((ph, pw), period)
    responses = np.fft.irfft2(np.fft.rfft2(padded)[None] * spectra, s=(ph, pw))
    responses = responses[:, 16:16 + h, 16:16 + w].astype(np.float32)
    normal = np.mod(theta + np.pi / 2, np.pi) / (np.pi / ORIENTATION_BINS)
    o0 = np.floor(normal).astype(np.intp)
    wo = normal - o0
    o0 %= ORIENTATION_BINS
    o1 = (o0 + 1) % ORIENTATION_BINS
    rows, cols = np.indices((h, w))
    return responses[o0, rows, cols] * (1 - wo) + responses[o1, rows, cols] * wo


def _clean(ridges: np.ndarray, period: float) -> np.ndarray:
    """Drop ridge fragments and fill valley holes smaller than about a ridge segment."""
    min_area = int(1.5 * period * period / 2)
    for value in (1, 0):
        part = (ridges == value).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(part, connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
        small = small[small > 0]
        if small.size:
            ridges[np.isin(labels, small)] = 1 - value
    return ridges


# 8-neighbourhood code: bit i is neighbour P(i+2) of Zhang-Suen: N, NE, E, SE, S, SW, W, NW.
_CODE_KERNEL = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


def _neighbour_bits(code: int) -> list[int]:
    return [(code >> i) & 1 for i in range(8)]


def _build_luts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    step1 = np.zeros(256, np.uint8)
    step2 = np.zeros(256, np.uint8)
    crossing = np.zeros(256, np.uint8)
    for code in range(256):
        p = _neighbour_bits(code)  # p[0]=P2(N) ... p[7]=P9(NW)
        b = sum(p)
        a = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        if 2 <= b <= 6 and a == 1:
            if p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0:
                step1[code] = 1
            if p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0:
                step2[code] = 1
        crossing[code] = sum(abs(p[i] - p[(i + 1) % 8]) for i in range(8)) // 2
    return step1, step2, crossing


_STEP1, _STEP2, _CROSSING = _build_luts()


def _codes(binary: np.ndarray) -> np.ndarray:
    return cv2.filter2D(binary.astype(np.float32), -1, _CODE_KERNEL,
                        borderType=cv2.BORDER_CONSTANT).astype(np.uint8)


def _thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning to a one-pixel skeleton (uint8 0/1)."""
    img = binary.astype(np.uint8).copy()
    for _ in range(40):
        changed = False
        for lut in (_STEP1, _STEP2):
            delete = (img == 1) & (lut[_codes(img)] == 1)
            if delete.any():
                img[delete] = 0
                changed = True
        if not changed:
            break
    return img


def _minutiae(skeleton: np.ndarray, theta: np.ndarray, coherence: np.ndarray,
              mask: np.ndarray, period: float) -> list[Minutia]:
    h, w = skeleton.shape
    cn = _CROSSING[_codes(skeleton)]
    cand = (skeleton == 1) & ((cn == 1) | (cn == 3))
    # Distance to the print's edge (and to the window's edge).
    inside = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)[1:-1, 1:-1]
    cand &= dist > BORDER_MARGIN
    ys, xs = np.nonzero(cand)
    if ys.size == 0:
        return []
    kinds = np.where(cn[ys, xs] == 1, 1, 2)
    # Direction: along the ridge orientation, towards the skeleton's mass nearby
    # (the ridge for an ending, the two branches for a bifurcation).
    r = 6
    sk = np.pad(skeleton.astype(np.float32), r)
    offs = np.arange(-r, r + 1, dtype=np.float32)
    windows = np.stack([sk[y:y + 2 * r + 1, x:x + 2 * r + 1] for y, x in zip(ys, xs, strict=True)])
    mass = windows.sum(axis=(1, 2)) + 1e-6
    mx = (windows * offs[None, None, :]).sum(axis=(1, 2)) / mass
    my = (windows * offs[None, :, None]).sum(axis=(1, 2)) / mass
    t = theta[ys, xs]
    flip = (np.cos(t) * mx + np.sin(t) * my) < 0
    t = np.where(flip, t + np.pi, t)
    # Remove false minutiae: close pairs (breaks, spurs, bridges) and clusters.
    pts = np.stack([xs, ys], 1).astype(np.float32)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    too_close = d < 0.8 * period
    # Two endings facing each other across a gap: a broken ridge.
    dt = np.abs(np.angle(np.exp(1j * (t[:, None] - t[None, :]))))
    both_end = (kinds[:, None] == 1) & (kinds[None, :] == 1)
    breaks = both_end & (d < 1.6 * period) & (dt > 2.4)
    crowded = (d < 1.2 * period).sum(1) >= 2
    keep = ~(too_close.any(1) | breaks.any(1) | crowded)
    ys, xs, kinds, t = ys[keep], xs[keep], kinds[keep], t[keep]
    qual = np.clip(coherence[ys, xs] * 100 * np.minimum(1, dist[ys, xs] / 24), 1, 100)
    order = np.argsort(-qual, kind="stable")[:MAX_MINUTIAE]
    # ISO angles are counter-clockwise with y up: the image angle changes sign.
    # Quantised to the record's 1.40625-degree unit, so a template matches the
    # same whether it comes from the image or from its record.
    angles = np.mod(np.rint(np.mod(-np.degrees(t), 360.0) / ISO_ANGLE_UNIT), 256) * ISO_ANGLE_UNIT
    return [Minutia(MinutiaKind(int(kinds[i])), int(xs[i]), int(ys[i]),
                    float(angles[i]), int(qual[i])) for i in sorted(order)]


def _image_quality(coherence: np.ndarray, mask: np.ndarray, area: float, count: int) -> int:
    coh = float(coherence[mask].mean()) if mask.any() else 0.0
    score = 100 * min(1.0, coh / 0.6) * min(1.0, area / 0.7) * min(1.0, count / 25)
    return int(np.clip(round(score), 0, 100))

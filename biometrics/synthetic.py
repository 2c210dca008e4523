"""Synthetic fingers in the SFinGe manner (Cappelli, Maio, Maltoni), rendered as the sensor sees them.

Tests, the benchmark and the demo need thousands of fingerprints of people who
do not exist. A ``SyntheticFinger`` is fully determined by an integer seed:

1. **Master ridge pattern** (computed once, cached in the object): a finger
   class (loops, whorl, arch, tented arch) places cores and deltas; the
   orientation field follows the zero-pole model of Sherlock and Monro; a
   smooth ridge-period map varies between about 8 and 11 pixels (500 dpi);
   ridges grow from white noise by iterative, space-variant Gabor filtering
   (a bank of oriented and tuned kernels, each pixel taking the response of
   its own orientation and period), which creates the minutiae where the
   ridges must end or split to follow the field.
2. **Impressions** (``impression(k)``, deterministic in ``(seed, k)``): a
   displacement, a rotation and a smooth elastic distortion of the skin, an
   elliptic contact region (sometimes partial), dry skin (thin, broken ridges)
   or wet skin (thick, merged ridges), sensor noise and blur, then quantised
   to the 16 grey levels of the 4-bit sensor: a ``uint8`` array of 288 rows
   by 256 columns, dark ridges on a light background, about 500 dpi.

Impressions 0 and 1 are taken in good conditions (enrolment at the
population register); from index 2 on, conditions vary as on voting day.

Example::

    finger = SyntheticFinger(finger_seed(2026, "21234567890123"))
    enrol_image = finger.impression(0)
    live_image = finger.impression(5)      # same finger, another press
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from biometrics.gabor import even_gabor

SENSOR_SHAPE = (288, 256)  # rows, columns (the ZFM sensor's 256 x 288 image)
MARGIN = 40  # master border around the sensor window, room for displacement
MASTER_SHAPE = (SENSOR_SHAPE[0] + 2 * MARGIN, SENSOR_SHAPE[1] + 2 * MARGIN)
GROWTH_SCALE = 2  # ridges grow at half resolution (4-5 px per period): 4x cheaper
ORIENTATION_BINS = 16
PERIODS = (8.0, 11.0)  # ridge period range in pixels at 500 dpi (bank endpoints)
GROWTH_ITERATIONS = 7
CONDITIONS = ("normal", "dry", "wet", "partial")

# Natural finger class frequencies (Wilson et al., approximate).
CLASSES = (("right-loop", 0.32), ("left-loop", 0.33), ("whorl", 0.28),
           ("arch", 0.04), ("tented-arch", 0.03))


def finger_seed(package_seed: int, pin: str, finger: int = 0) -> int:
    """A stable 63-bit seed for one finger of one voter of a package (not Python's hash)."""
    digest = hashlib.sha256(f"{package_seed}:{pin}:{finger}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class ImpressionConditions:
    """How one press was taken (returned by ``SyntheticFinger.conditions``)."""

    condition: str
    dx: float
    dy: float
    rotation_deg: float


class SyntheticFinger:
    """One synthetic finger; its master pattern is built on first use and cached."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        names, weights = zip(*CLASSES, strict=True)
        self.finger_class = str(rng.choice(names, p=np.array(weights) / sum(weights)))
        self._master: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"SyntheticFinger(seed={self.seed}, class={self.finger_class})"

    # -- master pattern -------------------------------------------------

    @property
    def master(self) -> np.ndarray:
        """The ridge pattern in [-1, 1] (ridges positive), ``MASTER_SHAPE``, float32."""
        if self._master is None:
            self._master = self._grow_master()
        return self._master

    def orientation_field(self, shape: tuple[int, int], scale: float) -> np.ndarray:
        """Ridge orientation (radians, image axes, y down, mod pi) on a grid of ``shape``."""
        rng = np.random.default_rng([self.seed, 1])
        h, w = shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        # Work in master pixels, y up, origin at the master centre.
        x = xs * scale - MASTER_SHAPE[1] / 2
        y = -(ys * scale - MASTER_SHAPE[0] / 2)
        z = x + 1j * y
        cx, cy = rng.normal(0, 18), rng.normal(25, 18)
        cores: list[complex] = []
        deltas: list[complex] = []
        kind = self.finger_class
        if kind in ("right-loop", "left-loop"):
            side = -1 if kind == "right-loop" else 1
            cores = [complex(cx, cy)]
            deltas = [complex(cx + side * rng.uniform(70, 110), cy - rng.uniform(100, 140))]
        elif kind == "whorl":
            sep = rng.uniform(8, 22)
            cores = [complex(cx, cy + sep), complex(cx + rng.normal(0, 5), cy - sep)]
            deltas = [complex(cx - rng.uniform(80, 110), cy - rng.uniform(100, 140)),
                      complex(cx + rng.uniform(80, 110), cy - rng.uniform(100, 140))]
        elif kind == "tented-arch":
            cores = [complex(cx, cy)]
            deltas = [complex(cx + rng.normal(0, 6), cy - rng.uniform(45, 70))]
        if kind == "arch":
            s = rng.uniform(80, 130)
            amp = rng.uniform(0.6, 1.3)
            bump = np.exp(-((x - cx) / s) ** 2) * np.exp(-np.maximum(y - cy + 60, 0) / 250.0)
            slope = amp * 2 * (x - cx) / s * bump
            theta = np.arctan(slope)
        else:
            theta = np.zeros(shape, np.float64)
            for d in deltas:
                theta += np.angle(z - d)
            for c in cores:
                theta -= np.angle(z - c)
            theta = 0.5 * theta
        theta = theta + rng.normal(0, 0.04)
        # Back to image axes (y down): the angle changes sign.
        return np.mod(-theta, np.pi).astype(np.float32)

    def period_map(self, shape: tuple[int, int]) -> np.ndarray:
        """A smooth ridge-period map (pixels at 500 dpi) on a grid of ``shape``."""
        rng = np.random.default_rng([self.seed, 2])
        base = rng.uniform(8.6, 10.0)
        coarse = rng.normal(0, 0.45, (4, 4)).astype(np.float32)
        field = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
        return np.clip(base + field, PERIODS[0], PERIODS[1])

    def _grow_master(self) -> np.ndarray:
        s = GROWTH_SCALE
        h, w = MASTER_SHAPE[0] // s, MASTER_SHAPE[1] // s
        theta = self.orientation_field((h, w), s)
        period = self.period_map((h, w)) / s
        # Interpolation weights between neighbouring bank kernels, per pixel.
        normal = np.mod(theta + np.pi / 2, np.pi) / (np.pi / ORIENTATION_BINS)
        o0 = np.floor(normal).astype(np.intp) % ORIENTATION_BINS
        o1 = (o0 + 1) % ORIENTATION_BINS
        wo = (normal - np.floor(normal)).astype(np.float32)
        wp = ((period - PERIODS[0] / s) / ((PERIODS[1] - PERIODS[0]) / s)).astype(np.float32)
        bank = _growth_bank(s)
        rng = np.random.default_rng([self.seed, 3])
        img = rng.standard_normal((h, w)).astype(np.float32)
        rows, cols = np.indices((h, w))
        for _ in range(GROWTH_ITERATIONS):
            out = np.zeros((h, w), np.float32)
            for p, weight_p in ((0, 1 - wp), (1, wp)):
                resp = np.stack([cv2.filter2D(img, -1, k) for k in bank[p]])
                r = resp[o0, rows, cols] * (1 - wo) + resp[o1, rows, cols] * wo
                out += r * weight_p
            # Normalise amplitude so ridges saturate to a clean two-level pattern.
            img = np.tanh(2.5 * out / (np.std(out) + 1e-6))
        full = cv2.resize(img, (MASTER_SHAPE[1], MASTER_SHAPE[0]), interpolation=cv2.INTER_CUBIC)
        return np.clip(full, -1, 1)

    # -- impressions ----------------------------------------------------

    def conditions(self, index: int) -> ImpressionConditions:
        """The random conditions of press ``index`` (0 and 1: enrolment, good)."""
        rng = np.random.default_rng([self.seed, 100, index])
        enrol = index < 2
        if enrol:
            condition = "normal"
        else:
            condition = str(rng.choice(CONDITIONS, p=(0.55, 0.17, 0.17, 0.11)))
        spread = 7.0 if enrol else 14.0
        dx, dy = np.clip(rng.normal(0, spread, 2), -MARGIN + 4, MARGIN - 4)
        rot = float(np.clip(rng.normal(0, 4.0 if enrol else 8.0), -20, 20))
        return ImpressionConditions(condition, float(dx), float(dy), rot)

    def impression(self, index: int, *, condition: str | None = None) -> np.ndarray:
        """Press ``index`` as the sensor images it: 288x256 uint8 in 16 grey levels.

        ``condition`` ("normal", "dry", "wet", "partial") forces the skin or
        contact condition; otherwise it is drawn from ``(seed, index)``.
        """
        cond = self.conditions(index)
        if condition is not None:
            if condition not in CONDITIONS:
                raise ValueError(f"condition must be one of {CONDITIONS}")
            cond = ImpressionConditions(condition, cond.dx, cond.dy, cond.rotation_deg)
        rng = np.random.default_rng([self.seed, 200, index])
        h, w = SENSOR_SHAPE
        master = self.master
        # Geometry: impression pixel -> master pixel (rotation about the window
        # centre, displacement, smooth elastic distortion of the skin).
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        u, v = xs - w / 2, ys - h / 2
        a = np.deg2rad(cond.rotation_deg)
        ca, sa = np.cos(a), np.sin(a)
        elastic = rng.normal(0, 2.2 if index >= 2 else 1.2, (2, 4, 4)).astype(np.float32)
        ex = cv2.resize(elastic[0], (w, h), interpolation=cv2.INTER_CUBIC)
        ey = cv2.resize(elastic[1], (w, h), interpolation=cv2.INTER_CUBIC)
        mx = ca * u - sa * v + MASTER_SHAPE[1] / 2 + cond.dx + ex
        my = sa * u + ca * v + MASTER_SHAPE[0] / 2 + cond.dy + ey
        ridges = cv2.remap(master, mx.astype(np.float32), my.astype(np.float32),
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        # Skin condition: the threshold sets ridge width, blotches break dry ridges.
        if cond.condition == "dry":
            thr = rng.uniform(0.25, 0.45)
            blotch = cv2.resize(rng.random((18, 16)).astype(np.float32), (w, h),
                                interpolation=cv2.INTER_CUBIC)
            ridges = ridges - 0.9 * (blotch > 0.72)
        elif cond.condition == "wet":
            thr = rng.uniform(-0.55, -0.35)
            ridges = cv2.GaussianBlur(ridges, (0, 0), 1.3)
        else:
            thr = rng.uniform(-0.1, 0.1)
        ink = 1.0 / (1.0 + np.exp(-6.0 * (ridges - thr)))
        # Contact: an ellipse fading at its edge; partial presses sit off-centre.
        if cond.condition == "partial":
            ang = rng.uniform(0, 2 * np.pi)
            cx0, cy0 = w / 2 + np.cos(ang) * w * 0.45, h / 2 + np.sin(ang) * h * 0.45
            ax, ay = w * rng.uniform(0.45, 0.6), h * rng.uniform(0.45, 0.6)
        else:
            cx0, cy0 = w / 2 + rng.normal(0, 10), h / 2 + rng.normal(0, 10)
            ax, ay = w * rng.uniform(0.55, 0.75), h * rng.uniform(0.6, 0.8)
        r = np.sqrt(((xs - cx0) / ax) ** 2 + ((ys - cy0) / ay) ** 2)
        contact = np.clip((1.08 - r) / 0.12, 0, 1)
        ink = ink * contact
        # Sensor: light background, dark ridges, noise, slight blur, 16 levels.
        bg = rng.uniform(205, 235)
        dark = rng.uniform(25, 70)
        grey = bg - ink * (bg - dark)
        grey = grey + rng.normal(0, 9, (h, w)).astype(np.float32)
        grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 0.7)
        return quantise_4bit(grey)


def quantise_4bit(grey: np.ndarray) -> np.ndarray:
    """Grey levels as the 4-bit sensor gives them: 0, 17, ..., 255 (uint8)."""
    return (np.clip(np.rint(np.asarray(grey, np.float32) / 17.0), 0, 15) * 17).astype(np.uint8)


_BANKS: dict[int, list[list[np.ndarray]]] = {}


def _growth_bank(scale: int) -> list[list[np.ndarray]]:
    """Even Gabor kernels for the two bank periods, ``ORIENTATION_BINS`` normals each."""
    if scale not in _BANKS:
        bank = []
        for period in PERIODS:
            lam = period / scale
            sigma = 0.55 * lam
            size = int(2 * np.ceil(2.2 * sigma) + 1)
            kernels = []
            for i in range(ORIENTATION_BINS):
                kernels.append(even_gabor(size, sigma, i * np.pi / ORIENTATION_BINS, lam))
            bank.append(kernels)
        _BANKS[scale] = bank
    return _BANKS[scale]

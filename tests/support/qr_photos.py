"""Phone photos of printed pages, made with OpenCV: what central/portal/static/qr.js must read.

``photograph(page, seed)`` takes a rendered page (a Pillow image or a grey numpy array, e.g. an A4
page of count/paper.py at 150 dpi) and returns a JPEG as a phone would take it, all from ``seed``:

- printed: the page at 300 dpi, toner a little soft at the edges, on off-white paper;
- held by hand over a desk: the page turned at any angle in the frame, the camera tilted up to
  ``tilt`` degrees on two axes (a pinhole camera with a phone's field of view: true perspective,
  the far edge smaller), the page filling ``fill`` of the frame's shorter side or a close-up of
  part of it; the desk around it;
- the light uneven: a gradient across the page, a soft shadow (a hand or a phone) over part of
  it, vignetting;
- the lens and sensor: out of focus (Gaussian blur), sometimes a little motion blur, sensor
  noise, a colour cast;
- saved as a JPEG at quality 60-92, at a phone's resolution (12 MP by default).

``Shot`` says what was chosen (for the test's report). ``warp_only`` gives the same geometry
with none of the degradation (to tell the geometry from the image quality when a read fails).
Deterministic: the same page and seed give the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PHONE_12MP = (4032, 3024)       # width, height of a phone's photo in landscape
FOV_DEGREES = 68                # a phone's main camera, across the longer side


@dataclass(frozen=True)
class Shot:
    seed: int
    size: tuple[int, int]
    angle: float                # the page's turn in the frame, degrees
    tilt: tuple[float, float]   # the camera's tilt about the page's two axes, degrees
    fill: float                 # the page's longer side over the frame's (more than 1: a close-up)
    blur: float                 # defocus, Gaussian sigma in pixels
    motion: int                 # motion blur length in pixels (0: none)
    shadow: float               # the darkest the shadow makes the paper (1: no shadow)
    gradient: float             # the darkest corner of the light gradient (1: even light)
    noise: float                # sensor noise, sigma in grey levels
    quality: int                # JPEG quality
    module_px: float            # the size of a 0.5 mm module in the photo, at the page's centre
    page_to_photo: tuple        # the homography from the given page's pixels to the photo's (3x3 rows)

    def where(self, points) -> np.ndarray:
        """Points of the given page (x, y) where they are in the photo."""
        pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, np.array(self.page_to_photo)).reshape(-1, 2)

    def in_frame(self, points, margin: float = 0) -> bool:
        """Whether all these points of the page are in the photo, ``margin`` pixels from its edges."""
        xy = self.where(points)
        w, h = self.size
        return bool(((xy >= margin) & (xy <= np.array([w, h]) - margin)).all())


def _paper(page) -> np.ndarray:
    """The printed page at 300 dpi: grey levels, soft toner edges, paper 238, toner 28."""
    grey = np.asarray(page.convert("L")) if hasattr(page, "convert") else np.asarray(page)
    big = cv2.resize(grey.astype(np.float32), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    big = cv2.GaussianBlur(big, (0, 0), 0.8)
    return 28 + (big / 255.0) * (238 - 28)


def _camera(rng, w, h, size, angle, tilt, fill, centre):
    """Where the page's corners land in the photo: the page plane turned by ``angle``, tilted by
    ``tilt`` and seen by a pinhole camera, scaled so its longer side covers ``fill`` of the frame."""
    fw, fh = size
    f = (max(fw, fh) / 2) / math.tan(math.radians(FOV_DEGREES / 2))
    a, tx, ty = math.radians(angle), math.radians(tilt[0]), math.radians(tilt[1])
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(tx), -math.sin(tx)], [0, math.sin(tx), math.cos(tx)]])
    ry = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    rot = ry @ rx @ rz
    # The page's points in its own plane, in units of its longer side, centred on ``centre``.
    scale = max(w, h)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    plane = (corners - np.array(centre)) / scale
    pts3 = np.c_[plane, np.zeros(4)] @ rot.T + np.array([0, 0, 2.0])
    proj = pts3[:, :2] / pts3[:, 2:3] * f
    # Scale so the page's longer side spans ``fill`` of the frame's longer side, then centre
    # the chosen point (with a little jitter) in the frame: it projects to (0, 0).
    proj *= fill * max(fw, fh) / max(np.ptp(proj[:, 0]), np.ptp(proj[:, 1]))
    jitter = rng.uniform(-0.04, 0.04, 2) * np.array([fw, fh])
    return (proj + np.array([fw / 2, fh / 2]) + jitter).astype(np.float32)


def _light(rng, size, gradient, shadow):
    """The light falling on the scene: a gradient, a soft shadow, vignetting (1 = full light)."""
    fw, fh = size
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    d = rng.uniform(0, 2 * math.pi)
    t = (np.cos(d) * (xx / fw - 0.5) + np.sin(d) * (yy / fh - 0.5)) / 0.71 + 0.5
    light = 1 - (1 - gradient) * np.clip(t, 0, 1)
    if shadow < 1:
        # A soft-edged half plane (the shadow of a hand or the phone) over part of the frame.
        e = rng.uniform(0, 2 * math.pi)
        off = rng.uniform(-0.15, 0.3)
        s = np.cos(e) * (xx / fw - 0.5) + np.sin(e) * (yy / fh - 0.5) - off
        soft = 1 / (1 + np.exp(-s / rng.uniform(0.01, 0.05)))
        light *= 1 - (1 - shadow) * soft
    r2 = ((xx / fw - 0.5) ** 2 + (yy / fh - 0.5) ** 2) / 0.5
    return light * (1 - 0.25 * r2)


def choose(seed: int, *, size=PHONE_12MP, close_up: bool | None = None, tilt: float = 30) -> dict:
    """The random choices of a shot (each in a range a hand-held phone photo falls in)."""
    rng = np.random.default_rng(seed)
    landscape = rng.random() < 0.3
    w, h = size if landscape else size[::-1]
    close = bool(rng.random() < 0.35) if close_up is None else close_up
    return {
        "rng": rng, "size": (w, h), "angle": float(rng.uniform(0, 360)),
        "tilt": (float(rng.uniform(-tilt, tilt)), float(rng.uniform(-tilt, tilt))),
        "fill": float(rng.uniform(1.3, 1.8) if close else rng.uniform(0.75, 0.98)),
        "blur": float(rng.uniform(0.4, 1.6)), "motion": int(rng.choice([0, 0, 0, 3, 5])),
        "shadow": float(rng.choice([1.0, rng.uniform(0.45, 0.8)])), "gradient": float(rng.uniform(0.5, 0.95)),
        "noise": float(rng.uniform(1.5, 5)), "quality": int(rng.integers(60, 93)),
    }


def photograph(page, seed: int, *, size=PHONE_12MP, close_up: bool | None = None, tilt: float = 30,
               focus: tuple[float, float] | None = None, degrade: bool = True, **fixed) -> tuple[bytes, Shot]:
    """A phone's JPEG of ``page`` and what was chosen. ``focus``: the page point (as fractions of its
    width and height) a close-up centres on (default: a random point of the middle). ``fixed``
    sets any of the choices instead of drawing it (``blur=2.0``, ``fill=0.6``, ``quality=50``...)."""
    c = choose(seed, size=size, close_up=close_up, tilt=tilt)
    unknown = set(fixed) - set(c)
    if unknown:
        raise TypeError(f"not a choice of a shot: {sorted(unknown)}")
    c.update(fixed)
    rng = c["rng"]
    paper = _paper(page)
    h, w = paper.shape
    fw, fh = c["size"]
    fx, fy = focus or (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7))
    centre = (fx * w, fy * h) if c["fill"] > 1 else (w / 2, h / 2)
    dst = _camera(rng, w, h, (fw, fh), c["angle"], c["tilt"], c["fill"], centre)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    # Shrinking more than 2x aliases a bilinear warp: blur the paper first by how much it shrinks.
    shrink = max(w, h) / max(np.ptp(dst[:, 0]), np.ptp(dst[:, 1]))
    if shrink > 1.5:
        paper = cv2.GaussianBlur(paper, (0, 0), 0.4 * shrink)
    inside = cv2.warpPerspective(np.ones_like(paper), m, (fw, fh), flags=cv2.INTER_LINEAR)
    photo = cv2.warpPerspective(paper, m, (fw, fh), flags=cv2.INTER_LINEAR)
    centre_img = cv2.perspectiveTransform(np.array([[[w / 2, h / 2], [w / 2 + 10, h / 2]]], np.float32), m)[0]
    module_px = float(np.linalg.norm(centre_img[1] - centre_img[0]) / 10 * 6)   # 6 dots at 300 dpi = 0.5 mm
    grain = rng.normal(0, 18, (fh // 8, fw // 8)).astype(np.float32)
    desk = 95 + 25 * rng.random() + cv2.GaussianBlur(grain, (0, 0), 3)
    desk = cv2.resize(desk, (fw, fh), interpolation=cv2.INTER_LINEAR)
    scene = photo * inside + desk * (1 - inside)
    shot = Shot(seed, (fw, fh), c["angle"], c["tilt"], c["fill"], c["blur"], c["motion"], c["shadow"],
                c["gradient"], c["noise"], c["quality"], module_px,
                tuple(map(tuple, (m @ np.diag([2.0, 2.0, 1.0])).tolist())))
    if not degrade:
        ok, jpeg = cv2.imencode(".jpg", np.clip(scene, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
        return jpeg.tobytes(), shot
    scene = scene * _light(rng, (fw, fh), c["gradient"], c["shadow"])
    scene = cv2.GaussianBlur(scene, (0, 0), c["blur"])
    if c["motion"]:
        k = np.zeros((c["motion"], c["motion"]), np.float32)
        cv2.line(k, (0, int(rng.integers(0, c["motion"]))), (c["motion"] - 1, int(rng.integers(0, c["motion"]))), 1)
        scene = cv2.filter2D(scene, -1, k / k.sum())
    cast = np.array([rng.uniform(0.85, 1.0), rng.uniform(0.92, 1.0), 1.0], np.float32)   # B, G, R: warm light
    colour = scene[:, :, None] * cast[None, None, :]
    colour += rng.normal(0, c["noise"], colour.shape).astype(np.float32)
    ok, jpeg = cv2.imencode(".jpg", np.clip(colour, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, c["quality"]])
    assert ok
    return jpeg.tobytes(), shot


def warp_only(page, seed: int, **kw) -> bytes:
    """The same geometry as ``photograph(page, seed, **kw)``, without light, blur, noise or JPEG loss."""
    return photograph(page, seed, degrade=False, **kw)[0]

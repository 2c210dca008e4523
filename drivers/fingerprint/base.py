"""The fingerprint sensor seam: what the identify daemon sees of any sensor.

A sensor answers ``capture(deadline_s)`` with a ``Capture`` value, never an
exception for a device condition: READY with an image, NO_FINGER when nobody
put a finger down in time (or lifted it too early), DISCONNECTED when the
sensor cannot be reached, ERROR when it answered garbage or refused us. The
``detail`` says why in words the commission can act on. Each sensor states
its image size and resolution (``image_shape``, ``ppi``) and every capture
carries its ``ppi``, so the engine can resample (it works at 500 ppi). The
ZFM family's images are ``IMAGE_SHAPE`` (288 rows × 256 columns) ``uint8`` at
``IMAGE_PPI`` (about 500 ppi), the sensor's 4-bit grey levels scaled to 0..255
(level × 17), dark ridges on a light background. A capture's image is any
2-D ``uint8`` array at least ``MIN_SIDE`` pixels a side.

Example::

    with ZfmSensor("/dev/ttyUSB0") as sensor:
        capture = sensor.capture(deadline_s=5.0)
        if capture.status is SensorStatus.READY:
            template = extract(capture.image, ppi=capture.ppi)
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

import numpy as np

from drivers.device import Device

IMAGE_SHAPE = (288, 256)
IMAGE_PPI = 500.0
MIN_SIDE = 64


class SensorStatus(enum.Enum):
    READY = "ready"
    NO_FINGER = "no-finger"
    DISCONNECTED = "disconnected"
    ERROR = "error"


@dataclass(frozen=True)
class Capture:
    status: SensorStatus
    image: np.ndarray | None = None
    detail: str = ""
    ppi: float = IMAGE_PPI

    def __post_init__(self) -> None:
        if (self.status is SensorStatus.READY) != (self.image is not None):
            raise ValueError("a capture has an image exactly when its status is READY")
        if self.image is not None and (
            self.image.ndim != 2 or min(self.image.shape) < MIN_SIDE
            or self.image.dtype != np.uint8
        ):
            raise ValueError(
                f"image must be 2-D uint8 at least {MIN_SIDE} pixels a side, got "
                f"{self.image.dtype} {self.image.shape}"
            )
        if not self.ppi > 0:
            raise ValueError(f"resolution must be positive, got {self.ppi}")


class FingerprintSensor(Device):
    """A fingerprint sensor. Context manager; ``close()`` is idempotent.

    ``image_shape`` (rows, columns) and ``ppi`` state what its captures are.
    """

    image_shape: tuple[int, int] = IMAGE_SHAPE
    ppi: float = IMAGE_PPI

    @abc.abstractmethod
    def capture(self, deadline_s: float) -> Capture:
        """Wait up to ``deadline_s`` seconds for a finger and return its image."""

    @abc.abstractmethod
    def status(self) -> SensorStatus:
        """READY if the sensor answers now, else DISCONNECTED or ERROR."""



def unpack_image(data: bytes) -> np.ndarray:
    """UpImage bytes (two 4-bit pixels per byte, high nibble first) → 288×256 uint8."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size * 2 != IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        raise ValueError(
            f"image data of {raw.size} bytes, expected {IMAGE_SHAPE[0] * IMAGE_SHAPE[1] // 2}"
        )
    pixels = np.empty(raw.size * 2, dtype=np.uint8)
    pixels[0::2] = raw >> 4
    pixels[1::2] = raw & 0x0F
    return (pixels * 17).reshape(IMAGE_SHAPE)


def pack_image(image: np.ndarray) -> bytes:
    """288×256 uint8 → UpImage bytes, keeping the top 4 bits of each pixel."""
    if image.shape != IMAGE_SHAPE or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 {IMAGE_SHAPE}, got {image.dtype} {image.shape}")
    levels = (image >> 4).reshape(-1)
    return ((levels[0::2] << 4) | levels[1::2]).astype(np.uint8).tobytes()

"""The even Gabor kernel both ridge growth (synthetic.py) and enhancement (extract.py) use."""

from __future__ import annotations

import cv2
import numpy as np


def even_gabor(size: int, sigma: float, theta: float, period: float,
               aspect: float = 1.0) -> np.ndarray:
    """A ``size``×``size`` even (cosine) Gabor kernel across ``theta``, zero-mean and L1-normalised.

    ``sigma`` is the envelope across the ridges; along them it is ``sigma / aspect``.
    """
    k = cv2.getGaborKernel((size, size), sigma, theta, period, aspect, 0, ktype=cv2.CV_32F)
    k -= k.mean()
    return k / np.abs(k).sum()

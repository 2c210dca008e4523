"""Exceptions of the fingerprint engine (leaves of ``station.errors.StationError``).

Device conditions (a blank or partial capture) are values
(``Extraction.status == "retry"``), not exceptions; these are for records that
break their format and for calls the engine cannot honour.
"""

from station.errors import StationError


class BiometricsError(StationError):
    """Raised for any failure of the fingerprint engine that is not a poor capture."""


class TemplateError(BiometricsError):
    """Raised when a minutiae record is malformed (bad magic, version, lengths, values)."""


class ImageError(BiometricsError):
    """Raised when an image file cannot be read as a fingerprint image at all."""


class GalleryError(BiometricsError):
    """Raised when a gallery (directory of records or templates.csv) cannot be loaded."""


class CalibrationError(BiometricsError):
    """Raised when a calibration file is malformed (not JSON, thresholds outside (0, 1], no target)."""

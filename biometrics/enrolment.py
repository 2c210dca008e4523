"""Enrolment of synthetic voters: the records the population register would send.

The demo and test election packages need, for each synthetic voter, the
ISO/IEC 19794-2:2005 records the register enrols. They come from the first
presses of the voter's synthetic finger (impressions 0 and 1, taken in good
conditions); the simulated sensor presents the later presses (index >= 2) on
voting day, so enrolment and verification never share an image.

Guarantees: deterministic in the finger's seed; every returned record decodes
and can be matched; a press that extraction refuses is skipped, and a finger
with no usable press raises ``EnrolmentError`` instead of enrolling an empty
template.

Example::

    finger = SyntheticFinger(finger_seed(package_seed, pin))
    records = enrol(finger)          # [bytes, bytes]: templates.csv rows (base64)
"""

from __future__ import annotations

from biometrics.errors import BiometricsError
from biometrics.extract import extract
from biometrics.iso19794 import encode
from biometrics.synthetic import SyntheticFinger


class EnrolmentError(BiometricsError):
    """Raised when none of a finger's enrolment presses gives a usable template."""


def enrol(finger: SyntheticFinger, impressions: tuple[int, ...] = (0, 1), *,
          finger_position: int = 0) -> list[bytes]:
    """ISO/IEC 19794-2:2005 records extracted from the given presses of ``finger``."""
    records = []
    for index in impressions:
        result = extract(finger.impression(index), finger_position=finger_position)
        if result.ok:
            records.append(encode(result.template))
    if not records:
        raise EnrolmentError(f"no usable enrolment press for {finger!r} among {impressions}")
    return records

"""Any array handed to the reader is a reading or a clear rejection, never an OpenCV error.

Found by the long fuzz campaign (bench/bench_fuzz.py --heavy, ballot-image-arrays): small
4-channel float arrays made cv2.cvtColor raise.
"""

import numpy as np
import pytest

from count.ballots.interpret import interpret_sheet
from count.ballots.reading import SheetReading

ARRAYS = {
    "float64-bgra": np.zeros((5, 5, 4), np.float64),
    "float64-bgr": np.ones((4, 3, 3), np.float64),
    "int8-bgra": np.zeros((3, 3, 4), np.int8),
    "bool-grey": np.ones((5, 5), np.bool_),
    "one-channel": np.full((6, 6, 1), 255, np.uint8),
    "nan": np.full((4, 4), np.nan, np.float32),
    "complex": np.zeros((4, 4), np.complex64),
    "four-dims": np.zeros((2, 2, 2, 2), np.uint8),
    "empty": np.zeros((0, 3), np.uint8),
}


@pytest.mark.parametrize("image", ARRAYS.values(), ids=ARRAYS.keys())
def test_odd_arrays_are_rejected_clearly(image, election):
    reading = interpret_sheet(image, election)
    assert isinstance(reading, SheetReading) and not reading.accepted
    assert reading.reason in ("unreadable", "blank-paper", "truncated-image")

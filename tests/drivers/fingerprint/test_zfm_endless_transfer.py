"""A module that answers UpImage with data packets and never an end packet (audit finding 8).

``capture()`` used to read it forever (no overall deadline, an unbounded buffer), past the
identify daemon's 30 s watchdog. Now the buffer is bounded by the image size and the whole
transfer by ``transfer_timeout_s``: either is an ERROR capture, and the sensor recovers.
"""

from __future__ import annotations

import numpy as np
import pytest

from drivers.fingerprint.base import SensorStatus
from drivers.fingerprint.packets import CHAR_FILE_BYTES, IMAGE_BYTES
from drivers.fingerprint.serial_sensor import TransferTimeoutError, ZfmSensor
from drivers.fingerprint.simulator import SensorSimulator, ridge_pattern

FAST = {"reply_timeout_s": 0.3, "poll_interval_s": 0.01}


def _recovers(sim, sensor) -> None:
    sim.preset = None
    capture = sensor.capture(deadline_s=1.0)       # the stream's tail is skipped, not an error
    assert capture.status is SensorStatus.READY, capture.detail
    np.testing.assert_array_equal(capture.image, (ridge_pattern() >> 4) * 17)


def test_endless_data_overruns_the_image_buffer_and_is_an_error():
    with SensorSimulator(preset="no-end-packet") as sim, ZfmSensor(sim.port, **FAST) as sensor:
        sim.place_finger(ridge_pattern())
        capture = sensor.capture(deadline_s=1.0)
        assert capture.status is SensorStatus.ERROR and capture.image is None
        assert f"UP_IMAGE: data overruns the {IMAGE_BYTES}-byte buffer" in capture.detail
        _recovers(sim, sensor)


def test_endless_data_slower_than_the_buffer_fills_meets_the_transfer_deadline():
    # At 57,600 baud the image buffer would fill after 6.4 s: the 0.5 s transfer deadline comes first.
    with SensorSimulator(preset="no-end-packet", pace_baud=57_600) as sim, \
            ZfmSensor(sim.port, transfer_timeout_s=0.5, **FAST) as sensor:
        sim.place_finger(ridge_pattern())
        capture = sensor.capture(deadline_s=1.0)
        assert capture.status is SensorStatus.ERROR and capture.image is None
        assert "UP_IMAGE: no end packet within 0.5 s" in capture.detail
        assert "bytes of data came" in capture.detail


def test_the_command_methods_raise_the_same_faults():
    with SensorSimulator(preset="no-end-packet", pace_baud=57_600) as sim, \
            ZfmSensor(sim.port, transfer_timeout_s=0.2, **FAST) as sensor:
        sim.place_finger(ridge_pattern())
        assert sensor.gen_img()
        with pytest.raises(TransferTimeoutError):
            sensor.up_image()


def test_up_char_of_exactly_the_character_file_size_still_reads():
    assert CHAR_FILE_BYTES < IMAGE_BYTES
    with SensorSimulator(data_packet_size=256) as sim, ZfmSensor(sim.port, **FAST) as sensor:
        sim.place_finger(ridge_pattern())
        assert sensor.gen_img()
        sensor.img2tz(1)
        assert len(sensor.up_char(1)) == CHAR_FILE_BYTES

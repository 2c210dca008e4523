"""ZfmSensor against the pty simulator: captures, commands, every failure preset."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from drivers.errors import ProtocolError
from drivers.fingerprint.base import IMAGE_SHAPE, Capture, SensorStatus
from drivers.fingerprint.packets import CHAR_FILE_BYTES, Command
from drivers.fingerprint.serial_sensor import SensorRefusedError, ZfmSensor
from drivers.fingerprint.simulator import PRESETS, SensorSimulator, fit_image, ridge_pattern

FAST = {"reply_timeout_s": 0.3, "poll_interval_s": 0.01}


@pytest.fixture
def sim():
    with SensorSimulator() as simulator:
        yield simulator


@pytest.fixture
def sensor(sim):
    with ZfmSensor(sim.port, **FAST) as zfm:
        yield zfm


def as_seen(image):
    """What the sensor returns for ``image``: 4-bit levels scaled back to 0..255."""
    return (fit_image(image) >> 4) * 17


def test_capture_returns_the_placed_impression(sim, sensor):
    finger = ridge_pattern(3)
    sim.place_finger(finger)
    capture = sensor.capture(deadline_s=1.0)
    assert capture.status is SensorStatus.READY
    assert capture.image.shape == IMAGE_SHAPE and capture.image.dtype == np.uint8
    np.testing.assert_array_equal(capture.image, as_seen(finger))
    assert sim.commands_seen[:3] == [Command.VFY_PWD, Command.GEN_IMG, Command.UP_IMAGE]


def test_no_finger_until_the_deadline(sim, sensor):
    capture = sensor.capture(deadline_s=0.05)
    assert capture == Capture(SensorStatus.NO_FINGER, detail=capture.detail)
    assert "no finger" in capture.detail
    assert sim.commands_seen.count(Command.GEN_IMG) >= 1


def test_finger_arriving_while_polling():
    offers = iter([None, None, ridge_pattern(1)])
    with SensorSimulator(image_source=lambda: next(offers, None)) as sim:
        with ZfmSensor(sim.port, **FAST) as sensor:
            assert sensor.capture(deadline_s=2.0).status is SensorStatus.READY
        assert sim.commands_seen.count(Command.GEN_IMG) == 3


def test_lifted_finger_is_not_seen_again(sim, sensor):
    sim.place_finger(ridge_pattern())
    assert sensor.capture(1.0).status is SensorStatus.READY
    sim.lift_finger()
    assert sensor.capture(0.02).status is SensorStatus.NO_FINGER


# preset → status of the capture, words the detail must hold
PRESET_OUTCOMES = {
    "corrupt-checksum": (SensorStatus.ERROR, "checksum"),
    "truncated-frame": (SensorStatus.ERROR, "truncated"),
    "no-answer": (SensorStatus.DISCONNECTED, "does not answer"),
    "unplugged-mid-transfer": (SensorStatus.DISCONNECTED, "failed"),
    "finger-lifted-early": (SensorStatus.NO_FINGER, "lifted"),
    "wrong-password": (SensorStatus.ERROR, "password"),
    "no-end-packet": (SensorStatus.ERROR, "overruns the 36864-byte buffer"),
}


def test_every_preset_has_an_outcome_here():
    assert set(PRESET_OUTCOMES) == set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_gives_a_status_then_the_sensor_recovers(sim, sensor, preset):
    sim.place_finger(ridge_pattern())
    assert sensor.status() is SensorStatus.READY
    sim.preset = preset
    capture = sensor.capture(deadline_s=0.5)
    status, words = PRESET_OUTCOMES[preset]
    assert capture.status is status
    assert words in capture.detail
    assert capture.image is None
    sim.preset = None
    sim.replug()
    sim.place_finger(ridge_pattern())
    capture = sensor.capture(deadline_s=1.0)
    assert capture.status is SensorStatus.READY
    np.testing.assert_array_equal(capture.image, as_seen(ridge_pattern()))


def test_corrupt_checksum_in_the_middle_of_an_upload(sim, sensor):
    sim.place_finger(ridge_pattern())
    assert sensor.gen_img()
    sim.preset = "corrupt-checksum"  # hits the end packet of the image
    capture = sensor.capture(0.5)
    assert capture.status is SensorStatus.ERROR


def test_unplugged_mid_transfer_stays_disconnected_until_replugged(sim, sensor):
    sim.place_finger(ridge_pattern())
    sim.preset = "unplugged-mid-transfer"
    assert sensor.capture(1.0).status is SensorStatus.DISCONNECTED
    assert sim.unplugged and not os.path.exists(sim.port)
    sim.preset = None
    again = sensor.capture(1.0)
    assert again.status is SensorStatus.DISCONNECTED and "cannot open" in again.detail
    assert sensor.status() is SensorStatus.DISCONNECTED
    sim.replug()
    assert sensor.status() is SensorStatus.READY
    assert sensor.capture(1.0).status is SensorStatus.READY


def test_wrong_password_on_connect_is_an_error_status(sim):
    sim.preset = "wrong-password"
    with ZfmSensor(sim.port, **FAST) as sensor:
        assert sensor.status() is SensorStatus.ERROR
        sim.preset = None
        assert sensor.status() is SensorStatus.READY


@pytest.mark.parametrize(
    "module_password,our_password,expected",
    [
        (0, 0, SensorStatus.READY),
        (0x1234ABCD, 0x1234ABCD, SensorStatus.READY),
        (0x1234ABCD, 0, SensorStatus.ERROR),
    ],
    ids=["default", "set-and-known", "set-and-wrong"],
)
def test_password(module_password, our_password, expected):
    with SensorSimulator(password=module_password) as sim:
        with ZfmSensor(sim.port, password=our_password, **FAST) as sensor:
            assert sensor.status() is expected


def test_module_at_another_address_does_not_answer():
    with SensorSimulator(address=0x00000001) as sim, ZfmSensor(sim.port, **FAST) as sensor:
        assert sensor.status() is SensorStatus.DISCONNECTED
    with SensorSimulator(address=0x00000001) as sim:
        with ZfmSensor(sim.port, address=1, **FAST) as sensor:
            assert sensor.status() is SensorStatus.READY


def test_missing_port_is_disconnected(tmp_path):
    with ZfmSensor(str(tmp_path / "ttyUSB9"), **FAST) as sensor:
        assert sensor.status() is SensorStatus.DISCONNECTED
        capture = sensor.capture(0.1)
        assert capture.status is SensorStatus.DISCONNECTED and "cannot open" in capture.detail


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_any_data_packet_size(size):
    with SensorSimulator(data_packet_size=size) as sim, ZfmSensor(sim.port, **FAST) as sensor:
        sim.place_finger(ridge_pattern())
        assert sensor.capture(1.0).status is SensorStatus.READY
        assert sensor.read_sys_para()["data_packet_size"] == size


def test_character_files_up_and_down(sim, sensor):
    sim.place_finger(ridge_pattern())
    assert sensor.gen_img()
    sensor.img2tz(1)
    template = sensor.up_char(1)
    assert len(template) == CHAR_FILE_BYTES
    sensor.down_char(template[::-1], buffer_id=2)
    assert sensor.status() is SensorStatus.READY  # round trip so the module has it all
    assert sim.char_buffer(2) == template[::-1]


def test_refusals_raise_from_the_command_methods(sim, sensor):
    with pytest.raises(SensorRefusedError) as caught:
        sensor.up_char(2)
    assert caught.value.code == 0x0D
    with pytest.raises(SensorRefusedError):
        sensor.img2tz(1)  # no image yet
    with pytest.raises(ValueError):
        sensor.img2tz(3)


def test_close_is_idempotent_and_repr_says_state(sim):
    sensor = ZfmSensor(sim.port, **FAST)
    assert "not connected" in repr(sensor)
    sensor.status()
    assert "open" in repr(sensor)
    sensor.close()
    sensor.close()
    assert "closed" in repr(sensor)
    assert sensor.status() is SensorStatus.DISCONNECTED


def test_unknown_preset_is_refused(sim):
    with pytest.raises(ValueError):
        sim.preset = "on-fire"


@pytest.mark.parametrize(
    "shape", [(288, 256), (300, 300), (200, 180)], ids=["exact", "larger-cropped", "smaller-padded"]
)
def test_impressions_of_any_size_fit_the_window(shape):
    image = np.zeros(shape, dtype=np.uint8)
    fitted = fit_image(image)
    assert fitted.shape == IMAGE_SHAPE
    assert (fitted == 0).sum() == min(shape[0], 288) * min(shape[1], 256)


def test_impression_must_be_grey_uint8():
    with pytest.raises(ValueError):
        fit_image(np.zeros((288, 256), dtype=np.float32))


def test_capture_value_checks_its_image():
    with pytest.raises(ValueError):
        Capture(SensorStatus.READY)
    with pytest.raises(ValueError):
        Capture(SensorStatus.READY, np.zeros((10, 10), dtype=np.uint8))


def test_simulator_runs_standalone():
    proc = subprocess.Popen(
        [sys.executable, "-m", "drivers.fingerprint.simulator", "--finger"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        with ZfmSensor(port, **FAST) as sensor:
            capture = sensor.capture(1.0)
        assert capture.status is SensorStatus.READY
        np.testing.assert_array_equal(capture.image, as_seen(ridge_pattern()))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_status_probe_from_another_thread_waits_for_the_capture(sim, sensor):

    results = []
    worker = threading.Thread(target=lambda: results.append(sensor.capture(deadline_s=5.0)))
    worker.start()
    sim.place_finger(ridge_pattern(2))
    assert sensor.status() is SensorStatus.READY
    worker.join()
    (capture,) = results
    assert capture.status is SensorStatus.READY
    np.testing.assert_array_equal(capture.image, as_seen(ridge_pattern(2)))


def test_a_broken_exchange_does_not_poison_the_next_command(sim, sensor):

    sim.place_finger(ridge_pattern())
    assert sensor.gen_img()
    sim.preset = "corrupt-checksum"
    with pytest.raises(ProtocolError):
        sensor.up_image()
    sim.preset = None
    assert sensor.gen_img()
    np.testing.assert_array_equal(sensor.up_image(), as_seen(ridge_pattern()))

"""Lights, buzzer and buttons on gpiozero's mock pin factory: pin states and sequences."""

import threading

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.indicators import PATTERNS, Blink, Indicators, Pattern, Signal, scaled_patterns

PINS = {"green": 17, "red": 27, "amber": 22, "buzzer": 23, "confirm": 5, "cancel": 6}
FAST = scaled_patterns(0.01)


@pytest.fixture
def factory():
    mock = MockFactory()
    yield mock
    mock.reset()


@pytest.fixture
def lights(factory):
    with Indicators(factory, patterns=FAST) as indicators:
        yield indicators


def states(factory, name):
    return [s.state for s in factory.pin(PINS[name]).states]


def clear(factory):
    for pin in PINS.values():
        factory.pin(pin).clear_states()


def wait_for(condition, timeout=5.0):
    """Wait until a background blink has produced what we look at (not a timing check)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if condition():
            return True
        done.wait(0.005)
    return condition()


# signal → (lights steadily on, blinking light, number of beeps)
EXPECTED = {
    Signal.ACCEPTED: ({"green"}, None, 1),
    Signal.REFUSED: ({"red"}, None, 2),
    Signal.RETRY: (set(), "amber", 2),
    Signal.BUSY: ({"amber"}, None, 0),
    Signal.IDLE: (set(), None, 0),
    Signal.FAULT: (set(), "red", 3),
}


def test_every_signal_has_a_pattern_and_an_expectation():
    assert set(PATTERNS) == set(Signal) == set(EXPECTED)


@pytest.mark.parametrize("signal", list(Signal), ids=lambda s: s.name.lower())
def test_signal_lights_and_beeps(factory, lights, signal):
    steady, blinking, beeps = EXPECTED[signal]
    lights.show(Signal.IDLE)
    clear(factory)
    lights.show(signal, wait=True)
    assert lights.signal is signal
    # The buzzer went on and off once per beep, and ended off.
    assert states(factory, "buzzer") == [False] + [True, False] * beeps
    for name in ("green", "red", "amber"):
        if name in steady:
            assert states(factory, name) == [False, True]
        elif name == blinking:
            assert wait_for(lambda n=name: len(states(factory, n)) >= 4)
            history = states(factory, name)
            assert history[:4] == [False, True, False, True]
        else:
            assert states(factory, name) == [False]


def test_a_new_signal_replaces_the_old_one(factory, lights):
    lights.show(Signal.ACCEPTED, wait=True)
    assert lights.lit() == {"green": True, "red": False, "amber": False}
    lights.show(Signal.REFUSED, wait=True)
    assert lights.lit() == {"green": False, "red": True, "amber": False}
    lights.show(Signal.FAULT)
    lights.show(Signal.IDLE)
    # The blink thread is stopped: red stays off from now on.
    clear(factory)
    assert not wait_for(lambda: len(states(factory, "red")) > 1, timeout=0.1)
    assert lights.lit() == {"green": False, "red": False, "amber": False}


def test_sequence_accept_then_idle(factory, lights):
    clear(factory)
    lights.show(Signal.BUSY)
    lights.show(Signal.ACCEPTED, wait=True)
    lights.show(Signal.IDLE)
    assert states(factory, "amber") == [False, True, False]
    assert states(factory, "green") == [False, True, False]
    assert states(factory, "red") == [False]


@pytest.mark.parametrize("button", ["confirm", "cancel"])
def test_button_press_calls_back(factory, lights, button):
    pressed = []
    lights.on_press(button, lambda: pressed.append(button))
    assert not lights.is_pressed(button)
    factory.pin(PINS[button]).drive_low()  # switch to ground, pulled up
    assert lights.is_pressed(button)
    factory.pin(PINS[button]).drive_high()
    factory.pin(PINS[button]).drive_low()
    assert pressed == [button, button]
    lights.on_press(button, None)
    factory.pin(PINS[button]).drive_high()
    factory.pin(PINS[button]).drive_low()
    assert pressed == [button, button]


def test_custom_buttons_and_pins(factory):
    with Indicators(
        factory, green=4, red=18, amber=24, buzzer=25, buttons={"help": 12}, patterns=FAST
    ) as lights:
        assert lights.button_names == ("help",)
        lights.show(Signal.ACCEPTED, wait=True)
        assert factory.pin(4).state and not factory.pin(18).state
        with pytest.raises(KeyError):
            lights.on_press("confirm", print)


def test_factory_is_required():
    with pytest.raises(ValueError):
        Indicators(None)


def test_patterns_must_cover_every_signal_and_known_lights(factory):
    with pytest.raises(ValueError):
        Indicators(factory, patterns={Signal.IDLE: Pattern()})
    broken = dict(FAST, **{})
    broken[Signal.BUSY] = Pattern({"blue": Blink(0.1, 0.1)})
    with pytest.raises(ValueError):
        Indicators(factory, patterns=broken)


def test_close_releases_pins_and_is_idempotent(factory):
    lights = Indicators(factory, patterns=FAST)
    lights.show(Signal.RETRY)
    assert "RETRY" in repr(lights) and "GPIO17" in repr(lights)
    lights.close()
    lights.close()
    assert repr(lights) == "<Indicators closed>"
    with pytest.raises(RuntimeError):
        lights.show(Signal.IDLE)
    # The pins are free again for the next owner.
    with Indicators(factory, patterns=FAST) as again:
        again.show(Signal.IDLE)


def test_pin_clash_releases_what_was_taken(factory):
    with pytest.raises(Exception, match="GPIO17|in use"):
        Indicators(factory, buzzer=17)
    with Indicators(factory, patterns=FAST):
        pass


def test_default_patterns_are_human_scale():
    for pattern in PATTERNS.values():
        if pattern.sound:
            assert 0.05 <= pattern.sound.on_s <= 1.0 and 1 <= pattern.sound.n <= 3

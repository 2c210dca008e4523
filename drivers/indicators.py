"""Lights, buzzer and buttons at the identification table (gpiozero).

``Indicators(pin_factory)`` drives a green, a red and an amber LED and an
active buzzer, and reads buttons (by default "confirm" and "cancel"). The pin
factory is always injected and handed to every device (``pin_factory=``):
never gpiozero's class-level default, which is a process-wide global. On the
appliance the factory is gpiozero's lgpio one; tests and the demo use
``gpiozero.pins.mock.MockFactory``.

``show(signal)`` replaces whatever was showing with the pattern for a
``Signal``. Lights are steady or blink until the next signal; the sound is a
finite run of beeps (``wait=True`` returns when it has finished). The
patterns are data (``PATTERNS``), one line per signal:

=========  =====================  ==========================
signal     lights                 sound
=========  =====================  ==========================
ACCEPTED   green steady           one short beep
REFUSED    red steady             two long beeps
RETRY      amber blinking         two short beeps
BUSY       amber steady           none
IDLE       all off                none
FAULT      red blinking           three long beeps
=========  =====================  ==========================

Buttons are active low with the internal pull-up (a switch to ground);
``on_press(name, callback)`` runs ``callback()`` on each press, in
gpiozero's event thread.

Example::

    with Indicators(LGPIOFactory(), buttons={"confirm": 5, "cancel": 6}) as lights:
        lights.on_press("confirm", commission_confirms)
        lights.show(Signal.ACCEPTED)
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from gpiozero import LED, Button, Buzzer
from gpiozero.pins import Factory

from drivers.device import Device

LIGHTS = ("green", "red", "amber")


class Signal(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    RETRY = "retry"
    BUSY = "busy"
    IDLE = "idle"
    FAULT = "fault"


@dataclass(frozen=True)
class Blink:
    """A light blinking until the next signal."""

    on_s: float
    off_s: float


@dataclass(frozen=True)
class Beeps:
    on_s: float
    off_s: float
    n: int


@dataclass(frozen=True)
class Pattern:
    # light name → True (steady) or a Blink; lights not named are off.
    lights: Mapping[str, bool | Blink] = field(default_factory=dict)
    sound: Beeps | None = None


PATTERNS: Mapping[Signal, Pattern] = {
    Signal.ACCEPTED: Pattern({"green": True}, Beeps(0.15, 0.1, 1)),
    Signal.REFUSED: Pattern({"red": True}, Beeps(0.4, 0.2, 2)),
    Signal.RETRY: Pattern({"amber": Blink(0.25, 0.25)}, Beeps(0.1, 0.1, 2)),
    Signal.BUSY: Pattern({"amber": True}),
    Signal.IDLE: Pattern(),
    Signal.FAULT: Pattern({"red": Blink(0.5, 0.5)}, Beeps(0.8, 0.4, 3)),
}


def scaled_patterns(
    factor: float, patterns: Mapping[Signal, Pattern] = PATTERNS
) -> dict[Signal, Pattern]:
    """The same patterns with every duration multiplied by ``factor`` (fast tests, demos)."""

    def scale(item):
        if isinstance(item, Blink):
            return Blink(item.on_s * factor, item.off_s * factor)
        if isinstance(item, Beeps):
            return replace(item, on_s=item.on_s * factor, off_s=item.off_s * factor)
        return item

    return {
        signal: Pattern(
            {k: scale(v) for k, v in p.lights.items()}, scale(p.sound) if p.sound else None
        )
        for signal, p in patterns.items()
    }


class Indicators(Device):
    """The table's lights, buzzer and buttons on one pin factory (see the module docstring).

    A context manager; ``close()`` turns everything off and releases the pins, once.
    """

    def __init__(
        self,
        pin_factory: Factory,
        *,
        green: int | str = 17,
        red: int | str = 27,
        amber: int | str = 22,
        buzzer: int | str = 23,
        buttons: Mapping[str, int | str] | None = None,
        patterns: Mapping[Signal, Pattern] = PATTERNS,
        bounce_time_s: float | None = 0.05,
    ) -> None:
        if pin_factory is None:
            raise ValueError("pass a pin factory: the gpiozero default is a global")
        missing = set(Signal) - set(patterns)
        if missing:
            raise ValueError(f"no pattern for {sorted(s.name for s in missing)}")
        unknown = {name for p in patterns.values() for name in p.lights} - set(LIGHTS)
        if unknown:
            raise ValueError(f"patterns name unknown lights {sorted(unknown)}")
        self.pin_factory = pin_factory
        self.patterns = dict(patterns)
        self._lock = threading.Lock()
        self._devices: list = []
        self._closed = False
        self.signal: Signal | None = None
        try:
            self._lights = {
                name: self._own(LED(pin, pin_factory=pin_factory))
                for name, pin in (("green", green), ("red", red), ("amber", amber))
            }
            self._buzzer = self._own(Buzzer(buzzer, pin_factory=pin_factory))
            buttons = {"confirm": 5, "cancel": 6} if buttons is None else buttons
            self._buttons = {
                name: self._own(
                    Button(pin, pull_up=True, bounce_time=bounce_time_s, pin_factory=pin_factory)
                )
                for name, pin in buttons.items()
            }
        except Exception:
            self.close()
            raise

    def _own(self, device):
        self._devices.append(device)
        return device

    def __repr__(self) -> str:
        if self._closed:
            return "<Indicators closed>"
        pins = ", ".join(
            f"{n}={d.pin}"
            for n, d in {**self._lights, "buzzer": self._buzzer, **self._buttons}.items()
        )
        shown = self.signal.name if self.signal else "nothing"
        return f"<Indicators showing {shown}: {pins}>"

    def show(self, signal: Signal, *, wait: bool = False) -> None:
        """Show ``signal``'s pattern; with ``wait``, return after its sound has played."""
        pattern = self.patterns[signal]
        with self._lock:
            self._check_open()
            self.signal = signal
            for name, led in self._lights.items():
                state = pattern.lights.get(name, False)
                if isinstance(state, Blink):
                    led.blink(on_time=state.on_s, off_time=state.off_s, n=None, background=True)
                elif state:
                    led.on()
                else:
                    led.off()
            self._buzzer.off()
            sound = pattern.sound
        if sound is not None:
            # Outside the lock: a blocking beep must not hold up the next show().
            self._buzzer.beep(
                on_time=sound.on_s, off_time=sound.off_s, n=sound.n, background=not wait
            )

    def lit(self) -> dict[str, bool]:
        """Which lights are on right now (a blinking light may be either)."""
        return {name: bool(led.value) for name, led in self._lights.items()}

    def on_press(self, name: str, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` on each press of button ``name`` (None to stop)."""
        self._check_open()
        self._button(name).when_pressed = callback

    def is_pressed(self, name: str) -> bool:
        self._check_open()
        return self._button(name).is_pressed

    @property
    def button_names(self) -> tuple[str, ...]:
        return tuple(self._buttons)

    def _button(self, name: str) -> Button:
        try:
            return self._buttons[name]
        except KeyError:
            raise KeyError(f"no button {name!r}; have {sorted(self._buttons)}") from None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("indicators are closed")

    def close(self) -> None:
        """Turn everything off and release the pins; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()

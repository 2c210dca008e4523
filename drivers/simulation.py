"""What every device simulator shares: named failure presets, checked when set.

STYLE.md "Simulators are product code": each simulator lists its presets in
``PRESETS``; ``sim.preset = "paper-out"`` (or ``set_preset``) switches one on at
any time, ``None`` switches it off; an unknown name is refused.
"""

from __future__ import annotations


class FailurePresets:
    PRESETS: tuple[str, ...] = ()
    _preset: str | None = None

    @property
    def preset(self) -> str | None:
        return self._preset

    @preset.setter
    def preset(self, name: str | None) -> None:
        self.set_preset(name)

    def set_preset(self, name: str | None) -> None:
        if name is not None and name not in self.PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(self.PRESETS)}")
        self._preset = name

"""Driving the screens as a commission member would, and the simulated voters in front of them.

``Commission`` taps through a real browser (selenium over Debian's chromium) and counts
the taps per task: a tap is one touch of a button or a choice; the member's PIN digits
and typed characters are counted apart (``keys``). ``shot`` saves the screen as a
small PNG under docs/screens (the commission guide shows them).

``arrive`` / ``leave``: a voter at the simulated table (simulation/table.py): finger on
the sensor, card in the reader, MRZ keys given; the table's thread does the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from simulation.table import MEMBER, outsider, voter_card


class Commission:
    def __init__(self, driver, station, shots: Path):
        self.d = driver
        self.station = station          # screens_world.Station: each role's pages on its own address
        self.shots = shots
        self.taps: Counter = Counter()
        self.keys: Counter = Counter()
        self.task = "setup"
        self.saved: list[str] = []

    def start(self, task: str) -> None:
        self.task = task
        self.taps[task] += 0
        self.keys[task] += 0

    def go(self, path: str) -> None:
        self.d.get(self.station.at(path))

    def find(self, css: str, timeout: float = 15):
        return WebDriverWait(self.d, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def wait_screen(self, name: str, timeout: float = 20):
        return self.find(f'#screen[data-screen="{name}"]', timeout)

    def wait_text(self, css: str, text: str, timeout: float = 20):
        """Until ``css`` shows ``text``: the next screen of the same name (the page reloads on any change)."""
        return WebDriverWait(self.d, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def tap(self, css: str) -> None:
        el = WebDriverWait(self.d, 15).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
        el.click()
        self.taps[self.task] += 1

    def key(self, css: str) -> None:
        self.d.find_element(By.CSS_SELECTOR, css).click()
        self.keys[self.task] += 1

    def pin(self, digits: str = MEMBER[2], member: str | None = None) -> None:
        """The PIN pad: the member (preselected when there is one), the digits, OK."""
        self.find("#pinpad")
        if member is not None:
            self.tap(f"#member-{member}")
        for d in digits:
            self.key(f"#digit-{d}")
        self.tap("#pin-ok")

    def type(self, text: str) -> None:
        for ch in text:
            self.key(f'.keyboard [data-key="{ch}"]')

    def text(self, css: str = "body") -> str:
        return self.find(css).text

    def shot(self, name: str) -> Path:
        """A small PNG of the screen (palette of 64 colours) under docs/screens."""
        path = self.shots / f"{name}.png"
        width, height = self.d.get_window_size().values()
        full = self.d.execute_script("return document.documentElement.scrollHeight")
        # The whole page, not the viewport: the window's size counts the browser's own frame
        # (143 px in headless Chromium), which the page does not get; without it the last row was cut off.
        frame = self.d.execute_script("return window.outerHeight - window.innerHeight")
        self.d.set_window_size(width, max(height, min(full + frame, 2400)))
        raw = self.d.get_screenshot_as_png()
        self.d.set_window_size(width, height)
        tmp = path.with_suffix(".raw.png")
        tmp.write_bytes(raw)
        with Image.open(tmp) as im:
            im.convert("RGB").quantize(colors=64).save(path, optimize=True)
        tmp.unlink()
        self.saved.append(path.name)
        return path

    def report(self) -> str:
        return "\n".join(f"  {task:<40} {self.taps[task]:>3} taps  (+{self.keys[task]} keys)"
                         for task in self.taps)


def arrive(sim, voter=None, *, finger_of=None, card: bool = True) -> None:
    """A voter at the table: finger on the sensor, then the ID card in the reader with its MRZ keys."""
    pin = finger_of or (voter.pin if voter is not None else None)
    if pin is not None:
        sim._present_finger(pin)
    if card:
        v = voter if voter is not None else outsider()
        c = voter_card(v, sim.pki)
        sim.mrz.put(c.mrz.bac_key)
        sim.insert_card(c)


def leave(sim) -> None:
    sim.remove_card()
    sim.sensor_sim.lift_finger()
    sim.mrz.clear()
    time.sleep(0.2)

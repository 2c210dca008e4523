"""Operations layer figures: bilingual message formatting, sd_notify rate, clock guard cost, install.

Run: .venv/bin/python bench/bench_ops.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from base.clock import SaneClock, SystemClock  # noqa: E402
from base.sdnotify import Notifier  # noqa: E402
from count.ballots.reading import SheetReading  # noqa: E402
from identify.rules import MESSAGES, Reason  # noqa: E402
from provisioning.install import install  # noqa: E402
from station.health import disk_status  # noqa: E402


def timed(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    n = 2_000 if args.quick else 50_000

    already = MESSAGES[Reason.ALREADY_IDENTIFIED]
    print(f"text: Text.format with a field (both languages): "
          f"{timed(lambda: already.format(time='10:42'), n) * 1e6:.2f} µs")
    print(f"text: a rejected sheet's message with a detail: "
          f"{timed(lambda: SheetReading.rejected('unreadable', detail='x'), n) * 1e6:.2f} µs")

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"uchastok-bench-{uuid.uuid4().hex}"
    sock.bind(b"\0" + name.encode())
    got = [0]

    def reader():
        sock.settimeout(0.5)
        try:
            while True:
                sock.recv(4096)
                got[0] += 1
        except TimeoutError:
            pass

    th = threading.Thread(target=reader)
    th.start()
    notifier = Notifier("@" + name)
    per = timed(notifier.watchdog, n)
    th.join()
    sock.close()
    print(f"sdnotify: WATCHDOG=1 datagram: {per * 1e6:.2f} µs each, {got[0]}/{n} received")

    system = SystemClock()
    sane = SaneClock(system)
    base = timed(system.now, n)
    guarded = timed(sane.now, n)
    print(f"health: SystemClock.now {base * 1e6:.2f} µs, SaneClock.now {guarded * 1e6:.2f} µs "
          f"(+{(guarded - base) * 1e6:.2f} µs per recorded event)")
    print(f"health: disk_status: {timed(lambda: disk_status('/'), n // 10) * 1e6:.2f} µs")

    root = Path(tempfile.mkdtemp(prefix="uchastok-bench-root-"))
    try:
        t = time.perf_counter()
        first = install(root, source=REPO, light=True, python=sys.executable, apply=False)
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        again = install(root, source=REPO, light=True, python=sys.executable, apply=False)
        t2 = time.perf_counter() - t
        print(f"install (light, scratch root): first {t1 * 1000:.0f} ms ({len(first.written)} files),"
              f" again {t2 * 1000:.0f} ms ({len(again.written)} written)")
        if shutil.which("systemd-analyze"):
            shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system",
                            symlinks=True, dirs_exist_ok=True)
            for unit in ("uchastok-identify.service", "uchastok-count.service",
                         "uchastok-sync.service"):
                r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                                    f"--root={root}", unit], capture_output=True, text=True)
                line = [x for x in r.stdout.splitlines() if "Overall exposure" in x]
                print("systemd: " + (line[0].split("for ", 1)[1] if line else r.stderr.strip()))
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()

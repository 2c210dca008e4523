"""The identification table's screens in a process of their own, with voters sent in on stdin (kill tests).

    python tests/screens/screens_child.py HOME SECRETS PORT [--stop before-commit|after-commit]

Serves ``open_screens(paths, "identify", sim=True)`` on 127.0.0.1:PORT and prints
``ready`` once it answers. Each stdin line is a command for the simulated table:
``arrive N`` (voters[N]: finger on the sensor, card in the reader), ``leave``.
``--stop`` stops the whole process with SIGSTOP at one point of an identification,
for the test to SIGKILL it there: ``before-commit`` after the finger was captured
and before the identifier decides (nothing recorded yet), ``after-commit`` right
after the identification, its receipt and its outbox entry were committed (the
receipt not printed, the screen not updated).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from screens_driver import arrive, leave  # noqa: E402
from screens_world import serving  # noqa: E402

from base.paths import Paths  # noqa: E402
from screens.serve import open_screens  # noqa: E402


def stop_here(*_args) -> None:
    os.kill(os.getpid(), signal.SIGSTOP)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("secrets")
    ap.add_argument("port", type=int)
    ap.add_argument("--stop", choices=("before-commit", "after-commit"))
    args = ap.parse_args(argv)
    paths = Paths.from_env(args.home)
    with open_screens(paths, "identify", sim=True, secrets=args.secrets, peer=None,
                      stop_after_commit=args.stop == "after-commit") as (app, session):
        if args.stop == "before-commit":
            ident = session.daemon.identifier
            by_card = ident.by_card

            def captured_then_stop(*args, **kwargs):
                stop_here()              # the finger's image is in hand; the identifier has not decided
                return by_card(*args, **kwargs)

            ident.by_card = captured_then_stop
        sim = session.sim_table
        with serving(app, args.port):
            print("ready", flush=True)
            for line in sys.stdin:
                word, *rest = line.split()
                if word == "arrive":
                    arrive(sim, sim.voters[int(rest[0])])
                elif word == "leave":
                    leave(sim)
                print("done", word, flush=True)


if __name__ == "__main__":
    main()

"""One station's identification table as its own process, for the remote-voting chaos tests.

``python tests/remote/remote_station_proc.py HOME SECRETS``: the simulated table of the
provisioned ``HOME`` (simulation/table.py ``SimTable``: the daemon built as on the
hardware, uchastok.toml ``[claims]`` read from HOME), begun as under systemd (its claim
re-send loop runs), then one command a line on stdin, one JSON line on stdout:

- ``manual PIN``: the commission's manual identification of PIN (no finger needed);
- ``provisional PIN``: after "no link", the member's PIN checked and the ballot issued
  on a provisional claim;
- ``decline PIN``: after "no link", nothing issued (the claim stays queued);
- ``quit``.

The tests kill it with SIGKILL at chosen moments and start it again on the same home.
"""

from __future__ import annotations

import json
import logging
import sys

from base.paths import Paths
from simulation.table import MEMBER, SimTable
from station import polls


def answer(result) -> dict:
    out = result.outcome if result is not None else None
    if out is None:
        return {"status": getattr(result, "status", "none")}
    return {"status": str(out.status), "reason": out.reason, "pin": out.pin,
            "receipt": out.receipt.label if out.receipt else None, "message_ru": out.message_ru}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    paths = Paths.from_env(sys.argv[1])
    with SimTable(paths, sys.argv[2]) as table:
        daemon = table.daemon
        daemon.begin()
        print(json.dumps({"ready": True}), flush=True)
        try:
            for line in sys.stdin:
                cmd, _, pin = line.strip().partition(" ")
                if cmd == "quit":
                    break
                try:
                    if cmd == "manual":
                        reply = answer(daemon.manual(pin, MEMBER[0], "fingerprint-unreadable"))
                    elif cmd == "provisional":
                        polls.authorize(daemon.identifier.station_conn, MEMBER[0], MEMBER[2])
                        reply = answer(daemon.issue_provisionally(pin, MEMBER[0]))
                    elif cmd == "decline":
                        daemon.decline_claim(pin)
                        reply = {"status": "declined"}
                    else:
                        reply = {"error": f"unknown command {cmd!r}"}
                except Exception as e:  # noqa: BLE001 - the test reads the error
                    reply = {"error": f"{type(e).__name__}: {e}"}
                print(json.dumps(reply, ensure_ascii=False), flush=True)
        finally:
            daemon.end()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The screens' test world: a station home's roles served by uvicorn on a free loopback port.

``served(paths, secrets, feeder)``: the simulated table and the simulated ballot box
(a folder feeder) behind ``screens.app`` (screens/serve.py ``open_screens``), served
on 127.0.0.1; yields a ``Station`` with the URL and the sessions.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from screens.serve import open_screens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Station:
    paths: object
    url: str
    table: object          # screens.table.TableSession
    box: object            # screens.box.BoxSession
    sim: object            # simulation.table.SimTable
    feeder: Path


@contextlib.contextmanager
def served(paths, secrets, feeder: Path, **options):
    with open_screens(paths, ["identify", "count"], sim=True, secrets=secrets, scanner=f"sim:{feeder}",
                      **options) as (app, sessions):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the screens' server did not start")
            time.sleep(0.02)
        try:
            yield Station(paths, f"http://127.0.0.1:{port}", sessions["identify"], sessions["count"],
                          sessions["sim_table"], feeder)
        finally:
            server.should_exit = True
            thread.join(timeout=10)

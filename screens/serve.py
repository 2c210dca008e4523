"""Serving the screens: the role's sessions on their devices, the application, uvicorn on loopback.

``open_screens`` builds the sessions of the roles asked for and returns them
with the application (``screens.app.make_app``):

- ``identify``: the table's daemon from ``identify.daemon.build_identify_daemon``
  on the hardware of uchastok.toml, or (``sim``) the simulated table
  (simulation/table.py ``SimTable``, the demo package's secrets);
- ``count``: the ballot box from ``count.role``'s files on a ``count.devices``
  factory (``scanner``: ``sane:DEVICE`` or ``sim:FOLDER``, as ``count run`` takes).

``serve_screens`` runs it with uvicorn on 127.0.0.1 (the kiosk browser on the same
appliance is its only client: docs/technician-guide.md "Touchscreen") until
SIGTERM or, with ``exit_after_s``, until that many seconds have passed (the demo).
The screens' server replaces ``uchastok identify run`` / ``count run`` on an
appliance with a touchscreen: it runs the same daemons, with the screen in front.

Example::

    with open_screens(paths, ["identify"], sim=True) as (app, sessions):
        uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import uvicorn

from identify.daemon import build_identify_daemon
from identify.devices import HardwareFactory as IdentifyHardware
from screens.app import make_app
from screens.box import BoxSession
from screens.table import TableSession
from simulation.ballot_box import count_factory
from simulation.table import SimTable, demo_secrets
from station.errors import ConfigError

ROLES = ("identify", "count")
log = logging.getLogger("uchastok.screens")


@contextlib.contextmanager
def open_screens(paths, roles, *, sim: bool = False, scanner: str | None = None, table: str = "1",
                 secrets=None, lna_expected=None, clock=None) -> Iterator[tuple]:
    """(app, {"identify": TableSession, "count": BoxSession}) for ``roles``; closed on exit."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ConfigError(f"unknown role {', '.join(unknown) or '(none)'}: use identify and/or count")
    sessions: dict = {}
    with contextlib.ExitStack() as stack:
        if "identify" in roles:
            if sim:
                found = secrets or demo_secrets(paths)
                if found is None:
                    raise ConfigError("--sim needs the demo package's secrets directory (--secrets PKG.secrets)")
                sim_table = stack.enter_context(SimTable(paths, found, table=table, clock=clock))
                daemon = sim_table.daemon
                sessions["sim_table"] = sim_table
            else:
                daemon = build_identify_daemon(paths, IdentifyHardware(paths, logger=log), table=table,
                                               clock=clock, logger=log)
                stack.callback(daemon.close)
            sessions["identify"] = TableSession(daemon, paths).start()
            stack.callback(sessions["identify"].close)
        if "count" in roles:
            factory = count_factory(paths, scanner or ("sim:" if sim else "sane:"))
            sessions["count"] = BoxSession(paths, factory, clock=clock, lna_expected=lna_expected).start()
            stack.callback(sessions["count"].close)
        app = make_app(paths, table=sessions.get("identify"), box=sessions.get("count"))
        yield app, sessions


def serve_screens(paths, roles, *, port: int = 8080, sim: bool = False, scanner: str | None = None,
                  table: str = "1", secrets=None, lna_expected=None, exit_after_s: float | None = None,
                  echo=print) -> dict:
    """`screens serve`: the sessions and uvicorn on 127.0.0.1:``port`` until SIGTERM (or ``exit_after_s``)."""
    with open_screens(paths, roles, sim=sim, scanner=scanner, table=table, secrets=secrets,
                      lna_expected=lna_expected) as (app, _sessions):
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        timer = None
        if exit_after_s:
            timer = threading.Timer(exit_after_s, lambda: setattr(server, "should_exit", True))
            timer.daemon = True
            timer.start()
        echo(f"screens of {', '.join(roles)} on http://127.0.0.1:{port}/")
        try:
            server.run()
        finally:
            if timer is not None:
                timer.cancel()
    return {"roles": list(roles), "url": f"http://127.0.0.1:{port}/"}

"""Serving the screens: one role's session on its devices, the application, uvicorn on loopback.

One process per role (ARCHITECTURE.md "Roles and processes"): the
identification table and the ballot box are separate roles, each with its own
Unix user and its own 0700 state directory (base/paths.py ``Paths.role``), so
each role's screens run in a process of their own, on a port of their own
(``ROLE_PORTS``), behind a kiosk browser of their own
(systemd/uchastok-screens@.service, systemd/uchastok-kiosk@.service).

``open_screens(paths, role)`` builds that role's session and returns it with the
application (``screens.app.make_app``):

- ``identify``: the table's daemon from ``identify.daemon.build_identify_daemon``
  on the hardware of uchastok.toml, or (``sim``) the simulated table
  (simulation/table.py ``SimTable``, the demo package's secrets); the
  identification table's screens only;
- ``count``: the ballot box from ``count.role``'s files on a ``count.devices``
  factory (``scanner``: ``sane:DEVICE`` or ``sim:FOLDER``, as ``count run`` takes),
  and the polls screens: the count role owns them (the L&A test and the zero
  report that lets polls open are its tally's; the close leads to its protocol and
  the manual count).

The pages link to the other role's screens (``peer``): by default the other role's
loopback address when this appliance holds that role too (its certificate is in the
configuration), so one touchscreen can show both.

``serve_screens`` runs it with uvicorn on 127.0.0.1 (the kiosk browser on the same
appliance is its only client: docs/technician-guide.md "Touchscreen") until
SIGTERM or, with ``exit_after_s``, until that many seconds have passed (the demo);
then the role's daemon ends its run (audited) and its devices are released.
The screens' server replaces ``uchastok identify run`` / ``count run`` on an
appliance with a touchscreen: it runs the same daemon, with the screen in front.
``stop_after_commit`` (identify; crash-recovery tests) stops the process with
SIGSTOP right after an identification is committed, as ``identify run`` does.

Example::

    with open_screens(paths, "identify", sim=True) as (app, session):
        uvicorn.run(app, host="127.0.0.1", port=ROLE_PORTS["identify"])
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

import uvicorn

from identify.daemon import build_identify_daemon, stop_after_commit_hook
from identify.devices import HardwareFactory as IdentifyHardware
from screens.app import make_app
from screens.box import BoxSession
from screens.table import TableSession
from simulation.ballot_box import count_factory
from simulation.table import SimTable, demo_secrets
from station.errors import ConfigError

ROLES = ("identify", "count")
# Each role's screens on a port of its own (the kiosk units open the same addresses).
ROLE_PORTS = {"identify": 8080, "count": 8081}
log = logging.getLogger("uchastok.screens")


def screens_url(role: str, port: int | None = None) -> str:
    """The loopback address of ``role``'s screens."""
    return f"http://127.0.0.1:{port or ROLE_PORTS[role]}/"


def default_peer(paths, role: str) -> str | None:
    """The other role's screens when this appliance holds that role too (its certificate is here)."""
    other = next(r for r in ROLES if r != role)
    return screens_url(other) if paths.role(other).cert.exists() else None


@contextlib.contextmanager
def open_screens(paths, role: str, *, sim: bool = False, scanner: str | None = None, table: str = "1",
                 secrets=None, lna_expected=None, clock=None, peer: str | None = None,
                 stop_after_commit: bool = False, **app_options) -> Iterator[tuple]:
    """(app, session) for ``role``: a ``TableSession`` (identify) or a ``BoxSession`` (count); closed on exit.

    With ``sim`` and ``identify`` the session has ``sim_table`` (the simulated table, for tests);
    ``app_options`` go to ``make_app``.
    """
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: use identify or count (one role per process)")
    with contextlib.ExitStack() as stack:
        if role == "identify":
            after = stop_after_commit_hook if stop_after_commit else None
            if sim:
                found = secrets or demo_secrets(paths)
                if found is None:
                    raise ConfigError("--sim needs the demo package's secrets directory (--secrets PKG.secrets)")
                sim_table = stack.enter_context(SimTable(paths, found, table=table, clock=clock,
                                                         after_commit=after))
                daemon = sim_table.daemon
            else:
                sim_table = None
                daemon = build_identify_daemon(paths, IdentifyHardware(paths, logger=log), table=table,
                                               clock=clock, logger=log, after_commit=after)
                stack.callback(daemon.close)
            session = TableSession(daemon, paths)
            session.sim_table = sim_table
            session.start()
            stack.callback(session.close)
            app = make_app(paths, table=session, peer=peer, **app_options)
        else:
            factory = count_factory(paths, scanner or ("sim:" if sim else "sane:"))
            session = BoxSession(paths, factory, clock=clock, lna_expected=lna_expected).start()
            stack.callback(session.close)
            app = make_app(paths, box=session, peer=peer, **app_options)
        yield app, session


def serve_screens(paths, role: str, *, port: int | None = None, sim: bool = False, scanner: str | None = None,
                  table: str = "1", secrets=None, lna_expected=None, peer: str | None = None,
                  exit_after_s: float | None = None, stop_after_commit: bool = False, echo=print) -> dict:
    """`screens serve`: ``role``'s session and uvicorn on 127.0.0.1:``port`` until SIGTERM (or ``exit_after_s``)."""
    port = port or ROLE_PORTS.get(role, 0)
    peer = peer if peer is not None else default_peer(paths, role) if role in ROLES else None
    with open_screens(paths, role, sim=sim, scanner=scanner, table=table, secrets=secrets,
                      lna_expected=lna_expected, peer=peer or None,
                      stop_after_commit=stop_after_commit) as (app, _session):
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        timer = None
        if exit_after_s:
            timer = threading.Timer(exit_after_s, lambda: setattr(server, "should_exit", True))
            timer.daemon = True
            timer.start()
        if threading.current_thread() is threading.main_thread():
            # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler it
            # found: with the default one the process would die there, before the role's daemon
            # ends its run and releases its devices (open_screens' exit). Ours only asks to stop.
            signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
        echo(f"screens of {role} on {screens_url(role, port)}")
        try:
            server.run()
        finally:
            if timer is not None:
                timer.cancel()
    return {"role": role, "url": screens_url(role, port), "peer": peer or None}

"""The screens' test world: a station home's two roles, each served by its own application on loopback.

``served(paths, secrets, feeder)``: the simulated table (identify) and the simulated
ballot box (count, a folder feeder), each behind its own ``screens.app`` application
(screens/serve.py ``open_screens``: one role per application, as one process per role
on the appliance), served by uvicorn on two free ports of 127.0.0.1, each linking to
the other (``peer``); yields a ``Station`` with both addresses and the sessions.
``Station.at(path)`` is the address of a page on the role that serves it.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from asgi_served import free_port, serving

from screens.serve import open_screens


@dataclass
class Station:
    paths: object
    table_url: str         # the identification table's screens
    box_url: str           # the ballot box's: box, polls, protocol, manual count
    table: object          # screens.table.TableSession
    box: object            # screens.box.BoxSession
    sim: object            # simulation.table.SimTable
    feeder: Path

    def at(self, path: str) -> str:
        """The page ``path`` on the role that serves it (/table... on the table, the rest on the box;
        ``/lang/xx?next=PAGE`` on PAGE's)."""
        page = path.partition("next=")[2] if path.startswith("/lang/") else path
        return (self.table_url if page.startswith("/table") else self.box_url) + path


@contextlib.contextmanager
def served(paths, secrets, feeder: Path, **options):
    ports = {"identify": free_port(), "count": free_port()}
    with contextlib.ExitStack() as stack:
        table_app, table = stack.enter_context(open_screens(
            paths, "identify", sim=True, secrets=secrets, peer=f"http://127.0.0.1:{ports['count']}/",
            **options))
        box_app, box = stack.enter_context(open_screens(
            paths, "count", sim=True, scanner=f"sim:{feeder}", peer=f"http://127.0.0.1:{ports['identify']}/",
            **options))
        table_url = stack.enter_context(serving(table_app, ports["identify"]))
        box_url = stack.enter_context(serving(box_app, ports["count"]))
        yield Station(paths, table_url, box_url, table, box, table.sim_table, feeder)


# --- talking to the screens over HTTP, as the kiosk browser does ----------------------------------

def get(url: str) -> str:
    """The page at ``url``."""
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def post(url: str, fields: dict) -> str:
    """A form posted to ``url``; the page after."""
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as r:
        return r.read().decode()


def token(page: str) -> str:
    """The page's form token (each form carries it)."""
    return re.search(r'name="token" value="([^"]+)"', page).group(1)

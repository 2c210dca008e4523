"""The one CLI, ``uchastok``: subcommand groups, each in its own module.

Each module ``station/cli/<name>.py`` defines ``command`` (a click group or
command). Commands parse arguments, call one library function, and print its
result (``--json`` for machine-readable output). No logic lives here. Heavy
imports (OpenCV, NumPy) happen inside commands so ``uchastok --help`` is quick.

Errors of the three roots (station, drivers, sync) end as one clear line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

from station.cli.common import Context

GROUPS = [
    "package", "provision", "polls", "identify", "count", "fingerprint",
    "receiver", "verify", "status", "log", "demo",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", envvar="UCHASTOK_HOME", type=click.Path(file_okay=False),
              help="Keep all configuration and state under DIR (env UCHASTOK_HOME).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Uchastok: the polling-station appliance.

    \b
    Example:
      uchastok --home /tmp/st1 status
    """
    ctx.obj = Context.create(home)


for _name in GROUPS:
    _mod = importlib.import_module(f"station.cli.{_name}")
    cli.add_command(_mod.command)


def main(argv: list[str] | None = None) -> None:
    from drivers.errors import DriverError
    from station.errors import StationError
    from sync.errors import SyncError

    try:
        cli.main(args=argv, prog_name="uchastok", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (StationError, DriverError, SyncError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except sqlite3.Error as e:
        click.echo(f"error: database: {e}", err=True)
        sys.exit(2)

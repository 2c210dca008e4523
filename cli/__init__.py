"""The one CLI, ``uchastok``: subcommand groups, each in its own module.

Each module ``cli/<name>.py`` defines ``command`` (a click group or
command). Commands parse arguments, call one library function, and print its
result (``--json`` for machine-readable output). No logic lives here. The group
imports a command's module only when that command runs (``LazyGroup``), so
``uchastok status`` never loads OpenCV or NumPy; every module imports at its top.

Errors of the two roots (``base.errors.UchastokError``, ``drivers.errors.DriverError``) end as one clear line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

from base.errors import UchastokError
from cli.common import Context
from drivers.errors import DriverError

GROUPS = [
    "package", "provision", "polls", "identify", "count", "fingerprint",
    "receiver", "verify", "status", "log", "demo", "screens",
]


class LazyGroup(click.Group):
    """Imports ``cli.<name>`` when the command is asked for, not when ``uchastok`` starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(GROUPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in GROUPS:
            return None
        return importlib.import_module(f"cli.{cmd_name}").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def main(argv: list[str] | None = None) -> None:

    try:
        cli.main(args=argv, prog_name="uchastok", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (UchastokError, DriverError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except sqlite3.Error as e:
        click.echo(f"error: database: {e}", err=True)
        sys.exit(2)

"""`uchastok screens`: the commission's touchscreen pages, served on loopback for the kiosk browser."""

from __future__ import annotations

import click

from cli.common import echo_json, json_option, pass_ctx
from screens.serve import ROLES, serve_screens


@click.group(name="screens")
def command() -> None:
    """The touchscreen pages of the identification table and the ballot box.

    \b
    Example:
      uchastok --home /tmp/st1 screens serve --role identify --sim
    """


@command.command("serve")
@click.option("--role", "roles", type=click.Choice(ROLES), multiple=True, required=True,
              help="identify (the table) and/or count (the ballot box, polls, protocol, manual count).")
@click.option("--port", type=int, default=8080, show_default=True, help="Port on 127.0.0.1.")
@click.option("--sim", is_flag=True, help="Simulated devices (the demo package's simulated table and ballot box).")
@click.option("--scanner", default=None, help="Count role's scanner: sane:DEVICE or sim:FOLDER.")
@click.option("--table", default="1", show_default=True, help="This identification table's number.")
@click.option("--secrets", type=click.Path(file_okay=False), help="The demo package's secrets (with --sim).")
@click.option("--lna-expected", type=click.Path(dir_okay=False), help="The L&A deck's expected.json.")
@click.option("--exit-after", type=float, default=None, help="Stop after this many seconds (the demo).")
@json_option
@pass_ctx
def serve(ctx, roles, port, sim, scanner, table, secrets, lna_expected, exit_after, as_json):
    """Serve the screens of ROLE on 127.0.0.1:PORT until SIGTERM (the kiosk browser shows them).

    \b
    Example:
      uchastok --home /tmp/st1 screens serve --role identify --port 8080
      uchastok --home /tmp/st1 screens serve --role count --scanner sim:/tmp/box --sim
    """
    out = serve_screens(ctx.paths, list(roles), port=port, sim=sim, scanner=scanner, table=table,
                        secrets=secrets, lna_expected=lna_expected, exit_after_s=exit_after,
                        echo=click.echo)
    if as_json:
        echo_json(out)

"""`uchastok screens`: the commission's touchscreen pages, served on loopback for the kiosk browser."""

from __future__ import annotations

import click

from cli.common import echo_json, json_option, pass_ctx
from screens.serve import ROLE_PORTS, ROLES, serve_screens


@click.group(name="screens")
def command() -> None:
    """The touchscreen pages of the identification table and the ballot box.

    \b
    Example:
      uchastok --home /tmp/st1 screens serve --role identify --sim      # 127.0.0.1:8080
      uchastok --home /tmp/st1 screens serve --role count --sim         # 127.0.0.1:8081
    """


@command.command("serve")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="identify (the table) or count (the ballot box, polls, protocol, manual count): one role"
                   " per process, each its own port.")
@click.option("--port", type=int, default=None,
              help=f"Port on 127.0.0.1 [default: {', '.join(f'{r} {p}' for r, p in ROLE_PORTS.items())}].")
@click.option("--peer", default=None, help="The other role's screens, for the tabs (\"\": none) [default: the"
                                           " other role's address when this appliance holds that role].")
@click.option("--sim", is_flag=True, help="Simulated devices (the demo package's simulated table and ballot box).")
@click.option("--scanner", default=None, help="Count role's scanner: sane:DEVICE or sim:FOLDER.")
@click.option("--table", default="1", show_default=True, help="This identification table's number.")
@click.option("--secrets", type=click.Path(file_okay=False), help="The demo package's secrets (with --sim).")
@click.option("--lna-expected", type=click.Path(dir_okay=False), help="The L&A deck's expected.json.")
@click.option("--exit-after", type=float, default=None, help="Stop after this many seconds (the demo).")
@click.option("--stop-after-commit", is_flag=True, hidden=True,
              help="Testing crash recovery: SIGSTOP this process right after an identification's commit.")
@json_option
@pass_ctx
def serve(ctx, role, port, peer, sim, scanner, table, secrets, lna_expected, exit_after, stop_after_commit,
          as_json):
    """Serve the screens of ROLE on 127.0.0.1:PORT until SIGTERM (the kiosk browser shows them).

    \b
    Example:
      uchastok --home /tmp/st1 screens serve --role identify
      uchastok --home /tmp/st1 screens serve --role count --scanner sim:/tmp/box --sim
    """
    out = serve_screens(ctx.paths, role, port=port, peer=peer, sim=sim, scanner=scanner, table=table,
                        secrets=secrets, lna_expected=lna_expected, exit_after_s=exit_after,
                        stop_after_commit=stop_after_commit, echo=click.echo)
    if as_json:
        echo_json(out)

"""`uchastok identify`: the identification table (daemon, voter lookup, manual route, summary, reprint)."""

from __future__ import annotations

import logging

import click

from base.paths import Paths
from cli.common import echo_json, json_option, pass_ctx
from identify.daemon import (
    identification_summary,
    manual_identification,
    reprint_receipts,
    run_table,
    voter_report,
)
from simulation.table import run_sim_table


@click.group(name="identify")
def command() -> None:
    """Identify voters: ID card + fingerprint, receipts, summary.

    \b
    Example:
      uchastok --home /tmp/st1 identify voter 21234567890123
    """


def _echo_table(result, as_json: bool) -> None:
    if as_json:
        echo_json(result.to_json())
        return
    click.echo(f"{result.status}: {result.message_ky} / {result.message_ru}")
    out = result.outcome
    if out is not None and out.receipt is not None:
        click.echo(f"receipt {out.receipt.label}  code {out.receipt.code}  ballots {', '.join(out.ballots)}")
    for n, r in result.printed:
        click.echo(f"receipt {n}: {'printed' if r.printed else 'queued (' + r.status.value + ')'}")
    if result.detail:
        click.echo(result.detail)


@command.command(name="run")
@click.option("--home", "home", type=click.Path(file_okay=False), default=None,
              help="Station directory (same as the global --home).")
@click.option("--sim", is_flag=True, help="Use the simulators: sensor on a pty, card emulator, printer to PNG/PDF.")
@click.option("--secrets", type=click.Path(exists=True, file_okay=False), default=None,
              help="With --sim: the demo package's secrets directory (PKG.secrets: card issuer keys;"
              " default: beside the package this station loaded).")
@click.option("--voters", type=int, default=None,
              help="With --sim: run this many scripted visits, then exit (0: only print queued receipts).")
@click.option("--table", default="1", show_default=True, help="This table's number.")
@click.option("--stop-after-commit", is_flag=True, hidden=True,
              help="Testing crash recovery: SIGSTOP this process right after a commit, before printing.")
@json_option
@pass_ctx
def run_cmd(ctx, home, sim, secrets, voters, table, stop_after_commit, as_json) -> None:
    """Run the identification table until stopped (systemd: uchastok-identify.service).

    \b
    Example:
      uchastok identify run --home /tmp/st1 --sim --secrets /tmp/pkg.secrets --voters 12
    """


    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    paths = Paths.from_env(home) if home else ctx.paths
    if sim:
        result = run_sim_table(paths, secrets=secrets, voters=voters, table=table,
                               stop_after_commit=stop_after_commit,
                               echo=(lambda _line: None) if as_json else click.echo)
    else:
        result = run_table(paths, table=table, stop_after_commit=stop_after_commit)
    if as_json:
        echo_json(result)
    else:
        click.echo(f"identified in this run: {result['identified']}")


@command.command(name="voter")
@click.argument("query")
@json_option
@pass_ctx
def voter_cmd(ctx, query, as_json) -> None:
    """Look a voter up by PIN or document number: on the list? ballots? identified?

    \b
    Example:
      uchastok identify voter ID1234567 --json
    """

    rep = voter_report(ctx.paths, query)
    if as_json:
        echo_json(rep)
        return
    if not rep["on_list"]:
        click.echo(f"{query}: not on this station's list")
        return
    click.echo(f"{rep['pin']}  {rep['document_number']}  {rep['name']}  born {rep['birth_date']}")
    click.echo(f"ballots: {', '.join(rep['ballots']) or 'none'}"
               + (f"  (not issued: {rep['refused_contests']})" if rep["refused_contests"] else ""))
    ident = rep["identified"]
    click.echo("not identified yet" if ident is None else
               f"identified at {ident['at']} ({ident['method']}, receipt {ident['receipt']}, table {ident['table']})")


@command.command(name="manual")
@click.option("--pin", "pin", required=True, help="The voter's PIN (14 digits).")
@click.option("--member", required=True, help="The commission member's id.")
@click.option("--reason", required=True, help="Reason code (fingerprint-unreadable, no-fingerprint-enrolled,"
              " injury-or-disability, sensor-failure, card-unreadable).")
@click.option("--member-pin", prompt="Member PIN", hide_input=True, envvar="UCHASTOK_MEMBER_PIN",
              help="The member's PIN (prompted when not given).")
@click.option("--table", default="1", show_default=True)
@click.option("--sim", is_flag=True, help="Print the receipt on the printer simulator.")
@click.option("--provisional", is_flag=True,
              help="With online claims: if the centre does not answer, issue on a provisional claim"
                   " (the member's PIN recorded; counted apart) instead of leaving the claim queued.")
@json_option
@pass_ctx
def manual_cmd(ctx, pin, member, reason, member_pin, table, sim, provisional, as_json) -> None:
    """Identify a voter manually (commission member's PIN, recorded reason, counted separately).

    \b
    Example:
      uchastok identify manual --pin 21234567890123 --member m1 --reason fingerprint-unreadable
      uchastok identify manual --pin 21234567890123 --member m1 --reason no-fingerprint-enrolled --provisional
    """
    _echo_table(manual_identification(ctx.paths, pin, member, member_pin, reason, table=table,
                                      sim_printer=sim, provisional=provisional), as_json)


@command.command(name="summary")
@click.option("--print", "print_it", is_flag=True, help="Print the summary on the receipt printer.")
@click.option("--send", is_flag=True, help="Queue the identification-summary envelope (polls closed).")
@click.option("--sim", is_flag=True, help="Print on the printer simulator.")
@json_option
@pass_ctx
def summary_cmd(ctx, print_it, send, sim, as_json) -> None:
    """Identifications so far: list size, identified, by method, manual by reason.

    \b
    Example:
      uchastok identify summary --print --json
    """

    body = identification_summary(ctx.paths, print_it=print_it, send=send, sim_printer=sim)
    if as_json:
        echo_json(body)
        return
    click.echo(f"voters on the list: {body['voters_on_list']}   identified: {body['identified']}")
    for method, n in body["by_method"].items():
        click.echo(f"  {method}: {n}")
    for reason, n in body["manual_by_reason"].items():
        click.echo(f"    manual, {reason}: {n}")


@command.command(name="reprint")
@click.option("--receipt", "number", type=int, default=None, help="Print a marked duplicate of this receipt.")
@click.option("--member", default=None, help="The member asking for a duplicate.")
@click.option("--sim", is_flag=True, help="Print on the printer simulator.")
@json_option
@pass_ctx
def reprint_cmd(ctx, number, member, sim, as_json) -> None:
    """Print the receipts still queued (paper was out), or a duplicate of one receipt.

    \b
    Example:
      uchastok identify reprint
      uchastok identify reprint --receipt 17 --member m1
    """

    done = reprint_receipts(ctx.paths, number=number, member=member, sim_printer=sim)
    if as_json:
        echo_json(done)
        return
    if not done:
        click.echo("no receipt waiting to print")
    for d in done:
        click.echo(f"{d['receipt']}: {'printed' if d['printed'] else 'not printed (' + d['printer'] + ')'}")

"""`uchastok log`: the hash-chained audit logs."""

from __future__ import annotations

import click

from base.sqlite import connect
from cli.common import echo_json, json_option, pass_ctx
from station.events import catalogue, catalogue_markdown, tail
from station.state_files import inspect_all, verify_all


@click.group(name="log")
def command() -> None:
    """Verify and read the audit logs; print the event catalogue.

    \b
    Example:
      uchastok --home /tmp/st1 log verify
    """


@command.command("verify")
@json_option
@pass_ctx
def verify(ctx, as_json):
    """Check every audit log's hash chain; name the first edited, deleted or reordered record.

    \b
    Example:
      uchastok --home /tmp/st1 log verify
    """

    reports = verify_all(ctx.paths)
    if as_json:
        echo_json(reports)
    else:
        for r in reports:
            mark = "ok" if r["ok"] else "BROKEN"
            click.echo(f"{r['file']}: {mark}, {r['records']} records" + ("" if r["ok"] else f": {r['problem']}"))
    if not all(r["ok"] for r in reports):
        raise SystemExit(1)


@command.command("tail")
@click.option("-n", default=20, show_default=True)
@click.option("--file", "which", type=click.Choice(["station", "identify", "count"]), default="station",
              show_default=True)
@json_option
@pass_ctx
def tail_cmd(ctx, n, which, as_json):
    """Show the last N audit records of one file.

    \b
    Example:
      uchastok --home /tmp/st1 log tail -n 5 --file station
    """

    conn = connect(getattr(ctx.paths, f"{which}_db"), readonly=True)
    try:
        rows = tail(conn, n)
    finally:
        conn.close()
    if as_json:
        echo_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['seq']:>6} {r['at']} {r['event']:<28} {r['outcome']:<8} {r['actor']:<14} {r['details']}")


@command.command("files")
@json_option
@pass_ctx
def files_cmd(ctx, as_json):
    """Inspect each state file: size, journal mode, quick_check, migrations, row counts.

    \b
    Example:
      uchastok --home /tmp/st1 log files --json
    """
    files = inspect_all(ctx.paths)
    if as_json:
        echo_json(files)
        return
    if not files:
        click.echo("no state files here yet")
    for f in files:
        click.echo(f"{f['file']}: {f['bytes']:,} bytes, journal {f['journal_mode']}, check {f['check']},"
                   f" {len(f['migrations'])} migrations")
        for table, n in f["tables"].items():
            click.echo(f"    {table:<28} {n:>10,}")
    if any(f["check"] != "ok" for f in files):
        raise SystemExit(1)


@command.command("catalogue")
@click.option("--markdown", is_flag=True, help="Print docs/events.md.")
def catalogue_cmd(markdown):
    """Print the event catalogue (the source of docs/events.md).

    \b
    Example:
      uchastok log catalogue --markdown > docs/events.md
    """

    if markdown:
        click.echo(catalogue_markdown(), nl=False)
        click.echo()
    else:
        for e in catalogue().values():
            click.echo(f"{e.id:<32} {e.type:<14} {e.description}")

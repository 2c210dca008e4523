"""`uchastok count`: the count role: ballots, L&A deck, reading, tally, protocol."""

import contextlib
import json
import logging

import click

from base.paths import Paths
from cli.common import echo_json, json_option, pass_ctx
from count.ballots.interpret import interpret_file
from count.ballots.layout import write_ballots
from count.ballots.source import election_from
from count.role import count_status, results_protocol, run_count, zero_report
from simulation.ballot_box import count_factory
from simulation.deck import write_deck


@click.group(name="count")
def command() -> None:
    """Count ballots: print ballots, L&A test deck, read sheets, run, zero report, protocol."""


# --- the count role: run, zero-report, protocol, status -----------------------------

def _home_paths(ctx, home):
    return Paths.from_env(home) if home else ctx.paths


_home_option = click.option("--home", "home", type=click.Path(file_okay=False), default=None,
                            help="Keep all state under DIR (same as the global --home).")
_member_option = click.option("--member", default=None, help="Commission member id (PIN asked).")
_pin_option = click.option("--pin", default=None, envvar="UCHASTOK_MEMBER_PIN",
                           help="The member's PIN (env UCHASTOK_MEMBER_PIN; prompted when missing).")


def _pin(member, pin):
    if member is not None and pin is None:
        pin = click.prompt("PIN", hide_input=True)
    return pin


@command.command("run")
@_home_option
@click.option("--scanner", "scanner", default="sim:scanner-in", show_default=True,
              help="sim:FOLDER (simulated feeder) or sane:DEVICE (a SANE document scanner).")
@click.option("--once", is_flag=True, help="Handle one sheet (or none waiting), then exit.")
@click.option("--until-empty", is_flag=True, help="Exit when the feeder is empty (demo, L&A).")
@json_option
@pass_ctx
def run_command(ctx, home, scanner, once, until_empty, as_json):
    """Run the count daemon: read sheets while polls are open (or in test mode), count, accept.

    \b
    Example:
      uchastok count run --home /tmp/st1 --scanner sim:/tmp/st1/scanner-in
      uchastok count run --home /tmp/st1 --scanner sane:fujitsu:fi-7160 --once
    """


    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    paths = _home_paths(ctx, home)
    summary = run_count(paths, count_factory(paths, scanner), once=once, until_empty=until_empty)
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"counted {summary['counted']}, returned {summary['rejected']},"
                   f" resumed {summary['resumed']}; ballots in the real tally: {summary['sheets_real']}")


@command.command("zero-report")
@_home_option
@_member_option
@_pin_option
@json_option
@pass_ctx
def zero_report_command(ctx, home, member, pin, as_json):
    """Print the zero report (real tally, all counters at zero) in Kyrgyz and Russian.

    Polls must be in test mode; printing moves them to zero-report-printed.

    \b
    Example:
      uchastok count zero-report --home /tmp/st1 --member 1
    """

    rep = zero_report(_home_paths(ctx, home), member=member, pin=_pin(member, pin))
    if as_json:
        echo_json(rep)
        return
    if not rep["counters_zero"]:
        raise click.ClickException("counters are not zero: " + ", ".join(rep["nonzero"][:10]))
    click.echo(f"zero report printed; polls: {rep['state']}")
    for f in rep["files"]:
        click.echo(f"  {f}")


@command.command("protocol")
@_home_option
@click.option("--sign", is_flag=True, help="Sign with the device key, enqueue for upload, close the count.")
@_member_option
@_pin_option
@click.option("--voters-identified", type=int, default=None,
              help="Voters identified (the identify role's summary); enables ballots<=identified.")
@click.option("--voters-on-list", type=int, default=None, help="Override the package's voter count.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the JSON, NIST 1500-100, receipt and A4 files (default: var/out).")
@click.option("--print", "print_it", is_flag=True,
              help="Print it on the count role's receipt printer (again after signing: a reprint).")
@click.option("--sim-printer", is_flag=True, help="Print on the printer simulator (var/out/printer).")
@json_option
@pass_ctx
def protocol_command(ctx, home, sign, member, pin, voters_identified, voters_on_list, out_dir, print_it,
                     sim_printer, as_json):
    """Show, sign, print and export the results protocol (after polls close).

    \b
    Example:
      uchastok count protocol --home /tmp/st1 --sign --member 1 --voters-identified 412 --print
      uchastok count protocol --home /tmp/st1 --print      # reprint the signed protocol
      uchastok count protocol --home /tmp/st1 --json
    """


    paths = _home_paths(ctx, home)
    with contextlib.ExitStack() as stack:
        devices = stack.enter_context(count_factory(paths, "sim:" if sim_printer else "sane:"))
        printer = devices.printer() if print_it or sim_printer else None
        res = results_protocol(paths, sign=sign, member=member,
                               pin=_pin(member, pin) if sign else None,
                               voters_identified=voters_identified, voters_on_list=voters_on_list,
                               out_dir=out_dir, printer=printer)
    if as_json:
        echo_json(res)
        return
    click.echo(f"protocol {'signed r' + str(res['revision']) if res['signed'] else '(not signed: preview)'};"
               f" polls: {res['state']}")
    if res["signed"]:
        click.echo(f"protocol hash {res['hash']} (the envelope hash: on the paper, at the centre, in uchastok verify)")
    else:
        click.echo(f"body sha256 {res['body_hash']} (the protocol hash exists once it is signed)")
    for c in res["body"]["contests"]:
        click.echo(f"  {c['contest']}: read {c['ballots_read']}, valid {c['valid']}, invalid {c['invalid']},"
                   f" blank {c['blank']}, marginal {c['marginal_sheets']}")
    for r in res["body"]["control"]:
        if not r["ok"]:
            click.echo(f"  CONTROL FAILS: {r['relation']} {r.get('contest') or ''}: {r['detail']}")
    for k, v in (res.get("files") or {}).items():
        click.echo(f"  {k}: {v}")


@command.command("status")
@_home_option
@click.option("--lna-expected", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A test deck's expected.json: compare the test-mode (L&A) tally with its truth.")
@json_option
@pass_ctx
def status_command(ctx, home, lna_expected, as_json):
    """The count role now: polls state, sheets counted, scanner, protocol, upload queue.

    \b
    Example:
      uchastok count status --home /tmp/st1 --json
      uchastok count status --home /tmp/st1 --lna-expected /tmp/deck/expected.json
    """

    st = count_status(_home_paths(ctx, home), lna_expected=lna_expected)
    if as_json:
        echo_json(st)
        return
    click.echo(f"polls: {st['polls']['text']['ky']} / {st['polls']['text']['ru']}")
    click.echo(f"ballots counted: {st['sheets']['real']}; L&A test sheets: {st['sheets']['test']};"
               f" returned: {st['sheets']['returned']}")
    click.echo(f"scanner: {st['scanner'] or 'unknown'}; upload queue: {st['outbox_pending']}")
    if st["protocol"]:
        click.echo(f"protocol r{st['protocol']['revision']} hash {st['protocol']['hash']}")
    if "lna" in st:
        click.echo("L&A test: " + ("PASSED: the test tally equals the deck's truth" if not st["lna"]
                                   else f"{len(st['lna'])} DIFFERENCES"))
        for d in st["lna"][:20]:
            click.echo(f"  {d}")


# --- ballots: print-ballots, test-deck, interpret (count/ballots) -----------------

_package_option = click.option(
    "--package", "package", required=True, type=click.Path(exists=True),
    help="Election package directory (or a bare manifest.json, unverified, for development).")
_cec_key_option = click.option(
    "--cec-key", default=None, type=click.Path(exists=True, dir_okay=False),
    help="CEC public key (default: the device's pinned key, else DIR.cec.pub).")


def _election(ctx, package, cec_key):
    return election_from(package, cec_key, ctx.paths.cec_pub)


@command.command("print-ballots")
@_package_option
@_cec_key_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--dpi", "dpis", type=int, multiple=True, help="PNG resolution(s); default 150, 200, 300.")
@json_option
@pass_ctx
def print_ballots_command(ctx, package, cec_key, out_dir, dpis, as_json):
    """Write print-ready ballots of every ballot style: PNG per dpi and one PDF.

    \b
    Example:
      uchastok count print-ballots --package /tmp/pkg --out /tmp/ballots --dpi 300
    """

    files = write_ballots(_election(ctx, package, cec_key), out_dir, tuple(dpis) or (150, 200, 300))
    if as_json:
        echo_json({"files": [str(f) for f in files]})
    else:
        for f in files:
            click.echo(str(f))


@command.command("test-deck")
@_package_option
@_cec_key_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--sheets", default=100, show_default=True, help="Number of sheets.")
@click.option("--dpi", type=int, default=None, help="Scan resolution (default: a mix of 150-300).")
@click.option("--seed", default=0, show_default=True, help="The deck is a function of the seed.")
@json_option
@pass_ctx
def test_deck_command(ctx, package, cec_key, out_dir, sheets, dpi, seed, as_json):
    """Write the logic-and-accuracy deck: marked, degraded sheet images and expected.json.

    Every validity rule and every bad sheet (blank paper, photo, other station,
    torn corner, double feed, truncated file) is in the first pass.

    \b
    Example:
      uchastok count test-deck --package /tmp/pkg --out /tmp/deck --sheets 200 --dpi 200 --seed 1
    """


    path = write_deck(_election(ctx, package, cec_key), out_dir, sheets=sheets, dpi=dpi, seed=seed)
    doc = json.loads(path.read_text(encoding="utf-8"))
    accepted = sum(1 for s in doc["sheets"] if s["accepted"])
    info = {"expected": str(path), "sheets": len(doc["sheets"]), "expected_accepted": accepted,
            "expected_rejected": len(doc["sheets"]) - accepted}
    if as_json:
        echo_json(info)
    else:
        click.echo(f"{info['sheets']} sheets ({accepted} to accept, {info['expected_rejected']} to"
                   f" return) in {out_dir}; truth in {path}")


@command.command("interpret")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_package_option
@_cec_key_option
@json_option
@pass_ctx
def interpret_command(ctx, images, package, cec_key, as_json):
    """Read sheet images and print each reading; touches no tally.

    \b
    Example:
      uchastok count interpret /tmp/deck/sheet-00001.jpg --package /tmp/pkg --json
    """

    election = _election(ctx, package, cec_key)
    readings = [(p, interpret_file(p, election)) for p in images]
    if as_json:
        echo_json([{"file": p, **r.to_json()} for p, r in readings])
        return
    for p, r in readings:
        if r.accepted:
            parts = [f"{o.contest}={o.status}" + (f":{o.choice}" if o.choice else "")
                     + (f"#{o.preference}" if o.preference else "")
                     + (f" ({o.reason})" if o.reason else "") for o in r.outcomes]
            marginal = f" marginal: {', '.join(r.marginal)}" if r.marginal else ""
            click.echo(f"{p}: accepted {'; '.join(parts)}{marginal}")
        else:
            click.echo(f"{p}: returned [{r.reason}] {r.message_ky} / {r.message_ru}")

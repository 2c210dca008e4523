"""`uchastok count`: the count role: ballots, L&A deck, reading, tally, protocol."""

import click

from station.cli.common import echo_json, json_option, pass_ctx


@click.group(name="count")
def command() -> None:
    """Count ballots: print ballots, L&A test deck, read sheets, run, zero report, protocol."""


# --- ballots: print-ballots, test-deck, interpret (station/ballots) -----------------

_package_option = click.option(
    "--package", "package", required=True, type=click.Path(exists=True),
    help="Election package directory (or a bare manifest.json, unverified, for development).")
_cec_key_option = click.option(
    "--cec-key", default=None, type=click.Path(exists=True, dir_okay=False),
    help="CEC public key (default: the device's pinned key, else DIR.cec.pub).")


def _election(ctx, package, cec_key):
    from station.ballots.source import election_from

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
    from station.ballots.layout import write_ballots

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
    import json

    from station.ballots.deck import write_deck

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
    from station.ballots.interpret import interpret_file

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

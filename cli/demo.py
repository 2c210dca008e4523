"""`uchastok demo`: the simulated election day (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from simulation.demo import DemoOptions, default_out, run_demo


@click.command(name="demo")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Scratch directory (replaced), default ./demo-out or $UCHASTOK_DEMO_OUT.")
@click.option("--voters", default=300, show_default=True, help="Voters on the station's list.")
@click.option("--turnout", default=0.62, show_default=True, help="Share of the list that comes to vote.")
@click.option("--seed", default=1, show_default=True)
@click.option("--remote-site/--no-remote-site", default=True, show_default=True,
              help="Run a remote-voting site beside the station (online claims, ballots printed on demand).")
def command(out, voters, turnout, seed, remote_site):
    """Run a whole simulated election day with no hardware, and show where everything is.

    Builds and signs a package, provisions a device and a remote-voting site, starts
    the central receiver on loopback, runs the logic-and-accuracy test and the zero
    report, opens the polls, identifies voters through the simulated sensor and card
    reader (claimed online at the centre; at the site, ballots printed on demand and,
    with the link down, provisional claims), counts their ballots through the
    simulated scanner, closes the polls, signs and prints the protocols, uploads, and
    shows the central results with remote voting apart.

    \b
    Example:
      uchastok demo --out /tmp/demo --voters 300
    """
    run_demo(DemoOptions(out=Path(out) if out else default_out(), voters=voters, turnout=turnout, seed=seed,
                         remote_site=remote_site, echo=click.echo))

"""`uchastok package`: build and inspect election packages."""

from __future__ import annotations

import click

from cli.common import echo_json, json_option
from simulation.authority import build_demo_package, cec_pub_path
from station.package import read_package
from sync.signing import load_public_key


@click.group(name="package")
def command() -> None:
    """Election packages: build (demo/tests), verify, show.

    \b
    Example:
      uchastok package build --out /tmp/pkg --voters 300 --seed 1
      uchastok package verify /tmp/pkg --cec-key /tmp/pkg.cec.pub
    """


def _progress(stage: str, done: int, total: int) -> None:
    click.echo(f"\r  {stage}: {done}/{total}", nl=done >= total, err=True)


@command.command("build")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Package directory to create.")
@click.option("--voters", default=300, show_default=True, help="Number of synthetic voters.")
@click.option("--seed", default=1, show_default=True, help="Seed: the same seed gives the same election.")
@click.option("--signing-key", type=click.Path(dir_okay=False),
              help="CEC signing key (created if missing); default: a demo key created once.")
@click.option("--templates/--no-templates", default=True, show_default=True,
              help="Enrol fingerprint templates for every voter (about 0.1 s per voter per core).")
@click.option("--package-version", default=1, show_default=True)
@click.option("--station-number", default=1234, show_default=True)
@json_option
def build(out, voters, seed, signing_key, templates, package_version, station_number, as_json):
    """Build a synthetic, realistic, signed election package.

    The CEC public key is written beside the package as OUT.cec.pub; the
    demo's server and card-issuer secrets go to OUT.secrets/.

    \b
    Example:
      uchastok package build --out /tmp/pkg --voters 300 --seed 1
    """

    pkg = build_demo_package(out, voters=voters, seed=seed, signing_key=signing_key, templates=templates,
                             package_version=package_version, station_number=station_number,
                             progress=None if as_json else _progress)
    info = _summary(pkg) | {"cec_pub": str(cec_pub_path(out))}
    echo_json(info) if as_json else _print_summary(info)


@command.command("verify")
@click.argument("package_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--cec-key", required=True, type=click.Path(exists=True, dir_okay=False), help="CEC public key.")
@json_option
def verify_cmd(package_dir, cec_key, as_json):
    """Verify a package's signature and every file's hash, without importing it.

    \b
    Example:
      uchastok package verify /tmp/pkg --cec-key /tmp/pkg.cec.pub
    """

    info = _summary(read_package(package_dir, load_public_key(cec_key)))
    echo_json(info) if as_json else _print_summary(info)


def _summary(pkg) -> dict:
    e = pkg.election
    return {"dir": str(pkg.dir), "sha256": pkg.hash, "election": e.id, "version": e.package_version,
            "voting_day": e.voting_day.isoformat(), "station": e.station.id,
            "contests": [c.id for c in e.contests], "voters": pkg.voter_rows,
            "templates": pkg.manifest["voters"].get("templates", 0)}


def _print_summary(info: dict) -> None:
    for k in ("dir", "election", "version", "voting_day", "station", "contests", "voters", "templates", "sha256",
              "cec_pub"):
        if k in info:
            v = ", ".join(info[k]) if isinstance(info[k], list) else info[k]
            click.echo(f"{k:>10}: {v}")

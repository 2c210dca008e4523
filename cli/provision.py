"""`uchastok provision`: turn a blank appliance into a station (technician)."""

from __future__ import annotations

import json

import click

from base.paths import ROLES
from cli.common import echo_json, json_option, pass_ctx
from provisioning.identity import enroll, init_device, issue_for_request
from provisioning.install import install_command
from provisioning.package import load_package
from station.db import open_station_db
from station.polls import MAX_PIN_DIGITS, MIN_PIN_DIGITS, set_member_pin
from sync.signing import load_private_key, load_public_key


@click.group(name="provision")
def command() -> None:
    """Device identity, certificate, election package, commission PINs.

    \b
    Example:
      uchastok --home /tmp/st1 provision init --cec-key /tmp/pkg.cec.pub
      uchastok --home /tmp/st1 provision load /tmp/pkg
    """


@command.command("init")
@click.option("--cec-key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The CEC's public key: the trust root for election packages.")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES),
              help="Only this role (repeatable; default: both). A two-box station initialises one role per box.")
@click.option("--force", is_flag=True, help="Replace existing role keys (orphans their certificates).")
@json_option
@pass_ctx
def init(ctx, cec_key, roles, force, as_json):
    """Pin the CEC key, generate one key per role and write an enrolment request per role.

    \b
    Example:
      uchastok --home /tmp/st1 provision init --cec-key /tmp/pkg.cec.pub
    """

    idents = init_device(ctx.paths, cec_key, roles=roles or ROLES, force=force)
    info = {role: {"device_id": i.device_id, "key_id": i.key_id,
                   "enrolment_request": str(ctx.paths.role(role).enrolment_request)} for role, i in idents.items()}
    if as_json:
        echo_json(info)
        return
    for role, i in info.items():
        click.echo(f"{role}: key {i['device_id']}; send {i['enrolment_request']} to the provisioning authority")


@command.command("issue-cert")
@click.argument("request", type=click.Path(exists=True, dir_okay=False))
@click.option("--authority-key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The provisioning authority's private key (the demo uses the CEC key).")
@click.option("--station", "station_id", required=True)
@click.option("--election", "election_id", required=True)
@click.option("--days", default=60, show_default=True, help="Validity in days from now.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False))
def issue_cert(request, authority_key, station_id, election_id, days, out):
    """(Authority side, tests and demo) Issue a certificate for one role's enrolment request.

    \b
    Example:
      uchastok provision issue-cert /tmp/st1/etc/identify-enrolment-request.json \\
          --authority-key ~/.local/share/uchastok/demo-cec.key \\
          --station UIK-1234 --election kg-2025-parliament -o /tmp/cert.json
    """


    cert = issue_for_request(request, load_private_key(authority_key), station_id, election_id, days=days)
    with open(out, "w") as f:
        json.dump(cert, f, indent=2)
    click.echo(f"certificate for {cert['signed']['device_id']} written to {out}")


@command.command("enroll")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False))
@click.option("--authority-pub", type=click.Path(exists=True, dir_okay=False),
              help="Provisioning authority public key (default: the pinned CEC key).")
@json_option
@pass_ctx
def enroll_cmd(ctx, certificate, authority_pub, as_json):
    """Verify and install the certificate of one of this device's role keys (run once per role).

    \b
    Example:
      uchastok --home /tmp/st1 provision enroll /tmp/identify-cert.json
    """

    cert = enroll(ctx.paths, certificate, load_public_key(authority_pub or ctx.paths.cec_pub))
    info = {"device_id": cert.device_id, "roles": list(cert.roles), "station": cert.station_id,
            "election": cert.election_id, "valid_until": cert.not_after.isoformat(), "cert_ref": cert.ref}
    echo_json(info) if as_json else click.echo(
        f"certificate installed: {', '.join(cert.roles)} key {cert.device_id} for {cert.station_id}"
        f" ({cert.election_id}), valid until {cert.not_after:%Y-%m-%d}")


@command.command("load")
@click.argument("package_dir", type=click.Path(exists=True, file_okay=False))
@json_option
@pass_ctx
def load(ctx, package_dir, as_json):
    """Verify an election package against the pinned CEC key and import it atomically.

    \b
    Example:
      uchastok --home /tmp/st1 provision load /tmp/pkg
    """

    def progress(done, total):
        if not as_json:
            click.echo(f"\r  voters imported: {done}/{total}", nl=done >= total, err=True)

    pkg = load_package(ctx.paths, package_dir, progress=progress)
    info = {"election": pkg.election.id, "version": pkg.election.package_version, "station": pkg.election.station.id,
            "voters": pkg.voter_rows, "sha256": pkg.hash}
    echo_json(info) if as_json else click.echo(
        f"package {pkg.hash[:16]} loaded: {pkg.election.id} v{pkg.election.package_version},"
        f" station {pkg.election.station.id}, {pkg.voter_rows} voters")


@command.command("set-pin")
@click.option("--member", required=True, help="Member id, e.g. 1 (chair) or 2.")
@click.option("--name", required=True, help="Member's name as printed.")
@click.option("--role", type=click.Choice(["member", "chair", "technician"]), default="member", show_default=True)
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
              help=f"{MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits.")
@pass_ctx
def set_pin(ctx, member, name, role, pin):
    """Set a commission member's PIN code, 6 to 12 digits (needed to open, pause, close polls).

    Its verifier in station.db is keyed with the station's PIN key (var/keys/pin.key, made by
    `provision init`), which station.db does not hold: a copy of station.db cannot be guessed.

    \b
    Example:
      uchastok --home /tmp/st1 provision set-pin --member 1 --name "Асанова Б." --role chair
    """

    conn = open_station_db(ctx.paths.station_db)
    try:
        set_member_pin(conn, member, name, pin, role=role)
    finally:
        conn.close()
    click.echo(f"PIN set for member {member} ({role})")


command.add_command(install_command, "install")

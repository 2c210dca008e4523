"""`uchastok receiver`: the reference central receiver (docs/protocol.md)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import click

from base.files import atomic_write
from central.api import load_operators, token_hash
from central.national import NationalListError, register_national_list
from central.server import Limits, enroll_file, report, serve
from central.storage import open_storage
from cli.common import echo_json, json_option

db_option = click.option("--db", required=True, type=click.Path(dir_okay=False),
                         help="The receiver's database: a SQLite file or a postgresql:// URL.")
trust_option = click.option("--trust", required=True, type=click.Path(exists=True, dir_okay=False),
                            help="Provisioning authority public key (trust/provisioning.pub).")


@click.group(name="receiver")
def command() -> None:
    """The central side: intake of signed envelopes, acks, aggregation.

    \b
    Example:
      uchastok receiver serve --db central.db --port 8700 --key ack.key --trust provisioning.pub
      uchastok receiver results --db central.db --level oik
    """


@command.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
@click.option("--key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The ack signing key (PKCS#8 PEM); stations hold its public half.")
@trust_option
@click.option("--package-dir", type=click.Path(exists=True, file_okay=False),
              help="An election package: its manifest's election and station are registered.")
@click.option("--stations", type=click.Path(exists=True, dir_okay=False),
              help="A JSON list of stations (id, number, name, region, oik, tik, voters_on_list).")
@click.option("--election", help="Accept only this election id.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="Serve HTTPS with this PEM certificate chain (stations pin its CA).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Its private key.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port (about one per CPU core).")
@click.option("--backlog", default=Limits.backlog, show_default=True, type=click.IntRange(16),
              help="Listen backlog: connections the kernel queues (capped by net.core.somaxconn).")
@click.option("--operators", type=click.Path(exists=True, dir_okay=False),
              help="SHA-256 hashes of the operator tokens that may see PINs (receiver operator-token).")
@click.option("--portal/--no-portal", default=True, show_default=True,
              help="Serve the public results portal at / beside the API.")
@click.option("--downloads", type=click.Path(file_okay=False),
              help="Where the portal writes its bulk file (default: beside a SQLite --db).")
def serve_cmd(db, host, port, key, trust, package_dir, stations, election, tls_cert,
              tls_key, workers, backlog, operators, portal, downloads) -> None:
    """Run the receiver's HTTP service until interrupted (SIGTERM or Ctrl-C).

    \b
    Example:
      uchastok receiver serve --db central.db --host 127.0.0.1 --port 8700 \\
          --key ack.key --trust provisioning.pub --stations stations.json
      uchastok receiver serve --db central.db --host 0.0.0.0 --port 443 --workers 4 \\
          --key ack.key --trust provisioning.pub --package-dir pkg \\
          --tls-cert server.pem --tls-key server.key --operators operators.txt
    """

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    logging.basicConfig(level=logging.WARNING)
    try:
        serve(db, host, port, key, trust, election=election, package_dir=package_dir,
              stations=stations, tls_cert=tls_cert, tls_key=tls_key, workers=workers,
              backlog=backlog, operators=operators, portal=portal, downloads=downloads)
    except KeyboardInterrupt:
        pass


@command.command("operator-token")
@click.option("--operators", required=True, type=click.Path(dir_okay=False),
              help="The operators file the receiver reads (created if missing).")
@click.option("--name", required=True, help="Whose token: written beside its hash as a comment.")
def operator_token_cmd(operators, name) -> None:
    """Make a new operator token, add its SHA-256 to the operators file, print the token once.

    The receiver keeps only the hash; give the token to the operator, who sends it as
    `Authorization: Bearer TOKEN` to see PINs in /v1/anomalies. Restart the receiver
    to take a changed file into account; delete the line to revoke a token.

    \b
    Example:
      uchastok receiver operator-token --operators /etc/uchastok/operators.txt --name "Duty desk 1"
    """

    path = Path(operators)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old:
        load_operators(path)   # refuse to append to a file the receiver would refuse
    token = secrets.token_urlsafe(32)
    label = " ".join(name.split())
    atomic_write(path, (old + ("" if not old or old.endswith("\n") else "\n")
                        + f"{token_hash(token)}  # {label}\n").encode(), mode=0o600)
    click.echo(token)


@command.command("enroll")
@click.argument("cert", type=click.Path(exists=True, dir_okay=False))
@db_option
@trust_option
@json_option
def enroll_cmd(cert, db, trust, as_json) -> None:
    """Register a device certificate signed by the provisioning authority.

    \b
    Example:
      uchastok receiver enroll device-cert.json --db central.db --trust provisioning.pub
    """

    out = enroll_file(db, trust, cert)
    if as_json:
        echo_json(out)
    else:
        click.echo(f"enrolled {out['device_id']} for station {out['station_id']} ({out['cert_ref']})")


@command.command("register-national-list")
@db_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def register_national_list_cmd(db, file) -> None:
    """Load the national list (PIN, home station, home district) for the online claims.

    FILE is a CSV whose header names pin, home_station and home_district (other
    columns are ignored: a remote-voting site's voters.csv will do). Every row is
    checked before anything is stored; a bad row names its line and stores nothing.

    \b
    Example:
      uchastok receiver register-national-list --db central.db national.csv
    """

    storage = open_storage(db)
    try:
        n = register_national_list(storage, file)
    except NationalListError as e:
        raise click.ClickException(str(e)) from None
    finally:
        storage.close()
    click.echo(f"registered {n} voters of the national list")


@command.command("results")
@db_option
@click.option("--level", type=click.Choice(["region", "oik", "tik", "uik"]), default="region",
              show_default=True)
@json_option
def results_cmd(db, level, as_json) -> None:
    """Print preliminary results from checked protocols, and the stations held back.

    \b
    Example:
      uchastok receiver results --db central.db --level tik --json
    """

    out = report(db, "results", level=level)
    if as_json:
        return echo_json(out)
    for g in out["groups"]:
        click.echo(f"{level} {g['code']} {g['name'] or ''}: {g['stations']} stations,"
                   f" {g['voters_identified']} of {g['voters_on_list']} identified")
        for cid, t in sorted(g["contests"].items()):
            click.echo(f"  {cid}: read {t['ballots_read']}, valid {t['valid']},"
                       f" invalid {t['invalid']}, blank {t['blank']}")
            for opt, n in sorted(t["votes"].items(), key=lambda kv: -kv[1]):
                share = t["shares"][opt]
                click.echo(f"    {opt:<20} {n:>8}  {'' if share is None else f'{share:.2%}'}")
    for h in out["held"]:
        click.echo(f"HELD {h['station']}: {'; '.join(h['reasons'])}")
    return None


@command.command("anomalies")
@db_option
@json_option
def anomalies_cmd(db, as_json) -> None:
    """Print rejections, chain gaps and voters identified at two stations.

    \b
    Example:
      uchastok receiver anomalies --db central.db
    """

    out = report(db, "anomalies")
    if as_json:
        return echo_json(out)
    for a in out["stored"]:
        click.echo(f"{a['at']} {a['code']} {a['device'] or '-'} {a['stream'] or '-'}"
                   f"#{a['seq'] if a['seq'] is not None else '-'} {a['detail']}")
    for g in out["gaps"]:
        click.echo(f"GAP {g['device']} {g['stream']}: contiguous {g['contiguous_seq']},"
                   f" highest {g['max_seq']}, missing {g['missing']}")
    for d in out["double_identification"]:
        click.echo(f"PIN {d['pin']} identified at {', '.join(d['stations'])}")
    for e in out.get("evidence", []):
        click.echo(f"EVIDENCE {e.get('code')} device {e.get('device') or '-'} station {e.get('station') or '-'}:"
                   f" {e.get('count')}")
    junk = out.get("unauthenticated", {})
    if junk.get("total"):
        click.echo(f"UNAUTHENTICATED {junk['total']} requests (per client: --json)")
    return None


@command.command("stations")
@db_option
@json_option
def stations_cmd(db, as_json) -> None:
    """Print which stations reported, which are verified and which are missing.

    \b
    Example:
      uchastok receiver stations --db central.db --json
    """

    out = report(db, "stations")
    if as_json:
        return echo_json(out)
    c = out["counts"]
    click.echo(f"registered {out['registered']}, reported {c['reported']}, with protocol"
               f" {c['with_protocol']}, verified {c['verified']}, missing {c['missing']}")
    for u in out["unverified"]:
        click.echo(f"UNVERIFIED {u['station']}: {'; '.join(u['reasons'])}")
    if out["missing"]:
        click.echo("MISSING " + " ".join(out["missing"]))
    return None

"""`uchastok verify`: an observer checks a protocol or envelope export offline."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import echo_json, json_option, pass_ctx
from sync import signing
from sync.canonical import parse
from sync.export import verify_export


@click.command(name="verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--cert", type=click.Path(exists=True, dir_okay=False),
              help="Device certificate (when FILE is a bare envelope).")
@click.option("--trust", type=click.Path(exists=True, dir_okay=False),
              help="Provisioning authority public key (default: the loaded package's).")
@json_option
@pass_ctx
def command(ctx, file, cert, trust, as_json) -> None:
    """Check an export (envelopes + device certificate) against the trust roots, offline.

    As strict as the receiver: canonical encoding, each kind on its stream, the stream among
    the certificate's roles, times real and within the certificate's validity, no two
    different envelopes at one seq, the chain between the seqs present. The hash printed
    per envelope is its envelope hash: the one on the paper protocol and at the centre.
    Exit status 0 when every envelope verifies, 1 otherwise (docs/protocol.md section 10).

    \b
    Example:
      uchastok verify protocol-export.json --trust provisioning.pub
      uchastok verify envelope.json --cert device-cert.json --trust provisioning.pub --json
    """


    trust_path = Path(trust) if trust else ctx.paths.provisioning_pub
    cert_doc = parse(Path(cert).read_bytes()) if cert else None
    report = verify_export(parse(Path(file).read_bytes()), signing.load_public_key(trust_path),
                           certificate=cert_doc)
    if as_json:
        echo_json(report.to_json())
    else:
        click.echo(f"device {report.device}  station {report.station}  election {report.election}")
        for e in report.envelopes:
            mark = "OK " if e.get("ok") else "BAD"
            click.echo(f"{mark} {e.get('stream', '?')}#{e.get('seq', '?')} {e.get('kind', '?')}"
                       f" {e.get('hash', '')} {e.get('error', '')}".rstrip())
        for p in report.problems:
            click.echo(f"BAD {p}")
        click.echo("verified" if report.ok else "NOT verified")
    if not report.ok:
        # SystemExit, not click's Exit: `uchastok` runs click with standalone_mode=False, where an
        # Exit becomes main()'s return value and the process ended 0 on a tampered file.
        raise SystemExit(1)

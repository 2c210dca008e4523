"""`uchastok fingerprint`: the technician's fingerprint tools (extract, match, search, synth)."""

from __future__ import annotations

import click

from biometrics.extract import WORKING_PPI
from biometrics.files import extract_file, match_files, search_file, synthesise
from cli.common import echo_json, json_option


@click.group(name="fingerprint")
def command() -> None:
    """Fingerprint images, ISO/IEC 19794-2 templates, 1:1 and 1:N matching.

    \b
    Example:
      uchastok fingerprint synth --seed 7 --impression 0 -o f7-0.png
      uchastok fingerprint extract f7-0.png -o f7-0.iso
    """


def ppi_option(f):
    return click.option("--ppi", type=float, default=WORKING_PPI, show_default=True,
                        help="Resolution of the image(s) in pixels per inch; resampled to 500 "
                             "before extraction. A record carries its own.")(f)


def _minutiae_json(template) -> list[dict]:
    return [{"kind": str(m.kind), "x": m.x, "y": m.y, "angle_deg": m.angle_deg,
             "quality": m.quality} for m in template.minutiae]


@command.command("extract")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the ISO/IEC 19794-2:2005 record here (only if the capture is usable).")
@ppi_option
@json_option
def extract_command(image: str, output: str | None, ppi: float, as_json: bool) -> None:
    """Extract minutiae from IMAGE (PNG/PGM/TIFF/BMP of any size, or a raw 4-bit sensor dump);
    print count and quality.

    A poor capture (blank, saturated, partial, too few minutiae, a resolution
    that does not fit the ridges) is reported as "retry" with its reason and no
    record is written (exit status 1 with -o). The record is at 500 ppi.

    \b
    Example:
      uchastok fingerprint extract live.raw -o live.iso --json
      uchastok fingerprint extract scan.tif --ppi 569 -o scan.iso
    """

    result = extract_file(image, output, ppi)
    if as_json:
        echo_json({"image": image, "status": result.status, "reason": result.reason,
                   "quality": result.quality, "minutiae_count": len(result.template.minutiae),
                   "area_fraction": round(result.area_fraction, 3),
                   "ridge_period": round(result.ridge_period, 2),
                   "output": output if output and result.ok else None,
                   "minutiae": _minutiae_json(result.template)})
    elif result.ok:
        click.echo(f"ok: {len(result.template.minutiae)} minutiae, quality {result.quality}"
                   + (f", record written to {output}" if output else ""))
    else:
        click.echo(f"retry ({result.reason}): ask the voter to press again; quality "
                   f"{result.quality}")
    if output and not result.ok:
        raise click.ClickException(f"capture refused ({result.reason}); no record written")


@command.command("match")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", type=click.Path(exists=True, dir_okay=False))
@click.option("--fmr", type=float, default=None,
              help="Target false-match rate of the threshold (default: the calibrated one).")
@ppi_option
@json_option
def match_command(a: str, b: str, fmr: float | None, ppi: float, as_json: bool) -> None:
    """Compare A and B (each an image or an ISO/ANSI record); print score and decision.

    \b
    Example:
      uchastok fingerprint match live.png enrolled.iso --json
    """

    r = match_files(a, b, fmr, ppi)
    d = r.decision
    if as_json:
        echo_json({"a": a, "b": b, "score": round(r.score, 6), "match": d.match,
                   "threshold": d.threshold, "target_fmr": d.target_fmr, "reason": d.reason,
                   "a_status": r.a.reason or "ok", "b_status": r.b.reason or "ok"})
        return
    for p in (r.a, r.b):
        if not p.usable:
            click.echo(f"{p.path}: retry ({p.reason}): cannot match")
    verdict = "MATCH" if d.match else "no match"
    click.echo(f"score {r.score:.4f}: {verdict} (threshold {d.threshold:.4f} for FMR "
               f"{d.target_fmr:g}{', ' + d.reason if d.reason else ''})")


@command.command("search")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("--gallery", "gallery", required=True, type=click.Path(exists=True),
              help="Directory of ISO records, templates.csv (pin,finger,iso_base64), a package "
                   "directory holding it, or a station's identify.db.")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--fmr", type=float, default=None, help="Target false-match rate of the threshold.")
@ppi_option
@json_option
def search_command(image: str, gallery: str, top: int, fmr: float | None, ppi: float,
                   as_json: bool) -> None:
    """Search IMAGE (or a record) in a gallery; print the top candidates with decisions.

    \b
    Example:
      uchastok fingerprint search live.raw --gallery package/templates.csv --top 3
      uchastok fingerprint search live.raw --gallery /var/lib/uchastok/identify.db
    """

    r = search_file(image, gallery, top, fmr, ppi)
    rows = [{"key": c.key, "score": round(c.score, 6), "match": d.match,
             "threshold": d.threshold, "target_fmr": d.target_fmr}
            for c, d in zip(r.candidates, r.decisions, strict=True)]
    if as_json:
        echo_json({"image": image, "status": r.probe.reason or "ok",
                   "gallery_size": r.gallery_size, "candidates": rows})
        return
    if not r.probe.usable:
        click.echo(f"retry ({r.probe.reason}): ask the voter to press again")
        return
    if not rows:
        click.echo(f"no candidate among {r.gallery_size} templates")
    for i, row in enumerate(rows, 1):
        click.echo(f"{i}. {row['key']}  score {row['score']:.4f}  "
                   f"{'MATCH' if row['match'] else 'no match'}")


@command.command("synth")
@click.option("--seed", required=True, type=int, help="Synthetic finger seed.")
@click.option("--impression", default=0, show_default=True, type=click.IntRange(0, None),
              help="Press index (0, 1: enrolment; 2+: voting day).")
@click.option("--condition", type=click.Choice(["normal", "dry", "wet", "partial"]),
              help="Force the skin/contact condition.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="PNG/PGM by suffix, or .raw for the sensor's 4-bit dump.")
@json_option
def synth_command(seed: int, impression: int, condition: str | None, output: str,
                  as_json: bool) -> None:
    """Render one press of a synthetic finger as the sensor would (256x288, 16 greys).

    \b
    Example:
      uchastok fingerprint synth --seed 42 --impression 3 -o press.raw
    """

    synthesise(seed, impression, output, condition)
    if as_json:
        echo_json({"seed": seed, "impression": impression, "condition": condition,
                   "output": output})
    else:
        click.echo(f"wrote {output}")

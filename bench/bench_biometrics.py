"""Benchmark of the fingerprint engine, side by side with NIST NBIS: real sets and synthetic fingers.

Real sets (``--real DIR[:PPI]``, repeatable; files ``<finger>_<impression>.tif``
(or .bmp/.png/.pgm), e.g. an FVC "B" set of 10 fingers x 8 impressions; PPI
defaults to 500). Nothing is downloaded: the sets are read from the given
directories (docs/biometrics.md says where each came from). Each image is
resampled to 500 ppi by the engine's own ``resample`` (and, with ``--window
256x288``, cut to the station's sensor window around the print's centre);
NBIS (mindtct + Bozorth3) gets exactly that image as PNG, ours gets it too
(or the original with its ppi, which it resamples identically). Protocol:
every pair of images of a set, the later impression as the probe: same
finger = genuine, different fingers = impostor. An image an extractor refuses
scores 0 in all its pairs (it counts against FNMR, never for FMR) and counts
as a failure to enrol (FTE). Rank-1: every impression but the first against
the first impressions of all the set's fingers. Per set and pooled: EER, FNMR
at FMR 0.1% and 0.01% (a set of 10 fingers has 2,880 impostor pairs: there
FMR 0.01% means no impostor above), FNMR and FMR at the shipped threshold
(``biometrics/calibration.json``), FTE, rank-1, ms per extraction; then ms per
1:N search at N = 5,000 (the sets' templates plus rotated, shifted copies) and
the ratio to an exhaustive Bozorth3 loop over N mindtct templates.

``--calibrate`` writes ``biometrics/calibration.json`` from the impostor
scores of the given real sets (every pair of images of different fingers,
across the sets too, on the full images and cut to the station's window),
with the sets named in the file. ``--interop``
(MINEX-style) also enrols with mindtct minutiae written as ISO/IEC 19794-2 by
our codec and probes with ours (and the reverse), all scored by our matcher.
``--quality`` compares our capture quality with NFIQ 2.

Synthetic (no ``--real``): the station's protocol on synthetic fingers: each
finger enrols impressions 0 and 1; impressions 2.. are voting-day probes
scored against the best of the two; fillers for 1:N from 50 other fingers.
There ``--calibrate`` writes ``biometrics/calibration-synthetic.json`` (every
probe against every enrolled press of every other finger): the demo's and the
tests' thresholds, never the shipped ones.

    .venv/bin/python bench/bench_biometrics.py --real /data/fvc2002/DB1_B \
        --real /data/fvc2002/DB2_B:569 --real /data/fvc2002/DB3_B
    .venv/bin/python bench/bench_biometrics.py --real ... --calibrate     # real impostors
    .venv/bin/python bench/bench_biometrics.py                 # synthetic, 100 fingers x 8
    .venv/bin/python bench/bench_biometrics.py --quick         # synthetic, 20 fingers x 6
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.extract import CAPTURE_MIN_QUALITY, ISO_ANGLE_UNIT, extract, resample  # noqa: E402
from biometrics.files import read_image  # noqa: E402
from biometrics.iso19794 import Minutia, MinutiaKind, Template, decode, encode  # noqa: E402
from biometrics.match import (  # noqa: E402
    SYNTHETIC_CALIBRATION_FILE,
    Calibration,
    Gallery,
    compare,
    comparisons,
    cylinders,
    decide_attempt,
    default_calibration,
)
from biometrics.synthetic import SyntheticFinger  # noqa: E402


def error_rates(genuine, impostor):
    """EER and FNMR at FMR 0.1% / 0.01% (threshold: fewest impostors allowed above)."""
    g = np.sort(np.asarray(genuine, float))
    i = np.sort(np.asarray(impostor, float))
    thresholds = np.unique(np.concatenate([g, i, [np.inf]]))
    fmr = 1 - np.searchsorted(i, thresholds, side="left") / len(i)
    fnmr = np.searchsorted(g, thresholds, side="left") / len(g)
    k = int(np.argmin(np.abs(fmr - fnmr)))
    eer = (fmr[k] + fnmr[k]) / 2
    out = {"eer": eer}
    for target in (1e-3, 1e-4):
        ok = fmr <= target
        out[target] = float(fnmr[ok].min()) if ok.any() else float("nan")
    return out


def fillers(count, seed_base, rng):
    """Cheap gallery padding: templates of 50 other fingers, rotated, shifted, jittered."""
    base = []
    s = seed_base + 900_000
    while len(base) < 50:
        r = extract(SyntheticFinger(s).impression(0))
        s += 1
        if r.ok:
            base.append(r.template)
    out = []
    for n in range(count):
        t = base[n % len(base)]
        a = rng.uniform(-np.pi, np.pi)
        c, si = np.cos(a), np.sin(a)
        dx, dy = rng.normal(0, 20, 2)
        ms = []
        for m in t.minutiae:
            u, v = m.x - 128, m.y - 144
            x = int(round(128 + c * u - si * v + dx + rng.normal(0, 2)))
            y = int(round(144 + si * u + c * v + dy + rng.normal(0, 2)))
            if 0 <= x < 256 and 0 <= y < 288:
                ms.append(Minutia(m.kind, x, y, (m.angle_deg - np.degrees(a)) % 360, m.quality))
        out.append(Template(256, 288, 197, 197, 0, 0, t.quality, tuple(ms)))
    return out


def load_nbis(nfiq2: bool = False):
    try:
        import nbis  # noqa: PLC0415 - lazy: the optional peer (x86-64 wheels only)
    except Exception as e:  # noqa: BLE001 - any import failure means no peer
        return None, f"{type(e).__name__}: {e}"
    try:
        settings = nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                              check_fingerprint=False, compute_nfiq2=nfiq2,
                                              ppi=500.0)
        return nbis.new_nbis_extractor(settings), ""
    except Exception as e:  # noqa: BLE001
        return None, f"{type(e).__name__}: {e}"


# -- real sets ---------------------------------------------------------------

STATION_WINDOW = (288, 256)  # rows, columns of the station's sensor at 500 ppi
IMAGE_NAME = re.compile(r"^(\d+)_(\d+)\.(tif|tiff|bmp|png|pgm)$", re.IGNORECASE)


@dataclass
class RealSet:
    name: str
    ppi: float
    originals: dict = field(default_factory=dict)  # (finger, impression) -> native image
    images: dict = field(default_factory=dict)  # the same at 500 ppi (and windowed)


def parse_real(spec: str) -> tuple[Path, float]:
    """``DIR`` or ``DIR:PPI``."""
    head, sep, tail = spec.rpartition(":")
    if sep and re.fullmatch(r"\d+(\.\d+)?", tail):
        return Path(head), float(tail)
    return Path(spec), 500.0


def print_centre(img: np.ndarray) -> tuple[int, int]:
    """Row and column of the centre of the ridge energy (where the finger touched)."""
    f = img.astype(np.float32)
    band = cv2.GaussianBlur(f, (0, 0), 1.0) - cv2.GaussianBlur(f, (0, 0), 4.0)
    energy = cv2.GaussianBlur(band * band, (0, 0), 12)
    weight = np.maximum(energy - np.percentile(energy, 50), 0)
    rows, cols = np.indices(img.shape)
    total = weight.sum() or 1.0
    return int((weight * rows).sum() / total), int((weight * cols).sum() / total)


def window(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The ``shape`` window of a 500-ppi image around the print, padded with its background."""
    h, w = shape
    cy, cx = print_centre(img)
    background = int(np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])))
    padded = cv2.copyMakeBorder(img, h, h, w, w, cv2.BORDER_CONSTANT, value=background)
    top, left = cy + h - h // 2, cx + w - w // 2
    return padded[top:top + h, left:left + w].copy()


def load_real(spec: str, shape: tuple[int, int] | None) -> RealSet:
    path, ppi = parse_real(spec)
    if not path.is_dir():
        raise SystemExit(f"--real {spec}: not a directory")
    rs = RealSet(f"{path.parent.name}/{path.name}", ppi)
    for f in sorted(path.iterdir()):
        m = IMAGE_NAME.match(f.name)
        if not m:
            continue
        key = (int(m.group(1)), int(m.group(2)))
        original = read_image(f)
        rs.originals[key] = original
        img = resample(original, ppi)
        rs.images[key] = window(img, shape) if shape else img
    if not rs.images:
        raise SystemExit(f"--real {spec}: no images named <finger>_<impression>.tif/.bmp/.png")
    return rs


def mindtct_template(minutiae, shape: tuple[int, int]) -> Template:
    """mindtct's minutiae as an ISO/IEC 19794-2 record, through our codec.

    nbis-py reports x, y in image pixels (origin top left, y down) and the
    angle in degrees counter-clockwise from the x axis as seen with y up,
    pointing along the ridge (ending) or into the valley between the branches
    (bifurcation): the ISO convention, checked on co-located minutiae of both
    extractors (median angle difference 5.6 degrees, no offset). Angles are
    quantised to the ISO unit, reliability (0-1) becomes quality 0-100.
    """
    h, w = shape
    ms = []
    for m in minutiae:
        x, y = m.x(), m.y()
        if not (0 <= x < w and 0 <= y < h):
            continue
        kind = MinutiaKind.ENDING if "END" in str(m.kind()).upper() else MinutiaKind.BIFURCATION
        angle = (round((m.angle() % 360.0) / ISO_ANGLE_UNIT) % 256) * ISO_ANGLE_UNIT
        ms.append(Minutia(kind, x, y, angle, int(np.clip(round(m.reliability() * 100), 0, 100))))
    t = Template(w, h, 197, 197, 0, 0, 0, tuple(ms))
    return decode(encode(t))


def rates(genuine, impostor, threshold=None) -> dict:
    out = error_rates(genuine, impostor)
    out.update(genuine=len(genuine), impostor=len(impostor))
    if threshold is not None:
        out["fnmr_thr"] = float(np.mean(np.asarray(genuine) < threshold))
        out["fmr_thr"] = float(np.mean(np.asarray(impostor) >= threshold))
    return out


def set_pairs(keys):
    """(probe, enrolled, genuine) for every pair of a set, the later impression probing."""
    for a, b in itertools.combinations(sorted(keys), 2):
        yield b, a, a[0] == b[0]


def rank1(keys, score_of) -> float:
    """Each non-first impression against the first impression of every finger of the set."""
    firsts = {}
    for f, k in sorted(keys):
        firsts.setdefault(f, (f, k))
    probes = [key for key in sorted(keys) if key not in firsts.values()]
    hits = 0
    for p in probes:
        scores = {f: score_of(p, e) for f, e in firsts.items()}
        best = max(scores.values())
        hits += best > 0 and scores[p[0]] == best and list(scores.values()).count(best) == 1
    return hits / max(len(probes), 1)


def pct(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.2f}%"


def print_table(title: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> None:
    print(f"\n{title}")
    print("| figure | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")


def run_real(args) -> int:
    shape = tuple(int(v) for v in args.window.lower().split("x"))[::-1] if args.window else None
    sets = [load_real(spec, shape) for spec in args.real]
    cal = default_calibration()
    thr = cal.threshold()
    print(f"real sets: {', '.join(f'{r.name} ({len(r.images)} images, {r.ppi:g} ppi)' for r in sets)}"
          f"{f'; cut to the {args.window} window' if shape else ''}; shipped threshold {thr:.4f} "
          f"(target FMR {cal.target_fmr:g}, from: {cal.source})")
    extractor, why = (None, "--no-nbis") if args.no_nbis else load_nbis(args.quality)
    if extractor is None:
        print(f"NBIS peer: not available ({why}); pip install -e '.[bench]' (x86-64 only)")
    per_set, pooled = [], {"ours": ([], []), "nbis": ([], []), "thr": ([], [])}
    everything = {}  # (set index, finger, impression) -> extraction, for 1:N and calibration
    nb_all = {}
    for si, rs in enumerate(sets):
        res, ext_ms = {}, []
        for key, img in rs.images.items():
            t = time.perf_counter()
            res[key] = extract(img) if shape else extract(rs.originals[key], ppi=rs.ppi)
            ext_ms.append((time.perf_counter() - t) * 1000)
            everything[si, *key] = res[key]
        cyl = {k: cylinders(r.template) for k, r in res.items()}
        g, i = [], []
        for p, e, same in set_pairs(res):
            (g if same else i).append(compare(cyl[p], cyl[e]))
        fte = sum(not r.ok for r in res.values())
        reasons = {}
        for r in res.values():
            if not r.ok:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
        ours = rates(g, i, thr)
        ours.update(fte=fte, n=len(res), reasons=reasons, ms=statistics.median(ext_ms),
                    rank1=rank1(res, lambda p, e, cyl=cyl: compare(cyl[p], cyl[e])),
                    minutiae=np.mean([len(r.template.minutiae) for r in res.values() if r.ok]
                                     or [0]))
        pooled["ours"][0].extend(g)
        pooled["ours"][1].extend(i)
        peer = None
        if extractor is not None:
            nb, nb_ms, nb_fail = {}, [], 0
            for key, img in rs.images.items():
                png = cv2.imencode(".png", img)[1].tobytes()
                t = time.perf_counter()
                try:
                    nb[key] = extractor.extract_minutiae(png)
                except Exception:  # noqa: BLE001 - mindtct refusing an image is a failure
                    nb[key] = None
                    nb_fail += 1
                nb_ms.append((time.perf_counter() - t) * 1000)
                nb_all[si, *key] = (nb[key], img.shape)

            def bz(p, e, nb=nb):
                return 0 if nb[p] is None or nb[e] is None else nb[p].compare(nb[e])

            g2, i2 = [], []
            for p, e, same in set_pairs(nb):
                (g2 if same else i2).append(bz(p, e))
            peer = rates(g2, i2)
            peer.update(fte=nb_fail, n=len(nb), ms=statistics.median(nb_ms), rank1=rank1(nb, bz),
                        minutiae=np.mean([len(m.get()) for m in nb.values() if m is not None]))
            pooled["nbis"][0].extend(g2)
            pooled["nbis"][1].extend(i2)
        per_set.append((rs, ours, peer))
        reason_text = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"
        print(f"{rs.name}: ours EER {pct(ours['eer'])}, refused {fte}/{len(res)} "
              f"({reason_text}); NBIS EER {pct(None if peer is None else peer['eer'])}")

    columns = []
    for rs, *_ in per_set:
        columns += [f"{rs.name} ours", f"{rs.name} NBIS"]
    if len(sets) > 1:
        columns += ["pooled ours", "pooled NBIS"]
        po = rates(*pooled["ours"], thr)
        pn = rates(*pooled["nbis"]) if pooled["nbis"][0] else None
        po.update(fte=sum(o["fte"] for _, o, *_ in per_set), n=sum(o["n"] for _, o, *_ in per_set),
                  ms=statistics.median([o["ms"] for _, o, *_ in per_set]),
                  rank1=np.mean([o["rank1"] for _, o, *_ in per_set]),
                  minutiae=np.mean([o["minutiae"] for _, o, *_ in per_set]))
        if pn is not None:
            pn.update(fte=sum(p["fte"] for _, _, p, *_ in per_set),
                      n=sum(p["n"] for _, _, p, *_ in per_set),
                      ms=statistics.median([p["ms"] for _, _, p, *_ in per_set]),
                      rank1=np.mean([p["rank1"] for _, _, p, *_ in per_set]),
                      minutiae=np.mean([p["minutiae"] for _, _, p, *_ in per_set]))
        cols = [(o, p) for _, o, p, *_ in per_set] + [(po, pn)]
    else:
        cols = [(o, p) for _, o, p, *_ in per_set]

    def both(fmt):
        out = []
        for o, p in cols:
            out += [fmt(o, True), "-" if p is None else fmt(p, False)]
        return out

    rows = [
        ("genuine / impostor pairs", both(lambda r, us: f"{r['genuine']} / {r['impostor']}")),
        ("EER", both(lambda r, us: pct(r["eer"]))),
        ("FNMR at FMR 0.1%", both(lambda r, us: pct(r[1e-3]))),
        ("FNMR at FMR 0.01%", both(lambda r, us: pct(r[1e-4]))),
        (f"FNMR / FMR at the shipped threshold {thr:.4f}",
         both(lambda r, us: f"{pct(r['fnmr_thr'])} / {pct(r['fmr_thr'])}" if us else "-")),
        ("failure to enrol (refused)", both(lambda r, us: f"{r['fte']} of {r['n']}")),
        ("rank-1 (vs first impressions)", both(lambda r, us: pct(r["rank1"]))),
        ("minutiae per image (mean)", both(lambda r, us: f"{r['minutiae']:.1f}")),
        ("ms per extraction (median)", both(lambda r, us: f"{r['ms']:.1f}")),
    ]
    print_table("Real sets: same images, same pairs", columns, rows)

    if args.calibrate:
        calibrate_real(sets)
    if args.interop and extractor is not None:
        interop(sets, everything, nb_all)
    two_fingers(sets, everything, cal)
    if args.quality:
        quality_report(sets, everything, nb_all, thr)
    sizes = [int(v) for v in args.sizes.split(",") if v]
    if sizes:
        search_real(sizes, everything, nb_all, extractor is not None)
    return 0


def two_fingers(sets, everything, cal) -> dict:
    """The station's two-finger rule (biometrics/match.py ``decide_attempt``) on real fingers.

    Voters: consecutive fingers of a set (1+2, 3+4, ...), each finger enrolled
    from its first impression (two templates a voter, as the register sends).
    A voting-day attempt with impression k: the first finger's press compared
    with both templates; if it does not match, the second finger's press k.
    Every comparison is held to the threshold of the target FMR / (2 templates x
    2 captures). Impostor attempts: every other voter's two fingers (same press
    index) against the voter's templates, within and across the sets. Beside
    it, one finger: the first finger's press against its own template at the
    target's threshold.
    """
    cyl = {k: cylinders(r.template) for k, r in everything.items()}
    voters = []  # (set, finger a, finger b, first impression a, first impression b)
    for si, _rs in enumerate(sets):
        keys = sorted(k[1:] for k in everything if k[0] == si)
        fingers = sorted({f for f, _ in keys})
        first = {f: min(k for g, k in keys if g == f) for f in fingers}
        voters += [(si, a, b, first[a], first[b]) for a, b in zip(fingers[0::2], fingers[1::2], strict=False)]
    thr1 = cal.threshold()
    try:
        thr2 = cal.threshold(cal.target_fmr / comparisons(2, 2))
    except KeyError as e:
        print(f"\ntwo fingers: {e} (rerun --calibrate)")
        return {}
    presses = sorted({k[2] for k in everything})

    def attempt(v, w, k):
        """Voter w's fingers (press k) at voter v's enrolment: (one-finger score, first, second)."""
        si, a, b, fa, fb = v
        sw, aw, bw, _, _ = w
        if (sw, aw, k) not in cyl or (sw, bw, k) not in cyl or k in (fa, fb) and v == w:
            return None
        enrolled = [cyl[si, a, fa], cyl[si, b, fb]]
        s1 = [compare(cyl[sw, aw, k], e) for e in enrolled]
        s2 = [compare(cyl[sw, bw, k], e) for e in enrolled]
        return s1[0], max(s1), max(s2)

    g = {"one": 0, "first": 0, "two": 0, "n": 0}
    im = {"one": 0, "first": 0, "two": 0, "n": 0}
    for v in voters:
        for w in voters:
            for k in presses:
                r = attempt(v, w, k)
                if r is None:
                    continue
                one, first, second = r
                ok_one = one >= thr1
                ok_first = decide_attempt(first, 2, 2, cal).match
                ok_two = ok_first or decide_attempt(second, 2, 2, cal).match
                if v == w:
                    g["n"] += 1
                    g["one"] += not ok_one
                    g["first"] += not ok_first
                    g["two"] += not ok_two
                else:
                    im["n"] += 1
                    im["one"] += ok_one
                    im["first"] += ok_first
                    im["two"] += ok_two
    n, m = max(g["n"], 1), max(im["n"], 1)
    out = {"genuine": g["n"], "impostor": im["n"], "thr1": thr1, "thr2": thr2,
           "fnmr_one": g["one"] / n, "fmr_one": im["one"] / m, "fnmr_first": g["first"] / n,
           "fnmr_two": g["two"] / n, "fmr_two": im["two"] / m}
    print(f"\ntwo fingers: {len(voters)} voters of two fingers, {g['n']} genuine and {im['n']} impostor "
          f"attempts; each capture against both templates, the second finger only when the first "
          f"does not match, each comparison at FMR {cal.target_fmr / 4:g} = {thr2:.4f}")
    print_table("Two enrolled fingers (the station's rule)", ["FNMR", "FMR"], [
        (f"one finger, one template, threshold {thr1:.4f}",
         [pct(out["fnmr_one"]), pct(out["fmr_one"])]),
        (f"two fingers, first capture only, {thr2:.4f}", [pct(out["fnmr_first"]), "-"]),
        (f"two fingers with the second-finger fallback, {thr2:.4f}",
         [pct(out["fnmr_two"]), pct(out["fmr_two"])]),
    ])
    return out


def spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def quality_report(sets, everything, nb_all, thr) -> None:
    """The capture-quality gate: our quality against NFIQ 2, and genuine comparisons whose probe the
    gate accepts against those it refuses (at the shipped threshold), per set and pooled."""
    with_nfiq = bool(nb_all)
    cyl = {k: cylinders(r.template) for k, r in everything.items()}
    columns, rows = [], {"refused": [], "acc": [], "ref": [], "rho": [], "nfiq": []}
    groups = [[si] for si in range(len(sets))] + ([list(range(len(sets)))] if len(sets) > 1 else [])
    for group in groups:
        columns.append(sets[group[0]].name if len(group) == 1 else "pooled")
        keys = [k for k in sorted(everything) if k[0] in group]
        q = {k: everything[k].quality for k in keys}
        gate = {k: q[k] < CAPTURE_MIN_QUALITY for k in keys}
        acc, ref = [], []
        for si in group:
            ks = [k[1:] for k in keys if k[0] == si]
            for p, e, same in set_pairs(ks):
                if same:
                    s = compare(cyl[si, *p], cyl[si, *e])
                    (ref if gate[si, *p] else acc).append(s < thr)
        rows["refused"].append(f"{sum(gate.values())} of {len(keys)}")
        rows["acc"].append(f"{pct(np.mean(acc)) if acc else '-'} ({len(acc)})")
        rows["ref"].append(f"{pct(np.mean(ref)) if ref else '-'} ({len(ref)})")
        if with_nfiq:
            # NFIQ 2 of the images mindtct read (one it refused counts as NFIQ 2 = 0)
            nfiq = np.array([nb_all[k][0].quality().score if nb_all.get(k, (None,))[0] is not None
                             else 0.0 for k in keys], float)
            ours = np.array([q[k] for k in keys], float)
            rows["rho"].append(f"{spearman(ours, nfiq):.2f}")
            # NFIQ 2 refusing as many captures as our gate: which refuses the failures better?
            n_ref = sum(gate.values())
            cut = np.sort(nfiq)[n_ref] if n_ref < len(nfiq) else np.inf
            nf_gate = {k: v < cut for k, v in zip(keys, nfiq, strict=True)}
            nacc, nref = [], []
            for si in group:
                ks = [k[1:] for k in keys if k[0] == si]
                for p, e, same in set_pairs(ks):
                    if same:
                        (nref if nf_gate[si, *p] else nacc).append(
                            compare(cyl[si, *p], cyl[si, *e]) < thr)
            rows["nfiq"].append(f"{pct(np.mean(nacc)) if nacc else '-'} / "
                                f"{pct(np.mean(nref)) if nref else '-'}")
    table = [(f"captures under the gate (quality < {CAPTURE_MIN_QUALITY})", rows["refused"]),
             (f"FNMR at {thr:.4f}, probe accepted by the gate", rows["acc"]),
             (f"FNMR at {thr:.4f}, probe refused by the gate", rows["ref"])]
    if with_nfiq:
        table += [("Spearman: our quality vs NFIQ 2", rows["rho"]),
                  ("NFIQ 2 refusing as many: FNMR accepted / refused", rows["nfiq"])]
    print_table("Capture quality gate (genuine pairs by the probe's quality; the station asks for "
                "another press under the gate)", columns, table)


def calibrate_real(sets) -> None:
    """Thresholds from every impostor pair of the given real sets (within and across sets),
    on the full images (the register's scanners) and cut to the station's 256 x 288 window."""
    impostor = []
    for shape in (None, STATION_WINDOW):
        cyl = {}
        for si, rs in enumerate(sets):
            for key, original in rs.originals.items():
                img = resample(original, rs.ppi)
                cyl[si, *key] = cylinders(extract(window(img, shape) if shape else img).template)
        keys = sorted(cyl)
        impostor += [compare(cyl[b], cyl[a]) for a, b in itertools.combinations(keys, 2)
                     if a[:2] != b[:2]]
    names = ", ".join(f"{r.name} ({r.ppi:g} ppi)" for r in sets)
    new = Calibration.from_impostor_scores(
        impostor, source=f"real impostors: every pair of images of different fingers of {names}, "
                         "full images and cut to the station's 256x288 window "
                         "(bench_biometrics.py --calibrate)")
    new.save()
    print(f"\ncalibration written: {new.thresholds} (target FMR {new.target_fmr:g}) from "
          f"{new.impostor_scores} real impostor scores of {names}")


def interop(sets, everything, nb_all) -> None:
    """MINEX-style: templates from mindtct (ISO records by our codec) and from ours, crossed."""
    gens = {"ours": {}, "mindtct": {}}
    for k, r in everything.items():
        gens["ours"][k] = cylinders(r.template)
        m, shape = nb_all[k]
        gens["mindtct"][k] = cylinders(mindtct_template(m.get() if m is not None else [], shape))
    combos = [("ours", "ours"), ("mindtct", "ours"), ("ours", "mindtct"), ("mindtct", "mindtct")]
    columns = [rs.name for rs in sets] + (["pooled"] if len(sets) > 1 else [])
    rows_eer, rows_f4 = [], []
    for enrol, probe in combos:
        cells_eer, cells_f4, pg, pi = [], [], [], []
        for si, _rs in enumerate(sets):
            keys = [k[1:] for k in everything if k[0] == si]
            g, i = [], []
            for p, e, same in set_pairs(keys):
                (g if same else i).append(compare(gens[probe][si, *p], gens[enrol][si, *e]))
            r = error_rates(g, i)
            cells_eer.append(pct(r["eer"]))
            cells_f4.append(pct(r[1e-4]))
            pg += g
            pi += i
        if len(sets) > 1:
            r = error_rates(pg, pi)
            cells_eer.append(pct(r["eer"]))
            cells_f4.append(pct(r[1e-4]))
        label = f"{enrol} -> {probe}"
        rows_eer.append((f"EER, {label}", cells_eer))
        rows_f4.append((f"FNMR at FMR 0.01%, {label}", cells_f4))
    print_table("Interoperability (enrolled -> probe; our matcher; mindtct minutiae as ISO/IEC "
                "19794-2 records written and read by our codec)", columns, rows_f4 + rows_eer)


def search_real(sizes, everything, nb_all, with_nbis: bool) -> None:
    """1:N timing: the real templates plus fillers up to N.

    A filler is a real template mirrored (a mirrored finger is another
    finger: it matches neither the original nor its other impressions, and
    keeps real minutiae statistics), rotated, shifted and jittered.
    """
    rng = np.random.default_rng(1)
    ok = [(k, r.template) for k, r in everything.items() if r.ok]
    firsts = {}
    for k, t in sorted(ok):
        firsts.setdefault(k[:2], (k, t))
    items = [(f"{k[0]}-{k[1]}", t) for k, t in firsts.values()]
    probes = [(f"{k[0]}-{k[1]}", cylinders(t)) for k, t in sorted(ok)
              if firsts[k[:2]][0] != k][:60]
    pool = [t for _, t in ok]
    for n in sizes:
        pad = []
        while len(items) + len(pad) < n:
            t = pool[len(pad) % len(pool)]
            a = rng.uniform(-np.pi, np.pi)
            c, si = np.cos(a), np.sin(a)
            dx, dy = rng.normal(0, 20, 2)
            cx, cy = t.width / 2, t.height / 2
            ms = []
            for m in t.minutiae:
                u, v = cx - m.x, m.y - cy  # mirrored left to right
                x = int(round(cx + c * u - si * v + dx + rng.normal(0, 2)))
                y = int(round(cy + si * u + c * v + dy + rng.normal(0, 2)))
                if 0 <= x < t.width and 0 <= y < t.height:
                    ms.append(Minutia(m.kind, x, y, (180.0 - m.angle_deg - np.degrees(a)) % 360,
                                      m.quality))
            pad.append((f"filler{len(pad)}", Template(t.width, t.height, 197, 197, 0, 0,
                                                      t.quality, tuple(ms))))
        t0 = time.perf_counter()
        gallery = Gallery.build(items + pad)
        build_s = time.perf_counter() - t0
        times, hits = [], 0
        for key, p in probes:
            t0 = time.perf_counter()
            found = gallery.search(p, top=5)
            times.append(time.perf_counter() - t0)
            hits += bool(found) and found[0].key == key
        ours_ms = statistics.median(times) * 1000
        line = (f"\nours 1:N at N={n}: {ours_ms:.1f} ms median (p90 "
                f"{np.percentile(times, 90) * 1000:.1f}), rank-1 {hits}/{len(probes)} probes, "
                f"build {build_s:.1f} s, {gallery.nbytes / 2 ** 20:.0f} MiB")
        if with_nbis:
            nb_pool = [m for m, _ in nb_all.values() if m is not None]
            nb_gallery = [nb_pool[j % len(nb_pool)] for j in range(n)]
            bt = []
            for m in nb_pool[:3]:
                t0 = time.perf_counter()
                scores = [m.compare(x) for x in nb_gallery]
                _ = int(np.argmax(scores))
                bt.append(time.perf_counter() - t0)
            nb_ms = statistics.median(bt) * 1000
            line += (f"; NBIS exhaustive Bozorth3 over N mindtct templates: {nb_ms:.0f} ms; "
                     f"ours {nb_ms / ours_ms:.0f}x faster")
        print(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fingers", type=int, default=100)
    ap.add_argument("--impressions", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="20 fingers x 6 impressions, N=1000")
    ap.add_argument("--seed-base", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="1000,5000", help="gallery sizes N for 1:N timing")
    ap.add_argument("--no-nbis", action="store_true")
    ap.add_argument("--calibrate", action="store_true",
                    help="write biometrics/calibration.json from this run's impostors")
    ap.add_argument("--real", action="append", default=[], metavar="DIR[:PPI]",
                    help="a real set: <finger>_<impression>.tif/.bmp/.png files (repeatable)")
    ap.add_argument("--window", default="", metavar="WxH",
                    help="cut each real image to this window at 500 ppi (the station's: 256x288)")
    ap.add_argument("--interop", action="store_true",
                    help="real sets: mindtct templates (ISO records) against ours, MINEX-style")
    ap.add_argument("--quality", action="store_true",
                    help="real sets: our capture quality against NFIQ 2")
    args = ap.parse_args(argv)
    if args.real:
        if args.sizes == "1000,5000":
            args.sizes = "5000"
        return run_real(args)
    if args.quick:
        args.fingers, args.impressions, args.sizes = 20, 6, "1000"
    F, K = args.fingers, args.impressions
    sizes = [int(s) for s in args.sizes.split(",") if s]
    enrolled_idx, probe_idx = (0, 1), list(range(2, K))
    print(f"synthetic fingers: {F} x {K} impressions (enrol 0,1; probes 2..{K - 1}), "
          f"seed base {args.seed_base}")

    t0 = time.perf_counter()
    fingers = [SyntheticFinger(args.seed_base + f) for f in range(F)]
    masters = []
    for f in fingers:
        t = time.perf_counter()
        _ = f.master
        masters.append(time.perf_counter() - t)
    t = time.perf_counter()
    images = {(f, k): fingers[f].impression(k) for f in range(F) for k in range(K)}
    imp_ms = (time.perf_counter() - t) / len(images) * 1000
    print(f"generation: master {np.mean(masters) * 1000:.1f} ms, impression {imp_ms:.1f} ms "
          f"(total {time.perf_counter() - t0:.1f} s)")

    ext_times, results = [], {}
    for key, img in images.items():
        t = time.perf_counter()
        results[key] = extract(img)
        ext_times.append(time.perf_counter() - t)
    counts = [len(r.template.minutiae) for r in results.values() if r.ok]
    fta_enrol = sum(not results[f, k].ok for f in range(F) for k in enrolled_idx)
    fta_probe = sum(not results[f, k].ok for f in range(F) for k in probe_idx)
    reasons = {}
    for r in results.values():
        if not r.ok:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    print(f"ours extraction: {statistics.median(ext_times) * 1000:.1f} ms median, "
          f"minutiae mean {np.mean(counts):.1f} (min {min(counts)}, max {max(counts)}), "
          f"retry: enrol {fta_enrol}/{F * 2}, probes {fta_probe}/{F * len(probe_idx)} {reasons}")

    cyl = {key: cylinders(r.template) for key, r in results.items()}
    genuine, impostor, pair_times, single = [], [], [], []
    for f in range(F):
        for k in probe_idx:
            p = cyl[f, k]
            for g in range(F):
                t = time.perf_counter()
                each = [compare(p, cyl[g, e]) for e in enrolled_idx]
                pair_times.append((time.perf_counter() - t) / len(enrolled_idx))
                (genuine if g == f else impostor).append(max(each))
                if g != f:
                    single += each
    t = time.perf_counter()
    reps = 200
    a, b = results[0, 2].template, results[0, 0].template
    for _ in range(reps):
        compare(cylinders(a), cylinders(b))
    full_1to1 = (time.perf_counter() - t) / reps * 1000
    ours = error_rates(genuine, impostor)
    cal = default_calibration()
    thr = cal.threshold()
    fnmr_cal = float(np.mean(np.asarray(genuine) < thr))
    fmr_cal = float(np.mean(np.asarray(impostor) >= thr))
    print(f"ours 1:1: {np.mean(pair_times) * 1000:.3f} ms per comparison of prepared templates, "
          f"{full_1to1:.2f} ms including cylinder building; "
          f"{len(genuine)} genuine, {len(impostor)} impostor scores")
    print(f"ours accuracy: EER {ours['eer'] * 100:.2f}%  FNMR@FMR0.1% {ours[1e-3] * 100:.2f}%  "
          f"FNMR@FMR0.01% {ours[1e-4] * 100:.2f}%")
    print(f"ours at calibrated threshold {thr:.4f} (target FMR {cal.target_fmr:g}): "
          f"FNMR {fnmr_cal * 100:.2f}%  FMR {fmr_cal * 100:.4f}%")

    # Identification: gallery of all enrolled templates (+ fillers up to N).
    items = [(f"finger{f}", results[f, e].template) for f in range(F) for e in enrolled_idx]
    probes = [(f"finger{f}", cyl[f, k]) for f in range(F) for k in probe_idx if results[f, k].ok]
    all_probes = [(f"finger{f}", cyl[f, k]) for f in range(F) for k in probe_idx]
    gallery = Gallery.build(items)
    hits = sum(bool(r) and r[0].key == key
               for key, p in all_probes for r in [gallery.search(p, top=1)])
    print(f"ours rank-1 over {len(set(k for k, _ in items))} enrolled fingers: "
          f"{hits / len(all_probes) * 100:.2f}% of all probes, "
          f"{hits / max(len(probes), 1) * 100:.2f}% of accepted probes")
    rng = np.random.default_rng(args.seed_base)
    pad = fillers(max(sizes) - len(items), args.seed_base, rng) if sizes else []
    search_ms = {}
    for n in sizes:
        t = time.perf_counter()
        big = Gallery.build(items + [(f"filler{i}", pad[i]) for i in range(n - len(items))])
        build_s = time.perf_counter() - t
        times, hits = [], 0
        sample = probes[: min(len(probes), 100)]
        for key, p in sample:
            t = time.perf_counter()
            r = big.search(p, top=5)
            times.append(time.perf_counter() - t)
            hits += bool(r) and r[0].key == key
        search_ms[n] = statistics.median(times) * 1000
        print(f"ours 1:N at N={n}: {search_ms[n]:.1f} ms median (p90 "
              f"{np.percentile(times, 90) * 1000:.1f} ms), rank-1 {hits / len(sample) * 100:.1f}% "
              f"of {len(sample)} probes, gallery build {build_s:.1f} s, "
              f"{big.nbytes / 2 ** 20:.0f} MiB")

    if args.calibrate:
        new = Calibration.from_impostor_scores(
            single, source=f"synthetic impostors, for the demo and tests only (no evidence of accuracy): "
                           f"bench_biometrics.py --calibrate --seed-base {args.seed_base}: {F} synthetic "
                           f"fingers x {K} impressions, each probe {probe_idx[0]}..{K - 1} against each "
                           f"enrolled press {enrolled_idx} of every other finger")
        new.save(SYNTHETIC_CALIBRATION_FILE)
        print(f"synthetic calibration written to {SYNTHETIC_CALIBRATION_FILE.name}: {new.thresholds} "
              f"from {new.impostor_scores} impostor scores")

    if args.no_nbis:
        print("NBIS peer: skipped (--no-nbis)")
        return 0
    extractor, why = load_nbis()
    if extractor is None:
        print(f"NBIS peer: not available ({why}); pip install nbis-py (x86-64 only). Skipped.")
        return 0
    nb, nb_times, nb_fail = {}, [], 0
    for key, img in images.items():
        png = cv2.imencode(".png", img)[1].tobytes()
        t = time.perf_counter()
        try:
            nb[key] = extractor.extract_minutiae(png)
        except Exception:  # noqa: BLE001 - mindtct refusing an image is a failure to acquire
            nb[key] = None
            nb_fail += 1
        nb_times.append(time.perf_counter() - t)
    nb_counts = [len(m.get()) for m in nb.values() if m is not None]
    print(f"NBIS mindtct: {statistics.median(nb_times) * 1000:.1f} ms median, minutiae mean "
          f"{np.mean(nb_counts):.1f} (min {min(nb_counts)}, max {max(nb_counts)}) on our synthetic "
          f"images; ours {np.mean(counts):.1f}; failures {nb_fail}")
    g2, i2, bt, nb_hits = [], [], [], 0
    for f in range(F):
        for k in probe_idx:
            p = nb[f, k]
            row = []
            for g in range(F):
                t = time.perf_counter()
                s = 0 if p is None else max(
                    (p.compare(nb[g, e]) if nb[g, e] is not None else 0) for e in enrolled_idx)
                bt.append((time.perf_counter() - t) / len(enrolled_idx))
                (g2 if g == f else i2).append(s)
                row.append(s)
            # Rank-1 from the same scores: the own finger strictly above every other.
            nb_hits += row[f] > max(row[:f] + row[f + 1:], default=-1)
    peer = error_rates(g2, i2)
    print(f"NBIS Bozorth3 1:1: {np.mean(bt) * 1000:.3f} ms per comparison")
    print(f"NBIS accuracy: EER {peer['eer'] * 100:.2f}%  FNMR@FMR0.1% {peer[1e-3] * 100:.2f}%  "
          f"FNMR@FMR0.01% {peer[1e-4] * 100:.2f}%")
    print(f"NBIS rank-1 over {F} enrolled fingers: "
          f"{nb_hits / (F * len(probe_idx)) * 100:.2f}%")
    # 1:N by exhaustive Bozorth3 over N mindtct templates of our images (the
    # 800 repeated): Bozorth3's time depends on the templates, and templates
    # loaded from other sources are not its own.
    pool = [m for m in nb.values() if m is not None]
    for n in sizes:
        gallery_nb = [pool[i % len(pool)] for i in range(n)]
        times = []
        for f in range(min(F, 3)):
            p = nb[f, 2]
            if p is None:
                continue
            t = time.perf_counter()
            scores = [p.compare(m) for m in gallery_nb]
            _ = int(np.argmax(scores))
            times.append(time.perf_counter() - t)
        ms = statistics.median(times) * 1000
        print(f"NBIS 1:N at N={n}: {ms:.0f} ms (exhaustive Bozorth3); ours {search_ms[n]:.1f} ms: "
              f"{ms / search_ms[n]:.0f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())

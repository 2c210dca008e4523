"""The long fuzzing campaign: inputs tried and escapes, per parser of outside input.

Each target of tests/support/fuzz_targets.py (ISO 19794-2 records, ZFM framing, APDU and
BER-TLV, LDS files, MRZ, secure messaging, EF.SOD, a whole card read, the package loader,
canonical JSON, envelope and certificate verification, the receiver's batch handler,
scanner image files and arrays, the document printer's IPP messages and PWG raster
pages) is fed ``--inputs`` inputs (100,000 by default) by
the target's ``sample`` (the CI campaign's mutations drawn from ``random.Random``, about
20 times the inputs per second of Hypothesis), or else Hypothesis in generate-only mode.
No shrinking: the campaign goes on after an escape, which is counted by its exception
class and first message, with one example kept.
"accepted" counts the inputs the parser took (the rest it refused with a documented
exception): mutations of valid seeds reach past the first check. Escapes must be 0; the
exit status is 1 otherwise.

Run: ``.venv/bin/python bench/bench_fuzz.py [--inputs N] [--targets a,b] [--heavy] [--seed S]``
(``--heavy`` adds the targets that cost milliseconds per input: a card read, the package
on disk, the receiver's database, sheet images; ``--quick`` is 2,000 inputs each).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from fuzz_targets import ACCEPTED, BUILDERS, Escape, build  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402


def campaign(target, inputs: int, rng_seed: int) -> tuple[int, int, Counter, dict, float]:
    tried = accepted = 0
    escapes: Counter = Counter()
    examples: dict[str, str] = {}
    started = time.perf_counter()

    def feed(x) -> None:
        nonlocal tried, accepted
        tried += 1
        try:
            accepted += target.check(x) == ACCEPTED
        except Escape as e:
            key = str(e).splitlines()[0][:120]
            escapes[key] += 1
            examples.setdefault(key, repr(x)[:400])

    if target.sample is not None:  # the fast path: the same mutations from random.Random
        rng = random.Random(rng_seed)
        for _ in range(inputs):
            feed(target.sample(rng))
        return tried, accepted, escapes, examples, time.perf_counter() - started

    @seed(rng_seed)
    @settings(max_examples=inputs, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def run(x):
        feed(x)

    run()
    return tried, accepted, escapes, examples, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="2,000 inputs per target")
    ap.add_argument("--targets", default="", help="comma-separated names (default: all cheap ones)")
    ap.add_argument("--heavy", action="store_true", help="also the targets that cost ms per input")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args(argv)
    inputs = 2_000 if args.quick else args.inputs
    warnings.simplefilter("ignore")  # cryptography and PIL warn about the broken inputs
    names = [n for n in args.targets.split(",") if n] or list(BUILDERS)
    total_escapes = 0
    print(f"seed {args.seed}, {inputs} inputs per target")
    print(f"{'target':24} {'inputs':>9} {'accepted':>9} {'escapes':>8} {'s':>8} {'inputs/s':>9}")
    with tempfile.TemporaryDirectory(prefix="uchastok-fuzz-") as tmp:
        for name in names:
            target = build(name, Path(tmp) / name)
            if not target.cheap and not args.heavy and not args.targets:
                target.close()
                continue
            try:
                tried, accepted, escapes, examples, seconds = campaign(target, inputs, args.seed)
            finally:
                target.close()
            n = sum(escapes.values())
            total_escapes += n
            print(f"{name:24} {tried:9d} {accepted:9d} {n:8d} {seconds:8.1f} {tried / seconds:9.0f}",
                  flush=True)
            for key, count in escapes.most_common():
                print(f"    {count} x {key}\n      e.g. {examples[key]}")
    print(f"escapes: {total_escapes}")
    return 1 if total_escapes else 0


if __name__ == "__main__":
    sys.exit(main())

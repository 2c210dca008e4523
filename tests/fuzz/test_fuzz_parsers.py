"""The short fuzzing campaign: every parser of outside input, CI_EXAMPLES inputs each.

Targets and the exceptions each parser documents are in tests/support/fuzz_targets.py;
a target fails when anything else escapes (or a guarantee it states fails), and
Hypothesis prints the smallest input it found. The inputs are derandomized so CI is
repeatable; bench/bench_fuzz.py runs the long random campaign.
"""

from __future__ import annotations

import pytest
from fuzz_targets import BUILDERS, CI_EXAMPLES, build
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.fuzz, pytest.mark.filterwarnings("ignore")]

# The heavy targets (a whole card read, a package on disk, the receiver's database,
# sheet images) get fewer inputs so that the campaign stays well under a minute.
EXAMPLES = {"card-read-document": 40, "package-read": 60, "receiver-handle-batch": 80,
            "ballot-image-files": 60, "ballot-image-arrays": 25}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_only_documented_exceptions_escape(name, tmp_path):
    target = build(name, tmp_path)
    try:
        @settings(max_examples=EXAMPLES.get(name, CI_EXAMPLES), derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))
        @given(target.strategy)
        def fuzz(x):
            target.check(x)

        fuzz()
    finally:
        target.close()

"""A CEC-signed manifest whose values have the wrong types is a PackageError, never a crash.

Found by the long fuzz campaign (bench/bench_fuzz.py --heavy, target package-read): a list or
an object where a text was expected escaped as TypeError/AttributeError.
"""

import json

import pytest

from simulation.authority import load_or_create_key
from station.errors import PackageError
from station.package import read_package
from sync import signing
from sync.canonical import canonical


def _resign_manifest(pkg_dir, key, edit) -> None:
    m = json.loads((pkg_dir / "manifest.json").read_bytes())
    edit(m)
    mb = canonical(m)
    (pkg_dir / "manifest.json").write_bytes(mb)
    (pkg_dir / "manifest.sig").write_text(json.dumps({"signer": signing.key_id(signing.public_key(key)),
                                                      "signature": signing.b64(signing.sign(key, mb))}))


def _set(path, value):
    def edit(m):
        cur = m
        for k in path[:-1]:
            cur = cur[k]
        cur[path[-1]] = value
    return edit


CASES = {
    "style-contest-is-an-object": (("ballot_styles", 0, "contests", 0), {"a": 1}),
    "style-contest-is-a-list": (("ballot_styles", 0, "contests", 0), ["district-07"]),
    "voters-file-is-an-object": (("voters", "file"), {"a": 1}),
    "voters-rows-is-a-bool": (("voters", "rows"), True),
    "file-entry-is-a-list": (("files", "voters.csv"), [1, 2]),
    "file-size-is-text": (("files", "voters.csv", "bytes"), "12"),
    "patronymic-is-a-list": (("contests", 0, "candidates", 0, "patronymic"), ["x"]),
    "withdrawn-is-text": (("contests", 0, "candidates", 0, "withdrawn"), "no"),
    "party-is-a-number": (("contests", 0, "candidates", 0, "party"), 7),
}


@pytest.mark.parametrize("path, value", CASES.values(), ids=CASES.keys())
def test_wrong_value_types_are_refused_clearly(package, path, value):
    key = load_or_create_key(package.key)
    _resign_manifest(package.dir, key, _set(path, value))
    with pytest.raises(PackageError):
        read_package(package.dir, signing.public_key(key))


def test_the_untouched_package_still_reads(package):
    key = load_or_create_key(package.key)
    assert read_package(package.dir, signing.public_key(key)).election.contests

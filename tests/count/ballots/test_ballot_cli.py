"""`uchastok count print-ballots | test-deck | interpret`: thin commands over the library."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import cli


@pytest.fixture
def manifest_file(tmp_path, manifest):
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return p


def _run(tmp_path, *args):
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "count", *args],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_test_deck_then_interpret_json(tmp_path, manifest_file):
    out = tmp_path / "deck"
    info = json.loads(_run(tmp_path, "test-deck", "--package", str(manifest_file), "--out", str(out),
                           "--sheets", "8", "--dpi", "150", "--seed", "4", "--json"))
    assert info["sheets"] == 8
    doc = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    files = [str(out / s["file"]) for s in doc["sheets"]]
    readings = json.loads(_run(tmp_path, "interpret", *files, "--package", str(manifest_file),
                               "--json"))
    assert len(readings) == 8
    for s, r in zip(doc["sheets"], readings, strict=True):
        assert r["accepted"] == s["accepted"] or r["reason"] == "marginal-needs-review"
        if not s["accepted"]:
            assert r["reason"] == s["reason"]
        assert {"message_ky", "message_ru", "outcomes", "boxes", "marginal"} <= set(r)


def test_interpret_text_output(tmp_path, manifest_file):
    out = tmp_path / "deck"
    _run(tmp_path, "test-deck", "--package", str(manifest_file), "--out", str(out), "--sheets", "3",
         "--dpi", "150")
    first = json.loads((out / "expected.json").read_text(encoding="utf-8"))["sheets"][0]
    text = _run(tmp_path, "interpret", str(out / first["file"]), "--package", str(manifest_file))
    assert text.startswith(str(out / first["file"]))
    assert ": accepted " in text or ": returned [" in text


def test_print_ballots(tmp_path, manifest_file):
    out = tmp_path / "ballots"
    files = json.loads(_run(tmp_path, "print-ballots", "--package", str(manifest_file), "--out",
                            str(out), "--dpi", "150", "--json"))["files"]
    assert sorted(p.rsplit("/", 1)[1] for p in files) == [
        "ballots.pdf", "bs-district-07-150dpi.png", "bs-party-list-150dpi.png"]


def test_signed_package_directory(tmp_path, demo_package):
    """A real package directory is verified with its CEC key (demo: DIR.cec.pub)."""
    text = _run(tmp_path, "print-ballots", "--package", str(demo_package.dir), "--out", str(tmp_path / "b"),
                "--dpi", "150")
    assert "ballots.pdf" in text


def test_unverifiable_package_is_refused(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "count", "print-ballots",
                                 "--package", str(pkg), "--out", str(tmp_path / "b")])
    assert r.exit_code != 0
    assert "CEC public key" in str(r.exception) or "CEC public key" in r.output


@pytest.mark.parametrize("name", ["print-ballots", "test-deck", "interpret"])
def test_commands_have_an_example(name):
    r = CliRunner().invoke(cli, ["count", name, "--help"])
    assert r.exit_code == 0 and "Example:" in r.output and f"uchastok count {name}" in r.output

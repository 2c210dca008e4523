"""`uchastok fingerprint`: synth, extract, match, search on synthetic fingers, text and --json."""

import base64
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from biometrics.files import write_raw
from cli import cli, main
from cli.fingerprint import command


def run(*args):
    result = CliRunner().invoke(cli, ["fingerprint", *map(str, args)], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fp")
    for seed in (31, 32):
        for k in (0, 1, 3):
            assert run("synth", "--seed", seed, "--impression", k, "--condition", "normal",
                       "-o", d / f"s{seed}_{k}.png").exit_code == 0
    assert run("synth", "--seed", 31, "--impression", 4, "--condition", "normal",
               "-o", d / "live.raw").exit_code == 0
    return d


def test_every_command_has_an_example():
    assert "Example:" in command.help
    for sub in command.commands.values():
        assert "Example:" in sub.help, sub.name


def test_synth_writes_the_raw_sensor_format(files):
    assert (files / "live.raw").stat().st_size == 36_864


def test_extract_writes_a_record(files):
    r = run("extract", files / "s31_0.png", "-o", files / "s31_0.iso")
    assert r.exit_code == 0 and r.output.startswith("ok:")
    assert (files / "s31_0.iso").read_bytes()[:8] == b"FMR\x00 20\x00"
    data = json.loads(run("extract", files / "live.raw", "--json").output)
    assert data["status"] == "ok" and data["minutiae_count"] == len(data["minutiae"]) >= 12


def test_extract_of_a_blank_image_is_a_retry(tmp_path):
    (tmp_path / "blank.raw").write_bytes(write_raw(np.full((288, 256), 221, np.uint8)))
    r = run("extract", tmp_path / "blank.raw")
    assert r.exit_code == 0 and "retry (blank)" in r.output
    r = run("extract", tmp_path / "blank.raw", "-o", tmp_path / "blank.iso")
    assert r.exit_code == 1 and not (tmp_path / "blank.iso").exists()
    data = json.loads(run("extract", tmp_path / "blank.raw", "--json").output)
    assert (data["status"], data["reason"], data["minutiae_count"]) == ("retry", "blank", 0)


def test_match_image_against_record_and_image(files):
    run("extract", files / "s31_0.png", "-o", files / "s31_0.iso")
    r = run("match", files / "live.raw", files / "s31_0.iso")
    assert r.exit_code == 0 and "MATCH" in r.output
    data = json.loads(run("match", files / "s32_3.png", files / "s31_0.iso", "--json").output)
    assert data["match"] is False and data["reason"] == "below-threshold"
    assert data["target_fmr"] > 0 and data["threshold"] > 0


def test_match_with_a_blank_capture_cannot_match(files, tmp_path):
    (tmp_path / "blank.raw").write_bytes(write_raw(np.full((288, 256), 221, np.uint8)))
    data = json.loads(run("match", tmp_path / "blank.raw", files / "s31_0.png", "--json").output)
    assert data["match"] is False and data["reason"] == "cannot-match"
    assert data["a_status"] == "blank"


def test_search_a_templates_csv(files, tmp_path):
    rows = []
    for seed in (31, 32):
        for k in (0, 1):
            out = tmp_path / f"{seed}_{k}.iso"
            run("extract", files / f"s{seed}_{k}.png", "-o", out)
            rows.append(f"pin{seed},0,{base64.b64encode(out.read_bytes()).decode()}\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "templates.csv").write_text("pin,finger,iso_base64\n" + "".join(rows))
    data = json.loads(run("search", files / "live.raw", "--gallery", tmp_path / "pkg",
                          "--json").output)
    assert data["gallery_size"] == 4
    assert data["candidates"][0]["key"] == "pin31" and data["candidates"][0]["match"] is True
    r = run("search", files / "s32_3.png", "--gallery", tmp_path / "pkg" / "templates.csv")
    assert r.output.startswith("1. pin32") and "MATCH" in r.output.splitlines()[0]


def test_corrupted_package_is_one_clear_error(files, tmp_path, capsys):
    (tmp_path / "templates.csv").write_text("pin,finger,iso_base64\np1,0,Rk1SACAyMAA=\n")
    with pytest.raises(SystemExit) as info:
        main(["fingerprint", "search", str(files / "live.raw"), "--gallery",
              str(tmp_path / "templates.csv")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "line 2" in err and "Traceback" not in err


def test_unreadable_image_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as info:
        main(["fingerprint", "extract", str(tmp_path / "x.png")])
    assert info.value.code == 2 and "not an image" in capsys.readouterr().err


def test_an_image_of_another_size_and_resolution(files, tmp_path):
    """A 569-ppi TIFF of another size extracts, matches and searches once --ppi says so."""
    img = cv2.imread(str(files / "s31_1.png"), cv2.IMREAD_GRAYSCALE)
    big = cv2.resize(img, None, fx=569 / 500, fy=569 / 500, interpolation=cv2.INTER_CUBIC)
    big = np.pad(big, ((20, 20), (40, 40)), constant_values=221)
    cv2.imwrite(str(tmp_path / "scan.tif"), big)
    data = json.loads(run("extract", tmp_path / "scan.tif", "--ppi", 569, "-o",
                          tmp_path / "scan.iso", "--json").output)
    assert data["status"] == "ok" and data["output"]
    (tmp_path / "gallery").mkdir()
    for seed in (31, 32):
        run("extract", files / f"s{seed}_0.png", "-o", tmp_path / "gallery" / f"s{seed}_0.iso")
    data = json.loads(run("match", tmp_path / "scan.tif", tmp_path / "gallery" / "s31_0.iso",
                          "--ppi", 569, "--json").output)
    assert data["match"] is True
    r = run("search", tmp_path / "scan.tif", "--ppi", 569, "--gallery", tmp_path / "gallery")
    assert r.output.startswith("1. s31") and "MATCH" in r.output.splitlines()[0]
    data = json.loads(run("extract", tmp_path / "scan.tif", "--ppi", 1200, "--json").output)
    assert (data["status"], data["reason"]) == ("retry", "wrong-resolution")

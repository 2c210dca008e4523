"""Raw sensor dumps, galleries from records or templates.csv, synthetic enrolment."""

import base64

import cv2
import numpy as np
import pytest

from biometrics.enrolment import enrol
from biometrics.errors import GalleryError, ImageError
from biometrics.files import (
    RAW_SIZE,
    load_gallery,
    read_gallery_items,
    read_image,
    read_raw,
    write_raw,
)
from biometrics.iso19794 import Template, decode, encode
from biometrics.synthetic import SyntheticFinger


def test_raw_dump_round_trip(fingers):
    img = fingers[0].impression(0)
    data = write_raw(img)
    assert len(data) == RAW_SIZE == 36_864
    assert np.array_equal(read_raw(data), img)


def test_raw_high_nibble_first():
    data = bytes([0xF0]) + bytes(RAW_SIZE - 1)
    img = read_raw(data)
    assert img[0, 0] == 255 and img[0, 1] == 0


@pytest.mark.parametrize("size", [0, RAW_SIZE - 1, RAW_SIZE + 1], ids=["empty", "short", "long"])
def test_raw_of_wrong_size_is_refused(size):
    with pytest.raises(ImageError):
        read_raw(bytes(size))


def test_read_image_by_suffix_and_content(tmp_path, fingers):
    img = fingers[0].impression(1)
    (tmp_path / "a.raw").write_bytes(write_raw(img))
    cv2.imwrite(str(tmp_path / "a.png"), img)
    cv2.imwrite(str(tmp_path / "a.pgm"), img)
    for name in ("a.raw", "a.png", "a.pgm"):
        assert np.array_equal(read_image(tmp_path / name), img)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ImageError):
        read_image(tmp_path / "junk.png")


def test_enrol_gives_decodable_records_from_the_first_presses(fingers):
    records = enrol(fingers[4])
    assert len(records) == 2
    assert all(isinstance(decode(r), Template) for r in records)
    assert records == enrol(SyntheticFinger(fingers[4].seed))


def _csv(rows):
    return "pin,finger,iso_base64\n" + "".join(f"{p},{f},{b}\n" for p, f, b in rows)


@pytest.fixture(scope="module")
def records(extractions):
    return {i: [encode(extractions[i, e].template) for e in (0, 1)] for i in range(3)}


def test_gallery_from_templates_csv_and_package_dir(tmp_path, records):
    rows = [(f"pin{i}", 0, base64.b64encode(r).decode()) for i in records for r in records[i]]
    (tmp_path / "templates.csv").write_text(_csv(rows))
    items = read_gallery_items(tmp_path / "templates.csv")
    assert [k for k, _ in items] == ["pin0", "pin0", "pin1", "pin1", "pin2", "pin2"]
    assert len(load_gallery(tmp_path)) == 6


def test_gallery_from_a_directory_of_records(tmp_path, records, extractions):
    for i in records:
        for e, r in enumerate(records[i]):
            (tmp_path / f"pin{i}_{e}.iso").write_bytes(r)
    g = load_gallery(tmp_path)
    assert g.search(extractions[1, 3].template)[0].key == "pin1"


CORRUPT = [
    ("bad-base64", lambda r: "!!!notbase64"),
    ("truncated-record", lambda r: base64.b64encode(r[:-7]).decode()),
    ("wrong-magic", lambda r: base64.b64encode(b"XXXX" + r[4:]).decode()),
]


@pytest.mark.parametrize("corrupt", [c for _, c in CORRUPT], ids=[i for i, _ in CORRUPT])
def test_a_corrupted_template_rejects_the_package(tmp_path, records, corrupt):
    rows = [("pin0", 0, base64.b64encode(records[0][0]).decode()),
            ("pin1", 0, corrupt(records[1][0]))]
    (tmp_path / "templates.csv").write_text(_csv(rows))
    with pytest.raises(GalleryError, match="line 3"):
        load_gallery(tmp_path / "templates.csv")


def test_corrupted_record_file_rejects_the_directory(tmp_path, records):
    (tmp_path / "pin0_0.iso").write_bytes(records[0][0])
    (tmp_path / "pin1_0.iso").write_bytes(records[1][0][:-1])
    with pytest.raises(GalleryError, match="pin1_0.iso"):
        load_gallery(tmp_path)


@pytest.mark.parametrize("content", ["pin,iso_base64\n", ""], ids=["missing-column", "empty"])
def test_malformed_csv_is_refused(tmp_path, content):
    (tmp_path / "templates.csv").write_text(content)
    with pytest.raises(GalleryError):
        load_gallery(tmp_path / "templates.csv")


def test_empty_directory_is_refused(tmp_path):
    with pytest.raises(GalleryError):
        load_gallery(tmp_path)

"""Fingerprint files a technician handles: images, raw sensor dumps, records, galleries.

* Images: PNG, PGM, TIFF, BMP (anything OpenCV reads as 8-bit grey), of any
  size and any resolution the caller states (``ppi``, default 500), and the
  sensor's raw upload: 36,864 bytes, 256 x 288 pixels at 4 bits, two pixels per byte,
  high nibble first, row by row (``.raw``).
* Records: ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004 (``.iso``, ``.ist``,
  ``.fmr``, or any file starting with ``FMR\\0``).
* Galleries: a directory of records (the key is the file name up to the first
  ``_`` or ``.``, so ``21234567890123_1.iso`` belongs to that PIN), or an
  election package's ``templates.csv`` (columns ``pin,finger,iso_base64``),
  or a package directory holding it. A record that does not decode rejects
  the whole gallery with ``GalleryError`` naming the file and line: a
  tampered package is refused, not half-loaded.

Each technician command (``uchastok fingerprint ...``) calls one function
here: ``extract_file``, ``match_files``, ``search_file``, ``synthesise``.

Example::

    report = match_files("live.raw", "enrolled.iso")
    report.decision.match, report.score
"""

from __future__ import annotations

import base64
import binascii
import csv
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from base.files import atomic_write
from biometrics.errors import GalleryError, ImageError, TemplateError
from biometrics.extract import SENSOR_SHAPE, WORKING_PPI, Extraction, extract
from biometrics.iso19794 import MAGIC, Template, decode, encode
from biometrics.match import Candidate, Decision, Gallery, decide, score
from biometrics.synthetic import SyntheticFinger

RAW_SIZE = SENSOR_SHAPE[0] * SENSOR_SHAPE[1] // 2  # 36,864 bytes
RECORD_SUFFIXES = {".iso", ".ist", ".fmr", ".ansi"}
MAX_FILE = 8 * 1024 * 1024


def read_raw(data: bytes) -> np.ndarray:
    """A 4-bit sensor dump as a 288x256 uint8 image (levels 0, 17, ..., 255)."""
    if len(data) != RAW_SIZE:
        raise ImageError(f"a raw sensor image has {RAW_SIZE} bytes, this one {len(data)}")
    b = np.frombuffer(data, np.uint8)
    pixels = np.empty(b.size * 2, np.uint8)
    pixels[0::2] = b >> 4
    pixels[1::2] = b & 0x0F
    return (pixels * 17).reshape(SENSOR_SHAPE)


def write_raw(image: np.ndarray) -> bytes:
    """The sensor's 4-bit dump of a 288x256 grey image (inverse of ``read_raw``)."""
    image = np.asarray(image)
    if image.shape != SENSOR_SHAPE or image.dtype != np.uint8:
        raise ImageError(f"a raw sensor image is {SENSOR_SHAPE} uint8, not {image.shape} "
                         f"{image.dtype}")
    nib = (np.rint(image.astype(np.float32) / 17.0)).astype(np.uint8).ravel()
    return ((nib[0::2] << 4) | nib[1::2]).astype(np.uint8).tobytes()


def _read_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE:
            raise ImageError(f"{p}: larger than {MAX_FILE} bytes")
        return p.read_bytes()
    except OSError as e:
        raise ImageError(f"{p}: {e.strerror or e}") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A grey image from PNG/PGM/any OpenCV format, or a ``.raw`` sensor dump."""
    data = _read_bytes(path)
    if Path(path).suffix.lower() == ".raw" or (len(data) == RAW_SIZE and not _is_image(data)):
        return read_raw(data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageError(f"{path}: not an image OpenCV can read")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    return img  # a 16-bit image stays 16-bit: extraction refuses it as "wrong-depth"


def _is_image(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n" or data[:2] in (b"P5", b"P2")


def is_record(path: str | os.PathLike) -> bool:
    p = Path(path)
    if p.suffix.lower() in RECORD_SUFFIXES:
        return True
    try:
        with p.open("rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class Probe:
    """A template read from a file, with the extraction verdict when it was an image."""

    path: str
    template: Template
    extraction: Extraction | None = None

    @property
    def usable(self) -> bool:
        return self.extraction is None or self.extraction.ok

    @property
    def reason(self) -> str:
        return self.extraction.reason if self.extraction is not None else ""


def read_probe(path: str | os.PathLike, ppi: float = WORKING_PPI) -> Probe:
    """A template from a record file, or extracted from an image file taken at ``ppi``."""
    if is_record(path):
        return Probe(str(path), decode(_read_bytes(path)))
    result = extract(read_image(path), ppi=ppi)
    return Probe(str(path), result.template, result)


def extract_file(image: str | os.PathLike, output: str | os.PathLike | None = None,
                 ppi: float = WORKING_PPI) -> Extraction:
    """Extract an image taken at ``ppi``; write its ISO record to ``output`` when usable."""
    result = extract(read_image(image), ppi=ppi)
    if output is not None and result.ok:
        atomic_write(output, encode(result.template))
    return result


@dataclass(frozen=True)
class MatchReport:
    a: Probe
    b: Probe
    score: float
    decision: Decision


def match_files(a: str | os.PathLike, b: str | os.PathLike,
                target_fmr: float | None = None, ppi: float = WORKING_PPI) -> MatchReport:
    """Score two images or records against each other and decide at the calibrated threshold.

    ``ppi`` is the resolution of whichever of the two is an image; a record
    carries its own.
    """
    pa, pb = read_probe(a, ppi), read_probe(b, ppi)
    s = score(pa.template, pb.template) if pa.usable and pb.usable else 0.0
    return MatchReport(pa, pb, s, decide(s, target_fmr=target_fmr))


def load_gallery(path: str | os.PathLike) -> Gallery:
    """A gallery from a directory of records, a ``templates.csv``, a package directory, or a
    station's ``identify.db`` (its enrolled templates, read-only)."""
    return Gallery.build(read_gallery_items(path))


def read_gallery_items(path: str | os.PathLike) -> list[tuple[str, Template]]:
    p = Path(path)
    if p.is_dir() and (p / "templates.csv").is_file():
        p = p / "templates.csv"
    if p.is_file() and p.suffix.lower() == ".csv":
        return _read_templates_csv(p)
    if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00":
        return _read_station_db(p)
    if p.is_dir():
        items = []
        for f in sorted(p.iterdir()):
            if f.is_file() and is_record(f):
                try:
                    items.append((f.name.split("_")[0].split(".")[0], decode(f.read_bytes())))
                except TemplateError as e:
                    raise GalleryError(f"{f}: {e}") from None
        if not items:
            raise GalleryError(f"{p}: no minutiae records (*.iso) in this directory")
        return items
    raise GalleryError(f"{p}: neither a directory of records nor a templates.csv")


def _read_station_db(path: Path) -> list[tuple[str, Template]]:

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT pin, finger, record FROM template ORDER BY pin, finger").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise GalleryError(f"{path}: not a station database with templates: {e}") from None
    items = []
    for pin, finger, record in rows:
        try:
            items.append((pin, decode(bytes(record))))
        except TemplateError as e:
            raise GalleryError(f"{path}: template of {pin!r} (finger {finger}): {e}") from None
    if not items:
        raise GalleryError(f"{path}: the station database holds no templates")
    return items


def _read_templates_csv(path: Path) -> list[tuple[str, Template]]:
    items = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"pin", "finger", "iso_base64"} - set(reader.fieldnames or ())
        if missing:
            raise GalleryError(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            line = reader.line_num
            try:
                record = base64.b64decode(row["iso_base64"], validate=True)
                template = decode(record)
            except (binascii.Error, ValueError, TemplateError) as e:
                raise GalleryError(f"{path} line {line}: template of {row['pin']!r}: {e}") from None
            items.append((row["pin"], template))
    if not items:
        raise GalleryError(f"{path}: no templates")
    return items


@dataclass(frozen=True)
class SearchReport:
    probe: Probe
    candidates: list[Candidate]
    decisions: list[Decision]
    gallery_size: int


def search_file(image: str | os.PathLike, gallery: str | os.PathLike, top: int = 5,
                target_fmr: float | None = None, ppi: float = WORKING_PPI) -> SearchReport:
    """Search an image taken at ``ppi`` (or a record) in a gallery; each candidate with its
    decision."""
    probe = read_probe(image, ppi)
    g = load_gallery(gallery)
    found = g.search(probe.template, top=top) if probe.usable else []
    return SearchReport(probe, found, [decide(c.score, target_fmr=target_fmr) for c in found],
                        len(g))


def synthesise(seed: int, impression: int, output: str | os.PathLike,
               condition: str | None = None) -> np.ndarray:
    """Render one press of a synthetic finger to PNG/PGM (by suffix) or a ``.raw`` dump."""
    image = SyntheticFinger(seed).impression(impression, condition=condition)
    out = Path(output)
    if out.suffix.lower() == ".raw":
        data = write_raw(image)
    else:
        ok, buf = cv2.imencode(out.suffix.lower() or ".png", image)
        if not ok:
            raise ImageError(f"{out}: OpenCV cannot write this format")
        data = buf.tobytes()
    atomic_write(out, data)
    return image

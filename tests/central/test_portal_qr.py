"""Our own QR reader (central/portal/static/qr.js) in headless Chromium, and check.html reading photos with it.

- Its parts against Python's codes: Reed-Solomon on blocks made by the qrcode package (every
  error count up to the capacity corrected, one more refused), format and version information
  (the valid codewords are segno's; up to 3 wrong bits corrected), alignment positions.
- Codes made by segno at every version 1-40, every level and mask, numeric, alphanumeric, byte
  (Latin-1 and UTF-8, with and without ECI) and kanji: read from their module matrix, and from
  images turned at any angle, to the same text.
- The real thing: the A4 protocol of count/paper.py with its numbered codes, "photographed" by
  tests/support/qr_photos.py (perspective, rotation, uneven light and shadow, blur, noise, JPEG,
  at a phone's resolution); qr.js in the browser and zxing-cpp read the same JPEGs; the read
  rates and qr.js's time per photo are printed. Never a text that is not on the page.
- A blot: within Reed-Solomon's capacity the code still reads; beyond it, "cannot read"
  (reported as seen but unreadable), never a wrong text.
- check.html in a browser without BarcodeDetector: photos of a signed protocol through the file
  input reach "verified" and the portal's copy; photos of a tampered one are refused; a photo
  of a blotted code says the code was found but not read.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import random
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import qrcode.constants
import qrcode.util
import segno
import segno.consts
import zxingcpp
from export_samples import STATION, SampleWorld, served
from qr_photos import photograph
from sample_manifest import sample_manifest
from selenium.webdriver.common.by import By
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from count.paper import a4_pages, protocol_document, verification_codes
from station.election import Election
from sync import signing
from sync.envelope import envelope_hash
from sync.export import make_export

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "central" / "portal" / "static"

TEST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>qr.js under test</title>
<script src="/static/qr.js"></script>
<script>
const bytesOf = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
window.greyImage = (b64, width, height) => ({width, height, data: bytesOf(b64)});
window.rs = (cases) => cases.map(([block, ec, max]) => {
  const b = Uint8Array.from(block);
  const n = uchastokQR.internals.rsDecode(b, ec, max);
  return [n, Array.from(b)];
});
window.fromMatrix = (cases) => cases.map(([rows, version]) => {
  try {
    const r = uchastokQR.internals.decodeModules((i, j) => rows[i][j] === "1", version);
    return {text: r.text, level: r.level, mask: r.mask};
  } catch (e) {
    return {error: e.message};
  }
});
window.scanGrey = (b64, width, height) => {
  const t0 = performance.now();
  const r = uchastokQR.scan(greyImage(b64, width, height));
  return {codes: r.codes.map((c) => ({text: c.text, corrected: c.corrected, version: c.version})),
          unreadable: r.unreadable.length, ms: performance.now() - t0};
};
window.scanPhoto = async (url) => {
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(bitmap, 0, 0);
  const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  const t0 = performance.now();
  const r = uchastokQR.scan(pixels);
  return {texts: r.codes.map((c) => c.text), unreadable: r.unreadable.length, ms: performance.now() - t0};
};
</script></head><body>qr.js</body></html>
"""


# --- the world: a signed protocol, its pages, a stand-in portal ------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = SampleWorld(tmp_path_factory.mktemp("qr-world"))
    yield w
    w.close()


def printed_protocol(export: dict, envelope_hash_: str) -> dict:
    """The A4 protocol (count/paper.py) of the export's one envelope, printed under ``envelope_hash_``:
    its codes' texts, the hash QR's, and each page with codes with where each code is on it."""
    env = export["envelopes"][0]
    codes = verification_codes(export, envelope_hash_)
    election = Election.from_manifest(sample_manifest(7))
    located = []
    for page in a4_pages(protocol_document(election, env["body"], envelope_hash_, codes=codes)):
        found = {b.text: [(p.x, p.y) for p in (b.position.top_left, b.position.top_right,
                                                b.position.bottom_right, b.position.bottom_left)]
                 for b in zxingcpp.read_barcodes(np.asarray(page.convert("L")))}
        if any(t.startswith("UCH1:") for t in found):
            located.append((page, found))
    printed = f"uchastok-protocol:{STATION}:1:{envelope_hash_}"
    assert {t for _, found in located for t in found} == {printed, *codes}   # all printed whole, readable
    return {"export": export, "codes": codes, "printed": printed, "pages": located}


@pytest.fixture(scope="module")
def protocol(world):
    """The station's protocol as printed."""
    env = world.export["envelopes"][-1]
    return printed_protocol(make_export(world.export["certificate"], [env]), envelope_hash(env))


@pytest.fixture(scope="module")
def site(world):
    """check.html and qr.js as the portal serves them, a test page, photos, the station's export."""
    photos: dict[str, bytes] = {}

    def photo(request):
        return Response(photos[request.path_params["name"]], media_type="image/jpeg")

    def export_json(request):
        if request.path_params["id"] != STATION:
            return JSONResponse({"error": "not-found"}, status_code=404)
        return Response(json.dumps(world.export, ensure_ascii=False).encode(), media_type="application/json")

    app = Starlette(routes=[
        Route("/qrtest.html", lambda request: HTMLResponse(TEST_PAGE)),
        Route("/photos/{name}", photo),
        Route("/station/{id}/export.json", export_json),
        Route("/downloads/authority.pub",
              lambda request: PlainTextResponse(signing.public_text(world.authority.public_key()) + "\n")),
        Mount("/static", StaticFiles(directory=STATIC)),
    ])
    with served(app) as url:
        yield url, photos


@pytest.fixture()
def page(browser, site):
    url, _ = site
    browser.get(f"{url}/qrtest.html")
    browser.set_script_timeout(300)
    return browser


def grey_b64(img: np.ndarray) -> tuple[str, int, int]:
    return base64.b64encode(np.ascontiguousarray(img, np.uint8).tobytes()).decode(), img.shape[1], img.shape[0]


def scan_grey(browser, img: np.ndarray) -> dict:
    return browser.execute_script("return scanGrey(...arguments);", *grey_b64(img))


# --- the parts -------------------------------------------------------------------------------------

def rs_blocks() -> list[tuple[int, int, list[int]]]:
    """(version, EC codewords, block) for every single-block symbol: data and EC by the qrcode package."""
    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    rng = random.Random(13)
    out = []
    for version, level in [(1, "L"), (1, "M"), (1, "Q"), (1, "H"), (2, "L"), (2, "M"), (2, "Q"), (2, "H"),
                           (3, "L"), (3, "M"), (4, "L"), (5, "L")]:
        payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        block = qrcode.util.create_data(version, levels[level], [qrcode.util.QRData(payload)])
        ec = {(1, "L"): 7, (1, "M"): 10, (1, "Q"): 13, (1, "H"): 17, (2, "L"): 10, (2, "M"): 16, (2, "Q"): 22,
              (2, "H"): 28, (3, "L"): 15, (3, "M"): 26, (4, "L"): 20, (5, "L"): 26}[(version, level)]
        out.append((version, ec, list(block)))
    return out


def test_reed_solomon_corrects_up_to_its_capacity_and_refuses_beyond(page):
    rng = random.Random(7)
    cases, expect = [], []
    for _version, ec, block in rs_blocks():
        for errors in range(ec // 2 + 2):
            damaged = list(block)
            for i in rng.sample(range(len(block)), errors):
                damaged[i] ^= rng.randrange(1, 256)
            cases.append([damaged, ec, ec // 2])
            expect.append((errors, block))
    results = page.execute_script("return rs(arguments[0]);", cases)
    for (errors, block), (n, fixed), (_, ec, cap) in zip(expect, results, cases, strict=True):
        if errors <= cap:
            assert n == errors and fixed == block, (ec, errors, n)
        else:
            assert n == -1, (ec, errors, n)          # detected, never "corrected" to another block


def test_format_and_version_information_decode_within_three_bits(page):
    info = page.execute_script("""
        const I = uchastokQR.internals;
        return {format: I.FORMAT_CODES, version: I.VERSION_CODES,
                align: Array.from({length: 39}, (_, i) => I.alignmentPositions(i + 2))};""")
    assert info["format"] == list(segno.consts.FORMAT_INFO)
    assert info["version"] == list(segno.consts.VERSION_INFO)          # versions 7 to 40
    assert info["align"] == [list(p) for p in segno.consts.ALIGNMENT_POS]
    rng = random.Random(3)
    fmt, ver = [], []
    for d in range(32):
        for errors in range(4):
            bits = segno.consts.FORMAT_INFO[d]
            for b in rng.sample(range(15), errors):
                bits ^= 1 << b
            fmt.append((bits, d))
    for v in range(7, 41):
        for errors in range(4):
            bits = segno.consts.VERSION_INFO[v - 7]
            for b in rng.sample(range(18), errors):
                bits ^= 1 << b
            ver.append((bits, v))
    decoded = page.execute_script("""
        const I = uchastokQR.internals;
        return [arguments[0].map(([b]) => I.decodeFormat(b)), arguments[1].map(([b]) => I.decodeVersion(b))];""",
                                  fmt, ver)
    levels = {segno.consts.ERROR_LEVEL_L: "L", segno.consts.ERROR_LEVEL_M: "M",
              segno.consts.ERROR_LEVEL_Q: "Q", segno.consts.ERROR_LEVEL_H: "H"}
    assert [(r["level"], r["mask"]) for r in decoded[0]] == [(levels[d >> 3], d & 7) for _, d in fmt]
    assert [r["version"] for r in decoded[1]] == [v for _, v in ver]
    far = page.execute_script("return uchastokQR.internals.decodeFormat(arguments[0]);",
                              segno.consts.FORMAT_INFO[0] ^ 0b1111)   # 4 bits from the nearest: refused
    assert far is None or far["distance"] <= 3


# --- codes made by segno ---------------------------------------------------------------------------

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Per kind: the characters and how many of the version's tens of characters (a byte per character
# and less for the wider ones, to fit the smaller versions at level H).
ALPHABETS = {"numeric": ("0123456789", 1), "alphanumeric": (ALNUM, 1), "latin1": ("abcxyz{}[]~ éüÿ", 2),
             "utf8": ("Шайлоо ӨҮҢ өүң 2026", 3), "eci": ("Шайлоо ӨҮҢ өүң 2026", 3), "kanji": ("漢字日本語点茗", 8)}
KINDS = tuple(ALPHABETS)


def segno_cases(seed: int = 5) -> list[tuple[str, segno.QRCode]]:
    """Every version with every level, the masks in turn, the modes and encodings in turn."""
    rng = random.Random(seed)
    out = []
    for version in range(1, 41):
        for li, level in enumerate("LMQH"):
            kind = KINDS[(version + li) % len(KINDS)]
            alphabet, per = ALPHABETS[kind]
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10 * version) // per + 1))
            code = segno.make_qr(text, version=version, error=level.lower(), mask=(version + li) % 8,
                                 boost_error=False, encoding="utf-8" if kind in ("utf8", "eci") else None,
                                 eci=kind == "eci", mode="kanji" if kind == "kanji" else None)
            out.append((text, code))
    return out


def matrix_rows(code: segno.QRCode) -> list[str]:
    return ["".join("1" if m else "0" for m in row) for row in code.matrix]


def test_segno_codes_read_from_their_modules(page):
    cases = segno_cases()
    assert {c.mode for _, c in cases} >= {"numeric", "alphanumeric", "byte", "kanji"}
    assert {c.mask for _, c in cases} == set(range(8)) and {c.version for _, c in cases} == set(range(1, 41))
    results = page.execute_script("return fromMatrix(arguments[0]);",
                                  [[matrix_rows(c), c.version] for _, c in cases])
    wrong = [(c.version, c.error, c.mode, r) for (text, c), r in zip(cases, results, strict=True)
             if (r.get("text"), r.get("level"), r.get("mask")) != (text, c.error.upper(), c.mask)]
    assert not wrong


def render(code: segno.QRCode, module: float, angle: float, blur: float) -> np.ndarray:
    """The code as a grey image: ``module`` pixels a module, a 4-module quiet zone, turned by ``angle``."""
    m = np.pad(np.array(code.matrix, dtype=np.uint8), 4)
    img = np.where(m == 1, 30, 230).astype(np.uint8)
    size = int(round(m.shape[0] * module))
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    side = int(size * 1.5)
    canvas = np.full((side, side), 230, np.uint8)
    o = (side - size) // 2
    canvas[o:o + size, o:o + size] = img
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    out = cv2.warpAffine(canvas, turn, (side, side), flags=cv2.INTER_LINEAR, borderValue=230)
    return cv2.GaussianBlur(out, (0, 0), blur) if blur else out


def test_segno_codes_read_from_turned_images(page):
    """One code of each version (the level, mask and mode in turn), at 3-4 pixels a module, any angle."""
    rng = random.Random(11)
    cases = [c for i, c in enumerate(segno_cases(seed=9)) if i % 4 == (i // 4) % 4]
    assert len(cases) == 40
    missed = []
    for text, code in cases:
        img = render(code, rng.uniform(3, 4), rng.uniform(0, 360), 0.6)
        out = scan_grey(page, img)
        texts = [c["text"] for c in out["codes"]]
        assert all(t == text for t in texts), (code.version, texts)         # never another text
        if texts != [text]:
            missed.append((code.version, code.error, code.mode))
    assert not missed


# --- photos of the printed protocol ----------------------------------------------------------------

N_PHOTOS = 32


def photo_set(protocol) -> list[dict]:
    """N_PHOTOS phone photos of the pages with codes: which codes each shows whole, and its shot.
    A quarter from an older phone (8 MP) held more at a slant, a quarter badly out of focus."""
    out = []
    pages = protocol["pages"]
    for seed in range(N_PHOTOS):
        page, found = pages[seed % len(pages)]
        corners = list(found.values())[seed % len(found)]
        focus = (sum(x for x, _ in corners) / 4 / page.width, sum(y for _, y in corners) / 4 / page.height)
        options = ({"size": (3264, 2448), "tilt": 40} if seed % 4 == 2 else
                   {"blur": 1.8 + 0.6 * (seed * 7 % 10) / 10} if seed % 4 == 3 else {})
        jpeg, shot = photograph(page, 1000 + seed, focus=focus, **options)
        shows = sorted(t for t, pts in found.items() if shot.in_frame(pts, margin=8))
        out.append({"name": f"p{seed}.jpg", "jpeg": jpeg, "shot": shot, "shows": shows, "all": set(found)})
    return out


def test_photos_of_the_printed_protocol_read_as_well_as_zxing_cpp(page, site, protocol):
    _, served_photos = site
    photos = [p for p in photo_set(protocol) if p["shows"]]
    assert len(photos) >= N_PHOTOS - 4
    rows, times = [], []
    for p in photos:
        served_photos[p["name"]] = p["jpeg"]
        t0 = time.monotonic()
        ours = page.execute_async_script("scanPhoto(arguments[0]).then(arguments[1]);", f"/photos/{p['name']}")
        wall = time.monotonic() - t0
        grey = cv2.imdecode(np.frombuffer(p["jpeg"], np.uint8), cv2.IMREAD_GRAYSCALE)
        theirs = [b.text for b in zxingcpp.read_barcodes(grey)]
        # Never a text that is not on the page (a code half in the frame may read or not).
        assert set(ours["texts"]) <= p["all"], (p["name"], ours["texts"])
        rows.append((p, set(ours["texts"]) >= set(p["shows"]), set(theirs) >= set(p["shows"])))
        times.append(ours["ms"])
        s = p["shot"]
        print(f"{p['name']}: {len(p['shows'])} codes, module {s.module_px:.1f} px, turned {s.angle:.0f}°, "
              f"tilt {s.tilt[0]:.0f}°/{s.tilt[1]:.0f}°, blur {s.blur:.1f}{f' motion {s.motion}' if s.motion else ''}, "
              f"shadow {s.shadow:.2f}, JPEG q{s.quality}, {s.size[0]}x{s.size[1]}: "
              f"qr.js {len(set(ours['texts']) & set(p['shows']))} in {ours['ms']:.0f} ms ({wall:.1f} s with loading), "
              f"zxing-cpp {len(set(theirs) & set(p['shows']))}")
    ours_complete = sum(1 for _, o, _ in rows if o)
    theirs_complete = sum(1 for _, _, z in rows if z)
    print(f"read completely: qr.js {ours_complete} of {len(rows)} photos, zxing-cpp {theirs_complete}; "
          f"qr.js in Chromium: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms a photo")
    assert ours_complete >= theirs_complete - 1
    assert ours_complete >= math.ceil(0.75 * len(rows))


# --- damage ----------------------------------------------------------------------------------------

def blot(img: np.ndarray, centre: tuple[float, float], radius: float, ink: int) -> np.ndarray:
    out = img.copy()
    cv2.circle(out, (int(centre[0]), int(centre[1])), int(radius), ink, -1)
    return out


def test_a_blot_within_capacity_reads_and_beyond_it_cannot_read(page, protocol):
    code = segno.make_qr(protocol["codes"][0], error="m")
    assert code.version >= 20                        # the real size: version 22, level M
    module = 4
    img = render(code, module, 17, 0.5)
    side = img.shape[0]
    clean = scan_grey(page, img)
    assert [c["text"] for c in clean["codes"]] == [protocol["codes"][0]]
    # A blot over about 4 % of the data modules: spread over the blocks by the interleaving.
    small = scan_grey(page, blot(img, (side * 0.55, side * 0.5), 0.1 * code.symbol_size()[0] * module, 25))
    assert [c["text"] for c in small["codes"]] == [protocol["codes"][0]]
    assert small["codes"][0]["corrected"] > 0
    # A blot over a third of the symbol (the finders untouched): seen, not read, no text at all.
    for ink in (25, 230):
        big = scan_grey(page, blot(img, (side * 0.52, side * 0.52), 0.33 * code.symbol_size()[0] * module, ink))
        assert big["codes"] == [] and big["unreadable"] == 1, big


# --- check.html, from photos ---------------------------------------------------------------------

def good_photos(pages, tmp_path: Path, stem: str) -> list[str]:
    """One fair photo of each page with codes (whole page, in focus), saved for the file input."""
    paths = []
    for i, (page, _) in enumerate(pages):
        jpeg, _ = photograph(page, 77 + i, close_up=False, tilt=20, blur=0.8, motion=0, fill=0.9)
        path = tmp_path / f"{stem}-{i}.jpg"
        path.write_bytes(jpeg)
        paths.append(str(path))
    return paths


def check_photos(browser, url: str, paths: list[str]) -> dict:
    """Open check.html, give it the photos through its file input, wait for the verdict."""
    browser.get(f"{url}/static/check.html#lang=ru")
    browser.execute_script("localStorage.clear();")
    browser.refresh()
    browser.set_script_timeout(120)
    browser.execute_async_script("""
        const done = arguments[0];
        const wait = async () => { for (let i = 0; i < 600 && !document.getElementById("key-id").textContent; i++)
                                     await new Promise((r) => setTimeout(r, 50)); done(); };
        wait();""")
    browser.find_element(By.ID, "photos").send_keys("\n".join(paths))
    return browser.execute_async_script("""
        const done = arguments[0];
        const result = document.getElementById("result"), portal = document.getElementById("portal");
        const note = document.getElementById("photo-note");
        (async () => {
          for (let i = 0; i < 1200; i++) {         // 60 s, within the script timeout
            const finished = note.dataset.read !== undefined && (note.dataset.read === "0" ||
              (result.dataset.state && !(result.dataset.state === "verified"
                                         && ["", "portal-checking"].includes(portal.dataset.portal))));
            if (finished) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          done({state: result.dataset.state, verdict: document.getElementById("verdict").textContent,
                portal: portal.dataset.portal, note: note.textContent, read: note.dataset.read,
                unreadable: note.dataset.unreadable, codes: document.getElementById("codes").value,
                detector: "BarcodeDetector" in window});
        })();""")


def test_check_page_verifies_a_protocol_from_photos(browser, site, protocol, tmp_path):
    url, _ = site
    out = check_photos(browser, url, good_photos(protocol["pages"], tmp_path, "signed"))
    assert not out["detector"]                       # this Chromium has none: qr.js read them
    assert out["state"] == "verified" and "ПОДПИСЬ ВЕРНА" in out["verdict"], out
    assert out["portal"] == "match"
    assert set(out["codes"].split("\n")) == {protocol["printed"], *protocol["codes"]}
    assert f"Прочитано кодов с фото: {len(protocol['codes']) + 1}" in out["note"]


def test_check_page_refuses_photos_of_a_tampered_protocol(browser, site, protocol, tmp_path):
    """A figure changed on paper and in the codes, the signature and the hash printed as they were."""
    url, _ = site
    export = copy.deepcopy(protocol["export"])
    export["envelopes"][0]["body"]["contests"][0]["votes"]["cand-01"] += 1
    forged = printed_protocol(export, envelope_hash(protocol["export"]["envelopes"][0]))
    out = check_photos(browser, url, good_photos(forged["pages"], tmp_path, "tampered"))
    assert out["state"] == "not-verified" and "ПРОВЕРКА НЕ ПРОЙДЕНА" in out["verdict"], out
    assert out["portal"] == ""


def test_check_page_says_a_blotted_code_cannot_be_read(browser, site, protocol, tmp_path):
    url, _ = site
    code = segno.make_qr(protocol["codes"][0], error="m")
    img = render(code, 5, 8, 0.6)
    side = img.shape[0]
    img = blot(img, (side * 0.52, side * 0.52), 0.33 * code.symbol_size()[0] * 5, 25)
    path = tmp_path / "blotted.jpg"
    path.write_bytes(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    out = check_photos(browser, url, [str(path)])
    assert out["read"] == "0" and out["unreadable"] == "1", out
    assert "На фото QR-код не найден." in out["note"] and "Найдено, но не прочитано кодов: 1" in out["note"]
    assert out["state"] == ""                        # nothing to check, nothing claimed
    browser.find_element(By.CSS_SELECTOR, ".lang button[data-lang='ky']").click()
    note = browser.find_element(By.ID, "photo-note").text
    assert "1 код табылды, бирок окулган жок" in note, note      # the result, now in Kyrgyz

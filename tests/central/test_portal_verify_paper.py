"""The paper protocol's QR codes, read back and checked on the offline page (central/portal/static/check.html).

- count/paper.py ``verification_codes``: the protocol envelope and its certificate in a few
  numbered QR codes (canonical JSON, zlib, base45); printed on the A4 copy, whole (never
  across a page break), and read back from the rendered pages by OpenCV's decoder.
- check.html in headless Chromium, given the codes' text (this Chromium has no
  BarcodeDetector, so the photo path is not exercised here): verified with the counts and
  the hash, compared with the portal's copy (the same, a later revision, another, the portal
  unreachable); incomplete, mixed, tampered, mis-tagged and mis-printed codes are refused.
"""

from __future__ import annotations

import copy
import json
import random
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from countkit import make_home, reading
from export_samples import STATION, SampleWorld, rechain, resign, served
from sample_manifest import sample_manifest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from base.clock import FixedClock
from count.paper import BASE45, a4_pages, protocol_document, verification_codes
from count.protocol import device_outbox, export_protocol, paper_protocol, sign_protocol
from count.store import CountStore
from station import polls
from station.db import open_station_db
from station.election import Election
from sync import signing
from sync.canonical import canonical, parse
from sync.envelope import envelope_hash
from sync.export import make_export, verify_export

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "central" / "portal" / "static"


def unbase45(text: str) -> bytes:
    out = bytearray()
    for i in range(0, len(text), 3):
        d = [BASE45.index(c) for c in text[i:i + 3]]
        n = sum(v * 45**k for k, v in enumerate(d))
        out += n.to_bytes(2 if len(d) == 3 else 1, "big")
    return bytes(out)


def read_codes(codes: list[str]) -> dict:
    """What check.html does with the codes' text, in Python: parts in order, base45, zlib, JSON."""
    parts = sorted((int(c.split(":")[1].split("/")[0]), c.split(":", 3)[3]) for c in codes)
    return parse(zlib.decompress(unbase45("".join(p for _, p in parts))))


def decode_page_codes(pages) -> list[str]:
    """Every QR code on the rendered pages, read by OpenCV one printed block at a time."""
    found = []
    detectors = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
    for page in pages:
        img = np.asarray(page.convert("L"))
        ink = (img < 128).any(axis=1)
        bands, start, gap = [], None, 0
        for y, inked in enumerate(ink):      # blocks are separated by at least 20 blank rows
            if inked:
                start, gap = (y if start is None else start), 0
            elif start is not None:
                gap += 1
                if gap >= 20:
                    bands.append((start, y - gap + 1))
                    start, gap = None, 0
        if start is not None:
            bands.append((start, len(ink)))
        for top, bottom in bands:
            crop = np.pad(img[top:bottom], 40, constant_values=255)
            # OpenCV misses about one clean code in 25 at 3 dots a module; doubled, none in 200.
            for scale, detector in [(s, d) for s in (1, 2) for d in detectors]:
                text, _, _ = detector.detectAndDecode(cv2.resize(crop, None, fx=scale, fy=scale,
                                                                 interpolation=cv2.INTER_NEAREST))
                if text:
                    found.append(text)
                    break
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = SampleWorld(tmp_path_factory.mktemp("paper-codes"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def protocol(world):
    """The station's results protocol as printed: its export, hash and codes."""
    env = world.export["envelopes"][-1]
    export = make_export(world.export["certificate"], [env])
    h = envelope_hash(env)
    return {"export": export, "hash": h, "codes": verification_codes(export, h),
            "printed": f"uchastok-protocol:{STATION}:1:{h}"}


def test_codes_carry_the_whole_signed_protocol(world, protocol):
    codes = protocol["codes"]
    assert 2 <= len(codes) <= 6 and all(len(c) <= 1200 + 20 for c in codes)   # a few codes of ≤ version 23
    assert [c.split(":")[1] for c in codes] == [f"{i}/{len(codes)}" for i in range(1, len(codes) + 1)]
    assert {c.split(":")[2] for c in codes} == {protocol["hash"][:8].upper()}
    assert all(set(c) <= set(BASE45) for c in codes)                 # QR alphanumeric mode only
    doc = read_codes(codes)
    assert canonical(doc) == canonical(protocol["export"])
    assert verify_export(doc, world.authority.public_key()).ok


def test_printed_a4_codes_read_back_from_the_pages(world, protocol):
    election = Election.from_manifest(sample_manifest(7))
    env = protocol["export"]["envelopes"][0]
    pages = a4_pages(protocol_document(election, env["body"], protocol["hash"], codes=protocol["codes"]))
    found = decode_page_codes(pages)
    assert sorted(found) == sorted([protocol["printed"], *protocol["codes"]])


def test_export_protocol_prints_the_codes_on_a4_only(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="open")
    store = CountStore.open(paths.count_db, election)
    store.record_sheet(reading("district-07", choice="c-02"), mode="real")
    sconn = open_station_db(paths.station_db)
    clock = FixedClock("2026-11-29T14:00:05+00:00")
    polls.apply(sconn, "close", clock=clock)
    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    sp = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=900,
                       voters_identified=1, clock=clock)
    cert = json.loads(paths.role("count").cert.read_text())
    plain = export_protocol(election, sp, tmp_path / "plain", store=store, clock=clock)
    files = export_protocol(election, sp, tmp_path / "out", store=store, clock=clock, certificate=cert)
    export = parse(Path(files["export"]).read_bytes())
    codes = verification_codes(export, sp.envelope_hash)
    assert Path(files["receipt"]).read_bytes() == Path(plain["receipt"]).read_bytes()   # 58 mm: no codes
    assert len(Path(files["a4_pdf"]).read_bytes()) > len(Path(plain["a4_pdf"]).read_bytes()) + 1000
    found = decode_page_codes(a4_pages(paper_protocol(election, sp, codes)))
    assert sorted(c for c in found if c.startswith("UCH1:")) == sorted(codes)
    authority = signing.private_from_seed(bytes(range(1, 33)))          # countkit's authority
    assert verify_export(read_codes(codes), authority.public_key()).ok
    store.close()
    sconn.close()


# --- the offline page -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def portal(world):
    """check.html beside verify.js, and a stand-in portal: the station's export and the CEC key."""
    state = {"export": world.export, "status": 200}

    def export_json(request):
        if state["status"] != 200 or request.path_params["id"] != STATION:
            return JSONResponse({"error": "not-found"}, status_code=404)
        return Response(json.dumps(state["export"], ensure_ascii=False).encode(), media_type="application/json")

    app = Starlette(routes=[
        Route("/station/{id}/export.json", export_json),
        Route("/downloads/authority.pub",
              lambda request: PlainTextResponse(signing.public_text(world.authority.public_key()) + "\n")),
        Route("/", lambda request: HTMLResponse("<!doctype html><title>portal</title>")),
        Mount("/static", StaticFiles(directory=STATIC)),
    ])
    with served(app) as url:
        yield url, state


def check_on_page(browser, url, texts, *, lang="ru", key=None) -> dict:
    """Open check.html, paste ``texts`` (one per line), press the button, wait for the answer."""
    fragment = f"lang={lang}" + (f"&key={key}" if key else "")
    browser.get(f"{url}/static/check.html#{fragment}")
    browser.execute_script("localStorage.clear();")
    browser.refresh()
    browser.set_script_timeout(60)
    return browser.execute_async_script("""
        const [texts, done] = arguments;
        const waitFor = async (test) => { for (let i = 0; i < 600 && !test(); i++) await new Promise((r) => setTimeout(r, 50)); };
        (async () => {
          await waitFor(() => document.getElementById("key-id").textContent.length > 0);
          document.getElementById("codes").value = texts.join("\\n");
          document.getElementById("check").click();
          const result = document.getElementById("result"), portal = document.getElementById("portal");
          await waitFor(() => result.dataset.state && !(result.dataset.state === "verified"
                                                         && ["", "portal-checking"].includes(portal.dataset.portal)));
          done({state: result.dataset.state, verdict: document.getElementById("verdict").textContent,
                detail: document.getElementById("detail").textContent,
                protocol: document.getElementById("protocol").textContent,
                portal: portal.dataset.portal, portalText: portal.textContent,
                keyId: document.getElementById("key-id").textContent,
                detector: "BarcodeDetector" in window, note: document.getElementById("photo-note").textContent});
        })();
    """, texts)


def shuffled(items, seed=1):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


@pytest.mark.browser
def test_page_checks_the_paper_and_finds_the_portals_copy(browser, portal, world, protocol):
    url, state = portal
    state.update(export=world.export, status=200)
    out = check_on_page(browser, url, shuffled([protocol["printed"], *protocol["codes"]]))
    assert out["state"] == "verified" and "ПОДПИСЬ ВЕРНА" in out["verdict"], out
    assert out["portal"] == "match" and "совпадает" in out["portalText"]
    hash_shown = protocol["hash"]
    assert " ".join(hash_shown[i:i + 16] for i in range(0, 64, 16)) in out["protocol"]
    body = protocol["export"]["envelopes"][0]["body"]
    assert f"Избирателей в списке{body['voters_on_list']}" in out["protocol"]
    assert out["keyId"] == signing.key_id(world.authority.public_key())
    # No BarcodeDetector in Chromium on Linux: the page says to paste the text instead.
    assert not out["detector"] and "не читает QR-коды" in out["note"]


@pytest.mark.browser
def test_page_in_kyrgyz_by_default(browser, portal, protocol):
    url, _ = portal
    out = check_on_page(browser, url, protocol["codes"], lang="ky")
    assert out["state"] == "verified" and "КОЛ ТАМГА ТУУРА" in out["verdict"], out


@pytest.mark.browser
def test_page_says_when_the_portal_shows_a_later_revision_or_another_protocol(browser, portal, world, protocol):
    url, state = portal
    later = copy.deepcopy(world.export)
    body = copy.deepcopy(later["envelopes"][-1]["body"]) | {"closed_at": "2025-11-30T21:10:00Z"}
    later["envelopes"] = rechain(later["envelopes"] + [later["envelopes"][-1] | {"seq": 7, "body": body}],
                                 world.key, 6)
    state.update(export=later)
    assert check_on_page(browser, url, protocol["codes"])["portal"] == "superseded"
    other = copy.deepcopy(world.export)
    other["envelopes"][-1] = resign(other["envelopes"][-1], world.key, body=body)
    state.update(export=other)
    assert check_on_page(browser, url, protocol["codes"])["portal"] == "differs"
    forged = copy.deepcopy(world.export)
    forged["envelopes"][-1]["body"]["voters_on_list"] += 1
    state.update(export=forged)
    assert check_on_page(browser, url, protocol["codes"])["portal"] == "portal-bad"
    state.update(export=world.export, status=404)
    out = check_on_page(browser, url, protocol["codes"])
    assert out["state"] == "verified" and out["portal"] == "unreachable" and "Портал недоступен" in out["portalText"]
    state.update(status=200)


def tampered_codes(world, protocol, change) -> list[str]:
    export = copy.deepcopy(protocol["export"])
    change(export)
    return verification_codes(export, protocol["hash"])


@pytest.mark.browser
def test_page_refuses_what_is_not_the_signed_protocol(browser, portal, world, protocol):
    url, _ = portal
    codes = protocol["codes"]

    def figure(export):
        export["envelopes"][0]["body"]["contests"][0]["votes"]["cand-01"] += 1

    cases = {
        "incomplete": codes[:-1],
        "figure changed": tampered_codes(world, protocol, figure),
        "another station's certificate": tampered_codes(
            world, protocol, lambda e: e.update(certificate=world.certificate(station="st-0043",
                                                                              key=signing.generate_key()))),
        "tag of another protocol": [c.replace(c.split(":")[2], "0BADF00D", 1) for c in codes],
        "printed hash of another protocol": [f"uchastok-protocol:{STATION}:1:{'ab' * 32}", *codes],
        "a part from another protocol": [*codes[:-1], tampered_codes(world, protocol, figure)[-1]],
        "a character changed": [codes[0][:40] + ("A" if codes[0][40] != "A" else "B") + codes[0][41:], *codes[1:]],
        "no codes": ["hello"],
    }
    states = {name: check_on_page(browser, url, texts) for name, texts in cases.items()}
    summary = {name: s["state"] for name, s in states.items()}
    assert summary == {"incomplete": "incomplete", "figure changed": "not-verified",
                       "another station's certificate": "not-verified",
                       "tag of another protocol": "not-verified",
                       "printed hash of another protocol": "not-verified",
                       "a part from another protocol": summary["a part from another protocol"],
                       "a character changed": summary["a character changed"], "no codes": "error"}
    # A swapped part or a changed character breaks the compression or the signature: never verified.
    assert summary["a part from another protocol"] in ("not-verified", "error")
    assert summary["a character changed"] in ("not-verified", "error")
    assert "3" in states["incomplete"]["verdict"] or "из" in states["incomplete"]["verdict"]
    assert all(s["portal"] == "" for s in states.values())


@pytest.mark.browser
def test_page_works_from_a_saved_copy(browser, world, protocol):
    """Opened as a file (no portal behind it): still a secure context, still checks; the portal unreachable."""
    key = signing.public_text(world.authority.public_key())
    out = check_on_page(browser, STATIC.parent.as_uri(), protocol["codes"], key=key)
    assert out["state"] == "verified" and out["portal"] == "unreachable", out


@pytest.mark.browser
def test_page_takes_the_key_from_the_address(browser, portal, world, protocol):
    """A saved page has no portal to fetch the key from: the key travels in the address (+ as a space)."""
    url, _ = portal
    key = signing.public_text(world.authority.public_key()).replace("+", " ")
    assert check_on_page(browser, url, protocol["codes"], key=key)["state"] == "verified"
    wrong = signing.public_text(signing.generate_key().public_key())
    out = check_on_page(browser, url, protocol["codes"], key=wrong)
    assert out["state"] == "not-verified"

"""The observer's check in the reader's browser agrees with `uchastok verify`, and the export it checks.

- central/bundle.py ``station_export``: the file the portal offers for a station, from
  what the centre stored (the count stream from seq 1 to the published protocol, with
  the certificate that protocol names); no protocol, no file.
- central/portal/static/verify.js in Debian's headless Chromium, on every sample of
  tests/support/export_samples.py (valid, tampered, refused), through WebCrypto and
  through the fallback verifier (ed25519.js), against the real CLI run as a process:
  the same verdict, the same per-envelope ok/seq/hash, a reason wherever Python has one.
- ed25519.js on RFC 8032 section 7.1 vectors and on the inputs where verifiers differ
  (flipped bits, S >= L, small-order and mixed-order keys, non-canonical encodings):
  the same decision as the station's `cryptography`, and as Chromium's WebCrypto.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from export_samples import DEVIATIONS, SAMPLES, STATION, SampleWorld, served
from fixtures_sync import Device
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from sync_world import ELECTION, protocol_body, station_entry

from base.clock import FixedClock
from central.bundle import ExportUnavailable, station_export
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.canonical import canonical, parse
from sync.certificate import cert_ref, issue_certificate
from sync.envelope import ZERO_HASH, encode_batch, make_batch
from sync.errors import SyncError, VerificationError
from sync.export import verify_export

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "central" / "portal" / "static"
UCHASTOK = Path(sys.executable).parent / "uchastok"

VERIFY_ONLY_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>verify.js alone</title>
<script src="/static/verify.js" defer></script></head><body>verify.js alone</body></html>
"""
TEST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>verify.js under test</title>
<script src="/static/ed25519.js"></script>
<script src="/static/verify.js"></script>
<script>
async function bytesOf(url) {
  return new Uint8Array(await (await fetch(url)).arrayBuffer());
}
window.checkSample = async (name, key, fallback, withCert) => {
  const options = {forceFallback: fallback};
  if (withCert) options.certificate = await bytesOf(`/certs/${name}`);
  return uchastokVerify.verifyExport(await bytesOf(`/samples/${name}`), key, options);
};
window.canonicalOf = (texts) => texts.map((text) => {
  try {
    const bytes = uchastokVerify.canonical(uchastokVerify.parse(new TextEncoder().encode(text)));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  } catch (e) {
    if (e instanceof uchastokVerify.CheckError) return "refused";
    throw e;
  }
});
const hexBytes = (h) => new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16)));
window.edDecisions = async (vectors) => {
  const out = [];
  for (const [pub, msg, sig] of vectors) {
    const [p, m, s] = [hexBytes(pub), hexBytes(msg), hexBytes(sig)];
    const fallback = await uchastokEd25519.verify(p, s, m);
    let webcrypto;
    try {
      const key = await crypto.subtle.importKey("raw", p, {name: "Ed25519"}, false, ["verify"]);
      webcrypto = await crypto.subtle.verify({name: "Ed25519"}, key, s, m);
    } catch (e) {
      webcrypto = false;
    }
    out.push([fallback, webcrypto]);
  }
  return out;
};
</script></head><body>verify.js</body></html>
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = SampleWorld(tmp_path_factory.mktemp("export-samples"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def samples(world):
    return {name: build(world) for name, build in SAMPLES.items()}


@pytest.fixture(scope="module")
def site(samples):
    """verify.js and ed25519.js as the portal serves them, a test page and the samples, on loopback."""
    def sample(request):
        return Response(samples[request.path_params["name"]].data, media_type="application/json")

    def certificate(request):
        return Response(samples[request.path_params["name"]].certificate, media_type="application/json")

    app = Starlette(routes=[
        Route("/", lambda request: HTMLResponse(TEST_PAGE)),
        Route("/verify-only", lambda request: HTMLResponse(VERIFY_ONLY_PAGE)),
        Route("/samples/{name:path}", sample),
        Route("/certs/{name:path}", certificate),
        Mount("/static", StaticFiles(directory=STATIC)),
    ])
    with served(app) as url:
        yield url


@pytest.fixture
def page(browser, site):
    if browser.current_url != site + "/":
        browser.get(site + "/")
    browser.set_script_timeout(120)
    return browser


def run_cli(sample, tmp: Path) -> dict:
    """`uchastok verify FILE --trust KEY --json` as an observer runs it: exit status, report, stderr."""
    (tmp / "export.json").write_bytes(sample.data)
    (tmp / "trust.pub").write_text(sample.trust_text + "\n")
    args = [str(UCHASTOK), "verify", str(tmp / "export.json"), "--trust", str(tmp / "trust.pub"), "--json"]
    if sample.certificate is not None:
        (tmp / "cert.json").write_bytes(sample.certificate)
        args += ["--cert", str(tmp / "cert.json")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(done.stdout) if done.returncode in (0, 1) else None
    return {"exit": done.returncode, "report": report, "stderr": done.stderr}


def run_page(page, sample, fallback: bool) -> dict:
    out = page.execute_async_script(
        "const [name, key, fallback, withCert, done] = arguments;"
        "checkSample(name, key, fallback, withCert).then((r) => done(JSON.stringify(r)),"
        " (e) => done(JSON.stringify({exception: String(e && e.stack || e)})));",
        sample.name, sample.trust_text, fallback, sample.certificate is not None)
    report = json.loads(out)
    assert "exception" not in report, report.get("exception")
    return report


VERDICTS = {0: "verified", 1: "not-verified", 2: "refused"}


def page_verdict(report: dict) -> str:
    if "error" in report:
        return "refused"
    return "verified" if report["ok"] else "not-verified"


def assert_reports_agree(cli: dict, page: dict) -> None:
    if cli["exit"] == 2:
        assert cli["stderr"].startswith("error: ") and page["error"] and page["envelopes"] == []
        return
    py = cli["report"]
    assert (page["ok"], page["device"], page["station"], page["election"], page["problems"]) == \
        (py["ok"], py["device"], py["station"], py["election"], py["problems"])
    assert len(page["envelopes"]) == len(py["envelopes"])
    for mine, theirs in zip(page["envelopes"], py["envelopes"], strict=True):
        without_reason = {k: v for k, v in theirs.items() if k != "error"}
        assert {k: v for k, v in mine.items() if k != "error"} == without_reason
        assert bool(mine.get("error")) == bool(theirs.get("error")) == (not theirs["ok"])


@pytest.mark.parametrize("name, status", [("valid", 0), ("figure-changed", 1), ("duplicate-key", 2)])
def test_uchastok_verify_process_exit_status_is_its_verdict(samples, tmp_path, name, status):
    """Run as an observer runs it (the console script, not click's test runner): a tampered file
    exits 1. It exited 0, as `uchastok` runs click with standalone_mode=False."""
    assert run_cli(samples[name], tmp_path)["exit"] == status


@pytest.mark.browser
def test_verify_js_loads_the_fallback_beside_it_when_the_page_did_not(browser, site, samples):
    """A page that loads verify.js only (as the portal's station page does) still has the fallback."""
    browser.get(site + "/verify-only")
    report = json.loads(browser.execute_async_script(
        "const [key, done] = arguments;"
        "const had = typeof uchastokEd25519 !== 'undefined';"
        "fetch('/samples/valid').then((r) => r.arrayBuffer())"
        ".then((b) => uchastokVerify.verifyExport(b, key, {forceFallback: true}))"
        ".then((r) => done(JSON.stringify(Object.assign(r, {had}))), (e) => done(JSON.stringify({exception: String(e)})));",
        samples["valid"].trust_text))
    assert report.get("had") is False and report["ok"] and report["engine"] == "fallback", report


def _sample_params():
    for name in SAMPLES:
        marks = [pytest.mark.xfail(strict=True, reason=DEVIATIONS[name])] if name in DEVIATIONS else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
@pytest.mark.parametrize("name", list(_sample_params()))
def test_page_agrees_with_uchastok_verify(page, samples, tmp_path, name, engine):
    sample = samples[name]
    cli = run_cli(sample, tmp_path)
    mine = run_page(page, sample, fallback=engine == "fallback")
    assert mine["engine"] == engine
    assert VERDICTS[cli["exit"]] == sample.expect, cli
    assert page_verdict(mine) == sample.expect, mine
    assert_reports_agree(cli, mine)


# --- strict JSON and RFC 8785: the page's bytes are sync/canonical.py's ------------------------------

PIECES = ["\\\\", "\\\"", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\u001F", "\\u00e9",
          "\\u00E9", "\\ud83d\\ude00", "\\ud800", "\\udc00x", "\\u2028", "\x7f", "\u2028", "a", "Z", "0", " ",
          "ы", "Ү", "€", "\ue000", "\uffff", "😀", "𝄞", "e\u0301", "\\x41", "\\u12", "\x01"]
NUMBERS = ["0", "-0", "1", "-1", "10", "01", "1.0", "1e2", "1E+2", "-2.5e-3", "9007199254740991",
           "-9007199254740991", "9007199254740992", "1" * 32, "1" * 33, "1.", ".5", "-", "+1", "0x10",
           "NaN", "Infinity", "-Infinity"]


def json_text(rng, depth=0) -> str:
    """A JSON-ish text: mostly valid, with the spellings where parsers and canonicalisers differ."""
    r = rng.random()
    if depth > 3 or r < 0.35:
        kind = rng.random()
        if kind < 0.4:
            return '"' + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 5))) + '"'
        if kind < 0.8:
            return rng.choice(NUMBERS)
        return rng.choice(["true", "false", "null", "tru", "nul"])
    ws = rng.choice(["", " ", "\n\t", "\r\n  ", "\x0c"]) if rng.random() < 0.2 else ""
    if r < 0.65:
        items = [json_text(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return "[" + ws + ("," + ws).join(items) + ("," if rng.random() < 0.03 else "") + "]"
    keys = ['"' + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3))) + '"'
            for _ in range(rng.randint(0, 4))]
    if keys and rng.random() < 0.1:
        keys.append(rng.choice(keys))                          # a duplicate key
    return "{" + ws + ",".join(f"{k}{ws}:{ws}{json_text(rng, depth + 1)}" for k in keys) + "}"


def python_canonical(text: str) -> str:
    try:
        return canonical(parse(text.encode("utf-8", "surrogatepass"))).hex()
    except SyncError:
        return "refused"


@pytest.mark.browser
@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed-{s}")
def test_page_parses_and_canonicalises_as_sync_does(page, seed):
    rng = random.Random(seed)
    texts = [json_text(rng) for _ in range(400)]
    texts += ["[" * 64 + "]" * 64, "[" * 65 + "]" * 65, '{"a":1}', "\ufeff[]", " [ ] ", "[]x", ""]
    expected = [python_canonical(t) for t in texts]
    assert 50 < expected.count("refused") < len(texts) - 50      # both outcomes, often
    got = page.execute_script("return canonicalOf(arguments[0]);", texts)
    assert [(t, e, g) for t, e, g in zip(texts, expected, got, strict=True) if e != g] == []


# --- Ed25519: RFC 8032 section 7.1 and the inputs where verifiers part ----------------------------

# (secret, public, message, signature) of RFC 8032 section 7.1 TEST 1, TEST 2, TEST 3.
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]
L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19
# The eight points of order dividing 8 (the torsion subgroup), in canonical encoding.
TORSION = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
]
# Encodings the libraries read leniently: the identity with y = 1 + p, and with the sign bit set.
LENIENT = [(1 + P).to_bytes(32, "little").hex(), (1 | 1 << 255).to_bytes(32, "little").hex()]
# A = aB + T (T of order 8): cofactorless verification accepts a signature only when 8 divides k.
MIXED = ("a703ad137d9d20cea5219cd6dc54a922e80fcb1b2ebc0f3bb840d0b4b3b4f0c4", [
    ("6d697865642038", "801f40eaaee1ef8723279a28b2cf4037b889dad222604678748b53ed0db0db9204e006b4bc70274a85a1b969cb9871f28668ea14defa57dfec5dd68192bfa303"),
    ("6d697865642030", "edc876d6831fd2105d0b4389ca2e283166469289146e2ce06faefe98b22548dfcfc48f3bb6b2d3a59e3c82ed9b7f1ea39ad4630e3973504a7ec9ad6b71b83609"),
    ("6d697865642031", "f47e49f9d07ad2c1606b4d94067c41f9777d4ffda709b71da1d88628fce34d85dc0f239f3d74b98f6b6f9efe47c7d3cc78d14957225a693896a046e612e19e02"),
])


def cryptography_decides(pub: str, msg: str, sig: str) -> bool:
    try:
        signing.verify(signing.public_from_bytes(bytes.fromhex(pub)), bytes.fromhex(sig), bytes.fromhex(msg))
    except (VerificationError, ValueError):
        return False
    return True


def flip(hex_text: str, byte: int, bit: int = 0) -> str:
    raw = bytearray.fromhex(hex_text)
    raw[byte] ^= 1 << bit
    return raw.hex()


def edge_vectors() -> list[tuple[str, str, str, str]]:
    """(name, public, message, signature) where a verifier could decide otherwise than `cryptography`."""
    out = []
    _, pub, msg, sig = RFC8032[1]
    s = int.from_bytes(bytes.fromhex(sig[64:]), "little")
    out += [("flipped bit in R", pub, msg, flip(sig, 3)), ("flipped bit in S", pub, msg, flip(sig, 40, 5)),
            ("flipped bit in the message", pub, flip(msg, 0, 7), sig),
            ("flipped bit in the key", flip(pub, 17, 2), msg, sig),
            ("S + L (S >= L)", pub, msg, sig[:64] + (s + L).to_bytes(32, "little").hex()),
            ("S = L", pub, msg, sig[:64] + L.to_bytes(32, "little").hex()),
            ("top bits of S set", pub, msg, sig[:126] + format(int(sig[126:], 16) | 0xe0, "02x"))]
    for a in TORSION + LENIENT:          # small-order keys: S = 0 and R each torsion point
        for r in TORSION:
            for m in ("00", "6d31"):
                out.append((f"small-order key {a[:8]} R {r[:8]}", a, m, r + "00" * 32))
    out += [(f"mixed-order key, message {m}", MIXED[0], m, sg) for m, sg in MIXED[1]]
    out += [("key not on the curve", (2).to_bytes(32, "little").hex(), "00", TORSION[0] + "00" * 32),
            ("R non-canonical (y = 1 + p)", TORSION[0], "00", LENIENT[0] + "00" * 32)]
    return out


def test_rfc8032_constants_are_what_cryptography_computes():
    for secret, pub, msg, sig in RFC8032:
        key = signing.private_from_seed(bytes.fromhex(secret))
        assert signing.public_bytes(key.public_key()).hex() == pub
        assert signing.sign(key, bytes.fromhex(msg)).hex() == sig


@pytest.mark.browser
def test_fallback_verifies_rfc8032_vectors_and_longer_messages(page):
    vectors = [(pub, msg, sig) for _, pub, msg, sig in RFC8032]
    for i, size in enumerate((1023, 4096)):      # deterministic signatures of longer messages
        key = signing.private_from_seed(bytes([i + 1]) * 32)
        msg = bytes(range(256)) * (size // 256) + bytes(size % 256)
        vectors.append((signing.public_bytes(key.public_key()).hex(), msg.hex(), signing.sign(key, msg).hex()))
    decisions = page.execute_async_script(
        "const [v, done] = arguments; edDecisions(v).then(done);", vectors)
    assert decisions == [[True, True]] * len(vectors)


@pytest.mark.browser
def test_fallback_decides_edge_inputs_as_cryptography_does(page):
    vectors = edge_vectors()
    expected = [cryptography_decides(pub, msg, sig) for _, pub, msg, sig in vectors]
    # The set is worth having only if it holds both outcomes: small-order keys do verify.
    assert True in expected and False in expected
    decisions = page.execute_async_script(
        "const [v, done] = arguments; edDecisions(v).then(done);", [v[1:] for v in vectors])
    wrong = [(name, want, got) for (name, *_), want, got in zip(vectors, expected, decisions, strict=True)
             if got != [want, want]]
    assert wrong == []


@pytest.mark.browser
def test_fallback_refuses_wrong_lengths(page):
    _, pub, msg, sig = RFC8032[0]
    decisions = page.execute_async_script(
        "const [v, done] = arguments; edDecisions(v).then(done);",
        [(pub[:62], msg, sig), (pub, msg, sig[:126]), (pub, msg, sig + "00")])
    assert [d[0] for d in decisions] == [False, False, False]


# --- the export the portal offers ----------------------------------------------------------------

def test_station_export_is_the_count_stream_up_to_the_published_protocol(world):
    doc = world.export
    assert [e["seq"] for e in doc["envelopes"]] == [1, 2, 3, 4, 5, 6]
    assert doc["envelopes"][-1]["kind"] == "results-protocol"
    assert doc["certificate"] == world.station.cert
    report = verify_export(doc, world.authority.public_key())
    published = world.storage.latest_protocols()[STATION]
    assert report.ok and report.envelopes[-1]["hash"] == published["hash"]


@pytest.fixture
def central(tmp_path, authority, ack_key):
    storage = Storage(tmp_path / "central.db")
    rx = Receiver(storage, ack_key, authority.public_key(), election_id=ELECTION,
                  clock=FixedClock("2025-11-30T21:00:00+00:00"))
    rx.register_stations([station_entry("st-0042", 42), station_entry("st-0043", 43)])
    yield rx
    storage.close()


def upload(rx, device, envelopes, certificate) -> None:
    reply = rx.handle_batch(encode_batch(make_batch(device.id, "count", envelopes, certificate)), "gzip")
    assert {r["status"] for r in reply.body["signed"]["results"]} == {"stored"}, reply.body


def test_a_station_without_a_protocol_has_no_export(central, authority):
    dev = Device(authority)
    upload(central, dev, [dev.signer.seal("count", 1, ZERO_HASH, "polls-event",
                                          {"event": "opened", "at": "2025-11-30T08:00:00Z"}).envelope],
           dev.cert)
    with pytest.raises(ExportUnavailable, match="st-0042 has no results protocol"):
        station_export(central.storage, "st-0042")
    with pytest.raises(ExportUnavailable, match="st-0043 has no results protocol"):
        station_export(central.storage, "st-0043")


def test_export_keeps_a_gap_and_checks_the_chain_on_each_side(central, authority):
    dev = Device(authority)
    envs, prev = [], ZERO_HASH
    for seq in range(1, 5):
        kind, body = (("results-protocol", protocol_body("st-0042", 100)) if seq == 4 else
                      ("polls-event", {"event": "opened", "at": "2025-11-30T08:00:00Z"}))
        sealed = dev.signer.seal("count", seq, prev, kind, body)
        envs.append(sealed.envelope)
        prev = sealed.hash
    upload(central, dev, [envs[0], envs[2], envs[3]], dev.cert)       # seq 2 has not arrived
    doc = station_export(central.storage, "st-0042")
    assert [e["seq"] for e in doc["envelopes"]] == [1, 3, 4]
    assert verify_export(doc, authority.public_key()).ok


def test_export_starts_after_the_last_envelope_of_an_earlier_certificate(central, authority):
    """A device certified again during the day: the file carries the protocol's certificate only."""
    dev = Device(authority)
    first = dev.cert
    second = issue_certificate(authority, dev.id, dev.pub, "st-0042", ELECTION,
                               *(FixedClock(t).now() for t in ("2025-11-02T00:00:00+00:00",
                                                               "2025-12-31T00:00:00+00:00")))
    opened = dev.signer.seal("count", 1, ZERO_HASH, "polls-event",
                             {"event": "opened", "at": "2025-11-30T08:00:00Z"})
    dev.signer.cert_ref = cert_ref(second)
    closed = dev.signer.seal("count", 2, opened.hash, "polls-event",
                             {"event": "closed", "at": "2025-11-30T20:00:00Z"})
    protocol = dev.signer.seal("count", 3, closed.hash, "results-protocol", protocol_body("st-0042", 100))
    upload(central, dev, [opened.envelope], first)
    upload(central, dev, [closed.envelope, protocol.envelope], second)
    doc = station_export(central.storage, "st-0042")
    assert doc["certificate"] == second and [e["seq"] for e in doc["envelopes"]] == [2, 3]
    assert verify_export(doc, authority.public_key()).ok

"""Observer exports, valid and tampered, from a real signed station: what the page and the CLI must agree on.

``SampleWorld(tmp)`` provisions a station (tests/support/sync_world.py: a device key, its
certificate from a provisioning authority, the count role's outbox), signs a day on its
count stream (polls opened, heartbeats, polls closed, a results protocol at realistic size),
uploads it to an in-process receiver and takes the observer export the portal offers
(central/bundle.py ``station_export``). Every sample starts from that file.

``SAMPLES`` maps a name to a builder ``(world) -> Sample``; a Sample holds the file's exact
bytes (some samples are only expressible as text: duplicate keys, 1.0 for 1, a 33-digit
integer, bytes that are not UTF-8), the trust key to check it against, an optional bare
certificate (``--cert``) and what docs/protocol.md says the verdict is: ``verified`` (exit
0), ``not-verified`` (exit 1, a report) or ``refused`` (exit 2: the file or its certificate
fails as a whole). ``DEVIATIONS`` lists samples on which sync/ decides otherwise than the
document (none now: a trailing newline in an identifier and fullwidth digits in a TIME were
two, fixed in sync/); the tests mark such samples xfail(strict).

``served(app)`` serves a Starlette app (the static files and a test page) on a free
loopback port for the browser tests: http://127.0.0.1 is a secure context, as WebCrypto needs.

Example::

    world = SampleWorld(tmp_path)
    sample = SAMPLES["figure-changed"](world)
    sample.data, sample.expect      # b'{"certificate": ...', "not-verified"
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from asgi_served import serving
from sync_world import ELECTION, Station, full_protocol_body, receipt_body, station_entry

from base.clock import FixedClock
from base.sqlite import atomic
from central.bundle import station_export
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.canonical import canonical
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import encode_batch, envelope_hash, make_batch

STATION = "st-0042"
DEVICE_SEED = bytes(range(40, 72))
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
VALIDITY = (dt.datetime(2025, 11, 1, tzinfo=dt.UTC), dt.datetime(2025, 12, 31, tzinfo=dt.UTC))


def served(app):
    """``app`` served by uvicorn on a free port of 127.0.0.1; yields its base URL."""
    return serving(app)


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes                    # the file an observer holds
    trust: signing.PublicKey       # the key it is checked against (--trust)
    expect: str                    # "verified" | "not-verified" | "refused"
    certificate: bytes | None = None   # --cert, for a bare envelope

    @property
    def trust_text(self) -> str:
        return signing.public_text(self.trust)


class SampleWorld:
    """A station's signed count stream, uploaded and exported by the centre."""

    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.authority = signing.private_from_seed(bytes(range(7, 39)))
        # One device key every run, so every sample's bytes (and the printed codes) are the same.
        with mock.patch.object(signing, "generate_key", lambda: signing.private_from_seed(DEVICE_SEED)):
            self.station = Station(self.tmp / "st", self.authority, station_id=STATION)
        self.key = self.station.key
        ob, conn = self.station.outboxes["count"], self.station.conns["count"]
        with atomic(conn):
            ob.enqueue("polls-event", {"event": "opened", "at": "2025-11-30T08:00:00Z"})
            for i in range(3):
                ob.enqueue("heartbeat", {"power": "mains", "battery_pct": None, "disk_free_mb": 9000 - i,
                                         "queue_depth": i, "clock": "2025-11-30T08:00:00Z"})
            ob.enqueue("polls-event", {"event": "closed", "at": "2025-11-30T20:00:00Z"})
            ob.enqueue("results-protocol", full_protocol_body(STATION))
        envs = [p.envelope for p in ob.pending(100)]
        self.storage = Storage(self.tmp / "central.db")
        receiver = Receiver(self.storage, signing.generate_key(), self.authority.public_key(),
                            election_id=ELECTION, clock=FixedClock("2025-11-30T21:00:00+00:00"))
        receiver.register_stations([station_entry(STATION, 42)])
        reply = receiver.handle_batch(encode_batch(make_batch(self.station.device_id, "count", envs,
                                                              self.station.cert)), "gzip")
        statuses = {r["status"] for r in reply.body["signed"]["results"]}
        assert statuses == {"stored"}, reply.body
        self.export = station_export(self.storage, STATION)

    def close(self) -> None:
        self.storage.close()
        self.station.close()

    # --- helpers for the builders -------------------------------------------------------------

    def doc(self) -> dict:
        return copy.deepcopy(self.export)

    def sample(self, name: str, doc, expect: str, *, trust=None, certificate=None,
               ascii_only: bool = False) -> Sample:
        data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=ascii_only).encode()
        cert = None if certificate is None else json.dumps(certificate).encode()
        return Sample(name, data, trust or self.authority.public_key(), expect, cert)

    def certificate(self, *, station: str = STATION, key=None, authority=None, not_after=None,
                    device_id: str | None = None) -> dict:
        pub = (key or self.key).public_key()
        return issue_certificate(authority or self.authority, device_id or device_id_for(pub), pub,
                                 station, ELECTION, VALIDITY[0], not_after or VALIDITY[1])


def resign(env: dict, key, **changes) -> dict:
    """``env`` with ``changes`` applied and signed again by ``key`` (no shape check: tampering allowed)."""
    env = {k: v for k, v in env.items() if k != "signature"} | changes
    env["signature"] = signing.b64(signing.sign(key, canonical(env)))
    return env


def rechain(envs: list[dict], key, start: int = 0, **changes) -> list[dict]:
    """Re-sign ``envs[start:]`` with ``changes``, each ``prev`` the hash of the one before."""
    out = list(envs[:start])
    for env in envs[start:]:
        prev = envelope_hash(out[-1]) if out else env["prev"]
        out.append(resign(env, key, **(changes | {"prev": prev})))
    return out


def protocol_index(doc: dict) -> int:
    (i,) = [i for i, e in enumerate(doc["envelopes"]) if e["kind"] == "results-protocol"]
    return i


SAMPLES: dict[str, Callable[[SampleWorld], Sample]] = {}
DEVIATIONS: dict[str, str] = {}


def sample(name: str, deviation: str | None = None):
    def register(builder):
        SAMPLES[name] = lambda w: builder(w, name)
        if deviation:
            DEVIATIONS[name] = deviation
        return builder
    return register


# --- the station's own file ---------------------------------------------------------------------

@sample("valid")
def _valid(w, name):
    return w.sample(name, w.doc(), "verified")


@sample("valid-ascii-escaped")
def _valid_ascii(w, name):
    """The same file with every non-ASCII character written as a \\u escape."""
    return w.sample(name, w.doc(), "verified", ascii_only=True)


@sample("valid-bare-protocol-with-cert")
def _bare(w, name):
    doc = w.doc()
    return w.sample(name, doc["envelopes"][protocol_index(doc)], "verified", certificate=doc["certificate"])


@sample("valid-gap")
def _gap(w, name):
    """A seq missing from the file: the chain is checked where seq-1 is present."""
    doc = w.doc()
    del doc["envelopes"][2]
    return w.sample(name, doc, "verified")


@sample("valid-same-envelope-twice")
def _twice(w, name):
    doc = w.doc()
    doc["envelopes"].append(copy.deepcopy(doc["envelopes"][-1]))
    return w.sample(name, doc, "verified")


@sample("valid-unicode-body")
def _unicode(w, name):
    """A body signed by the device with what RFC 8785 orders and escapes: non-BMP names sort by
    UTF-16 code units (U+1F600 before U+FF61), controls escape, U+2028 and DEL do not."""
    doc = w.doc()
    i = protocol_index(doc)
    env = doc["envelopes"][i]
    body = env["body"] | {"note": {"\U0001f600": "smile", "\uff61": "halfwidth", "e\u0301": "é",
                                   "ctl": "a\u0007b\u001fc\u007fd\u2028e\"f\\g/h\ti\nj\bk\fl\rm\u0000",
                                   "Ң Ө Ү": "Кыргызча", "neg": -9007199254740991, "zero": 0}}
    doc["envelopes"][i] = resign(env, w.key, body=body)
    return w.sample(name, doc, "verified")


@sample("valid-deep-body")
def _deep(w, name):
    """Nested 60 levels inside the body: 64 in the file, the most the parser allows."""
    doc = w.doc()
    i = protocol_index(doc)
    deep: list = []
    for _ in range(59):
        deep = [deep]
    doc["envelopes"][i] = resign(doc["envelopes"][i], w.key, body=doc["envelopes"][i]["body"] | {"deep": deep})
    return w.sample(name, doc, "verified")


# --- tampered envelopes --------------------------------------------------------------------------

@sample("figure-changed")
def _figure(w, name):
    doc = w.doc()
    votes = doc["envelopes"][protocol_index(doc)]["body"]["contests"][0]["votes"]
    votes["cand-01"] += 1
    return w.sample(name, doc, "not-verified")


@sample("signature-changed")
def _signature(w, name):
    doc = w.doc()
    env = doc["envelopes"][protocol_index(doc)]
    sig = env["signature"]
    env["signature"] = sig[:40] + B64[(B64.index(sig[40]) + 1) % 64] + sig[41:]
    return w.sample(name, doc, "not-verified")


@sample("signature-respelled")
def _respelled(w, name):
    """The same signature bytes with the unused low bits set: another spelling, another hash."""
    doc = w.doc()
    env = doc["envelopes"][protocol_index(doc)]
    sig = env["signature"]
    env["signature"] = sig[:85] + B64[B64.index(sig[85]) | 1] + "=="
    return w.sample(name, doc, "not-verified")


@sample("chain-broken")
def _chain(w, name):
    """The protocol signed by the device again, naming another envelope as its predecessor."""
    doc = w.doc()
    i = protocol_index(doc)
    doc["envelopes"][i] = resign(doc["envelopes"][i], w.key, prev=envelope_hash(doc["envelopes"][0]))
    return w.sample(name, doc, "not-verified")


@sample("fork")
def _fork(w, name):
    """Two different protocols at one seq, both signed by the device."""
    doc = w.doc()
    env = doc["envelopes"][protocol_index(doc)]
    other = copy.deepcopy(env["body"])
    other["contests"][0]["votes"]["cand-01"] += 5
    doc["envelopes"].append(resign(env, w.key, body=other))
    return w.sample(name, doc, "not-verified")


@sample("kind-on-wrong-stream")
def _wrong_stream(w, name):
    """A voter's receipt on the count stream, signed by the device: malformed."""
    doc = w.doc()
    doc["envelopes"][1] = resign(doc["envelopes"][1], w.key, kind="identification-receipt",
                                 body=receipt_body(1))
    return w.sample(name, doc, "not-verified")


@sample("created-at-not-a-time")
def _not_a_time(w, name):
    doc = w.doc()
    doc["envelopes"] = rechain(doc["envelopes"], w.key, 2, created_at="2025-02-29T08:00:00Z")[:3]
    return w.sample(name, doc, "not-verified")


@sample("body-over-the-limit")
def _too_big(w, name):
    """33,000 Cyrillic letters: 33,000 UTF-16 units but 66,000 UTF-8 bytes, over the 65,536 a body may have."""
    doc = w.doc()
    i = protocol_index(doc)
    doc["envelopes"][i] = resign(doc["envelopes"][i], w.key, body={"pad": "ж" * 33_000})
    return w.sample(name, doc, "not-verified")


@sample("empty-export")
def _empty(w, name):
    doc = w.doc()
    doc["envelopes"] = []
    return w.sample(name, doc, "not-verified")


# --- certificates --------------------------------------------------------------------------------

@sample("certificate-of-another-station")
def _other_station(w, name):
    """Another station's device certificate: its key signed none of these envelopes."""
    doc = w.doc()
    doc["certificate"] = w.certificate(station="st-0043", key=signing.generate_key())
    return w.sample(name, doc, "not-verified")


@sample("same-key-certified-for-another-station")
def _same_key_other_station(w, name):
    doc = w.doc()
    doc["certificate"] = w.certificate(station="st-0043")
    return w.sample(name, doc, "not-verified")


@sample("certificate-expired")
def _expired(w, name):
    """The device's key certified until the morning, the day's envelopes sealed after it."""
    doc = w.doc()
    cert = w.certificate(not_after=dt.datetime(2025, 11, 29, tzinfo=dt.UTC))
    doc["certificate"] = cert
    doc["envelopes"] = rechain(doc["envelopes"], w.key, cert=cert_ref(cert))
    return w.sample(name, doc, "not-verified")


@sample("certificate-not-by-the-authority")
def _not_authority(w, name):
    doc = w.doc()
    doc["certificate"] = w.certificate(authority=signing.generate_key())
    return w.sample(name, doc, "refused")


@sample("wrong-trust-root")
def _wrong_trust(w, name):
    return w.sample(name, w.doc(), "refused", trust=signing.generate_key().public_key())


@sample("certificate-signature-respelled")
def _cert_respelled(w, name):
    doc = w.doc()
    sig = doc["certificate"]["signature"]
    doc["certificate"]["signature"] = sig[:85] + B64[B64.index(sig[85]) | 2] + "=="
    return w.sample(name, doc, "refused")


@sample("certificate-device-id-not-its-key")
def _cert_device(w, name):
    doc = w.doc()
    doc["certificate"] = w.certificate(device_id="dev-0011223344556677")
    return w.sample(name, doc, "refused")


# --- what only the text can say ------------------------------------------------------------------

def _text(w) -> str:
    return json.dumps(w.doc(), ensure_ascii=False)


def _once(text: str, old: str, new: str) -> bytes:
    assert text.count(old) == 1, old
    return text.replace(old, new).encode()


ON_LIST = '"voters_on_list": 2000}'    # the protocol body's last member (canonical order)


@sample("number-as-float")
def _float(w, name):
    """2000.0 for 2000 in a protocol: a float, which no signed document may hold."""
    return w.sample(name, _once(_text(w), ON_LIST, '"voters_on_list": 2000.0}'), "not-verified")


@sample("number-with-exponent")
def _exponent(w, name):
    return w.sample(name, _once(_text(w), ON_LIST, '"voters_on_list": 2E3}'), "not-verified")


@sample("seq-as-float")
def _seq_float(w, name):
    return w.sample(name, _once(_text(w), '"seq": 1,', '"seq": 1.0,'), "not-verified")


@sample("integer-beyond-2^53")
def _big(w, name):
    return w.sample(name, _once(_text(w), ON_LIST, '"voters_on_list": 9007199254740993}'), "not-verified")


@sample("integer-of-33-digits")
def _huge(w, name):
    return w.sample(name, _once(_text(w), ON_LIST, '"voters_on_list": ' + "9" * 33 + "}"), "refused")


@sample("minus-zero")
def _minus_zero(w, name):
    """-0 reads as the integer 0: another spelling of the same value, like white space, and what is
    signed is the canonical bytes (0), so the file still verifies."""
    return w.sample(name, _once(_text(w), '"queue_depth": 0}', '"queue_depth": -0}'), "verified")


@sample("duplicate-key")
def _duplicate(w, name):
    return w.sample(name, _once(_text(w), ON_LIST, '"voters_on_list": 2000, "voters_on_list": 2000}'),
                    "refused")


@sample("lone-surrogate")
def _surrogate(w, name):
    doc = w.doc()
    doc["envelopes"][0]["body"]["event"] = "opened\ud800"
    return w.sample(name, doc, "not-verified", ascii_only=True)


@sample("nested-too-deep")
def _too_deep(w, name):
    return w.sample(name, _once(_text(w), '"event": "opened"', '"event": ' + "[" * 70 + "]" * 70), "refused")


@sample("not-utf-8")
def _latin1(w, name):
    text = _text(w).replace('"event": "opened"', '"event": "op\u00e9ned"')
    return w.sample(name, text.encode("latin-1"), "refused")


@sample("byte-order-mark")
def _bom(w, name):
    return w.sample(name, b"\xef\xbb\xbf" + _text(w).encode(), "refused")


@sample("export-version-1.0")
def _version(w, name):
    text = _text(w)
    assert text.startswith('{"type": "uchastok-export", "version": 1,')
    return w.sample(name, text.replace('"version": 1,', '"version": 1.0,', 1).encode(), "refused")


# --- what sync/ once read more loosely than docs/protocol.md allows (now refused by both) ---------

@sample("station-id-with-trailing-newline")
def _newline_station(w, name):
    """A certificate for station "st-0042\\n" and envelopes signed for it: not identifiers."""
    doc = w.doc()
    cert = w.certificate(station=STATION + "\n")
    doc["certificate"] = cert
    doc["envelopes"] = rechain(doc["envelopes"], w.key, cert=cert_ref(cert), station=STATION + "\n")
    return w.sample(name, doc, "not-verified")


@sample("certificate-time-in-fullwidth-digits")
def _fullwidth(w, name):
    doc = w.doc()
    cert = w.certificate()
    signed = cert["signed"] | {"not_before": "\uff12\uff10\uff12\uff15-11-01T00:00:00Z"}
    cert = signing.sign_document(w.authority, signed)
    doc["certificate"] = cert
    doc["envelopes"] = rechain(doc["envelopes"], w.key, cert=cert_ref(cert))
    return w.sample(name, doc, "refused")

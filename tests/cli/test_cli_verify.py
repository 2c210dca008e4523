"""`uchastok verify` and `uchastok receiver ...` commands, and the export format behind them."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner
from countkit import make_home, reading
from fixtures_sync import Device
from sync_world import Central, Station, protocol_body, receipt_body, station_entry

from base.clock import FixedClock
from central import aggregate
from central.server import open_receiver
from central.service import Receiver
from central.storage import Storage
from cli import cli
from count.protocol import device_outbox, export_protocol, paper_protocol, sign_protocol
from count.store import CountStore
from drivers.printer.document import QrCode, Text
from station import polls
from station.db import open_station_db
from sync import signing
from sync.canonical import canonical
from sync.envelope import ZERO_HASH, encode_batch, make_batch
from sync.errors import VerificationError
from sync.export import export_from_outbox, make_export, verify_export
from sync.uploader import Uploader

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@pytest.fixture
def world(tmp_path, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    yield st, tmp_path
    st.close()


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.output


def test_verify_export_ok_and_tampered(world, authority):
    st, tmp = world
    st.add_protocol(100)
    doc = export_from_outbox(st.outboxes["count"], st.cert)
    (tmp / "export.json").write_text(json.dumps(doc))
    code, out = run("verify", tmp / "export.json", "--trust", tmp / "prov.pub")
    assert code == 0 and "verified" in out and "results-protocol" in out
    doc["envelopes"][1]["body"]["contests"][0]["votes"]["cand-1"] += 1
    (tmp / "bad.json").write_text(json.dumps(doc))
    code, out = run("verify", tmp / "bad.json", "--trust", tmp / "prov.pub", "--json")
    rep = json.loads(out)
    assert code == 1 and not rep["ok"] and rep["envelopes"][0]["ok"] and not rep["envelopes"][1]["ok"]


def test_verify_bare_envelope_with_cert(world):
    st, tmp = world
    st.add_protocol(100)
    env = st.outboxes["count"].pending(5)[0].envelope
    (tmp / "env.json").write_text(json.dumps(env))
    (tmp / "cert.json").write_text(json.dumps(st.cert))
    code, _ = run("verify", tmp / "env.json", "--cert", tmp / "cert.json", "--trust", tmp / "prov.pub")
    assert code == 0


def test_verify_against_wrong_trust_root(world):
    st, tmp = world
    st.add_protocol(10)
    signing.save_public_key(signing.generate_key().public_key(), tmp / "other.pub")
    doc = export_from_outbox(st.outboxes["count"], st.cert)
    with pytest.raises(VerificationError):
        verify_export(doc, signing.load_public_key(tmp / "other.pub"))


def test_broken_chain_in_export(world, authority):
    st, tmp = world
    st.add_protocol(10)
    st.add_protocol(10)
    doc = export_from_outbox(st.outboxes["count"], st.cert)
    del doc["envelopes"][1]  # seq 1, 3, 4: 4's prev must still match 3
    rep = verify_export(doc, authority.public_key())
    assert rep.ok
    doc["envelopes"][1], doc["envelopes"][2] = doc["envelopes"][2], doc["envelopes"][1]
    assert verify_export(doc, authority.public_key()).ok  # order in the file does not matter


def test_receiver_commands(world, authority, ack_key):
    st, tmp = world
    db = tmp / "central.db"
    (tmp / "cert.json").write_text(json.dumps(st.cert))
    code, out = run("receiver", "enroll", tmp / "cert.json", "--db", db, "--trust", tmp / "prov.pub")
    assert code == 0 and st.device_id in out
    central = Central(db, ack_key, authority.public_key())
    central.receiver.register_stations([station_entry("st-0042", 42), station_entry("st-0043", 43)])
    st.add_receipts(120)
    st.add_protocol(120)
    with Uploader(list(st.outboxes.values()), central.url, ack_key.public_key(),
                  rng=random.Random(1)) as up:  # no certificate sent: enrolled by the command
        up.drain()
    central.close()
    code, out = run("receiver", "results", "--db", db, "--level", "oik", "--json")
    res = json.loads(out)
    assert code == 0 and res["stations_counted"] == 1 and res["groups"][0]["code"] == "OIK-2"
    code, out = run("receiver", "results", "--db", db)
    assert "party-1" in out
    code, out = run("receiver", "stations", "--db", db, "--json")
    s = json.loads(out)
    assert s["missing"] == ["st-0043"] and s["verified"][0]["station"] == "st-0042"
    code, out = run("receiver", "anomalies", "--db", db, "--json")
    assert json.loads(out)["double_identification"] == []


def test_commands_have_examples():
    for name in ("serve", "enroll", "results", "anomalies", "stations"):
        assert "Example:" in cli.get_command(None, "receiver").commands[name].help
    assert "Example:" in cli.get_command(None, "verify").help


def test_receiver_loads_package_manifest_and_station_list(tmp_path, authority, ack_key):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    manifest = {"election": {"id": "kg-2025-parl"}, "station": station_entry("st-0042", 42)}
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "stations.json").write_text(json.dumps([station_entry("st-0043", 43)]))
    signing.save_private_key(ack_key, tmp_path / "ack.key")
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    rx = open_receiver(tmp_path / "c.db", tmp_path / "ack.key", tmp_path / "prov.pub",
                       package_dir=pkg, stations=tmp_path / "stations.json")
    assert rx.election_id == "kg-2025-parl" and rx.station_list() == {"st-0042", "st-0043"}
    rx.storage.close()


def verify_file(tmp, doc, name="export.json"):
    (tmp / name).write_text(json.dumps(doc))
    code, out = run("verify", tmp / name, "--trust", tmp / "prov.pub")
    return code, out


def resign(dev, env):
    env = {k: v for k, v in env.items() if k != "signature"}
    env["signature"] = signing.b64(signing.sign(dev.key, canonical(env)))
    return env


def test_verify_refuses_a_respelled_copy(world):
    """The same signature bytes in another base64 spelling would give another envelope hash."""
    st, tmp = world
    st.add_protocol(100)
    doc = export_from_outbox(st.outboxes["count"], st.cert)
    sig = doc["envelopes"][1]["signature"]
    doc["envelopes"][1]["signature"] = sig[:85] + B64[B64.index(sig[85]) | 1] + "=="
    code, out = verify_file(tmp, doc)
    assert code == 1 and "NOT verified" in out and "canonical base64" in out


def test_verify_binds_kinds_to_streams_and_streams_to_roles(world, authority):
    st, tmp = world
    dev = Device(authority, roles=("count",))
    polls_event = dev.signer.seal("count", 1, ZERO_HASH, "polls-event", {}).envelope
    receipt = resign(dev, dict(polls_event, kind="identification-receipt", stream="identify",
                               body=receipt_body(1)))
    code, out = verify_file(tmp, make_export(dev.cert, [polls_event, receipt]))
    assert code == 1 and "role-not-allowed" in out and out.startswith(f"device {dev.id}")
    assert "OK  count#1 polls-event" in out
    receipt_on_count = resign(dev, dict(receipt, stream="count"))
    code, out = verify_file(tmp, make_export(dev.cert, [receipt_on_count]))
    assert code == 1 and "travels on stream identify" in out
    ident = Device(authority, roles=("identify",))
    results = resign(ident, dict(ident.signer.seal("identify", 1, ZERO_HASH, "polls-event", {}).envelope,
                                 kind="results-protocol", stream="count",
                                 body=protocol_body("st-0042", 10)))
    code, out = verify_file(tmp, make_export(ident.cert, [results]))
    assert code == 1 and "role-not-allowed" in out


def test_verify_refuses_two_protocols_at_one_seq(world, authority):
    st, tmp = world
    dev = Device(authority)
    a = dev.signer.seal("count", 1, ZERO_HASH, "results-protocol", protocol_body("st-0042", 100))
    b = dev.signer.seal("count", 1, ZERO_HASH, "results-protocol", protocol_body("st-0042", 90))
    code, out = verify_file(tmp, make_export(dev.cert, [a.envelope, b.envelope]))
    assert code == 1 and out.count("fork: 2 different envelopes at count seq 1") == 2
    code, out = verify_file(tmp, make_export(dev.cert, [a.envelope, a.envelope]))
    assert code == 0 and "verified" in out                  # the same envelope twice is no fork


@pytest.mark.parametrize("when", ["2026-01-01T00:00:00+00:00", "2025-10-31T23:59:59+00:00"],
                         ids=["after-not-after", "before-not-before"])
def test_verify_refuses_an_envelope_outside_its_certificate(world, authority, when):
    st, tmp = world
    dev = Device(authority, clock=FixedClock(when))
    env = dev.signer.seal("count", 1, ZERO_HASH, "results-protocol", protocol_body("st-0042", 100))
    code, out = verify_file(tmp, make_export(dev.cert, [env.envelope]))
    assert code == 1 and "certificate-expired" in out


@pytest.mark.parametrize("version", [1.0, True], ids=["float", "bool"])
def test_verify_export_version_is_the_integer_one(world, version):
    st, tmp = world
    st.add_protocol(10)
    doc = export_from_outbox(st.outboxes["count"], st.cert) | {"version": version}
    with pytest.raises(Exception, match="version 1"):
        verify_export(doc, signing.load_public_key(tmp / "prov.pub"))


def test_paper_protocol_shows_the_hash_verify_and_the_centre_show(tmp_path, manifest, election, ack_key):
    """An observer matches the paper to the centre's copy and to `uchastok verify` by one hash."""
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
    files = export_protocol(election, sp, tmp_path / "out", store=store, clock=clock, certificate=cert)
    authority = signing.private_from_seed(bytes(range(1, 33)))       # countkit's authority
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    code, out = run("verify", files["export"], "--trust", tmp_path / "prov.pub", "--json")
    (shown,) = [e["hash"] for e in json.loads(out)["envelopes"]]
    assert code == 0 and shown == sp.envelope_hash and shown != sp.hash
    paper = paper_protocol(election, sp)
    printed = "".join(b.text.replace("\n", "") for b in paper.blocks if isinstance(b, Text))
    assert shown in printed and sp.hash not in printed
    assert [b.data.rsplit(":", 1)[1] for b in paper.blocks if isinstance(b, QrCode)] == [shown]
    rx = Receiver(Storage(tmp_path / "c.db"), ack_key, authority.public_key(),
                  clock=FixedClock("2026-11-29T14:01:00+00:00"))
    env = json.loads(open(files["export"], encoding="utf-8").read())["envelopes"][0]
    reply = rx.handle_batch(encode_batch(make_batch(env["device"], "count", [env], cert)), "gzip")
    assert reply.body["signed"]["results"][0]["hash"] == shown
    (published,) = aggregate.stations(rx.storage)["verified"] + aggregate.stations(rx.storage)["unverified"]
    assert published["protocol_hash"] == shown
    rx.storage.close()
    store.close()
    sconn.close()

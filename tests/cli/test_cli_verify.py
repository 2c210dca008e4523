"""`uchastok verify` and `uchastok receiver ...` commands, and the export format behind them."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner
from sync_world import Central, Station, station_entry

from central.server import open_receiver
from cli import cli
from sync import signing
from sync.errors import VerificationError
from sync.export import export_from_outbox, verify_export
from sync.uploader import Uploader


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

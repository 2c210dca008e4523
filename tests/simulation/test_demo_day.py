"""The simulated election day end to end, at CI size (what `make demo` runs with 300 voters)."""

import copy
import json
from pathlib import Path

from base.paths import Paths
from count.role import results_protocol
from drivers.printer.simulator import SimulatedPrinter
from simulation.authority import cec_pub_path
from simulation.demo import DemoOptions, run_demo
from station.state_files import verify_all
from sync import signing
from sync.export import verify_export


def test_demo_day_end_to_end(tmp_path):
    lines: list[str] = []
    res = run_demo(DemoOptions(out=tmp_path / "demo", voters=60, seed=3, lna_sheets=24, echo=lines.append))
    text = "\n".join(lines)
    assert "[12/12]" in text and "Artefacts" in text
    assert "differences from the truth: 0" in text

    ident = res.figures["identification"]["outcomes"]
    for reason in ("accepted", "not-on-list", "card-not-authentic", "already-identified"):
        assert ident.get(reason), f"no {reason} in the demo day: {ident}"
    assert ident.get("then manual identification (reason recorded)")

    # The central server verified the station's protocol and holds nothing back.
    central = res.figures["central"]
    assert central["stations"]["verified"] == 2 and central["held"] == []      # the station and the site
    assert central["portal_station"] == "verified"           # and the public portal shows it so
    assert "Public results portal" in text

    # The protocol counts every sheet that went into the box, and nothing else.
    body = res.figures["protocol"]
    read = {c["contest"]: c["ballots_read"] for c in body["contests"]}
    assert sum(read.values()) == res.figures["sheets"]

    # Every audit chain of the station verifies.

    paths = Paths.from_env(tmp_path / "demo" / "station")
    assert all(r["ok"] for r in verify_all(paths))
    # Every artefact the demo names is there.
    for key, path in res.artefacts.items():
        if path.startswith("/"):
            assert Path(path).exists(), f"{key}: {path} is missing"
    receipts = list(Path(res.artefacts["receipts (PNG/PDF)"]).glob("*.png"))
    assert len(receipts) >= ident["accepted"]

    # The remote-voting site (issue #14 "Done when"): one voter refused at the second place (online,
    # at the home station), one provisional claim resolved centrally (refused: an anomaly naming both
    # stations; the other granted), on-demand ballots counted (printed = counted + voided).
    assert ident["identified-elsewhere"] == 1
    site = res.figures["remote_site"]
    morning = site["morning"]["outcomes"]
    assert morning["accepted"] >= 6 and morning["home-district"] == 1
    assert morning["provisional (no link; member's PIN)"] == 2
    assert site["link_back"]["provisional"] == {"issued": 2, "granted_later": 1, "refused_later": 1,
                                                "unanswered": 0}
    printed, issued, voided = (sum(c[k] for c in site["morning"]["ondemand"].values()) for k in range(3))
    assert printed == issued + voided and voided >= 1 and printed == site["morning"]["printed"]
    assert site["sheets"] == issued                       # every sheet handed over went through the scanner
    read = {c["contest"]: c["ballots_read"] for c in site["protocol"]["contests"]}
    assert sum(read.values()) == site["sheets"]
    assert central["claim_refused"] == {"UIK-1234": 1, "RV-9001": 1}
    [remote] = central["remote"]["sites"]
    assert remote["status"] == "verified" and remote["identified"] == morning["accepted"] + 2
    assert all(r["ok"] for r in verify_all(Paths.from_env(tmp_path / "demo" / "remote-site" / "station")))


def test_published_protocol_verifies_offline_and_tampering_fails(tmp_path):
    """An observer with the provisioning authority's public key checks the published protocol."""

    res = run_demo(DemoOptions(out=tmp_path / "demo", voters=30, seed=5, lna_sheets=24, remote_site=False,
                               echo=lambda _: None))
    export = json.loads(Path(res.artefacts["protocol (export)"]).read_text())
    authority = signing.load_public_key(cec_pub_path(tmp_path / "demo" / "package"))
    assert verify_export(export, authority).ok
    forged = copy.deepcopy(export)
    votes = forged["envelopes"][0]["body"]["contests"][0]["votes"]
    first = next(iter(votes))
    votes[first] += 1
    assert not verify_export(forged, authority).ok
    # The commission reprints the signed protocol on the count role's printer.

    paths = Paths.from_env(tmp_path / "demo" / "station")
    with SimulatedPrinter(tmp_path / "reprint") as printer:
        again = results_protocol(paths, printer=printer)
    assert again["signed"] and again["files"]["printed"] == "yes"
    assert again["hash"] == res.figures["protocol_hash"]
    assert len(list((tmp_path / "reprint").glob("*.png"))) == 1

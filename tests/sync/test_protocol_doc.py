"""docs/protocol.md's worked example is what the code computes, and verifies from the text."""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from sync_example import build

from sync import signing
from sync.canonical import canonical

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
BLOCK = re.compile(r"<!-- example: ([a-z0-9-]+) -->\n```text\n(.*?)\n```", re.S)


def doc_blocks() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text()))


EXAMPLE = build()


@pytest.mark.parametrize("name", sorted(EXAMPLE), ids=str)
def test_doc_block_matches_code(name):
    assert doc_blocks()[name] == EXAMPLE[name]


def test_independent_check_of_example_from_doc_text_only():
    """Verify with primitives only (no sync.envelope), as another team would."""
    b = doc_blocks()
    dev_pub = signing.public_from_bytes(bytes.fromhex(b["device-public"]))
    cert = json.loads(b["certificate"])
    assert hashlib.sha256(b["certificate"].encode()).hexdigest() == b["cert-ref"]
    env1 = json.loads(b["envelope1"])
    unsigned = {k: v for k, v in env1.items() if k != "signature"}
    assert canonical(unsigned).decode() == b["envelope1-unsigned"]
    sig = base64.b64decode(env1["signature"])
    assert sig.hex() == b["envelope1-signature-hex"]
    signing.verify(dev_pub, sig, b["envelope1-unsigned"].encode())
    assert hashlib.sha256(b["envelope1"].encode()).hexdigest() == b["envelope1-hash"]
    env2 = json.loads(b["envelope2"])
    assert env2["prev"] == b["envelope1-hash"]
    assert env1["cert"] == b["cert-ref"] and cert["signed"]["public_key"].endswith(
        base64.b64encode(bytes.fromhex(b["device-public"])).decode())
    ack = json.loads(b["ack"])
    ack_pub = signing.public_from_bytes(bytes.fromhex(b["ack-public"]))
    signing.open_document(ack, ack_pub)


def test_example_signatures_are_canonical_base64():
    """Section 1: one spelling per signature; the doc's own regex and the re-encoding rule agree."""
    text = DOC.read_text()
    pattern = re.compile(re.search(r"canonical base64 \(88 characters, `(\^[^`]+\$)`\)", text).group(1))
    b = doc_blocks()
    docs = [json.loads(b[k]) for k in ("certificate", "envelope1", "envelope2", "ack")]
    for d in docs:
        sig = d["signature"]
        assert pattern.match(sig) and base64.b64encode(base64.b64decode(sig)).decode() == sig
        spellings = [sig[:85] + c + "==" for c in B64]
        same = [t for t in spellings if base64.b64decode(t) == base64.b64decode(sig)]
        assert len(same) == 16 and [t for t in same if pattern.match(t)] == [sig]

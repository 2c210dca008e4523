"""All of the station's signing and verifying, in one small module.

The only importer of ``cryptography`` outside ``drivers/idcard`` (whose ICAO
3DES and X.509 checks are part of the card protocol). Primitives: Ed25519 for
signatures, SHA-256 for hashes. Key ids are the first 16 hex digits of the
SHA-256 of the raw 32-byte public key.

File formats:
- private key: PKCS#8 PEM, written with mode 0600 by ``base.files.atomic_write``;
  never printed;
- public key: one line ``ed25519 <base64 of the raw 32 bytes>``;
- signed document: ``{"signed": {...}, "signer": KEYID, "signature": BASE64}``,
  the signature over ``canonical(signed)`` (RFC 8785). ``open_document``
  verifies before it returns anything to read.

Base64 is standard, padded and canonical: ``unb64`` accepts a text only if
encoding the decoded bytes gives back the same text. The unused low bits of
the last character before the padding must be zero; otherwise one signature
would have several spellings, each verifying, each giving another document or
envelope hash (docs/protocol.md section 1).

Example::

    key = generate_key()
    doc = sign_document(key, {"device": "d-1"})
    open_document(doc, public_key(key))   # -> {"device": "d-1"}
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from base.files import atomic_write
from sync.canonical import canonical
from sync.errors import VerificationError

PrivateKey = Ed25519PrivateKey
PublicKey = Ed25519PublicKey
SIGNATURE_BYTES = 64


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def generate_key() -> PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key(key: PrivateKey) -> PublicKey:
    return key.public_key()


def public_bytes(pub: PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_from_bytes(raw: bytes) -> PublicKey:
    if len(raw) != 32:
        raise VerificationError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(pub: PublicKey) -> str:
    return sha256_hex(public_bytes(pub))[:16]


def public_text(pub: PublicKey) -> str:
    return "ed25519 " + base64.b64encode(public_bytes(pub)).decode()


def public_from_text(text: str) -> PublicKey:
    parts = text.strip().split()
    if len(parts) != 2 or parts[0] != "ed25519":
        raise VerificationError("not an Ed25519 public key file (expected 'ed25519 <base64>')")
    return public_from_bytes(unb64(parts[1], "public key"))


def save_private_key(key: PrivateKey, path: str | os.PathLike) -> None:
    path = Path(path)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, pem, mode=0o600)


def load_private_key(path: str | os.PathLike) -> PrivateKey:
    path = Path(path)
    mode = path.stat().st_mode & 0o077
    if mode:
        raise VerificationError(f"{path}: private key is readable by others (mode {oct(path.stat().st_mode & 0o777)})")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise VerificationError(f"{path}: not an Ed25519 private key")
    return key


def save_public_key(pub: PublicKey, path: str | os.PathLike) -> None:
    Path(path).write_text(public_text(pub) + "\n")


def load_public_key(path: str | os.PathLike) -> PublicKey:
    try:
        return public_from_text(Path(path).read_text())
    except OSError as e:
        raise VerificationError(f"cannot read public key {path}: {e}") from e


def sign(key: PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def verify(pub: PublicKey, signature: bytes, data: bytes) -> None:
    """Return if ``signature`` is ``pub``'s over ``data``; raise VerificationError otherwise."""
    if len(signature) != SIGNATURE_BYTES:
        raise VerificationError(f"signature is {len(signature)} bytes, expected {SIGNATURE_BYTES}")
    try:
        pub.verify(signature, data)
    except InvalidSignature as e:
        raise VerificationError("signature does not verify") from e


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str, what: str = "value") -> bytes:
    """The bytes of canonical base64 ``text``; VerificationError for any other spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as e:
        raise VerificationError(f"{what} is not valid base64") from e
    if b64(raw) != text:  # non-zero unused bits: a second spelling of the same bytes
        raise VerificationError(f"{what} is not canonical base64 (unused bits must be zero)")
    return raw


def sign_document(key: PrivateKey, signed: dict[str, Any]) -> dict[str, Any]:
    """Wrap ``signed`` with its signer's key id and an Ed25519 signature over its canonical bytes."""
    return {"signed": signed, "signer": key_id(public_key(key)),
            "signature": b64(sign(key, canonical(signed)))}


def open_document(doc: Any, pub: PublicKey) -> dict[str, Any]:
    """Verify a signed document against ``pub`` and return its ``signed`` part."""
    if not isinstance(doc, dict) or set(doc) != {"signed", "signer", "signature"}:
        raise VerificationError("not a signed document (expected keys signed, signer, signature)")
    if not isinstance(doc["signed"], dict) or not isinstance(doc["signature"], str):
        raise VerificationError("signed document has wrong field types")
    if doc["signer"] != key_id(pub):
        raise VerificationError(f"signed by key {doc['signer']!r}, expected {key_id(pub)!r}")
    verify(pub, unb64(doc["signature"], "signature"), canonical(doc["signed"]))
    return doc["signed"]


def private_from_seed(seed: bytes) -> PrivateKey:
    """The Ed25519 key whose 32-byte seed (RFC 8032 "secret key") is ``seed``: test vectors, examples."""
    if len(seed) != 32:
        raise VerificationError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)

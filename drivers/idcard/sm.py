"""Secure messaging for BAC sessions (ICAO 9303 Part 11 §9.8, 3DES variant).

Guarantees, for both ends of the link (the reader protects commands and opens
responses; the chip emulator opens commands and protects responses):

* encryption: two-key 3DES in CBC mode with a zero IV (16-byte keys are
  expanded to K1||K2||K1 for ``cryptography``'s TripleDES);
* MAC: ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC": single-DES CBC with
  K1, then DES-decrypt with K2 and DES-encrypt with K1 the last block), over
  data padded with ISO/IEC 9797-1 padding method 2 (80 00 .. 00);
* the send-sequence counter (SSC, 8 bytes) is incremented before each command
  and each response is protected or checked; any MAC or format failure raises
  ``SecureMessagingError`` (whatever the bytes: a garbled TLV, a cryptogram
  that is not whole blocks) and the session must then be dropped.

Example (ICAO 9303 Part 11 Appendix D)::

    >>> sm = SecureMessaging(bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5"),
    ...                      bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8"),
    ...                      bytes.fromhex("887022120C06C226"))
    >>> sm.protect(CommandApdu(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E"))).hex().upper()
    '0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800'
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from drivers.errors import ProtocolError
from drivers.idcard.apdu import (
    SW_SM_INCORRECT,
    SW_SM_MISSING,
    CommandApdu,
    ResponseApdu,
    encode_tlv,
    parse_tlvs,
)
from drivers.idcard.errors import SecureMessagingError

_ZERO_IV = bytes(8)


def _expand(key: bytes) -> bytes:
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 8:
        return key * 3
    return key


def des3_encrypt(key: bytes, data: bytes) -> bytes:
    enc = Cipher(TripleDES(_expand(key)), modes.CBC(_ZERO_IV)).encryptor()
    return enc.update(data) + enc.finalize()


def des3_decrypt(key: bytes, data: bytes) -> bytes:
    dec = Cipher(TripleDES(_expand(key)), modes.CBC(_ZERO_IV)).decryptor()
    return dec.update(data) + dec.finalize()


def _blocks(data: bytes, what: str) -> bytes:
    """``data`` if it is whole 3DES blocks (at least one); the cipher would raise ValueError."""
    if not data or len(data) % 8:
        raise SecureMessagingError(f"{what} holds {len(data)} bytes, not whole 8-byte blocks")
    return data


def _des_ecb(key8: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(TripleDES(key8 * 3), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80 then zeros up to a multiple of 8."""
    data = data + b"\x80"
    return data + bytes(-len(data) % 8)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= 8:
        raise SecureMessagingError("padding method 2 is broken in decrypted data")
    return stripped[:-1]


def retail_mac(key: bytes, message: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 over ``pad(message)`` with a 16-byte key."""
    k1, k2 = key[:8], key[8:16]
    data = pad(message)
    enc = Cipher(TripleDES(k1 * 3), modes.CBC(_ZERO_IV)).encryptor()
    h = (enc.update(data) + enc.finalize())[-8:]
    return _des_ecb(k1, _des_ecb(k2, h, decrypt=True))


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's low bit so the byte has odd parity (DES keys)."""
    out = bytearray()
    for b in key:
        hi = b & 0xFE
        out.append(hi | ((bin(hi).count("1") + 1) % 2))
    return bytes(out)


def derive_key(seed: bytes, counter: int) -> bytes:
    """Part 11 §9.7.1: first 16 bytes of SHA-1(seed || counter), parity adjusted."""
    return adjust_parity(hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()[:16])


class SecureMessaging:
    """One BAC session's keys and send-sequence counter."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes):
        self.ks_enc = ks_enc
        self.ks_mac = ks_mac
        self.ssc = int.from_bytes(ssc, "big")

    def __repr__(self) -> str:
        return f"SecureMessaging(ssc={self.ssc:016X})"

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << 64)
        return self.ssc.to_bytes(8, "big")

    # --- reader side -------------------------------------------------------

    def protect(self, cmd: CommandApdu) -> bytes:
        """Wrap a plain command into its protected form (CLA | 0x0C, DO87/85, DO97, DO8E)."""
        cla = cmd.cla | 0x0C
        header = bytes([cla, cmd.ins, cmd.p1, cmd.p2])
        body = b""
        if cmd.data:
            encrypted = des3_encrypt(self.ks_enc, pad(cmd.data))
            # Odd INS carry BER-TLV data: DO85, without the padding-content indicator.
            body += (encode_tlv(0x85, encrypted) if cmd.ins & 1
                     else encode_tlv(0x87, b"\x01" + encrypted))
        extended = cmd.le is not None and cmd.le > 256
        if cmd.le is not None:
            le = (cmd.le & 0xFFFF).to_bytes(2, "big") if extended else bytes([cmd.le & 0xFF])
            body += encode_tlv(0x97, le)
        mac = retail_mac(self.ks_mac, self._next_ssc() + pad(header) + body)
        body += encode_tlv(0x8E, mac)
        return CommandApdu(cla, cmd.ins, cmd.p1, cmd.p2, body, 65536 if extended else 256).encode(
            extended=extended or len(body) > 255)

    def unprotect(self, raw: bytes) -> ResponseApdu:
        """Check and open a protected response; SSC goes up once."""
        try:
            resp = ResponseApdu.decode(raw)
            objects = parse_tlvs(resp.data)
        except ProtocolError as exc:
            raise SecureMessagingError(f"SM response does not parse: {exc}") from exc
        if not resp.data:
            # The chip ends the session with a plain status word on SM errors.
            if resp.sw in (SW_SM_MISSING, SW_SM_INCORRECT):
                raise SecureMessagingError(f"chip rejected secure messaging: SW {resp.sw:04X}")
            if resp.ok:
                raise SecureMessagingError("chip answered 9000 without secure messaging")
            return resp
        macced = b""
        data = None
        sw = None
        mac = None
        for tag, value in objects:
            if tag in (0x87, 0x85):
                macced += encode_tlv(tag, value)
                data = value
                odd = tag == 0x85
            elif tag == 0x99:
                macced += encode_tlv(tag, value)
                sw = value
            elif tag == 0x8E:
                mac = value
            else:
                raise SecureMessagingError(f"unexpected data object {tag:02X} in SM response")
        if mac is None or sw is None or len(sw) != 2:
            raise SecureMessagingError("SM response lacks DO99 or DO8E")
        expected = retail_mac(self.ks_mac, self._next_ssc() + macced)
        if not hmac.compare_digest(expected, mac):
            raise SecureMessagingError("MAC of the chip's answer does not verify")
        plain = b""
        if data is not None:
            if odd:
                plain = unpad(des3_decrypt(self.ks_enc, _blocks(data, "DO85")))
            else:
                if not data or data[0] != 0x01:
                    raise SecureMessagingError("DO87 has a bad padding indicator")
                plain = unpad(des3_decrypt(self.ks_enc, _blocks(data[1:], "DO87")))
        return ResponseApdu(plain, int.from_bytes(sw, "big"))

    # --- chip side ---------------------------------------------------------

    def open_command(self, raw: bytes) -> CommandApdu:
        """Check and open a protected command (the chip's side); SSC goes up once."""
        try:
            cmd = CommandApdu.decode(raw)
            objects = parse_tlvs(cmd.data)
        except ProtocolError as exc:
            raise SecureMessagingError(f"SM command does not parse: {exc}") from exc
        if cmd.cla & 0x0C != 0x0C:
            raise SecureMessagingError("command is not protected")
        header = bytes([cmd.cla, cmd.ins, cmd.p1, cmd.p2])
        macced = b""
        data = b""
        le = None
        mac = None
        for tag, value in objects:
            if tag == 0x87:
                if not value or value[0] != 0x01:
                    raise SecureMessagingError("DO87 has a bad padding indicator")
                macced += encode_tlv(tag, value)
                data = unpad(des3_decrypt(self.ks_enc, _blocks(value[1:], "DO87")))
            elif tag == 0x85:
                macced += encode_tlv(tag, value)
                data = unpad(des3_decrypt(self.ks_enc, _blocks(value, "DO85")))
            elif tag == 0x97:
                macced += encode_tlv(tag, value)
                le = int.from_bytes(value, "big") or (256 if len(value) == 1 else 65536)
            elif tag == 0x8E:
                mac = value
            else:
                raise SecureMessagingError(f"unexpected data object {tag:02X} in SM command")
        if mac is None:
            raise SecureMessagingError("SM command lacks DO8E")
        expected = retail_mac(self.ks_mac, self._next_ssc() + pad(header) + macced)
        if not hmac.compare_digest(expected, mac):
            raise SecureMessagingError("MAC of the command does not verify")
        return CommandApdu(cmd.cla & ~0x0C & 0xFF, cmd.ins, cmd.p1, cmd.p2, data, le)

    def protect_response(self, resp: ResponseApdu, *, odd: bool = False,
                         corrupt_mac: bool = False) -> bytes:
        body = b""
        if resp.data:
            encrypted = des3_encrypt(self.ks_enc, pad(resp.data))
            body += encode_tlv(0x85, encrypted) if odd else encode_tlv(0x87, b"\x01" + encrypted)
        body += encode_tlv(0x99, resp.sw.to_bytes(2, "big"))
        mac = retail_mac(self.ks_mac, self._next_ssc() + body)
        if corrupt_mac:
            mac = bytes([mac[0] ^ 0x01]) + mac[1:]
        return body + encode_tlv(0x8E, mac) + resp.sw.to_bytes(2, "big")

"""The reader's side of one eMRTD session (ICAO 9303 Part 10 and 11), over any transmit.

``EmrtdSession(transmit)`` speaks APDUs through ``transmit(bytes) -> bytes``
(a transport: pcscd or the in-process emulator) in this order:

1. ``read_card_access()``: SELECT EF.CardAccess (011C) in the master file,
   unprotected, and READ BINARY it; ``None`` when the chip has none. PACE is
   detected from it but not performed (stretch): we fall back to BAC, which
   ICAO requires chips to keep offering alongside PACE until further notice.
2. ``select_application()``: SELECT the eMRTD application A0000002471001.
3. ``authenticate_bac(key)``: GET CHALLENGE, MUTUAL AUTHENTICATE, then every
   later command goes through secure messaging (``sm.SecureMessaging``).
4. ``read_file(fid)``: SM SELECT EF, READ BINARY of the first 4 bytes to learn
   the TLV length, then the rest in chunks (``chunk`` bytes, 0xDF by default
   so a protected answer fits in a short APDU); offsets above 32767 use READ
   BINARY B1 with an offset data object (DO54).

Errors: a refused BAC raises ``BacFailedError``; SM faults raise
``SecureMessagingError``; other refusals ``ChipError``/``NotAnEmrtdError``.

Example::

    session = EmrtdSession(transport.transmit)
    card_access = session.read_card_access()  # parse_card_access() lists PACE protocols
    session.select_application()
    session.authenticate_bac(BacKey.from_information("L898902C<369080619406236"))
    dg1 = session.read_file(dg_fid(1))
"""

from __future__ import annotations

import os
from collections.abc import Callable

from drivers.errors import ProtocolError
from drivers.idcard import apdu as iso
from drivers.idcard.apdu import CommandApdu, ResponseApdu, encode_tlv, header_size, read_tlv
from drivers.idcard.bac import document_keys, ifd_authentication, ifd_session
from drivers.idcard.errors import BacFailedError, ChipError, MalformedDataError, NotAnEmrtdError
from drivers.idcard.lds import EMRTD_AID, FID_CARD_ACCESS
from drivers.idcard.mrz import BacKey
from drivers.idcard.sm import SecureMessaging

MAX_FILE = 1 << 20  # no LDS file is this big; a larger length is garbage, not a photo


class EmrtdSession:
    """One card session, reader side (see the module docstring)."""

    def __init__(self, transmit: Callable[[bytes], bytes], *,
                 rng: Callable[[int], bytes] = os.urandom, chunk: int = 0xDF):
        self._transmit = transmit
        self._rng = rng
        self.chunk = chunk
        self.sm: SecureMessaging | None = None
        self.commands = 0

    def __repr__(self) -> str:
        return f"EmrtdSession(sm={self.sm!r}, commands={self.commands})"

    def _plain(self, cmd: CommandApdu) -> ResponseApdu:
        self.commands += 1
        return ResponseApdu.decode(self._transmit(cmd.encode()))

    def _secure(self, cmd: CommandApdu) -> ResponseApdu:
        if self.sm is None:
            raise ChipError("secure messaging is not established (authenticate first)")
        self.commands += 1
        return self.sm.unprotect(self._transmit(self.sm.protect(cmd)))

    def read_card_access(self) -> bytes | None:
        resp = self._plain(CommandApdu(0x00, iso.INS_SELECT, 0x02, 0x0C,
                                       FID_CARD_ACCESS.to_bytes(2, "big")))
        if not resp.ok:
            return None
        return self._read_selected(self._plain)

    def select_application(self) -> None:
        resp = self._plain(CommandApdu(0x00, iso.INS_SELECT, 0x04, 0x0C, EMRTD_AID))
        if not resp.ok:
            raise NotAnEmrtdError(f"SELECT of the eMRTD application refused: SW {resp.sw:04X}")

    def authenticate_bac(self, key: BacKey) -> None:
        _, kenc, kmac = document_keys(key.information)
        challenge = self._plain(CommandApdu(0x00, iso.INS_GET_CHALLENGE, 0, 0, le=8))
        if not challenge.ok or len(challenge.data) != 8:
            raise ChipError(f"GET CHALLENGE refused: SW {challenge.sw:04X}")
        rnd_ic, rnd_ifd, k_ifd = challenge.data, self._rng(8), self._rng(16)
        data = ifd_authentication(rnd_ifd, rnd_ic, k_ifd, kenc, kmac)
        answer = self._plain(CommandApdu(0x00, iso.INS_MUTUAL_AUTHENTICATE, 0, 0, data, le=40))
        if not answer.ok:
            raise BacFailedError(
                f"chip refused BAC (SW {answer.sw:04X}): the MRZ keys do not match the chip")
        self.sm = ifd_session(answer.data, rnd_ifd, rnd_ic, k_ifd, kenc, kmac)

    def read_file(self, fid: int) -> bytes:
        """SELECT an EF of the application through SM and read all of it."""
        resp = self._secure(CommandApdu(0x00, iso.INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if not resp.ok:
            raise ChipError(f"SELECT EF {fid:04X} refused: SW {resp.sw:04X}")
        return self._read_selected(self._secure)

    def _read_selected(self, send: Callable[[CommandApdu], ResponseApdu]) -> bytes:
        # 4 bytes hold the tag and length of most files (Appendix D reads 4 too);
        # a tag of 2 bytes with a 3-byte length (files over 64 KB) needs a few more.
        data = self._read_binary(send, 0, 4)
        while True:
            try:
                total = header_size(data) + read_length_of(data)
                break
            except IndexError as exc:
                more = self._read_binary(send, len(data), 4) if len(data) < 8 else b""
                if not more:
                    raise MalformedDataError("file does not start with a TLV header") from exc
                data += more
            except ProtocolError as exc:
                raise MalformedDataError(f"file does not start with a TLV header: {exc}") from exc
        if total > MAX_FILE:
            raise MalformedDataError(f"file claims {total} bytes")
        while len(data) < total:
            part = self._read_binary(send, len(data), min(self.chunk, total - len(data)))
            if not part:
                raise ChipError(f"chip returned no data at offset {len(data)} of {total}")
            data += part
        return data[:total]

    def _read_binary(self, send: Callable[[CommandApdu], ResponseApdu], offset: int,
                     length: int) -> bytes:
        if offset <= 0x7FFF:
            resp = send(CommandApdu(0x00, iso.INS_READ_BINARY, offset >> 8, offset & 0xFF,
                                    le=length))
            body = resp.data
        else:
            resp = send(CommandApdu(0x00, iso.INS_READ_BINARY_ODD, 0, 0,
                                    encode_tlv(0x54, offset.to_bytes(3, "big")), le=length + 4))
            try:
                tag, body, _ = read_tlv(resp.data) if resp.data else (0x53, b"", 0)
            except ProtocolError as exc:
                raise MalformedDataError(f"READ BINARY B1 answer: {exc}") from exc
            if tag != 0x53:
                raise MalformedDataError(f"READ BINARY B1 answer has tag {tag:X}, not 53")
        if resp.sw not in (iso.SW_OK, iso.SW_END_OF_FILE):
            raise ChipError(f"READ BINARY at offset {offset} refused: SW {resp.sw:04X}")
        return body


def read_length_of(buf: bytes) -> int:
    """The value length the TLV at the start of ``buf`` declares."""
    tag_len = 1
    if buf[0] & 0x1F == 0x1F:
        while buf[tag_len] & 0x80:
            tag_len += 1
        tag_len += 1
    return iso.read_length(buf, tag_len)[0]

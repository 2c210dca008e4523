"""The ID-card reader seam: one reader class, two transports.

* ``CardReader(transport)`` reads an ICAO 9303 eMRTD (Kyrgyz ID card or
  passport): ``status()`` says READY / NO_CARD / NO_READER / DISCONNECTED (a
  value, never an exception); ``read_document(mrz_keys, trust)`` reads
  EF.CardAccess (PACE detection), does BAC and secure messaging, reads
  EF.COM, DG1, DG2, DG11 (when EF.COM lists it) and EF.SOD, runs passive authentication against ``trust``
  (the CSCA/DS certificates of the election package) and returns a
  ``DocumentRead``. A document that fails passive authentication is returned
  with ``passive_auth.ok == False`` and its reason: deciding is the caller's.
  Whatever the card answers, ``read_document`` returns a ``DocumentRead`` or
  raises a ``drivers.idcard.errors`` leaf (a ``DriverError``): the card is
  outside input, and every parser of its bytes refuses with those classes. A
  read that takes longer than ``read_timeout_s`` (a chip that answers in
  dribs) raises ``CardReadTimeoutError``, so a card cannot hold the daemon
  past its watchdog.
* ``PcscTransport`` talks to pcscd through pyscard's SCard API (the real
  reader); ``DirectTransport(emulator)`` talks to the in-process chip
  emulator (demo, fast tests). Config picks one; nothing tests for "testing".

Faults raise the ``drivers.idcard.errors`` leaves: ``CardRemovedError`` (card
pulled mid-read), ``ChipSilentError``, ``ReaderUnavailableError``,
``CardAbsentError``, ``CardReadTimeoutError`` (transport family); ``BacFailedError`` (wrong MRZ keys),
``NotAnEmrtdError``, ``ChipError`` (device family); ``SecureMessagingError``,
``MalformedDataError`` (protocol family).

Example::

    with CardReader(PcscTransport()) as reader:
        if reader.status() is CardStatus.READY:
            doc = reader.read_document("L898902C<369080619406236", trust=[csca_pem])
            print(doc.mrz.document_number, doc.passive_auth.ok, doc.chip_read_ms)
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.device import Device
from drivers.idcard.errors import (
    CardAbsentError,
    CardReadTimeoutError,
    CardRemovedError,
    ChipSilentError,
    ReaderUnavailableError,
)
from drivers.idcard.icao import EmrtdSession
from drivers.idcard.lds import (
    DG_TAGS,
    FID_COM,
    FID_SOD,
    dg_fid,
    parse_card_access,
    parse_com,
    parse_dg1,
    parse_dg2,
    parse_dg11,
)
from drivers.idcard.mrz import MRZ, BacKey, PinLocation, parse_mrz
from drivers.idcard.passive_auth import PassiveAuthResult, passive_authentication

# A good chip is read in about 0.6 s (FIELD-NOTES "PC/SC and ID cards"); the identify
# daemon's watchdog is 30 s (systemd/uchastok-identify.service).
READ_TIMEOUT_S = 15.0


class CardStatus(enum.Enum):
    READY = "ready"  # a card is in the reader
    NO_CARD = "no-card"  # the reader is there, empty
    NO_READER = "no-reader"  # PC/SC runs but lists no (matching) reader
    DISCONNECTED = "disconnected"  # the PC/SC service (or the emulator link) is gone


@dataclass(frozen=True)
class DocumentRead:
    mrz: MRZ  # from DG1 (the chip), not from the printed zone
    face_image: bytes
    face_format: str  # "jpeg" or "jpeg2000"
    passive_auth: PassiveAuthResult
    pace_supported: bool
    pace_protocols: tuple[str, ...]
    chip_read_ms: float
    data_groups: tuple[int, ...] = field(default=())  # as EF.COM lists them
    personal_details: dict[str, str] = field(default_factory=dict)  # DG11, when the chip has it

    @property
    def pin(self) -> str | None:
        """The PIN from the MRZ where configured, else DG11's personal number if PIN-shaped."""
        if self.mrz.pin:
            return self.mrz.pin
        number = self.personal_details.get("personal_number", "").replace("<", "").strip()
        # isascii: str.isdigit also takes other scripts' digits and superscripts.
        return number if number.isascii() and number.isdigit() and len(number) == 14 else None


class Transport(Protocol):
    def status(self) -> CardStatus: ...
    def connect(self) -> None: ...
    def transmit(self, apdu: bytes) -> bytes: ...
    def disconnect(self) -> None: ...
    def close(self) -> None: ...


def bac_key_of(mrz_keys: str | MRZ | BacKey) -> BacKey:
    """A BAC key from a full MRZ (text or parsed), or from the MRZ information string."""
    if isinstance(mrz_keys, BacKey):
        return mrz_keys
    if isinstance(mrz_keys, MRZ):
        return mrz_keys.bac_key
    compact = "".join(mrz_keys.split())
    if "\n" in mrz_keys.strip() or len(compact) in (88, 90):
        return parse_mrz(mrz_keys).bac_key
    return BacKey.from_information(compact)


class CardReader(Device):
    """Reads eMRTDs through one transport (see the module docstring).

    A context manager; ``close()`` closes the transport once, however often it is called.
    """

    def __init__(self, transport: Transport, *, timer: Callable[[], float] = time.perf_counter,
                 rng: Callable[[int], bytes] = os.urandom, chunk: int = 0xDF,
                 pin_locations: dict[str, PinLocation] | None = None,
                 read_timeout_s: float = READ_TIMEOUT_S):
        self.transport = transport
        self._timer = timer
        self.read_timeout_s = read_timeout_s
        self._rng = rng
        self._chunk = chunk
        self._pin_locations = pin_locations
        self._closed = False

    def __repr__(self) -> str:
        return f"CardReader({self.transport!r}{', closed' if self._closed else ''})"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.transport.close()

    def status(self) -> CardStatus:
        return self.transport.status()

    def read_document(self, mrz_keys: str | MRZ | BacKey,
                      trust: Iterable[bytes | str], *,
                      at: dt.datetime | None = None) -> DocumentRead:
        """Read and check one document; ``at`` also checks the DS certificate's validity."""
        key = bac_key_of(mrz_keys)
        started = self._timer()
        deadline = started + self.read_timeout_s

        def transmit(apdu: bytes) -> bytes:
            if self._timer() > deadline:
                raise CardReadTimeoutError(
                    f"the card read did not finish within {self.read_timeout_s:g} s")
            return self.transport.transmit(apdu)

        self.transport.connect()
        try:
            session = EmrtdSession(transmit, rng=self._rng, chunk=self._chunk)
            card_access = session.read_card_access()
            pace = tuple(parse_card_access(card_access)) if card_access else ()
            session.select_application()
            session.authenticate_bac(key)
            _, tags = parse_com(session.read_file(FID_COM))
            listed = tuple(n for n, tag in sorted(DG_TAGS.items()) if tag in tags)
            dg1 = session.read_file(dg_fid(1))
            dg2 = session.read_file(dg_fid(2))
            read = {1: dg1, 2: dg2}
            if 11 in listed:
                read[11] = session.read_file(dg_fid(11))
            sod = session.read_file(FID_SOD)
        finally:
            self.transport.disconnect()
        elapsed_ms = (self._timer() - started) * 1000.0
        face = parse_dg2(dg2)
        return DocumentRead(
            mrz=parse_dg1(dg1, pin_locations=self._pin_locations),
            face_image=face.data, face_format=face.format,
            passive_auth=passive_authentication(sod, read, trust, at=at),
            pace_supported=bool(pace), pace_protocols=pace, chip_read_ms=elapsed_ms,
            data_groups=listed,
            personal_details=parse_dg11(read[11]) if 11 in read else {},
        )


class DirectTransport:
    """The in-process transport to an ``EmrtdEmulator`` (demo and unit tests)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self._connected = False

    def __repr__(self) -> str:
        return f"DirectTransport({self.emulator!r})"

    def status(self) -> CardStatus:
        return CardStatus.READY if self.emulator.present else CardStatus.NO_CARD

    def connect(self) -> None:
        if not self.emulator.present:
            raise CardAbsentError("no card in the reader")
        self.emulator.power_on()
        self._connected = True

    def transmit(self, apdu: bytes) -> bytes:
        response = self.emulator.transmit(apdu)
        if not response:
            raise ChipSilentError("the chip gave no answer")
        return response

    def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            if self.emulator.present:
                self.emulator.power_off()

    def close(self) -> None:
        self.disconnect()


class PcscTransport:
    """A PC/SC reader through pcscd (pyscard's SCard API).

    ``reader`` picks the first reader whose name contains it; ``None`` picks
    the first reader holding a card. The PC/SC context is opened lazily and
    re-opened after pcscd restarts.
    """

    _REMOVED = ("SCARD_W_REMOVED_CARD", "SCARD_E_NO_SMARTCARD", "SCARD_W_RESET_CARD",
                "SCARD_W_UNPOWERED_CARD", "SCARD_E_READER_UNAVAILABLE")
    _GONE = ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED", "SCARD_E_INVALID_HANDLE")

    def __init__(self, reader: str | None = None):
        from smartcard import scard  # noqa: PLC0415 - lazy: pyscard loads libpcsclite, needed only here

        self._scard = scard
        self.reader = reader
        self._context = None
        self._card = None
        self._protocol = None
        self._connected_reader: str | None = None
        self._removed = {getattr(scard, n) for n in self._REMOVED}
        self._gone = {getattr(scard, n) for n in self._GONE}

    def __repr__(self) -> str:
        return f"PcscTransport(reader={self.reader!r}, connected={self._connected_reader!r})"

    def _message(self, hresult: int) -> str:
        return f"{self._scard.SCardGetErrorMessage(hresult)} (0x{hresult & 0xFFFFFFFF:08X})"

    def _ensure_context(self):
        if self._context is None:
            hresult, context = self._scard.SCardEstablishContext(self._scard.SCARD_SCOPE_USER)
            if hresult != self._scard.SCARD_S_SUCCESS:
                raise ReaderUnavailableError(f"PC/SC service unavailable: {self._message(hresult)}")
            self._context = context
        return self._context

    def _drop_context(self) -> None:
        if self._context is not None:
            self._scard.SCardReleaseContext(self._context)
            self._context = None

    def _reader_states(self) -> list[tuple[str, bool]]:
        """(reader name, card present) for matching readers; retries once after a pcscd restart."""
        sc = self._scard
        for attempt in (1, 2):
            context = self._ensure_context()
            hresult, readers = sc.SCardListReaders(context, [])
            if hresult == sc.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if hresult in self._gone and attempt == 1:
                self._drop_context()
                continue
            if hresult != sc.SCARD_S_SUCCESS:
                raise ReaderUnavailableError(f"cannot list readers: {self._message(hresult)}")
            readers = [r for r in readers if self.reader is None or self.reader in r]
            if not readers:
                return []
            hresult, states = sc.SCardGetStatusChange(
                context, 0, [(r, sc.SCARD_STATE_UNAWARE) for r in readers])
            if hresult in self._gone and attempt == 1:
                self._drop_context()
                continue
            if hresult != sc.SCARD_S_SUCCESS:
                raise ReaderUnavailableError(f"cannot read reader state: {self._message(hresult)}")
            return [(name, bool(event & sc.SCARD_STATE_PRESENT)) for name, event, _ in states]
        raise ReaderUnavailableError("PC/SC service went away")

    def status(self) -> CardStatus:
        try:
            states = self._reader_states()
        except ReaderUnavailableError:
            self._drop_context()
            return CardStatus.DISCONNECTED
        if not states:
            return CardStatus.NO_READER
        return CardStatus.READY if any(p for _, p in states) else CardStatus.NO_CARD

    def connect(self) -> None:
        sc = self._scard
        self.disconnect()
        with_card = [name for name, present in self._reader_states() if present]
        if not with_card:
            raise CardAbsentError("no card in any matching PC/SC reader")
        hresult, card, protocol = sc.SCardConnect(
            self._context, with_card[0], sc.SCARD_SHARE_SHARED,
            sc.SCARD_PROTOCOL_T0 | sc.SCARD_PROTOCOL_T1)
        if hresult in self._removed:
            raise CardRemovedError(f"card left before connecting: {self._message(hresult)}")
        if hresult != sc.SCARD_S_SUCCESS:
            raise ReaderUnavailableError(f"cannot connect to the card: {self._message(hresult)}")
        self._card, self._protocol, self._connected_reader = card, protocol, with_card[0]

    def transmit(self, apdu: bytes) -> bytes:
        sc = self._scard
        if self._card is None:
            raise CardAbsentError("not connected to a card")
        hresult, response = sc.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult == sc.SCARD_S_SUCCESS and response:
            return bytes(response)
        # pcscd reports a link that dropped mid-command as success with no bytes.
        why = self._message(hresult) if hresult else "empty answer"
        if hresult in self._removed or not self._card_present():
            raise CardRemovedError(f"card removed during the read: {why}")
        raise ChipSilentError(f"the chip did not answer: {why}")

    def _card_present(self, wait_ms: int = 1500) -> bool:
        """Whether the card is still there, letting pcscd's presence poll catch up first."""
        sc = self._scard
        if self._context is None or self._connected_reader is None:
            return False
        # A failed transmit to a contactless card usually means it left the field;
        # pcscd learns that on its next presence poll, so wait for a state change.
        reader = self._connected_reader
        hresult, states = sc.SCardGetStatusChange(
            self._context, 0, [(reader, sc.SCARD_STATE_UNAWARE)])
        if hresult != sc.SCARD_S_SUCCESS:
            return False
        event = states[0][1]
        if not event & sc.SCARD_STATE_PRESENT:
            return False
        hresult, states = sc.SCardGetStatusChange(
            self._context, wait_ms, [(reader, event & ~sc.SCARD_STATE_CHANGED)])
        if hresult == sc.SCARD_E_TIMEOUT:
            return True
        return hresult == sc.SCARD_S_SUCCESS and bool(states[0][1] & sc.SCARD_STATE_PRESENT)

    def disconnect(self) -> None:
        if self._card is not None:
            # Reset the card so its BAC session cannot outlive ours.
            self._scard.SCardDisconnect(self._card, self._scard.SCARD_RESET_CARD)
            self._card = None
            self._connected_reader = None

    def close(self) -> None:
        self.disconnect()
        self._drop_context()

"""End to end through the real PC/SC stack: pcscd + vsmartcard-vpcd + pyscard + our emulator.

One pcscd per host: these tests start it once for the session (unless one is
already running) and must not run in parallel with other pcscd users.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.idcard.base import CardReader, CardStatus, PcscTransport
from drivers.idcard.errors import (
    BacFailedError,
    CardRemovedError,
    SecureMessagingError,
)
from drivers.idcard.mrz import BacKey
from drivers.idcard.vpcd import VpcdLink

pytestmark = pytest.mark.pcscd





@pytest.fixture
def transport(pcscd, wait_until):
    t = PcscTransport(reader="Virtual PCD 00 00")
    wait_until(lambda: t.status() is CardStatus.NO_CARD, 5, "an empty reader")
    yield t
    t.close()


@pytest.fixture
def insert(transport, wait_until):
    """Put an emulated chip into vpcd's reader; take it out after the test."""
    links = []

    def put(chip) -> VpcdLink:
        link = VpcdLink(chip)
        link.start()
        links.append(link)
        link.wait_until_inserted(transport)
        return link

    yield put
    for link in links:
        link.close()
    wait_until(lambda: transport.status() is CardStatus.NO_CARD, 5, "the card to leave")


def test_empty_reader_and_unknown_reader(transport):
    assert transport.status() is CardStatus.NO_CARD
    assert PcscTransport(reader="No such reader").status() is CardStatus.NO_READER


def test_full_read_through_pcscd(transport, insert, make_chip, pki, face_jpeg):
    chip = make_chip(pace=True)
    insert(chip)
    assert transport.status() is CardStatus.READY
    doc = CardReader(transport).read_document(chip.mrz.bac_key, trust=[pki.csca_pem])
    assert (doc.mrz.document_number, doc.mrz.pin) == ("ID1234567", "22001199000123")
    assert doc.face_image == face_jpeg
    assert doc.passive_auth.ok, doc.passive_auth.reason
    assert doc.pace_supported
    assert doc.chip_read_ms > 0


def test_card_pulled_mid_read_through_pcscd(transport, insert, make_chip, pki, wait_until):
    insert(make_chip(preset="card-pulled", pull_after_reads=8))
    with pytest.raises(CardRemovedError):
        CardReader(transport).read_document(
            BacKey.from_fields("ID1234567", "900122", "310501"), trust=[pki.csca_pem])
    wait_until(lambda: transport.status() is CardStatus.NO_CARD, 5, "the pulled card to show")


def test_wrong_mrz_keys_through_pcscd(transport, insert, make_chip, pki):
    insert(make_chip())
    with pytest.raises(BacFailedError):
        CardReader(transport).read_document(
            BacKey.from_fields("ID7654321", "900122", "310501"), trust=[pki.csca_pem])
    # The card stays usable: the right keys read it at once.
    doc = CardReader(transport).read_document(
        BacKey.from_fields("ID1234567", "900122", "310501"), trust=[pki.csca_pem])
    assert doc.passive_auth.ok


def test_bad_sod_through_pcscd(transport, insert, make_chip, pki):
    chip = make_chip(preset="bad-sod")
    insert(chip)
    doc = CardReader(transport).read_document(chip.mrz.bac_key, trust=[pki.csca_pem])
    assert not doc.passive_auth.ok and "DG2" in doc.passive_auth.reason


def test_wrong_mac_through_pcscd(transport, insert, make_chip, pki):
    chip = make_chip(preset="wrong-mac")
    insert(chip)
    with pytest.raises(SecureMessagingError):
        CardReader(transport).read_document(chip.mrz.bac_key, trust=[pki.csca_pem])


def test_mute_chip_through_pcscd(transport, insert, make_chip, pki):
    chip = make_chip(preset="no-chip-answer")
    insert(chip)
    with pytest.raises(CardRemovedError):
        CardReader(transport).read_document(chip.mrz.bac_key, trust=[pki.csca_pem])


def test_no_pcsc_service_is_disconnected(tmp_path):
    """With no pcscd behind the socket, status is DISCONNECTED and a read says why."""

    code = ("from drivers.idcard.base import CardReader, PcscTransport\n"
            "from drivers.idcard.errors import ReaderUnavailableError\n"
            "t = PcscTransport()\n"
            "print(t.status().value)\n"
            "try:\n"
            "    CardReader(t).read_document('L898902C<369080619406236', trust=[])\n"
            "except ReaderUnavailableError:\n"
            "    print('unavailable')\n")
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[3], timeout=30)
    assert out.stdout.split() == ["disconnected", "unavailable"], out.stderr

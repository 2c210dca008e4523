"""The serial MRZ reader over a pty pair (FIELD-NOTES "Serial devices")."""

import pytest

from drivers.idcard.base import CardStatus
from drivers.idcard.errors import InvalidMrzError
from drivers.idcard.mrz_reader import MrzReader, MrzReaderUnpluggedError, PtyMrzScanner

TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


@pytest.fixture
def scanner():
    with PtyMrzScanner() as sim:
        yield sim


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r", b"\n"], ids=["crlf", "cr", "lf"])
def test_reads_td1(scanner, td1_lines, line_end):
    with MrzReader(scanner.port) as reader:
        scanner.present("\n".join(td1_lines), line_end=line_end)
        mrz = reader.read_mrz(timeout=2.0)
    assert (mrz.document_number, mrz.pin) == ("ID1234567", "22001199000123")


@pytest.mark.parametrize("preset", [None, "split"], ids=["whole", "split-packets"])
def test_reads_td3(scanner, preset):
    with MrzReader(scanner.port) as reader:
        scanner.present(TD3, preset=preset)
        assert reader.read_mrz(timeout=2.0).surname == "ERIKSSON"


def test_two_documents_one_after_the_other(scanner, td1_lines):
    with MrzReader(scanner.port) as reader:
        scanner.present(TD3)
        assert reader.read_mrz(timeout=2.0).format == "TD3"
        scanner.present("\n".join(td1_lines))
        assert reader.read_mrz(timeout=2.0).format == "TD1"


def test_nothing_presented_is_none(scanner):
    with MrzReader(scanner.port) as reader:
        assert reader.read_mrz(timeout=0.2) is None


def test_garbled_raises_invalid(scanner, td1_lines):
    with MrzReader(scanner.port) as reader:
        scanner.present("\n".join(td1_lines), preset="garbled")
        with pytest.raises(InvalidMrzError, match="check digit"):
            reader.read_mrz(timeout=2.0)


def test_truncated_raises_invalid_at_the_deadline(scanner, td1_lines):
    with MrzReader(scanner.port) as reader:
        scanner.present("\n".join(td1_lines), preset="truncated")
        with pytest.raises(InvalidMrzError, match="form no MRZ"):
            reader.read_mrz(timeout=0.3)


def test_unplugged_raises_then_status_says_disconnected(td1_lines):
    scanner = PtyMrzScanner()
    reader = MrzReader(scanner.port)
    assert reader.status() is CardStatus.READY
    scanner.close()
    with pytest.raises(MrzReaderUnpluggedError):
        reader.read_mrz(timeout=1.0)
    assert reader.status() is CardStatus.DISCONNECTED
    reader.close()
    reader.close()  # idempotent


def test_unknown_preset_is_refused(scanner):
    with pytest.raises(ValueError):
        scanner.present(TD3, preset="smudged")

"""Card and MRZ faults map to reason codes by exception class, subclasses included."""

import pytest

from drivers.errors import DriverError
from drivers.idcard.errors import (
    BacFailedError,
    CardAbsentError,
    CardRemovedError,
    ChipError,
    ChipSilentError,
    InvalidMrzError,
    MalformedDataError,
    NotAnEmrtdError,
    SecureMessagingError,
)
from drivers.idcard.mrz_reader import MrzReaderUnpluggedError
from identify.daemon import CARD_UNREADABLE, card_fault
from station.text import Text


class ContactlessCardRemovedError(CardRemovedError):
    """A narrower kind of pulled card (a reader driver may raise one)."""


@pytest.mark.parametrize("fault,code", [
    (CardRemovedError, "card-pulled"),
    (ContactlessCardRemovedError, "card-pulled"),
    (CardAbsentError, "card-pulled"),
    (BacFailedError, "mrz-keys-wrong"),
    (InvalidMrzError, "mrz-keys-wrong"),
    (MrzReaderUnpluggedError, "mrz-reader-disconnected"),
    (ChipSilentError, "card-unreadable"),
    (ChipError, "card-unreadable"),
    (NotAnEmrtdError, "card-unreadable"),
    (SecureMessagingError, "card-unreadable"),
    (MalformedDataError, "card-unreadable"),
    (DriverError, "card-unreadable"),
], ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_each_fault_class_has_its_reason_and_a_message_in_both_languages(fault, code):
    got, text = card_fault(fault("why"))
    assert got == code
    assert isinstance(text, Text) and text.ky and text.ru and text.ky != text.ru


def test_a_fault_no_row_names_is_an_unreadable_card():
    assert card_fault(ChipSilentError("silent")) == CARD_UNREADABLE

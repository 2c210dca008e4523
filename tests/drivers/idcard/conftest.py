"""Shared cards for the ID-card driver tests: a test PKI, a face photo, Kyrgyz TD1 lines."""

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from drivers.idcard.emulator import EmrtdEmulator, make_test_pki
from drivers.idcard.mrz import format_td1

# A copy of shared/data/icao9303-part11-appendix-d.json (public ICAO values).
APPENDIX_D = json.loads((Path(__file__).parent / "icao9303-part11-appendix-d.json").read_text())


@pytest.fixture(scope="session")
def appendix_d() -> dict:
    return APPENDIX_D


@pytest.fixture(scope="session")
def pki():
    return make_test_pki("KG")


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    # Noise compresses badly: ~12 KB, the size of a real 19794-5 face photo.
    buf = io.BytesIO()
    Image.effect_noise((160, 200), 40).convert("RGB").save(buf, "JPEG", quality=75)
    return buf.getvalue()


@pytest.fixture(scope="session")
def td1_lines() -> tuple[str, str, str]:
    return format_td1(document_type="ID", issuing_state="KGZ", document_number="ID1234567",
                      optional_data="22001199000123", birth_date=dt.date(1990, 1, 22), sex="F",
                      expiry_date=dt.date(2031, 5, 1), nationality="KGZ",
                      surname="Asanova", given_names="Aigul")


@pytest.fixture
def make_chip(td1_lines, face_jpeg, pki):
    def make(**kwargs) -> EmrtdEmulator:
        return EmrtdEmulator(kwargs.pop("mrz", td1_lines), kwargs.pop("face", face_jpeg),
                             kwargs.pop("pki", pki), **kwargs)
    return make

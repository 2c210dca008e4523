"""`fingerprint search --gallery` reads a station's identify.db (issue "Biometrics" item 5)."""

import sqlite3

import pytest

from biometrics.enrolment import enrol
from biometrics.errors import GalleryError
from biometrics.extract import extract
from biometrics.files import load_gallery
from biometrics.synthetic import SyntheticFinger
from identify.store import open_identify_db


def test_search_a_station_database(tmp_path):
    db = tmp_path / "identify.db"
    conn = open_identify_db(db)
    pins = ["21110195400478", "10801197600106", "21912200300484"]
    for k, pin in enumerate(pins):
        conn.execute("INSERT INTO voter VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (pin, f"ID{k}", "Асанов", "Азамат", "", "1954-10-11", "M", None, None, 0, 0))
        for n, rec in enumerate(enrol(SyntheticFinger(100 + k))):
            conn.execute("INSERT INTO template(pin, finger, record) VALUES (?,?,?)", (pin, n, rec))
    conn.close()
    probe = extract(SyntheticFinger(101).impression(4)).template
    assert load_gallery(db).search(probe, top=3)[0].key == pins[1]


def test_a_database_without_templates_is_a_clear_error(tmp_path):
    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(GalleryError, match="not a station database"):
        load_gallery(db)

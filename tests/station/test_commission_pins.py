"""Commission PINs resist offline guessing (station/polls.py; docs/technician-guide.md "Commission PINs").

New PINs are 6 to 12 digits, and their verifier in station.db is keyed with
the station's PIN key (var/keys/pin.key), which station.db does not hold: a
copy of station.db alone gives nothing to test guesses against. PINs set
before (bare scrypt, 4 to 8 digits) keep working; 6 digits or more are re-keyed
at their next correct use, shorter ones are listed to be set again.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from base.paths import Paths
from cli import main
from provisioning.status import device_status
from station import events, polls
from station.db import open_station_db
from station.errors import PollsError


@pytest.fixture
def paths(tmp_path):
    return Paths.from_env(tmp_path / "st").ensure()


@pytest.fixture
def conn(paths):
    c = open_station_db(paths.station_db)
    yield c
    c.close()


def _row(conn, member):
    return conn.execute("SELECT pin_salt, pin_hash, failures FROM commission_member WHERE id = ?",
                        (member,)).fetchone()


def _set_as_before_the_pin_key(conn, member, pin, role="member"):
    """A member row as the code before the PIN key wrote it: bare scrypt, 4 to 8 digits."""
    salt = os.urandom(16)
    conn.execute("INSERT INTO commission_member(id, name, role, pin_salt, pin_hash) VALUES (?,?,?,?,?)",
                 (member, "Асанова Б.", role, salt, hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)))


@pytest.mark.parametrize("pin", ["4821", "48219", "1234567890123", "48a193", ""],
                         ids=["4-digits", "5-digits", "13-digits", "not-digits", "empty"])
def test_new_pins_are_6_to_12_digits(conn, pin):
    with pytest.raises(PollsError, match="6 to 12 digits"):
        polls.set_member_pin(conn, "1", "Асанова Б.", pin)
    assert conn.execute("SELECT count(*) FROM commission_member").fetchone()[0] == 0


def test_the_verifier_is_keyed_with_a_key_outside_station_db(paths, conn):
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193", role="chair")
    salt, stored, _ = _row(conn, "1")
    key = paths.pin_key.read_bytes()
    assert len(key) == 32 and paths.pin_key.stat().st_mode & 0o777 == 0o640
    assert key not in paths.station_db.read_bytes()
    bare = hashlib.scrypt(b"482193", salt=salt, n=2**14, r=8, p=1)
    # What an attacker with station.db alone could compute does not match; only the key makes it.
    assert bare not in stored and stored != bare
    assert stored == b"pin-v2:" + hmac.new(key, bare, hashlib.sha256).digest()
    assert polls.authorize(conn, "1", "482193") == "chair"


def test_a_copy_of_station_db_without_the_key_checks_nothing(paths, conn, tmp_path):
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193")
    stolen = Paths.from_env(tmp_path / "elsewhere").ensure()
    conn.execute("VACUUM INTO ?", (str(stolen.station_db),))      # a consistent copy of the file
    c = open_station_db(stolen.station_db)
    try:
        with pytest.raises(PollsError, match="PIN key .* is missing"):
            polls.authorize(c, "1", "482193")
        assert _row(c, "1")["failures"] == 0        # the station's fault: no lockout counted
    finally:
        c.close()


def test_the_pin_key_is_made_once_and_never_replaced(paths, conn):
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193")
    key = paths.pin_key.read_bytes()
    polls.set_member_pin(conn, "2", "Бекмуратов Н.", "739104")
    assert polls.ensure_pin_key(paths.pin_key) == key == paths.pin_key.read_bytes()
    assert polls.authorize(conn, "1", "482193") == "member"


def test_a_damaged_pin_key_is_a_clear_error(paths, conn):
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193")
    paths.pin_key.write_bytes(b"short")
    with pytest.raises(PollsError, match="damaged"):
        polls.authorize(conn, "1", "482193")


def test_wrong_pins_still_lock_out(conn):
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193")
    for _ in range(polls.MAX_PIN_FAILURES):
        with pytest.raises(PollsError, match="wrong PIN"):
            polls.authorize(conn, "1", "000000")
    with pytest.raises(PollsError, match="locked"):
        polls.authorize(conn, "1", "482193")


def test_an_old_pin_of_6_digits_works_and_is_rekeyed_at_first_use(paths, conn):
    polls.ensure_pin_key(paths.pin_key)                     # provision init made the key
    _set_as_before_the_pin_key(conn, "1", "482193", role="chair")
    assert polls.members_to_set_again(conn) == ["1"]
    assert polls.authorize(conn, "1", "482193") == "chair"
    _, stored, failures = _row(conn, "1")
    assert stored.startswith(b"pin-v2:") and failures == 0
    assert polls.members_to_set_again(conn) == []
    assert [r["event"] for r in events.tail(conn, 1)] == ["commission-pin-upgraded"]
    assert polls.authorize(conn, "1", "482193") == "chair"  # the re-keyed verifier checks the same PIN
    with pytest.raises(PollsError, match="wrong PIN"):
        polls.authorize(conn, "1", "482194")


def test_an_old_4_digit_pin_keeps_working_and_is_listed_to_set_again(paths, conn):
    polls.ensure_pin_key(paths.pin_key)
    _set_as_before_the_pin_key(conn, "2", "4821")
    assert polls.authorize(conn, "2", "4821") == "member"
    assert not bytes(_row(conn, "2")["pin_hash"]).startswith(b"pin-v2:")   # too short to keep: not re-keyed
    assert polls.members_to_set_again(conn) == ["2"]
    assert device_status(paths)["commission_pins_to_set_again"] == ["2"]
    polls.set_member_pin(conn, "2", "Бекмуратов Н.", "739104")
    assert polls.members_to_set_again(conn) == [] and polls.authorize(conn, "2", "739104") == "member"


def test_an_old_pin_works_before_any_pin_key_exists(paths, conn):
    """A station upgraded without a new `provision init`: the old PINs still open the polls."""
    _set_as_before_the_pin_key(conn, "1", "482193")
    assert polls.authorize(conn, "1", "482193") == "member"
    assert not paths.pin_key.exists() and polls.members_to_set_again(conn) == ["1"]


def test_set_pin_command_refuses_a_short_pin(paths, capsys):
    home = str(paths.state_dir.parent)
    with pytest.raises(SystemExit) as e:
        main(["--home", home, "provision", "set-pin", "--member", "1", "--name", "Асанова Б.", "--pin", "4821"])
    assert e.value.code != 0 and "6 to 12 digits" in capsys.readouterr().err
    main(["--home", home, "provision", "set-pin", "--member", "1", "--name", "Асанова Б.", "--pin", "482193"])
    c = open_station_db(paths.station_db)
    try:
        assert polls.authorize(c, "1", "482193") == "member"
    finally:
        c.close()

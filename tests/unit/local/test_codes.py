"""Voucher codes: signed with Ed25519, read back only when untouched and signed with a known key;
keys rotate; the text fits a QR code's alphanumeric mode."""

from __future__ import annotations

import base64
import os
import re
from datetime import date
from pathlib import Path

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.local.codes import (
    PREFIX,
    BadVoucherCode,
    SignedVoucher,
    keys_for,
    new_key_text,
    parse_keys,
    read_code,
    require_voucher_keys,
    sign_voucher,
)

VOUCHER = "q2Zx8B3nT5yWc0dLmA9vHs1k"  # as checkout issues them: secrets.token_urlsafe(18)
OLD, NEW = new_key_text("2026a"), new_key_text("2027a")


def test_a_signed_code_reads_back_what_it_carries_and_fits_a_qr_codes_alphanumeric_mode() -> None:
    keys = parse_keys(OLD)
    code = sign_voucher(keys, voucher_id=VOUCHER, merchant_id=4242, last_day=date(2028, 11, 11))
    assert code.startswith(PREFIX) and re.fullmatch(r"[A-Z0-9.]+", code) and len(code) < 200
    assert read_code(code, keys) == SignedVoucher(VOUCHER, 4242, date(2028, 11, 11), "2026a")
    assert read_code(f"  {code.lower()}\n", keys).voucher_id == VOUCHER  # a scanner's case and spaces


def test_a_rotated_key_still_verifies_what_it_signed_while_the_new_one_signs() -> None:
    before = sign_voucher(parse_keys(OLD), voucher_id=VOUCHER, merchant_id=7, last_day=date(2028, 1, 1))
    rotated = parse_keys(f"{NEW},{OLD}")
    after = sign_voucher(rotated, voucher_id=VOUCHER, merchant_id=7, last_day=date(2028, 1, 1))
    assert read_code(before, rotated).key_id == "2026a" and read_code(after, rotated).key_id == "2027a"
    assert set(rotated.public_keys()) == {"2026a", "2027a"}
    with pytest.raises(BadVoucherCode, match="key this festival does not know"):
        read_code(after, parse_keys(OLD))  # a console that never heard of the new key


def _raw(code: str) -> bytearray:
    text = code[len(PREFIX):]
    return bytearray(base64.b32decode(text + "=" * (-len(text) % 8)))


def _text(raw: bytes) -> str:
    return PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("=")


def test_forged_altered_and_malformed_codes_are_refused() -> None:
    keys = parse_keys(OLD)
    code = sign_voucher(keys, voucher_id=VOUCHER, merchant_id=7, last_day=date(2028, 1, 1))
    forged = sign_voucher(parse_keys(new_key_text("2026a")), voucher_id=VOUCHER, merchant_id=7,
                          last_day=date(2028, 1, 1))  # the same key id, another key
    raw = _raw(code)
    merchant_at = 1 + raw[0] + 7  # the last byte of the merchant id
    altered = bytearray(raw)
    altered[merchant_at] ^= 1  # merchant 7 becomes 6
    unknown_kid = bytearray(raw)
    unknown_kid[1] = ord("9")
    cases = {"forged": forged, "altered": _text(altered), "wrong key id": _text(unknown_kid),
             "bad base32": PREFIX + "!!!!", "empty": "", "spaces": "   ", "huge": PREFIX + "A" * 10_000,
             "cut short": code[:40], "no prefix": code[len(PREFIX):], "signature cut": _text(raw[:-1])}
    for name, text in cases.items():
        with pytest.raises(BadVoucherCode):
            read_code(text, keys)
            pytest.fail(name)


@pytest.mark.parametrize("setting", ["", "k1", "k1:short", "bad kid!:" + "A" * 43, f"{OLD},{OLD}"],
                         ids=["empty", "no seed", "short seed", "bad key id", "one key id twice"])
def test_malformed_key_settings_are_refused_without_showing_a_seed(setting: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_keys(setting)
    assert OLD.split(":")[1] not in refused.value.detail


def test_keys_come_from_the_setting_a_file_beside_sqlite_or_the_process_and_serve_needs_them(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'festival.db'}"
    first, again = keys_for(None, url), keys_for(None, url)
    assert first.public_keys() == again.public_keys()  # the file is made once and read after
    assert (tmp_path / "voucher-keys").stat().st_mode & 0o777 == 0o600
    assert keys_for(OLD, url).public_keys() == parse_keys(OLD).public_keys()
    elsewhere = "postgresql+psycopg://shop@db/festival"
    assert keys_for(None, elsewhere).public_keys() != keys_for(None, elsewhere).public_keys()
    require_voucher_keys({"SHOPFEST_DATABASE_URL": url})
    require_voucher_keys({"SHOPFEST_DATABASE_URL": elsewhere, "SHOPFEST_VOUCHER_KEYS": OLD})
    with pytest.raises(InvalidInput, match="SHOPFEST_VOUCHER_KEYS is not set"):
        require_voucher_keys({"SHOPFEST_DATABASE_URL": elsewhere})
    assert os.listdir(tmp_path) == ["voucher-keys"]  # no draft left behind

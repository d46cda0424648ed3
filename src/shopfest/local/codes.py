"""A voucher's one-time code as its QR code carries it: the voucher's id (the random code checkout
issued, no personal data), its merchant, its last valid day and the id of the key that signed it,
under an Ed25519 signature, so that a shop's console can check it without a connection.

Text form: `SFV1.` and base32 (upper case, no padding: QR codes' alphanumeric mode) of

    key id length (1 byte) | key id | merchant id (8 bytes) | last day (4 bytes, days since
    1970-01-01) | voucher id length (1 byte) | voucher id | signature (64 bytes)

the signature covering `SFV1.` and every byte before it. Keys: SHOPFEST_VOUCHER_KEYS
(`kid:base64url-seed,kid2:...`, the first signs, all verify), or a key file beside the SQLite
database, or (any other database, for tests and one-off commands) a key of the process's own; `serve`
refuses to start on such a database without the setting (`require_voucher_keys`)."""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.engine import make_url

from shopfest.core.errors import InvalidInput

PREFIX = "SFV1."
LONGEST_CODE = 400  # characters: a signed code is about 170; anything far longer is not one
SIGNATURE_BYTES = 64
EPOCH = date(1970, 1, 1)
KEY_FILE = "voucher-keys"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
VOUCHER_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")  # checkout's codes: secrets.token_urlsafe(18)


class BadVoucherCode(InvalidInput):
    code = "bad-voucher-code"
    title = "The voucher code is not one ShopFest signed"


@dataclass(frozen=True, slots=True)
class SignedVoucher:
    """What a voucher's signed code says."""

    voucher_id: str
    merchant_id: int
    last_day: date  # the last day (UTC) it may be redeemed on
    key_id: str


class VoucherKeys:
    """The Ed25519 keys vouchers are signed with: the first signs, every one verifies (rotation)."""

    def __init__(self, seeds: list[tuple[str, bytes]]) -> None:
        if not seeds:
            raise InvalidInput("at least one voucher key is needed")
        self._signing = (seeds[0][0], Ed25519PrivateKey.from_private_bytes(seeds[0][1]))
        self._public = {kid: Ed25519PrivateKey.from_private_bytes(seed).public_key() for kid, seed in seeds}

    @property
    def signing_kid(self) -> str:
        """The id of the key that signs, which the signed text names."""
        return self._signing[0]

    def sign(self, message: bytes) -> tuple[str, bytes]:
        kid, key = self._signing
        return kid, key.sign(message)

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        return self._public.get(kid)

    def public_keys(self) -> dict[str, str]:
        """Key id → the raw 32-byte public key in base64url, for consoles that verify offline."""
        return {kid: _b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
                for kid, key in self._public.items()}


def sign_voucher(keys: VoucherKeys, *, voucher_id: str, merchant_id: int, last_day: date) -> str:
    """The signed code of a voucher, in the text a QR code carries."""
    if not VOUCHER_ID.match(voucher_id):
        raise InvalidInput("a voucher id is 8 to 40 URL-safe characters")
    body = _body(keys.signing_kid, voucher_id, merchant_id, last_day)
    _, signature = keys.sign(PREFIX.encode() + body)
    return PREFIX + base64.b32encode(body + signature).decode().rstrip("=")


def read_code(text: str, keys: VoucherKeys) -> SignedVoucher:
    """What a signed code says, once its signature checks out with one of `keys`.

    Raises BadVoucherCode (forged, altered, unknown key, malformed)."""
    if not isinstance(text, str) or not text.strip():
        raise BadVoucherCode("the voucher code is empty")
    text = text.strip()
    if len(text) > LONGEST_CODE or not text.upper().startswith(PREFIX.upper()):
        raise BadVoucherCode("this is not a signed voucher code")
    raw = _unbase32(text[len(PREFIX):])
    body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    found = _parse(body)
    key = keys.public_key(found.key_id)
    if key is None:
        raise BadVoucherCode("the voucher code was signed with a key this festival does not know",
                             key_id=found.key_id)
    try:
        key.verify(signature, PREFIX.encode() + body)
    except InvalidSignature:
        raise BadVoucherCode("the voucher code's signature does not match: forged or altered") from None
    return found


def _body(kid: str, voucher_id: str, merchant_id: int, last_day: date) -> bytes:
    kid_bytes, voucher_bytes = kid.encode(), voucher_id.encode()
    return (bytes([len(kid_bytes)]) + kid_bytes + merchant_id.to_bytes(8, "big")
            + (last_day - EPOCH).days.to_bytes(4, "big") + bytes([len(voucher_bytes)]) + voucher_bytes)


def _unbase32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise BadVoucherCode("the voucher code is not readable base32") from None
    if len(raw) <= SIGNATURE_BYTES:
        raise BadVoucherCode("the voucher code is cut short")
    return raw


def _parse(body: bytes) -> SignedVoucher:
    """The fields of a code's signed part. Raises BadVoucherCode when they do not fit together."""
    try:
        kid_end = 1 + body[0]
        kid = body[1:kid_end].decode("ascii")
        merchant_id = int.from_bytes(body[kid_end:kid_end + 8], "big")
        days = int.from_bytes(body[kid_end + 8:kid_end + 12], "big")
        voucher_len = body[kid_end + 12]
        voucher_id = body[kid_end + 13:].decode("ascii")
    except (IndexError, UnicodeDecodeError):
        raise BadVoucherCode("the voucher code is malformed") from None
    if len(voucher_id) != voucher_len or not _KID.match(kid) or not VOUCHER_ID.match(voucher_id) \
            or days > (date.max - EPOCH).days:
        raise BadVoucherCode("the voucher code is malformed")
    return SignedVoucher(voucher_id, merchant_id, EPOCH + timedelta(days=days), kid)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- where the keys come from -----------------------------------------------------------------------

def parse_keys(text: str) -> VoucherKeys:
    """SHOPFEST_VOUCHER_KEYS: `kid:base64url-seed` pairs, comma-separated, each seed 32 bytes.

    Raises InvalidInput (the message never shows a seed)."""
    seeds: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        kid, _, seed = item.partition(":")
        if not _KID.match(kid):
            raise InvalidInput("SHOPFEST_VOUCHER_KEYS: a key id is 1 to 16 letters, digits, - or _")
        try:
            raw = base64.urlsafe_b64decode(seed.strip() + "=" * (-len(seed.strip()) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise InvalidInput(f"SHOPFEST_VOUCHER_KEYS: the seed of key {kid!r} is not 32 bytes in base64url")
        if kid in dict(seeds):
            raise InvalidInput(f"SHOPFEST_VOUCHER_KEYS: key id {kid!r} is given twice")
        seeds.append((kid, raw))
    return VoucherKeys(seeds)


def new_key_text(kid: str = "k1") -> str:
    """One fresh `kid:seed` for SHOPFEST_VOUCHER_KEYS."""
    return f"{kid}:{_b64(secrets.token_bytes(32))}"


def keys_for(given: str | None, database_url: str) -> VoucherKeys:
    """The setting's keys; else the key file beside a SQLite database (made 0600 on first use); else,
    for another database, a key of this process's own (its codes verify nowhere else)."""
    if given:
        return parse_keys(given)
    folder = sqlite_folder(database_url)
    if folder is None:
        return parse_keys(new_key_text("p1"))
    return parse_keys(_key_file(folder / KEY_FILE))


def sqlite_folder(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return None


def _key_file(path: Path) -> str:
    """The key file's text, made whole (0600) before it is linked into place, so that a second
    process starting at the same moment reads the first one's key, never half of it."""
    if not path.exists():
        draft = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}")
        made = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(made, "w") as file:
            file.write(new_key_text() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process linked its key first: that one serves
        finally:
            draft.unlink()
    return path.read_text().strip()


def require_voucher_keys(env: Mapping[str, str]) -> None:
    """A server on a database other than a SQLite file must be given SHOPFEST_VOUCHER_KEYS: every
    process must sign and verify with the same keys. Raises InvalidInput."""
    given = env.get("SHOPFEST_VOUCHER_KEYS", "")
    if given:
        parse_keys(given)
        return
    if sqlite_folder(env.get("SHOPFEST_DATABASE_URL", "sqlite:///shopfest.db")) is None:
        raise InvalidInput(
            "SHOPFEST_VOUCHER_KEYS is not set: `serve` on this database needs the keys vouchers are signed "
            "with, the same in every process, as `kid:base64url-seed` (for example "
            "`python3 -c 'from shopfest.local.codes import new_key_text; print(new_key_text())'`)")

"""What a product picture must be, and which keys name a stored one."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shopfest.catalog.images import (
    ImageNotAllowed,
    ImageTooHeavy,
    ImageTooLarge,
    ImageTooSmall,
    check_key,
    key_for,
    prepare_image,
    sniff_format,
)
from shopfest.core.errors import NotFound


def picture(kind: str, size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "name"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WEBP")])
def test_the_format_is_read_from_the_bytes(kind: str, name: str) -> None:
    assert sniff_format(picture(kind, (10, 10))) == name
    assert sniff_format(picture("GIF", (10, 10))) is None
    assert sniff_format(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


def test_a_picture_becomes_a_cropped_card_and_a_whole_page_thumbnail() -> None:
    made = {t.size: t for t in prepare_image(picture("PNG", (2000, 500), "RGBA"))}
    assert (made["card"].width, made["card"].height) == (480, 360)
    assert (made["page"].width, made["page"].height) == (960, 240)
    assert Image.open(io.BytesIO(made["page"].data)).format == "JPEG"


@pytest.mark.parametrize(("data", "refusal"), [
    (b"GIF89a" + b"\0" * 100, ImageNotAllowed),
    (picture("PNG", (199, 400)), ImageTooSmall),
    (picture("PNG", (6001, 300)), ImageTooLarge),
    (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), ImageTooHeavy),
    (picture("JPEG", (300, 300))[:300], ImageNotAllowed),
])
def test_a_bad_picture_is_refused_with_its_reason(data: bytes, refusal: type[Exception]) -> None:
    with pytest.raises(refusal):
        prepare_image(data)


@pytest.mark.parametrize("key", ["../shop.db", "products/../../x.jpg", "/etc/passwd", "products/1/a.png",
                                 "products//a.jpg", "Products/1/a.jpg", "products/1/a.jpg/..", ""])
def test_only_keys_of_our_own_shape_name_a_picture(key: str) -> None:
    with pytest.raises(NotFound):
        check_key(key)


def test_a_new_key_is_of_our_own_shape() -> None:
    assert check_key(key_for(42, "card")).startswith("products/42/")

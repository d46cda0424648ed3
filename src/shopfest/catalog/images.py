"""Product pictures: what an upload must be (a JPEG, PNG or WebP by its bytes, not its name; not too
heavy, too small or too large; no decompression bomb), the thumbnails made of it, and the storage
port they are kept behind. Local disk ships; an object store implements the same `ImageStorage`."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from shopfest.core.errors import InvalidInput, NotFound

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MIN_SIDE = 200  # pixels: smaller would be blurred on a card
MAX_SIDE = 6000
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # a header claiming more is a bomb, refused before decoding
# The sizes kept of each picture: the card's tile, cut to the cards' 4:3 (site.css `.tile`), and the
# product page's larger one, whole within its box.
THUMBNAILS: dict[str, tuple[int, int]] = {"card": (480, 360), "page": (960, 720)}
CROPPED = frozenset({"card"})
CONTENT_TYPE = "image/jpeg"  # what every thumbnail is written as

# Pillow's own guard raises only past twice its limit; ours refuses before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageNotAllowed(InvalidInput):
    code = "image-not-allowed"
    title = "Only JPEG, PNG and WebP pictures are taken"


class ImageTooHeavy(InvalidInput):
    code = "image-too-heavy"
    title = "The picture's file is too large"


class ImageTooSmall(InvalidInput):
    code = "image-too-small"
    title = "The picture is too small"


class ImageTooLarge(InvalidInput):
    code = "image-too-large"
    title = "The picture has too many pixels"


# The formats taken, by the bytes a file of each starts with.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)


def sniff_format(data: bytes) -> str | None:
    """JPEG, PNG or WebP as the file's first bytes say, whatever it is named; None for anything else."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


@dataclass(frozen=True, slots=True)
class Thumbnail:
    size: str  # a name of THUMBNAILS
    width: int
    height: int
    data: bytes


def prepare_image(data: bytes) -> list[Thumbnail]:
    """The thumbnails of an uploaded picture, checked whole first.

    Raises ImageNotAllowed, ImageTooHeavy, ImageTooSmall, ImageTooLarge.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageTooHeavy(f"the picture is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
                            field="image", most_mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    kind = sniff_format(data)
    if kind is None:
        raise ImageNotAllowed("the file is not a JPEG, PNG or WebP picture", field="image")
    picture = _opened(data, kind)
    width, height = picture.size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageTooSmall(f"the picture is {width}×{height}; it needs {MIN_SIDE}×{MIN_SIDE} at least",
                            field="image", least=MIN_SIDE, width=width, height=height)
    try:
        picture.load()
        upright = ImageOps.exif_transpose(picture)
    except (OSError, ValueError, SyntaxError):
        raise ImageNotAllowed("the picture's data is damaged", field="image") from None
    return [_thumbnail(upright, name, box) for name, box in THUMBNAILS.items()]


def _opened(data: bytes, kind: str) -> Image.Image:
    """The picture with only its header read: its size is known before a pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data), formats=[kind])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageNotAllowed("the file is not a readable JPEG, PNG or WebP picture", field="image") from None
    width, height = picture.size
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise _too_large()
    return picture


def _too_large() -> ImageTooLarge:
    return ImageTooLarge(f"the picture is larger than {MAX_SIDE}×{MAX_SIDE}", field="image", most=MAX_SIDE)


def _thumbnail(picture: Image.Image, name: str, box: tuple[int, int]) -> Thumbnail:
    if name in CROPPED:
        copy = ImageOps.fit(picture, box, Image.Resampling.LANCZOS)
    else:
        copy = picture.copy()
        copy.thumbnail(box, Image.Resampling.LANCZOS)
    if copy.mode in ("RGBA", "LA", "P"):  # a transparent PNG shows on white, as the pages are
        copy = copy.convert("RGBA")
        white = Image.new("RGB", copy.size, (255, 255, 255))
        white.paste(copy, mask=copy.getchannel("A"))
        copy = white
    elif copy.mode != "RGB":
        copy = copy.convert("RGB")
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)
    return Thumbnail(name, copy.width, copy.height, out.getvalue())


# --- where pictures are kept ---------------------------------------------------------------------

_KEY = re.compile(r"^[a-z0-9]+(?:[/_-][a-z0-9]+)*\.jpg$")


def check_key(key: str) -> str:
    """A storage key of ours: lower-case words joined by / _ -, ending .jpg; never `..`, never absolute.
    Raises NotFound (a key of any other shape names nothing here)."""
    if len(key) > 200 or not _KEY.match(key):
        raise NotFound("no such picture")
    return key


def key_for(product_id: int, size: str) -> str:
    """A new key for one size of a product's picture: new on every upload, so browsers never show an
    old one from their cache."""
    return f"products/{product_id}/{secrets.token_hex(8)}-{size}.jpg"


@dataclass(frozen=True, slots=True)
class StoredPicture:
    data: bytes
    content_type: str


class ImageStorage(Protocol):
    """Where pictures are kept, by key. Keys are checked with `check_key` by the caller and again here."""

    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> StoredPicture | None: ...

    def delete(self, key: str) -> None: ...


class LocalDiskStorage:
    """Pictures as files under one folder (SHOPFEST_MEDIA_DIR)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # the key's shape forbids it; this says so twice
            raise NotFound("no such picture")
        return path

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # a reader never sees half a file

    def get(self, key: str) -> StoredPicture | None:
        path = self._path(key)
        return StoredPicture(path.read_bytes(), CONTENT_TYPE) if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class ProductImage:
    """A product's picture: the key of each thumbnail."""

    product_id: int
    card_key: str
    page_key: str

"""Pictures made fit to serve: recognised by their first bytes, decoded only within a pixel budget, scaled down
and encoded again, so what leaves Tidings is a small WebP (or JPEG/PNG) without the outlet's metadata (EXIF,
GPS, comments), animation or embedded profiles. Pure functions: no network, no disk."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

IMAGE_WIDTHS = (320, 960)  # the only sizes served: list cards, and the article page
ICON_SIZE = 32  # square; shown at 16 CSS pixels, so sharp on 2x screens
MAX_PIXELS = 36_000_000  # ~7360 x 4900: larger pictures are refused before they are decoded
QUALITY = 80
# Decoders tried on outlet data: the raster formats browsers show (and ICO/BMP for icons). Pillow would
# otherwise try every format it knows, EPS (run by Ghostscript) among them.
PICTURE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF")
ICON_FORMATS = (*PICTURE_FORMATS, "ICO", "BMP")
# Background colours of a letter badge; white text on each has a contrast ratio above 4.5.
BADGE_COLOURS = ("#1f5f8b", "#7a3b8f", "#2e6b3a", "#8a4b16", "#4b5192", "#a23b3b", "#3d6363", "#6b5b2e")


def sniff_image(data: bytes) -> str | None:
    """The media type the first bytes prove, among the raster formats browsers show; None for anything else
    (SVG, HTML, text, truncated data)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 16 and data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        box = data[8:max(16, min(size, 4096))]
        brands = {box[i:i + 4] for i in range(0, len(box) - 3, 4)}  # major brand, minor version, compatibles
        if brands & {b"avif", b"avis"}:
            return "image/avif"
    return None


def sniff_icon(data: bytes) -> str | None:
    """Like ``sniff_image``, and Windows icons (favicon.ico) and bitmaps too."""
    if data.startswith(b"\x00\x00\x01\x00") and len(data) >= 22:
        return "image/x-icon"
    if data.startswith(b"BM") and len(data) >= 26:
        return "image/bmp"
    return sniff_image(data)


@lru_cache(maxsize=1)
def _pillow() -> Any:
    import warnings

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard as well: it refuses at twice this on opening...
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # ...and below that, _open refuses
    return Image


@lru_cache(maxsize=1)
def webp_available() -> bool:
    from PIL import features

    return bool(features.check("webp"))


def _open(data: bytes, formats: tuple[str, ...]) -> Any:
    """The picture decoded (first frame, turned upright, in RGB or RGBA), or None: unreadable, or more pixels
    than MAX_PIXELS (checked from the header, before anything is decoded)."""
    image_mod = _pillow()
    from PIL import ImageOps

    try:
        im = image_mod.open(io.BytesIO(data), formats=formats)
        if im.width * im.height > MAX_PIXELS or not im.width or not im.height:
            return None
        im.draft("RGB", (max(IMAGE_WIDTHS), max(IMAGE_WIDTHS)))  # JPEG: decode at a smaller scale when it can
        im = ImageOps.exif_transpose(im)
        alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
        im = im.convert("RGBA" if alpha else "RGB")
    except Exception:  # Pillow raises assorted errors (and DecompressionBombError) on hostile data
        return None
    im.info = {}  # nothing of the original's metadata is written out
    return im


def _encode(im: Any) -> bytes:
    out = io.BytesIO()
    if webp_available():
        im.save(out, "WEBP", quality=QUALITY, method=4)
    elif im.mode == "RGBA":
        im.save(out, "PNG", optimize=True)
    else:
        im.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def thumbnails(data: bytes, widths: Iterable[int] = IMAGE_WIDTHS) -> dict[int, bytes] | None:
    """The picture at each width (and no taller than wide: a tall picture fits a square box), never enlarged,
    each a new WebP (else JPEG, or PNG where it has transparency); None when it cannot be read."""
    if sniff_image(data) is None:
        return None
    im = _open(data, PICTURE_FORMATS)
    if im is None:
        return None
    from PIL import Image

    made: dict[int, bytes] = {}
    try:
        for width in sorted(set(widths), reverse=True):  # each from the one before: less work for the smaller
            im.thumbnail((width, width), Image.Resampling.LANCZOS)
            made[width] = _encode(im)
    except Exception:  # an encoder failing on an odd picture is the picture's fault, not the reader's
        return None
    return made


def icon(data: bytes, size: int = ICON_SIZE) -> bytes | None:
    """A site icon (PNG, ICO, GIF, JPEG, WebP, BMP) as a ``size`` x ``size`` PNG, scaled to fit and centred on
    a transparent square; None when it cannot be read. SVG icons are never read."""
    if sniff_icon(data) is None:
        return None
    im = _open(data, ICON_FORMATS)
    if im is None:
        return None
    from PIL import Image, ImageOps

    try:
        square = ImageOps.pad(im.convert("RGBA"), (size, size), Image.Resampling.LANCZOS, color=(0, 0, 0, 0))
        out = io.BytesIO()
        square.save(out, "PNG", optimize=True)
    except Exception:
        return None
    return out.getvalue()


def letter_badge(name: str, size: int = ICON_SIZE) -> bytes:
    """A square SVG with the first letter or digit of ``name`` on a colour of its own: what stands for a source
    whose site has no usable icon. Made here from nothing but that one escaped character."""
    letter = next((c for c in name if c.isalnum()), "?").upper()[:1]
    colour = BADGE_COLOURS[zlib.crc32(name.encode("utf-8", "replace")) % len(BADGE_COLOURS)]
    half = size / 2
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
            f'<rect width="{size}" height="{size}" rx="{size // 5}" fill="{colour}"/>'
            f'<text x="{half:g}" y="{half:g}" dy="0.35em" text-anchor="middle" fill="#fff" '
            f'font-family="system-ui, sans-serif" font-size="{size * 0.56:g}" font-weight="600">'
            f"{escape(letter)}</text></svg>").encode()

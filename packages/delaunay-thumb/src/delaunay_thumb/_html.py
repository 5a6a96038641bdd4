"""A self-contained HTML page: each image's thumbnail decoded in the browser next to the original.

The page inlines the JavaScript decoder (:func:`delaunay_thumb.js_decoder_path`), so it needs
no server and no network: open it from disk. It is the eyeballing tool of the codec and the
page the browser tests and the demo screenshot use.
"""

from __future__ import annotations

import base64
import html
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageOps

from delaunay_thumb._encode import DEFAULT_EFFORT, encode
from delaunay_thumb._errors import EncodeError
from delaunay_thumb._js import js_decoder_source

#: An image for the page: a file path, or a ``(name, array)`` pair.
ImageItem = str | Path | tuple[str, ArrayLike]

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 16px; background: #fafafa; color: #222; }
h1 { font-size: 18px; }
table { border-collapse: collapse; }
th { text-align: left; font-weight: 600; padding: 4px 16px 4px 0; }
td { vertical-align: top; padding: 0 16px 12px 0; }
td div { font-size: 12px; color: #555; margin-top: 2px; }
canvas, img { display: block; background: #ddd; }
.error { color: #b00; font-size: 12px; max-width: 240px; }
""".strip()

_SCRIPT = """
let decoded = 0;
let failed = 0;
for (const canvas of document.querySelectorAll('canvas[data-thumb]')) {
  try {
    drawToCanvas(canvas, canvas.dataset.thumb, [+canvas.dataset.width, +canvas.dataset.height]);
    decoded++;
  } catch (err) {
    const note = document.createElement('div');
    note.className = 'error';
    note.textContent = `${err.name}: ${err.message}`;
    canvas.replaceWith(note);
    failed++;
  }
}
document.body.dataset.decoded = String(decoded);
document.body.dataset.failed = String(failed);
""".strip()


@dataclass(frozen=True)
class PageEntry:
    """One image of the page.

    Attributes:
        name: Caption (file name).
        thumb: The thumbnail stream.
        original_png: The downscaled original, PNG bytes.
        width: Width of the downscaled original and of the decoded thumbnail, in pixels.
        height: Their height in pixels.
    """

    name: str
    thumb: bytes
    original_png: bytes
    width: int
    height: int


def html_page(entries: Sequence[PageEntry], title: str = "delaunay-thumb") -> str:
    """The page's HTML text: the decoder inlined, one row per entry.

    Args:
        entries: The images, in display order.
        title: Page title and heading.

    Returns:
        A complete HTML document; its module script decodes every thumbnail on load and sets
        ``data-decoded`` / ``data-failed`` (counts) on ``<body>``.

    Example:
        >>> page = html_page([PageEntry("x.png", bytes([0x20, 255]), b"", 4, 4)])
        >>> "data:image/x-delaunay-thumb;base64,IP8=" in page
        True
    """
    source = js_decoder_source()
    if "</script" in source.lower():
        raise ValueError("the decoder source must not contain '</script'")
    rows = []
    for entry in entries:
        thumb_uri = "data:image/x-delaunay-thumb;base64," + base64.b64encode(entry.thumb).decode()
        png_uri = "data:image/png;base64," + base64.b64encode(entry.original_png).decode()
        name = html.escape(entry.name)
        w, h = entry.width, entry.height
        rows.append(
            f'<tr><td><img src="{png_uri}" width="{w}" height="{h}" alt="{name}">'
            f"<div>{name} ({w}x{h})</div></td>"
            f'<td><canvas data-thumb="{thumb_uri}" data-width="{w}" data-height="{h}" '
            f'width="{w}" height="{h}"></canvas><div>{len(entry.thumb)} bytes</div></td></tr>'
        )
    heading = html.escape(title)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{heading}</title>",
            f"<style>\n{_STYLE}\n</style></head><body>",
            f"<h1>{heading}</h1>",
            "<p>Left: the original, downscaled. Right: its thumbnail, decoded in this page by the "
            "inlined JavaScript decoder, with its size in bytes.</p>",
            "<table><tr><th>original</th><th>delaunay-thumb, decoded here</th></tr>",
            *rows,
            "</table>",
            f'<script type="module">\n{source}\n{_SCRIPT}\n</script>',
            "</body></html>",
            "",
        ]
    )


def _load(item: ImageItem, size: int) -> tuple[str, Image.Image]:
    if isinstance(item, tuple):
        name, array = item
        try:
            img = Image.fromarray(np.asarray(array))
        except (TypeError, ValueError) as err:
            raise EncodeError(f"{name}: unsupported array: {err}") from err
    else:
        path = Path(item)
        name = path.name
        try:
            with Image.open(path) as opened:
                img = ImageOps.exif_transpose(opened)
                img.load()
        except (OSError, ValueError) as err:
            raise EncodeError(f"{path}: cannot read the image: {err}") from err
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    img = img.copy()
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return name, img


def make_entry(
    item: ImageItem, *, max_bytes: int = 200, size: int = 128, effort: int = DEFAULT_EFFORT
) -> PageEntry:
    """Downscale one image to longest side at most ``size`` and encode it within ``max_bytes``.

    Raises:
        EncodeError: For an unreadable image or invalid arguments.

    Example:
        >>> import numpy as np
        >>> e = make_entry(("grey", np.full((200, 400), 90, np.uint8)), max_bytes=30, effort=0)
        >>> (e.width, e.height, len(e.thumb) <= 30)
        (128, 64, True)
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 4096:
        raise EncodeError(f"size must be an integer in 1..4096, got {size!r}")
    name, img = _load(item, size)
    thumb = encode(np.asarray(img), max_bytes, effort=effort)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return PageEntry(name, thumb, buffer.getvalue(), img.width, img.height)


def write_html_page(
    images: Sequence[ImageItem],
    output: str | Path,
    *,
    max_bytes: int = 200,
    size: int = 128,
    effort: int = DEFAULT_EFFORT,
    title: str = "delaunay-thumb",
    progress: bool = False,
) -> list[PageEntry]:
    """Encode ``images`` and write the self-contained comparison page to ``output`` (atomically).

    Args:
        images: Image files and/or ``(name, array)`` pairs.
        output: The HTML file to write.
        max_bytes: Byte budget of every thumbnail.
        size: Longest side, in pixels, of the displayed original and of the decoded thumbnail.
        effort: Encoder effort (see :func:`delaunay_thumb.encode`).
        title: Page title.
        progress: Show a progress bar on stderr.

    Returns:
        The entries written, in order.

    Raises:
        EncodeError: For an unreadable image or invalid arguments.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "page.html"
        >>> img = np.zeros((30, 40, 3), np.uint8); img[:, 20:] = 200
        >>> [len(e.thumb) <= 60 for e in write_html_page([("a", img)], out, max_bytes=60, effort=0)]
        [True]
        >>> out.read_text().count("<canvas")
        1
    """
    from tqdm import tqdm

    from fourfold_common.io import atomic_write_text

    entries = []
    for item in tqdm(images, unit="img", disable=not progress or len(images) < 2, file=sys.stderr):
        entries.append(make_entry(item, max_bytes=max_bytes, size=size, effort=effort))
    atomic_write_text(output, html_page(entries, title))
    return entries

"""The self-contained comparison page (``delaunay-thumb html``), without a browser."""

from __future__ import annotations

import base64
import doctest
import importlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import delaunay_thumb
from delaunay_thumb._html import PageEntry, html_page, make_entry
from delaunay_thumb._js import js_decoder_source


def test_page_inlines_the_decoder_and_every_thumbnail(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:60, 0:90]
    img = np.stack([xx * 2, yy * 4, (xx + yy)], -1).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    out = tmp_path / "page.html"
    entries = delaunay_thumb.write_html_page(
        [tmp_path / "a.png", ("<grey & co>", img[..., 0])], out, max_bytes=50, size=45, effort=0
    )
    text = out.read_text()
    assert js_decoder_source() in text
    assert text.count("<canvas") == 2
    assert "&lt;grey &amp; co&gt;" in text
    assert "<grey & co>" not in text
    uris = re.findall(r'data-thumb="data:image/x-delaunay-thumb;base64,([^"]+)"', text)
    assert [base64.b64decode(u) for u in uris] == [e.thumb for e in entries]
    assert [(e.width, e.height) for e in entries] == [(45, 30), (45, 30)]
    for entry in entries:
        assert len(entry.thumb) <= 50
        assert f"{len(entry.thumb)} bytes" in text
        png = Image.open(io.BytesIO(entry.original_png))
        assert png.size == (entry.width, entry.height)
    # The thumbnail is of the shown original: close to it (smooth image, generous budget).
    shown = np.asarray(Image.open(io.BytesIO(entries[0].original_png)))
    decoded = delaunay_thumb.decode(entries[0].thumb, (45, 30)).astype(float)
    assert np.abs(decoded - shown).mean() < 20


def test_page_refuses_a_decoder_closing_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    import delaunay_thumb._html as page_module

    monkeypatch.setattr(page_module, "js_decoder_source", lambda: "x = '</script>'")
    with pytest.raises(ValueError, match="</script"):
        html_page([PageEntry("a", b"\x00\x00", b"", 1, 1)])


def test_bad_images_raise_encode_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(delaunay_thumb.EncodeError, match="cannot read"):
        make_entry(bad)
    with pytest.raises(delaunay_thumb.EncodeError, match="size"):
        make_entry(("x", np.zeros((4, 4), np.uint8)), size=0)
    with pytest.raises(delaunay_thumb.EncodeError):
        make_entry(("x", np.zeros((4, 4), np.uint8)), max_bytes=3)


@pytest.mark.parametrize("name", ["delaunay_thumb._html", "delaunay_thumb._js"])
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

"""The JavaScript decoder shipped with the package, and a headless Chromium to run it.

The decoder is an ES module without dependencies (``js/delaunay-thumb.js`` in the source tree,
``delaunay_thumb/delaunay-thumb.js`` in the wheel). :func:`chromium_page` drives Debian's
system ``chromium`` through Playwright (never a downloaded browser); the tests and the
benchmark use it, and it needs the ``playwright`` package (not a dependency of the package).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: File name of the decoder module.
JS_FILENAME = "delaunay-thumb.js"
_SOURCE_TREE = Path(__file__).resolve().parents[2] / "js" / JS_FILENAME


def js_decoder_path() -> Path:
    """Path of the JavaScript decoder module (an ES module with no dependencies).

    Inside an installed wheel the module sits next to this package's Python files; in a source
    checkout (editable install) it is ``packages/delaunay-thumb/js/delaunay-thumb.js``.

    Returns:
        An existing file.

    Raises:
        FileNotFoundError: If the installation lacks the module.

    Example:
        >>> import delaunay_thumb
        >>> delaunay_thumb.js_decoder_path().name
        'delaunay-thumb.js'
    """
    for path in (Path(__file__).resolve().parent / JS_FILENAME, _SOURCE_TREE):
        if path.is_file():
            return path
    raise FileNotFoundError(f"the JavaScript decoder {JS_FILENAME} is missing from this install")


def js_decoder_source() -> str:
    """Text of the JavaScript decoder module.

    Example:
        >>> "export function decode" in js_decoder_source()
        True
    """
    return js_decoder_path().read_text(encoding="utf-8")


def find_chromium() -> str:
    """Path of the system Chromium (``$CHROMIUM``, else ``chromium`` on ``PATH``).

    Raises:
        FileNotFoundError: With the install command, when no Chromium is found.
    """
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser"]
    for name in candidates:
        if name and (found := shutil.which(name)):
            return found
    raise FileNotFoundError(
        "no Chromium found: install Debian's package (`apt-get install -y chromium`, which "
        "tools/setup.sh does) or point $CHROMIUM at a Chromium binary"
    )


@contextmanager
def chromium_page(timeout_s: float = 30.0) -> Iterator[Any]:
    """A headless Chromium page with the decoder module loaded as ``window.DT``.

    Args:
        timeout_s: Default timeout of every page operation, in seconds.

    Yields:
        A Playwright ``Page``; ``page.evaluate("DT.decode(...)")`` runs the decoder.

    Raises:
        FileNotFoundError: When Chromium is missing.
        ImportError: When the ``playwright`` package is missing.
    """
    executable = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "chromium_page needs the playwright package (pip install playwright)"
        ) from err
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.evaluate(
                """async (src) => {
                    const url = URL.createObjectURL(new Blob([src], {type: 'text/javascript'}));
                    window.DT = await import(url);
                }""",
                js_decoder_source(),
            )
            yield page
        finally:
            browser.close()

"""``delaunay-thumb html``: argument parsing and exit codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from delaunay_thumb._cli import main


def test_html_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(
            tmp_path / f"{name}.png"
        )
    out = tmp_path / "out" / "page.html"
    out.parent.mkdir()
    args = ["html", str(tmp_path), "-o", str(out), "--max-bytes", "30", "--size", "24"]
    assert main([*args, "--effort", "0"]) == 0
    text = out.read_text()
    assert text.count("<canvas") == 2
    assert 'data-width="24" data-height="16"' in text
    err = capsys.readouterr().err
    assert "a.png:" in err
    assert f"wrote {out}" in err


def test_html_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "page.html")
    assert main(["html", str(tmp_path), "-o", out]) == 2  # no images in the folder
    assert main(["html", str(tmp_path / "missing.png"), "-o", out]) == 2
    (tmp_path / "bad.png").write_bytes(b"nope")
    assert main(["html", str(tmp_path / "bad.png"), "-o", out, "-q"]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert not Path(out).exists()
    with pytest.raises(SystemExit):
        main(["html", str(tmp_path / "bad.png")])  # -o is required

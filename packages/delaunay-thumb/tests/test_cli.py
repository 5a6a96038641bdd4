from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import delaunay_thumb
from delaunay_thumb._cli import main


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:30, 0:40]
    rgb = np.stack([xx * 6, yy * 8, (xx + yy) * 3], -1).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_encode_folder_raw_then_decode(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "encode",
            str(folder),
            "-o",
            str(out),
            "--format",
            "raw",
            "--effort",
            "0",
            "-b",
            "60",
            "-j",
            "1",
            "-q",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.dthumb", "b.dthumb"]
    data = (out / "a.dthumb").read_bytes()
    assert len(data) <= 60
    png = tmp_path / "a.png"
    assert main(["decode", str(out / "a.dthumb"), "-o", str(png), "--size", "80"]) == 0
    img = np.asarray(Image.open(png))
    assert img.shape == (60, 80, 3)
    assert np.array_equal(img, delaunay_thumb.decode(data, 80))


def test_encode_base64_and_html_to_stdout(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", str(folder / "a.png"), "--effort", "0", "-b", "40", "-j", "1"]) == 0
    line = capsys.readouterr().out.strip()
    name, text = line.split("\t")
    assert name.endswith("a.png")
    assert len(delaunay_thumb.Thumb.from_base64(text)) <= 40
    assert (
        main(
            [
                "encode",
                str(folder / "a.png"),
                "--effort",
                "0",
                "-b",
                "40",
                "--format",
                "html",
                "-j",
                "1",
            ]
        )
        == 0
    )
    snippet = capsys.readouterr().out
    assert snippet.startswith('<img alt="a.png" width="64" height="48"')
    assert "data:image/x-delaunay-thumb;base64," in snippet


def test_encode_reports_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not a png")
    assert main(["encode", str(bad), "-j", "1"]) == 1
    assert "cannot read image" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "missing.png")]) == 2


def test_decode_rejects_corrupt_stream(tmp_path: Path) -> None:
    bad = tmp_path / "x.dthumb"
    bad.write_bytes(b"\xff")
    assert main(["decode", str(bad), "-o", str(tmp_path / "x.png")]) == 1
    assert not (tmp_path / "x.png").exists()


def test_demo_writes_sheet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("skimage")  # the [bench] extra
    out = tmp_path / "demo.png"
    args = ["demo", "--images", "coffee", "--effort", "0", "-b", "60", "--scale", "2"]
    assert main([*args, "--peers", "-o", str(out)]) == 0
    sheet = np.asarray(Image.open(out))
    assert sheet.shape == (43 * 2 + 4, 64 * 2 * 2 + 4, 3)
    assert "coffee" in capsys.readouterr().out

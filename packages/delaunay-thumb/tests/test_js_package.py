"""The JavaScript decoder as a shipped asset: in the package, in the wheel, npm layout."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import delaunay_thumb
from delaunay_thumb._js import JS_FILENAME, js_decoder_source

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def test_js_decoder_path_exists_in_the_installed_package() -> None:
    path = delaunay_thumb.js_decoder_path()
    assert path.is_file()
    assert path.name == JS_FILENAME
    source = js_decoder_source()
    for name in ("decode", "decodeMesh", "renderMesh", "toImageData", "drawToCanvas"):
        assert f"export function {name}(" in source
    assert "export class DelaunayThumbError extends Error" in source
    assert "import " not in source.split("*/")[-1].replace("import(", "")  # no dependencies


def test_npm_layout_and_version_sync() -> None:
    meta = json.loads((PACKAGE_ROOT / "js" / "package.json").read_text())
    assert meta["version"] == delaunay_thumb.__version__
    assert meta["type"] == "module"
    assert meta["exports"]["."]["import"] == f"./{JS_FILENAME}"
    for listed in meta["files"]:
        assert (PACKAGE_ROOT / "js" / listed).is_file()
    types = (PACKAGE_ROOT / "js" / meta["types"]).read_text()
    assert "export class DelaunayThumbError" in types
    assert "export function decode(" in types


def test_wheel_ships_the_decoder(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=PACKAGE_ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = zf.read(f"delaunay_thumb/{JS_FILENAME}").decode()
    assert shipped == (PACKAGE_ROOT / "js" / JS_FILENAME).read_text()

"""Benchmark of delaunay-thumb's JavaScript decoder, side by side with ThumbHash's, in Chromium.

Measures, in one run:

* decoder size, minified (esbuild, and terser as a cross-check) and gzipped (level 9): our
  whole module and a decode-only bundle (tree-shaken), next to ThumbHash's npm package
  (whole module, and ``thumbHashToRGBA`` alone);
* decode time in headless Chromium (Debian's ``chromium``), measured in the page with
  ``performance.now()``: 200-byte thumbnails of scikit-image photos decoded to 128 px (and
  32 px), next to ThumbHash decoding its own hash of the same photo (its fixed <= 32 px output);
* a screenshot of the ``delaunay-thumb html`` demo page.

The npm tools (esbuild, terser) and the ThumbHash package are installed with npm into a cache
folder at pinned versions; nothing of theirs enters the repository. Usage, from the repository
root::

    nice -n 10 python tools/bench/delaunay_thumb_js.py            # writes docs/benchmarks/...
    python tools/bench/delaunay_thumb_js.py --samples 50 --out /tmp/x   # quick look
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# tools/bench/delaunay_thumb.py would shadow the package: drop this folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import delaunay_thumb  # noqa: E402
from delaunay_thumb._js import chromium_page  # noqa: E402
from fourfold_common.io import atomic_write_text, make_run_record, write_run_record  # noqa: E402

ROOT = HERE.parents[1]
NPM_PACKAGES = ("esbuild@0.25.12", "terser@5.51.4", "thumbhash@0.1.1")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry")
DEMO_PHOTOS = ("astronaut", "coffee", "chelsea", "camera")
TARGET_KB = 3.0
TARGET_MS = 2.0

# In the page: [minimum, median] over `samples` of the mean time of a batch of decodes; each
# batch lasts >= 2 ms so that the coarse timer of a non-isolated page (0.1 ms) does not bias.
# On a loaded machine the minimum is the better estimate of the decoder's own cost.
_TIMING_JS = """async ([cases, samples]) => {
  const time = (fn) => {
    // Batch size: the quickest of 5 tries must last >= 2 ms (robust to a busy machine).
    let k = 1;
    for (;;) {
      let quickest = Infinity;
      for (let trial = 0; trial < 5; trial++) {
        const t0 = performance.now();
        for (let i = 0; i < k; i++) fn();
        quickest = Math.min(quickest, performance.now() - t0);
      }
      if (quickest >= 2 || k >= 65536) break;
      k *= 2;
    }
    const out = [];
    for (let s = 0; s < samples; s++) {
      const t0 = performance.now();
      for (let i = 0; i < k; i++) fn();
      out.push((performance.now() - t0) / k);
    }
    out.sort((a, b) => a - b);
    return [out[0], out[out.length >> 1]];
  };
  const toBytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const rows = [];
  for (const c of cases) {
    const ours = toBytes(c.ours);
    const rgba = toBytes(c.rgba);
    const hash = TH.rgbaToThumbHash(c.w, c.h, rgba);
    const mesh = DT.decodeMesh(ours);
    const th = TH.thumbHashToRGBA(hash);
    rows.push({
      name: c.name,
      ours_bytes: ours.length,
      vertices: mesh.xs.length,
      triangles: mesh.triangles.length / 3,
      thumbhash_bytes: hash.length,
      thumbhash_size: [th.w, th.h],
      ours_128_ms: time(() => DT.decode(ours, 128)),
      ours_32_ms: time(() => DT.decode(ours, 32)),
      ours_parse_ms: time(() => DT.decodeMesh(ours)),
      ours_render_128_ms: time(() => DT.renderMesh(mesh, 128)),
      thumbhash_ms: time(() => TH.thumbHashToRGBA(hash)),
    });
  }
  return rows;
}"""


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def npm_tools(folder: Path) -> Path:
    """Install the pinned npm packages into ``folder`` (once); returns its node_modules."""
    modules = folder / "node_modules"
    wanted = {spec.rsplit("@", 1)[0]: spec.rsplit("@", 1)[1] for spec in NPM_PACKAGES}
    have = {}
    for name in wanted:
        meta = modules / name / "package.json"
        if meta.is_file():
            have[name] = json.loads(meta.read_text())["version"]
    if have != wanted:
        if shutil.which("npm") is None:
            raise SystemExit("this benchmark needs npm (Debian: apt-get install -y npm)")
        folder.mkdir(parents=True, exist_ok=True)
        print(f"npm install {' '.join(NPM_PACKAGES)} into {folder}", file=sys.stderr)
        _run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), *NPM_PACKAGES])
    return modules


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def sizes(modules: Path, work: Path) -> dict[str, dict[str, int]]:
    """Raw, minified and minified+gzipped sizes of each decoder variant."""
    ours = delaunay_thumb.js_decoder_path()
    theirs = modules / "thumbhash" / "thumbhash.js"
    entries = {
        "delaunay-thumb (whole module)": f"export * from {json.dumps(str(ours))};",
        "delaunay-thumb (decode only)": (
            f"export {{ decode, DelaunayThumbError }} from {json.dumps(str(ours))};"
        ),
        "ThumbHash (whole module)": f"export * from {json.dumps(str(theirs))};",
        "ThumbHash (thumbHashToRGBA only)": (
            f"export {{ thumbHashToRGBA }} from {json.dumps(str(theirs))};"
        ),
    }
    esbuild = modules / ".bin" / "esbuild"
    terser = modules / ".bin" / "terser"
    out: dict[str, dict[str, int]] = {}
    for k, (label, entry) in enumerate(entries.items()):
        src = work / f"entry{k}.js"
        src.write_text(entry)
        bundle = _run([str(esbuild), str(src), "--bundle", "--format=esm", "--log-level=error"])
        mini = _run(
            [str(esbuild), str(src), "--bundle", "--format=esm", "--minify", "--log-level=error"]
        )
        (work / f"bundle{k}.js").write_text(bundle)
        tmini = _run([str(terser), str(work / f"bundle{k}.js"), "--module", "-c", "-m"])
        out[label] = {
            "bundle_bytes": len(bundle.encode()),
            "esbuild_min_bytes": len(mini.encode()),
            "esbuild_min_gzip_bytes": gz(mini.encode()),
            "terser_min_bytes": len(tmini.encode()),
            "terser_min_gzip_bytes": gz(tmini.encode()),
        }
    return out


def photo(name: str) -> np.ndarray:
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    return img


def thumbnail(img: np.ndarray, long_side: int) -> Image.Image:
    pil = Image.fromarray(img)
    pil.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return pil


def timing(args: argparse.Namespace, modules: Path) -> list[dict[str, Any]]:
    import base64

    cases = []
    for name in PHOTOS:
        img = photo(name)
        small = thumbnail(img, 128)
        data = delaunay_thumb.encode(np.asarray(small), args.bytes, effort=args.effort)
        th_in = thumbnail(img, 100).convert("RGBA")
        cases.append(
            {
                "name": name,
                "ours": base64.b64encode(data).decode(),
                "rgba": base64.b64encode(np.asarray(th_in).tobytes()).decode(),
                "w": th_in.width,
                "h": th_in.height,
            }
        )
        print(f"{name}: {len(data)} bytes", file=sys.stderr)
    thumbhash_src = (modules / "thumbhash" / "thumbhash.js").read_text()
    with chromium_page(timeout_s=600) as page:
        page.evaluate(
            """async (src) => {
                const url = URL.createObjectURL(new Blob([src], {type: 'text/javascript'}));
                window.TH = await import(url);
            }""",
            thumbhash_src,
        )
        version = page.evaluate("navigator.userAgent")
        rows = list(page.evaluate(_TIMING_JS, [cases, args.samples]))
    for row in rows:
        row["user_agent"] = version
    return rows


def screenshot(out_png: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "demo.html"
        entries = delaunay_thumb.write_html_page(
            [(f"{name}.png", photo(name)) for name in DEMO_PHOTOS],
            page_path,
            max_bytes=args.bytes,
            size=128,
            effort=args.effort,
            title="delaunay-thumb: decoded in the browser",
        )
        with chromium_page() as page:
            tab = page.context.browser.new_page(viewport={"width": 560, "height": 400})
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto(page_path.as_uri())
            tab.wait_for_function("document.body.dataset.decoded !== undefined")
            decoded = tab.evaluate("document.body.dataset.decoded")
            if errors or decoded != str(len(entries)):
                raise SystemExit(f"demo page failed: decoded={decoded} errors={errors}")
            png = tab.screenshot(full_page=True)
            tab.close()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp_png = out_png.with_suffix(".png.tmp")
    tmp_png.write_bytes(png)
    os.replace(tmp_png, out_png)
    return [{"name": e.name, "bytes": len(e.thumb), "size": [e.width, e.height]} for e in entries]


def report(
    command: str, size_rows: dict[str, dict[str, int]], rows: list[dict[str, Any]], load: str
) -> str:
    keys = [k for k in rows[0] if k.endswith("_ms")]
    best = {k: statistics.median(r[k][0] for r in rows) for k in keys}
    typical = {k: statistics.median(r[k][1] for r in rows) for k in keys}
    ours = size_rows["delaunay-thumb (whole module)"]
    ours_gz = ours["terser_min_gzip_bytes"]
    th_gz = size_rows["ThumbHash (whole module)"]["terser_min_gzip_bytes"]
    th_dec = size_rows["ThumbHash (thumbHashToRGBA only)"]["terser_min_gzip_bytes"]
    lines = [
        "# delaunay-thumb: the JavaScript decoder in Chromium",
        "",
        f"Command: `{command}`",
        "",
        f"Browser: {rows[0]['user_agent']}.",
        f"Machine: shared 2-core CPU box, load average {load} during the run (several other",
        "jobs), so every time is inflated; each figure is measured in the page with",
        "`performance.now()` over batches of decodes (>= 2 ms per batch), as the minimum and the",
        "median over the samples of each photo; the table's last row is the median over photos.",
        "The minimum is the better estimate of the decoder's own cost on a loaded machine.",
        "",
        "## Size (bytes)",
        "",
        "| decoder | bundle | esbuild min | esbuild min+gzip | terser min | terser min+gzip |",
        "|---|---|---|---|---|---|",
    ]
    for label, s in size_rows.items():
        lines.append(
            f"| {label} | {s['bundle_bytes']} | {s['esbuild_min_bytes']} | "
            f"{s['esbuild_min_gzip_bytes']} | {s['terser_min_bytes']} | "
            f"{s['terser_min_gzip_bytes']} |"
        )
    verdict = "met" if ours_gz < TARGET_KB * 1024 else "missed"
    lines += [
        "",
        f"Ours, whole module, minified with terser and gzipped (level 9): **{ours_gz} B** "
        f"(target < {TARGET_KB:.0f} KB = {int(TARGET_KB * 1024)} B: {verdict}; esbuild's "
        f"minifier gives {ours['esbuild_min_gzip_bytes']} B). That is {ours_gz / th_gz:.2f}x "
        f"ThumbHash's whole module ({th_gz} B, encoder included) and {ours_gz / th_dec:.1f}x its "
        f"decoder alone ({th_dec} B). The bundles are made by esbuild (`--bundle`, tree-shaken "
        "for the decode-only rows), then minified by esbuild or by terser (`--module -c -m`).",
        "",
        "## Decode time (ms in Chromium; minimum / median over samples)",
        "",
        "| photo | ours bytes | vertices | ours to 128 px | ours to 32 px | parse + triangulate "
        "| render 128 px | ThumbHash bytes | ThumbHash (its size) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(pair: list[float]) -> str:
        return f"{pair[0]:.2f} / {pair[1]:.2f}"

    for r in rows:
        tw, thh = r["thumbhash_size"]
        lines.append(
            f"| {r['name']} | {r['ours_bytes']} | {r['vertices']} | {cell(r['ours_128_ms'])} | "
            f"{cell(r['ours_32_ms'])} | {cell(r['ours_parse_ms'])} | "
            f"{cell(r['ours_render_128_ms'])} | {r['thumbhash_bytes']} | "
            f"{cell(r['thumbhash_ms'])} ({tw}x{thh}) |"
        )
    lines.append(
        "| **median** | | | **"
        + " | ".join(cell([best[k], typical[k]]) for k in keys[:4]).replace(" | ", "** | ", 1)
        + f" | | {cell([best['thumbhash_ms'], typical['thumbhash_ms']])} |"
    )
    verdict = "met" if best["ours_128_ms"] < TARGET_MS else "missed"
    lines += [
        "",
        f"Ours to 128 px: **{best['ours_128_ms']:.2f} ms** (median over photos of the minimum; "
        f"the median of the samples is {typical['ours_128_ms']:.2f} ms on this loaded machine). "
        f"Target < {TARGET_MS:.0f} ms: {verdict} by the minimum. ThumbHash decodes its 21-24-byte "
        f"hash to at most 32 px in {best['thumbhash_ms']:.2f} ms (minimum): ours takes "
        f"{best['ours_128_ms'] / best['thumbhash_ms']:.1f}x as long at 128 px and "
        f"{best['ours_32_ms'] / best['thumbhash_ms']:.1f}x at 32 px, for ~8x the bytes and a "
        "sharper, resolution-free picture.",
        "",
        "## ThumbHash's published figures",
        "",
        "ThumbHash's README (github.com/evanw/thumbhash) and website (evanw.github.io/thumbhash)",
        "publish no decoder size or decode time; they state that it is 'much faster to encode and",
        "decode' than BlurHash, that its code is 'similar in complexity' to BlurHash's, and show",
        "hashes of about 21-25 bytes decoded to at most 32 px. The ThumbHash columns above are",
        "therefore measured here, in the same page and run, from the npm package thumbhash@0.1.1.",
        "",
        "## Demo page",
        "",
        "![demo](delaunay-thumb-js-demo.png)",
        "",
        "Made by `delaunay-thumb html` (each thumbnail decoded in the page by the inlined module);",
        "screenshot by headless Chromium.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    parser.add_argument("--samples", type=int, default=101, help="timing samples per decoder")
    parser.add_argument("--bytes", type=int, default=200, help="byte budget of our thumbnails")
    parser.add_argument("--effort", type=int, default=1, help="encoder effort")
    parser.add_argument(
        "--npm-dir",
        default=str(Path.home() / ".cache" / "fourfold" / "npm-bench"),
        help="where the pinned npm packages are installed",
    )
    args = parser.parse_args(argv)
    command = "python " + " ".join(
        shlex.quote(a)
        for a in [
            str(Path(__file__).relative_to(ROOT)),
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    out = Path(args.out)
    modules = npm_tools(Path(args.npm_dir))
    with tempfile.TemporaryDirectory() as tmp:
        size_rows = sizes(modules, Path(tmp))
    for label, s in size_rows.items():
        print(f"{label}: {s}")
    load_before = os.getloadavg()[0]
    rows = timing(args, modules)
    load = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
    for r in rows:
        print({k: v for k, v in r.items() if k != "user_agent"})
    demo = screenshot(out / "delaunay-thumb-js-demo.png", args)
    text = report(command, size_rows, rows, load)
    print(text)
    atomic_write_text(out / "delaunay-thumb-js.md", text)
    record = make_run_record(
        "delaunay-thumb js decoder benchmark",
        {
            "samples": args.samples,
            "bytes": args.bytes,
            "effort": args.effort,
            "photos": PHOTOS,
            "npm": NPM_PACKAGES,
        },
        {"sizes": size_rows, "timing_min_median_ms": rows, "load_average": load, "demo": demo},
        packages=["delaunay-thumb", "fourfold-common", "playwright", "numpy", "Pillow"],
        command=command,
    )
    write_run_record(out / "delaunay-thumb-js.json", record)
    print(f"wrote {out / 'delaunay-thumb-js.md'}, .json, -demo.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

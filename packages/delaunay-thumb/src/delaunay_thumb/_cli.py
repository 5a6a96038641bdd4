"""Command line of ``delaunay-thumb``: parses arguments and calls the public API.

Commands: ``encode`` (files or folders, in parallel, to raw bytes, base64 or an HTML snippet),
``decode`` (a stream to PNG at a chosen size), ``html`` (a self-contained page in which the
JavaScript decoder draws each thumbnail next to its original), ``bench`` (the benchmark against
the peer codecs) and ``demo`` (offline, on images bundled with scikit-image: a side-by-side PNG
and figures).
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from delaunay_thumb.__about__ import __version__

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".avif"}
)
_SUFFIX = {"raw": ".dthumb", "base64": ".b64", "html": ".html"}


def _collect(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def _render_output(data: bytes, fmt: str, name: str, size: tuple[int, int]) -> bytes:
    from delaunay_thumb._thumb import Thumb

    thumb = Thumb(data)
    if fmt == "raw":
        return data
    if fmt == "base64":
        return (thumb.to_base64() + "\n").encode("ascii")
    width, height = size
    snippet = (
        f'<img alt="{html.escape(name)}" width="{width}" height="{height}" '
        f'data-delaunay-thumb="{thumb.data_uri()}">\n'
    )
    return snippet.encode("utf-8")


def _encode_one(job: tuple[str, int, int, int, str]) -> tuple[str, bytes | None, str]:
    """Worker: encode one file; returns (path, output bytes or None, message)."""
    path, max_bytes, effort, seed, fmt = job
    from delaunay_thumb import encode
    from delaunay_thumb._decode import output_size
    from delaunay_thumb._errors import EncodeError
    from delaunay_thumb._format import read_stream

    try:
        data = encode(path, max_bytes, effort=effort, seed=seed)
    except EncodeError as err:
        return path, None, str(err)
    mesh = read_stream(data)
    size = output_size(mesh.aspect, mesh.portrait, None)
    return path, _render_output(data, fmt, Path(path).name, size), f"{len(data)} bytes"


def _cmd_encode(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fourfold_common.io import atomic_write_bytes

    files = _collect(args.inputs)
    if not files:
        print("delaunay-thumb encode: no image files found", file=sys.stderr)
        return 2
    if args.format == "raw" and args.output is None:
        print("delaunay-thumb encode: --format raw needs --output FOLDER", file=sys.stderr)
        return 2
    out_dir = Path(args.output) if args.output else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(str(f), args.bytes, args.effort, args.seed, args.format) for f in files]
    failed = 0
    workers = max(1, min(args.jobs, len(jobs)))
    results: list[tuple[str, bytes | None, str]] = []
    bar = tqdm(total=len(jobs), unit="img", disable=args.quiet or len(jobs) < 2, file=sys.stderr)
    if workers == 1:
        for job in jobs:
            results.append(_encode_one(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for res in pool.map(_encode_one, jobs):
                results.append(res)
                bar.update()
    bar.close()
    for path, payload, message in results:
        if payload is None:
            failed += 1
            print(f"{path}: error: {message}", file=sys.stderr)
            continue
        if out_dir is not None:
            target = out_dir / (Path(path).stem + _SUFFIX[args.format])
            atomic_write_bytes(target, payload)
            if not args.quiet:
                print(f"{path} -> {target} ({message})", file=sys.stderr)
        else:
            sys.stdout.write(
                payload.decode("utf-8")
                if args.format == "html"
                else f"{path}\t{payload.decode('ascii')}"
            )
    return 1 if failed else 0


def _read_stream_file(path: Path) -> bytes:
    from delaunay_thumb._thumb import Thumb

    raw = path.read_bytes()
    if path.suffix.lower() == ".b64":
        return Thumb.from_base64(raw.decode("ascii", errors="replace").strip()).data
    return raw


def _cmd_decode(args: argparse.Namespace) -> int:
    from PIL import Image

    from delaunay_thumb import DecodeError, decode
    from fourfold_common.io import atomic_open

    size: int | tuple[int, int] | None = args.size
    if args.width is not None or args.height is not None:
        if args.width is None or args.height is None:
            print("delaunay-thumb decode: give both --width and --height", file=sys.stderr)
            return 2
        size = (args.width, args.height)
    try:
        image = decode(_read_stream_file(Path(args.input)), size)
    except (DecodeError, OSError) as err:
        print(f"delaunay-thumb decode: {args.input}: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"delaunay-thumb decode: {err}", file=sys.stderr)
        return 2
    with atomic_open(args.output, "wb") as fh:
        Image.fromarray(image).save(fh, format="PNG")
    print(f"{args.input} -> {args.output} ({image.shape[1]}x{image.shape[0]})", file=sys.stderr)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    try:
        from delaunay_thumb._bench import run_benchmark
        from delaunay_thumb._bench_images import default_images
    except ImportError as err:  # pragma: no cover - depends on the installation
        print(f"delaunay-thumb bench: not available: {err}", file=sys.stderr)
        return 2
    try:
        images = default_images(args.images) if args.images else default_images()
    except (ImportError, ValueError) as err:
        print(f"delaunay-thumb bench: {err}", file=sys.stderr)
        return 2
    result = run_benchmark(
        images,
        sizes=args.sizes,
        budgets=args.budgets,
        codecs=args.codecs,
        effort=args.effort,
        seed=args.seed,
        checkpoint=args.checkpoint,
        progress=not args.quiet,
    )
    print("| codec | size | budget | n | bytes | PSNR dB | SSIM | dPSNR vs WebP file |")
    print("|---|---|---|---|---|---|---|---|")
    for row in result.rows:
        delta = "" if row.psnr_delta_db is None else f"{row.psnr_delta_db:+.2f}"
        print(
            f"| {row.codec} | {row.size} | {row.budget} | {row.count} | {row.mean_bytes:.1f} "
            f"| {row.mean_psnr:.2f} | {row.mean_ssim:.3f} | {delta} |"
        )
    for name, why in result.skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    if args.report:
        from delaunay_thumb._bench_report import write_report

        command = "delaunay-thumb " + " ".join(sys.argv[1:]) if sys.argv else "delaunay-thumb bench"
        paths = write_report(result, args.report, command=command)
        print("wrote " + ", ".join(str(p) for p in paths if p is not None), file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from PIL import Image

    from delaunay_thumb import decode, encode
    from fourfold_common.io import atomic_open

    try:
        from delaunay_thumb._bench_images import default_images
        from delaunay_thumb._metrics import make_thumbnail, psnr, ssim

        images = default_images(args.images)
    except (ImportError, ValueError) as err:
        print(
            f"delaunay-thumb demo needs scikit-image (pip install 'delaunay-thumb[bench]'): {err}",
            file=sys.stderr,
        )
        return 2
    peers = []
    try:
        from delaunay_thumb._peers import make_peer

        for name in args.peers:
            peers.append(make_peer(name))
    except (ImportError, ValueError) as err:
        print(f"delaunay-thumb demo: peers unavailable ({err}); showing ours only", file=sys.stderr)
    rows = []
    print(f"{'image':22s} {'codec':14s} {'bytes':>5s} {'PSNR':>6s} {'SSIM':>6s}")
    for name, original in images.items():
        thumb = make_thumbnail(original, args.size)
        h, w = thumb.shape[:2]
        data = encode(thumb, args.bytes, effort=args.effort)
        ours = decode(data, (w, h))
        s = max(1, args.scale)
        big = (w * s, h * s)

        def up(img: np.ndarray, size: tuple[int, int] = big) -> np.ndarray:
            return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.LANCZOS))

        tiles = [make_thumbnail(original, args.size * s), decode(data, big)]
        labels = [("ours", len(data), ours)]
        for peer in peers:
            try:
                res = peer.search(thumb, [args.bytes]).get(args.bytes)
            except Exception as err:  # a peer's library may be missing: show a grey tile
                print(f"  {peer.name}: {err}", file=sys.stderr)
                res = None
            tile = res.decoded if res is not None else np.full_like(thumb, 128)
            tiles.append(up(tile))
            if res is not None:
                labels.append((peer.name, res.nbytes, res.decoded))
        for codec, nbytes, img in labels:
            score = f"{psnr(thumb, img):6.2f} {ssim(thumb, img):6.3f}"
            print(f"{name:22s} {codec:14s} {nbytes:5d} {score}")
        tiles = [t if t.shape[:2] == (big[1], big[0]) else up(t) for t in tiles]
        pad = np.full((big[1], 4, 3), 255, np.uint8)
        row = [tiles[0]]
        for tile in tiles[1:]:
            row += [pad, tile]
        rows.append(np.concatenate(row, axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate(
        [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "wb") as fh:
        Image.fromarray(sheet).save(fh, format="PNG")
    columns = ", ".join(["original", "ours", *[p.name for p in peers]])
    print(
        f"wrote {out} (columns: {columns}; {args.bytes}-byte budget; figures at {args.size} px, "
        f"sheet at {args.scale}x: ours decoded at that size, the others upsampled with Lanczos)",
        file=sys.stderr,
    )
    return 0


def _cmd_html(args: argparse.Namespace) -> int:
    from delaunay_thumb import EncodeError, write_html_page

    try:
        files = _collect(args.inputs)
        if not files:
            print("delaunay-thumb html: no image files found", file=sys.stderr)
            return 2
        entries = write_html_page(
            files,
            args.output,
            max_bytes=args.max_bytes,
            size=args.size,
            effort=args.effort,
            progress=not args.quiet,
        )
    except EncodeError as err:
        print(f"delaunay-thumb html: {err}", file=sys.stderr)
        return 1
    if not args.quiet:
        for entry in entries:
            print(f"{entry.name}: {len(entry.thumb)} bytes", file=sys.stderr)
        print(f"wrote {args.output} ({len(entries)} images)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``delaunay-thumb`` command."""
    from delaunay_thumb._encode import DEFAULT_EFFORT, EFFORTS

    parser = argparse.ArgumentParser(prog="delaunay-thumb", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    efforts = sorted(EFFORTS)

    enc = commands.add_parser("encode", help="encode image files or folders")
    enc.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    enc.add_argument("-o", "--output", help="output folder (default: print to stdout)")
    enc.add_argument("-b", "--bytes", type=int, default=200, help="byte budget (default 200)")
    enc.add_argument("--effort", type=int, choices=efforts, default=DEFAULT_EFFORT)
    enc.add_argument("--seed", type=int, default=0)
    enc.add_argument("--format", choices=sorted(_SUFFIX), default="base64")
    enc.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    enc.add_argument("-q", "--quiet", action="store_true")
    enc.set_defaults(handler=_cmd_encode)

    dec = commands.add_parser("decode", help="decode a stream (.dthumb raw or .b64) to PNG")
    dec.add_argument("input")
    dec.add_argument("-o", "--output", required=True, help="PNG file to write")
    dec.add_argument("-s", "--size", type=int, default=None, help="longest side (default 64)")
    dec.add_argument("--width", type=int)
    dec.add_argument("--height", type=int)
    dec.set_defaults(handler=_cmd_decode)

    bench = commands.add_parser("bench", help="benchmark against WebP, AVIF, JPEG, ThumbHash...")
    bench.add_argument("--images", nargs="+", default=None)
    bench.add_argument("--sizes", nargs="+", type=int, default=[64, 128])
    bench.add_argument("--budgets", nargs="+", type=int, default=[50, 100, 200, 400])
    bench.add_argument("--codecs", nargs="+", default=["ours", "webp-file", "avif-payload"])
    bench.add_argument("--effort", type=int, choices=efforts, default=None)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--checkpoint", default=None, help="JSON file to resume from")
    bench.add_argument("--report", default=None, help="write a markdown report (+json, png)")
    bench.add_argument("-q", "--quiet", action="store_true")
    bench.set_defaults(handler=_cmd_bench)

    page = commands.add_parser(
        "html", help="a self-contained page: thumbnails decoded in the browser next to originals"
    )
    page.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    page.add_argument("-o", "--output", required=True, help="HTML file to write")
    page.add_argument("-b", "--max-bytes", type=int, default=200, help="byte budget (default 200)")
    page.add_argument(
        "-s", "--size", type=int, default=128, help="longest side shown (default 128)"
    )
    page.add_argument("--effort", type=int, choices=efforts, default=DEFAULT_EFFORT)
    page.add_argument("-q", "--quiet", action="store_true")
    page.set_defaults(handler=_cmd_html)

    demo = commands.add_parser("demo", help="offline demo on scikit-image photos")
    demo.add_argument("--images", nargs="+", default=["astronaut", "coffee", "chelsea"])
    demo.add_argument("-b", "--bytes", type=int, default=200)
    demo.add_argument("--size", type=int, default=64, help="thumbnail longest side")
    demo.add_argument(
        "--scale", type=int, default=3, help="display scale of the sheet (ours decoded natively)"
    )
    demo.add_argument("--effort", type=int, choices=efforts, default=DEFAULT_EFFORT)
    demo.add_argument("--peers", nargs="*", default=["webp-file", "avif-payload", "thumbhash"])
    demo.add_argument("-o", "--output", default="delaunay-thumb-demo.png")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``delaunay-thumb`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    try:
        return int(handler(args))
    except FileNotFoundError as err:
        print(f"delaunay-thumb: {err}", file=sys.stderr)
        return 2

"""The JavaScript decoder in a real headless Chromium against the Python decoder.

One browser for the module; every case is batched into one page evaluation. Chromium is
Debian's ``chromium`` (``tools/setup.sh`` installs it); without it these tests fail.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import delaunay_thumb
from delaunay_thumb._decode import output_size
from delaunay_thumb._format import (
    GRID_LONG,
    QSTEPS,
    Mesh,
    eligible_points,
    grid_shape,
    index_ranges,
    read_stream_triangulated,
    write_stream,
)
from delaunay_thumb._js import chromium_page, find_chromium
from delaunay_thumb._rangecoder import HALF, RangeEncoder, adapt

SIZES: list[int | tuple[int, int]] = [16, 64, 128, 200, (97, 13), (7, 150), (1, 1)]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    try:
        find_chromium()
    except FileNotFoundError as err:
        pytest.fail(f"Chromium is required for the JavaScript decoder tests: {err}")
    with chromium_page(timeout_s=30) as p:
        yield p


def spec_render(data: bytes, size: int | tuple[int, int]) -> np.ndarray:
    """Section 7 of format.md literally: the triangle containing each pixel centre (exact
    integer test on coordinates scaled by 2 (gw - 1) and 2 (gh - 1)), its colour plane,
    rounded half up, clamped. Built on the Python parser's mesh and triangulation."""
    mesh, tris = read_stream_triangulated(data)
    w, h = output_size(mesh.aspect, mesh.portrait, size)
    gw, gh = mesh.grid
    pts, rgb = mesh.points, mesh.rgb()
    X, Y = 2 * pts[:, 0] * w, 2 * pts[:, 1] * h
    xy = pts * np.array([w / (gw - 1), h / (gh - 1)])
    out = np.full((h, w, 3), np.nan)
    for t in tris:
        # Pixel box of the triangle (one pixel wider; the exact test decides).
        i0 = max(0, int(xy[t, 0].min()) - 1)
        i1 = min(w, int(xy[t, 0].max()) + 2)
        j0 = max(0, int(xy[t, 1].min()) - 1)
        j1 = min(h, int(xy[t, 1].max()) + 2)
        jj, ii = np.mgrid[j0:j1, i0:i1]
        px, py = (2 * ii + 1) * (gw - 1), (2 * jj + 1) * (gh - 1)
        inside = np.ones(ii.shape, bool)
        for u, v in ((0, 1), (1, 2), (2, 0)):
            a, b = t[u], t[v]
            inside &= (X[b] - X[a]) * (py - Y[a]) - (Y[b] - Y[a]) * (px - X[a]) >= 0
        p0, p1, p2 = xy[t]
        e1, e2 = p1 - p0, p2 - p0
        den = e1[0] * e2[1] - e2[0] * e1[1]
        d1, d2 = rgb[t[1]] - rgb[t[0]], rgb[t[2]] - rgb[t[0]]
        gx = (d1 * e2[1] - d2 * e1[1]) / den
        gy = (d2 * e1[0] - d1 * e2[0]) / den
        off = rgb[t[0]] - gx * p0[0] - gy * p0[1]
        val = gx * (ii[..., None] + 0.5) + gy * (jj[..., None] + 0.5) + off
        out[j0:j1, i0:i1][inside] = val[inside]
    assert not np.isnan(out).any(), "the triangles must cover every pixel centre"
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def _random_mesh(
    rng: np.random.Generator,
    target_bytes: int,
    *,
    grey: bool,
    lattice: bool,
    grid: tuple[int, int, bool] | None = None,
) -> bytes:
    """A valid stream from a random mesh (the reference writer), near ``target_bytes``.

    ``grid`` fixes ``(long_code, aspect, portrait)``; otherwise they are random.
    """
    if grid is None:
        grid = (
            int(rng.integers(8 if target_bytes > 300 else 0, len(GRID_LONG))),
            int(rng.choice([0, 3, 40, 128, 200, 255])),
            bool(rng.integers(0, 2)),
        )
    long_code, aspect, portrait = grid
    gw, gh = grid_shape(long_code, aspect, portrait)
    elig = eligible_points(gw, gh)
    if lattice:  # many co-circular quadruples: stresses the canonical tie-break
        step = int(rng.integers(1, 4))
        pool = np.nonzero((elig[:, 0] % step == 0) & (elig[:, 1] % step == 0))[0]
    else:
        pool = np.arange(elig.shape[0])
    qy_code, qc_code = int(rng.integers(0, 16)), int(rng.integers(0, 16))
    seed = int(rng.integers(0, 2**31))

    def make(n: int) -> bytes:
        sub = np.random.default_rng(seed)
        chosen = elig[np.sort(sub.choice(pool, n, replace=False))]
        corners = np.array([[0, 0], [gw - 1, 0], [0, gh - 1], [gw - 1, gh - 1]])
        pts = np.concatenate([corners, chosen])
        pts = pts[np.lexsort((pts[:, 0], pts[:, 1]))]
        (ylo, yhi), (clo, chi) = index_ranges(QSTEPS[qy_code], QSTEPS[qc_code])
        # Smooth fields plus noise, clipped to the valid index ranges.
        fx, fy = sub.uniform(0, 0.3, 2)
        base = np.sin(pts[:, 0] * fx) + np.cos(pts[:, 1] * fy)
        cy = np.clip(np.round((base + 2) / 4 * yhi + sub.normal(0, 2, len(pts))), ylo, yhi)
        co = np.clip(np.round(base * chi / 3 + sub.normal(0, 1, len(pts))), clo, chi)
        cg = np.clip(np.round(-base * chi / 4 + sub.normal(0, 1, len(pts))), clo, chi)
        if grey:
            co = cg = np.zeros(len(pts))
        cols = np.stack([cy, co, cg], axis=1).astype(np.int64)
        mesh = Mesh(long_code, aspect, portrait, grey, qy_code, qc_code, pts.astype(np.int64), cols)
        return write_stream(mesh)

    cap = int(min(pool.size, 4092))
    n = min(cap, max(0, target_bytes // 3))
    data = make(n)
    if n and len(data) > 4:  # one correction towards the target size
        n = min(cap, max(0, round(n * (target_bytes - 3) / (len(data) - 3))))
        data = make(n)
    return data


def _cases() -> list[tuple[bytes, int | tuple[int, int]]]:
    rng = np.random.default_rng(2024)
    cases: list[tuple[bytes, int | tuple[int, int]]] = []
    # Encoder output: photo-like and noise images, colour and grey, extreme aspect ratios.
    yy, xx = np.mgrid[0:24, 0:32]
    smooth = np.stack([xx * 8, yy * 10, (xx + yy) * 4], -1).astype(np.uint8)
    images = [
        smooth,
        rng.integers(0, 256, (20, 28, 3), dtype=np.uint8),
        smooth[..., 1],
        rng.integers(0, 256, (3, 120, 3), dtype=np.uint8),
        rng.integers(0, 256, (100, 2), dtype=np.uint8),
        np.full((16, 16, 3), (200, 30, 90), np.uint8),
    ]
    for k, (img, budget) in enumerate(zip(images, [20, 60, 35, 120, 90, 20], strict=True)):
        cases.append((delaunay_thumb.encode(img, budget, effort=0), SIZES[k % len(SIZES)]))
    # Reference-writer streams over the whole format: all grid sizes, quantisers, 20..1000 B.
    targets = np.geomspace(20, 1100, 94)
    for k, target in enumerate(targets):
        data = _random_mesh(rng, int(target), grey=k % 3 == 0, lattice=k % 4 == 1)
        cases.append((data, SIZES[(k + 3) % len(SIZES)]))
    return cases


def _js_decode_all(page: Any, cases: list[tuple[bytes, int | tuple[int, int]]]) -> list[Any]:
    payload = [
        [base64.b64encode(d).decode(), list(s) if isinstance(s, tuple) else s] for d, s in cases
    ]
    return list(
        page.evaluate(
            """(cases) => cases.map(([b64, size]) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const m = DT.decodeMesh(bytes);
                const img = DT.decode(bytes, size);
                const rgb = new Uint8Array(img.width * img.height * 3);
                for (let i = 0, j = 0; i < img.data.length; i += 4) {
                  rgb[j++] = img.data[i]; rgb[j++] = img.data[i + 1]; rgb[j++] = img.data[i + 2];
                }
                let s = '';
                for (let i = 0; i < rgb.length; i += 8192) {
                  s += String.fromCharCode(...rgb.subarray(i, i + 8192));
                }
                return {w: img.width, h: img.height, rgb: btoa(s), xs: Array.from(m.xs),
                        ys: Array.from(m.ys), tris: Array.from(m.triangles),
                        idx: Array.from(m.indices)};
            })""",
            payload,
        )
    )


def _canonical_set(tris: np.ndarray) -> set[tuple[int, int, int]]:
    out = set()
    for a, b, c in np.asarray(tris).reshape(-1, 3).tolist():
        r = [a, b, c]
        k = r.index(min(r))
        out.add(tuple(r[k:] + r[:k]))
    return out  # type: ignore[return-value]


def test_js_matches_python_on_100_streams(page: Any) -> None:
    cases = _cases()
    assert len(cases) == 100
    sizes = [len(d) for d, _ in cases]
    assert min(sizes) <= 25, sizes
    assert max(sizes) >= 850, sizes
    results = _js_decode_all(page, cases)
    worst = 0
    for (data, size), res in zip(cases, results, strict=True):
        mesh, tris = read_stream_triangulated(data)
        # Mesh: identical vertices, triangulation (tie-breaks included) and colour indices.
        assert np.array_equal(np.stack([res["xs"], res["ys"]], 1), mesh.points)
        assert _canonical_set(np.array(res["tris"])) == _canonical_set(tris)
        assert np.array_equal(np.array(res["idx"]).reshape(-1, 3), mesh.colours)
        # Pixels: within 1 level of section 7 of the spec, every pixel.
        js = np.frombuffer(base64.b64decode(res["rgb"]), np.uint8).reshape(res["h"], res["w"], 3)
        ref = spec_render(data, size)
        python = delaunay_thumb.decode(data, size)
        assert js.shape == ref.shape == python.shape
        diff = int(np.abs(js.astype(int) - ref.astype(int)).max())
        assert diff <= 1, (base64.b64encode(data).decode(), size, diff)
        # And within 1 level of the Python decoder itself, every pixel.
        diff_python = int(np.abs(js.astype(int) - python.astype(int)).max())
        assert diff_python <= 1, (base64.b64encode(data).decode(), size, diff_python)
        worst = max(worst, diff, diff_python)
    assert worst <= 1


def test_js_inputs_forms_and_sizes(page: Any) -> None:
    data = delaunay_thumb.encode(np.full((10, 30, 3), (10, 120, 240), np.uint8), 40, effort=0)
    thumb = delaunay_thumb.Thumb(data)
    got = page.evaluate(
        """([b64, uri]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const forms = [bytes, bytes.buffer, b64, uri, b64.replace(/=+$/, '')];
            const out = forms.map((f) => Array.from(DT.decode(f, 32).data.slice(0, 4)));
            const shapes = [undefined, 64, [5, 9]].map((s) => {
              const d = DT.decode(b64, s);
              return [d.width, d.height];
            });
            const errors = [0, -1, 1.5, 4097, [0, 3], [3], 'big'].map((s) => {
              try { DT.decode(b64, s); return 'none'; } catch (e) { return e.name; }
            });
            const c = DT.drawToCanvas(document.createElement('canvas'), uri, 40);
            const px = Array.from(c.getContext('2d').getImageData(3, 3, 1, 1).data);
            return {out, shapes, errors, canvas: [c.width, c.height, px]};
        }""",
        [thumb.to_base64(), thumb.data_uri()],
    )
    first = got["out"][0]
    assert all(o == first for o in got["out"])
    assert first[3] == 255
    ref = spec_render(data, 32)[0, 0].astype(int)
    assert np.abs(np.array(first[:3]) - ref).max() <= 1
    w64, h64 = output_size(data[1], False, 64)
    assert got["shapes"] == [[w64, h64], [w64, h64], [5, 9]]
    assert got["errors"] == ["RangeError"] * 7
    w40, h40 = output_size(data[1], False, 40)
    assert got["canvas"][:2] == [w40, h40]
    assert np.abs(np.array(got["canvas"][2][:3]) - spec_render(data, 40)[3, 3]).max() <= 1


class _Writer:
    """Range-codes arbitrary (also invalid) decisions with the format's adaptive contexts."""

    def __init__(self) -> None:
        self.enc = RangeEncoder()
        self.probs: dict[str, int] = {}

    def raw(self, value: int, count: int) -> _Writer:
        self.enc.encode_bits(value, count)
        return self

    def adaptive(self, ctx: str, *bits: int) -> _Writer:
        for bit in bits:
            p = self.probs.get(ctx, HALF)
            self.enc.encode_bit(bit, p)
            self.probs[ctx] = adapt(p, bit)
        return self

    def count(self, n: int) -> _Writer:  # Exp-Golomb of order 4
        v = n + 16
        nbits = v.bit_length()
        for _ in range(nbits - 5):
            self.raw(1, 1)
        return self.raw(0, 1).raw(v - (1 << (nbits - 1)), nbits - 1)

    def stream(self, head: int, aspect: int) -> bytes:
        return bytes([head, aspect]) + self.enc.finish()


def _crafted() -> list[tuple[str, bytes]]:
    """Streams that break one rule each of format.md (grid 8 x 2 for head 0x20, aspect 0)."""
    mag = ("mag5",)
    return [
        ("count over the grid", _Writer().raw(0, 4).count(13).stream(0x20, 0)),
        ("count prefix > 16", _Writer().raw(0, 4).raw((1 << 17) - 1, 17).stream(0x20, 0)),
        (
            "gap past the grid",
            _Writer().raw(0, 4).count(1).adaptive("gap0", 1).raw(7, 3).stream(0x20, 0),
        ),
        (
            "residual exponent > 10",
            _Writer()
            .raw(0, 4)
            .count(0)
            .adaptive("zero2", 1)
            .adaptive("sign", 0)
            .adaptive("m0", 1)
            .adaptive("m1", 1)
            .adaptive("m2", 1)
            .adaptive("m3", 1)
            .adaptive("m4", 1)
            .adaptive(*mag, 1, 1, 1, 1, 1, 1, 1)
            .stream(0x20, 0),
        ),
        (
            "luma index out of range",
            _Writer()
            .raw(0, 4)
            .count(0)
            .adaptive("zero2", 1)
            .adaptive("sign", 0)
            .adaptive("m0", 1)
            .adaptive("m1", 1)
            .adaptive("m2", 1)
            .adaptive("m3", 1)
            .adaptive("m4", 1)
            .adaptive("m5", 1, 0)
            .raw(36, 6)
            .stream(0x20, 0),
        ),
        ("empty", b""),
        ("one byte", b"\x00"),
        ("version 1", bytes([0x40, 0])),
        ("version 3", bytes([0xC0, 7, 1, 2, 3])),
    ]


def _malformed() -> list[tuple[str, bytes]]:
    """Crafted, random, bit-flipped and truncated streams that the Python decoder rejects."""
    rng = np.random.default_rng(7)
    good = delaunay_thumb.encode(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), 200, effort=0)
    candidates = _crafted()
    for k in range(120):
        n = int(rng.integers(2, 60))
        candidates.append((f"random {k}", bytes(rng.integers(0, 256, n, dtype=np.uint8))))
        flip = bytearray(good)
        flip[int(rng.integers(2, len(flip)))] ^= 1 << int(rng.integers(0, 8))
        candidates.append((f"bit flip {k}", bytes(flip)))
        candidates.append((f"truncated {k}", good[: int(rng.integers(2, len(good)))]))
    out: list[tuple[str, bytes]] = []
    for label, data in candidates:
        if len(out) >= 80:
            break
        try:
            delaunay_thumb.decode(data, 8)
        except delaunay_thumb.DecodeError:
            out.append((label, data))
        else:
            assert label.split()[0] in ("random", "bit", "truncated"), f"{label} was accepted"
    return out


def test_js_rejects_malformed_input_with_its_error(page: Any) -> None:
    cases = _malformed()
    assert len(cases) >= 40
    results = page.evaluate(
        """(cases) => cases.map(([label, b64]) => {
            const input = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const t0 = performance.now();
            try {
              DT.decode(input, 16);
              return [label, 'no error', performance.now() - t0];
            } catch (e) {
              const ok = e instanceof DT.DelaunayThumbError && e.name === 'DelaunayThumbError';
              return [label, ok ? e.name : String(e), performance.now() - t0];
            }
        })""",
        [[label, base64.b64encode(data).decode()] for label, data in cases],
    )
    for label, outcome, ms in results:
        assert outcome == "DelaunayThumbError", (label, outcome)
        assert ms < 2000, (label, ms)
    # Input that is not a stream at all is rejected the same way.
    kinds = page.evaluate(
        """() => [null, 42, {}, [1, 2], '@@@@', 'data:image/x-delaunay-thumb,abc'].map((x) => {
            try { DT.decode(x); return 'none'; } catch (e) { return e.name; }
        })"""
    )
    assert kinds == ["DelaunayThumbError"] * 6


def test_js_worst_case_stream_is_bounded(page: Any) -> None:
    rng = np.random.default_rng(3)
    data = _random_mesh(rng, 40_000, grey=False, lattice=False, grid=(15, 255, False))
    mesh, _ = read_stream_triangulated(data)
    assert mesh.points.shape[0] >= 3000
    ms = page.evaluate(
        """(b64) => {
            const t0 = performance.now();
            DT.decode(b64, 256);
            return performance.now() - t0;
        }""",
        base64.b64encode(data).decode(),
    )
    assert ms < 5000


def test_html_page_decodes_in_the_browser(page: Any, tmp_path: Any) -> None:
    yy, xx = np.mgrid[0:40, 0:60]
    img = np.stack([xx * 4, yy * 6, 255 - xx * 4], -1).astype(np.uint8)
    out = tmp_path / "page.html"
    entries = delaunay_thumb.write_html_page(
        [("ramp", img), ("grey", img[..., 0])], out, max_bytes=60, size=48, effort=0
    )
    tab = page.context.browser.new_page()
    try:
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(out.as_uri())
        tab.wait_for_function("document.body.dataset.decoded !== undefined", timeout=10_000)
        assert errors == []
        assert tab.evaluate("[document.body.dataset.decoded, document.body.dataset.failed]") == [
            "2",
            "0",
        ]
        pixels = tab.evaluate(
            """() => [...document.querySelectorAll('canvas')].map((c) => {
                const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                return [c.width, c.height, Array.from(data)];
            })"""
        )
    finally:
        tab.close()
    for entry, (w, h, rgba) in zip(entries, pixels, strict=True):
        assert (w, h) == (entry.width, entry.height)
        got = np.array(rgba, np.int64).reshape(h, w, 4)[..., :3]
        assert np.abs(got - spec_render(entry.thumb, (w, h))).max() <= 1


def test_encode_html_snippets_render_with_the_documented_loop(page: Any) -> None:
    """``encode --format html`` snippets, filled in by the loop of docs/delaunay-thumb/js.md."""
    img = np.full((30, 40, 3), (250, 120, 10), np.uint8)
    thumb = delaunay_thumb.Thumb(delaunay_thumb.encode(img, 40, effort=0))
    got = page.evaluate(
        """(uri) => {
            document.body.innerHTML = `<img width="40" height="30" data-delaunay-thumb="${uri}">`;
            for (const img of document.querySelectorAll('img[data-delaunay-thumb]')) {
              const canvas = DT.drawToCanvas(document.createElement('canvas'),
                                             img.dataset.delaunayThumb, [img.width, img.height]);
              img.src = canvas.toDataURL();
            }
            const img = document.querySelector('img');
            const c = DT.drawToCanvas(document.createElement('canvas'), uri, [40, 30]);
            const px = c.getContext('2d').getImageData(5, 5, 1, 1).data;
            return [img.src.slice(0, 22), Array.from(px)];
        }""",
        thumb.data_uri(),
    )
    assert got[0] == "data:image/png;base64,"
    assert np.abs(np.array(got[1][:3]) - spec_render(thumb.data, (40, 30))[5, 5]).max() <= 1


def test_python_decoder_follows_spec_section_7() -> None:
    # Pixel ownership by the spec's exact integer test: the only freedom left is which of two
    # triangles takes a centre on their shared edge, where both give the same value (+-1 level).
    for data, size in _cases():
        ref = spec_render(data, size).astype(int)
        out = delaunay_thumb.decode(data, size).astype(int)
        assert int(np.abs(out - ref).max()) <= 1, (base64.b64encode(data).decode(), size)


def test_exact_map_bounds_a_mesh_of_long_thin_triangles() -> None:
    # A fan of slivers from one corner to points along the diagonal: every triangle spans
    # most of the image, the case that makes per-triangle work large; it must stay exact.
    from delaunay_thumb._render import exact_triangle_map

    n = 200
    diag = np.stack([np.arange(1, n), np.arange(1, n)], 1)
    points = np.concatenate([[[0, 0], [n, 0], [0, n], [n, n]], diag]).astype(np.int64)
    chain = [0, *range(4, 4 + n - 1), 3]
    tris = [[1, chain[k + 1], chain[k]] for k in range(len(chain) - 1)]
    tris += [[2, chain[k], chain[k + 1]] for k in range(len(chain) - 1)]
    ids = exact_triangle_map(points, (n + 1, n + 1), np.array(tris), (300, 300))
    assert ids.min() >= 0
    jj, ii = np.mgrid[0:300, 0:300]
    # Above the diagonal (x > y) belongs to the fan on corner 1, below it to corner 2.
    upper = np.array(tris)[ids][..., 0] == 1
    assert np.array_equal(upper[ii > jj], np.ones(int((ii > jj).sum()), bool))
    assert not upper[ii < jj].any()

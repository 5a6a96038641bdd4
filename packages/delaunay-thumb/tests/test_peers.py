"""Peer codecs of the benchmark: budgets, decoders, counted bytes and the search."""

from __future__ import annotations

import builtins
import io

import numpy as np
import pytest
from PIL import Image

from delaunay_thumb._metrics import make_thumbnail, mse, psnr, ssim, to_rgb_uint8
from delaunay_thumb._peers import (
    PEER_NAMES,
    AvifPayload,
    BlurHash,
    JpegSharedHeader,
    PeerDecodeError,
    SearchConfig,
    ThumbHash,
    WebPFile,
    WebPStripped,
    make_peer,
)
from delaunay_thumb._peers_avif import add_container, strip_container
from delaunay_thumb._peers_webp import add_riff, strip_riff

skimage_data = pytest.importorskip("skimage.data")

RASTER = ("webp-file", "webp-stripped", "avif-payload", "jpeg-shared")


@pytest.fixture(scope="module")
def thumb() -> np.ndarray:
    return make_thumbnail(skimage_data.chelsea(), 32)  # 21 x 32


@pytest.fixture(scope="module")
def small() -> Image.Image:
    return Image.fromarray(make_thumbnail(skimage_data.astronaut(), 20))


@pytest.mark.parametrize("name", RASTER)
def test_raster_peer_respects_budget_and_decodes_from_counted_bytes(name, thumb):
    peer = make_peer(name)
    results = peer.search(thumb, [70, 160])
    for budget, result in results.items():
        assert result is not None, f"{name} found nothing within {budget} bytes"
        assert result.nbytes == len(result.data) <= budget
        assert result.decoded.shape == thumb.shape
        assert result.decoded.dtype == np.uint8
        assert result.params["width"] <= thumb.shape[1]
        # The counted bytes alone reproduce the reconstruction.
        again = peer.decode(result.data, thumb.shape[1], thumb.shape[0])
        np.testing.assert_array_equal(again, result.decoded)
        # A real reconstruction, not a flat image: far better than the mean colour.
        flat = np.broadcast_to(thumb.mean(axis=(0, 1)).astype(np.uint8), thumb.shape)
        assert psnr(thumb, result.decoded) > psnr(thumb, flat) + 2.0
    # More bytes never make the best result worse.
    assert mse(thumb, results[160].decoded) <= mse(thumb, results[70].decoded)


def test_webp_file_cannot_go_below_its_floor(thumb):
    # A lossy WebP file is at least 20 header bytes + a 10-byte VP8 frame header + data.
    assert make_peer("webp-file").encode(thumb, 30) is None
    stripped = make_peer("webp-stripped").encode(thumb, 40)
    assert stripped is not None
    assert stripped.nbytes <= 40


def test_search_finds_the_best_downscale_of_an_exhaustive_search():
    thumb = make_thumbnail(skimage_data.coffee(), 16)  # 11 x 16
    budget = 120
    peer = WebPFile(SearchConfig(coarse_step=1, extra_probes=100))
    result = peer.encode(thumb, budget)
    assert result is not None
    best = np.inf
    for side in range(4, 17):
        width = max(1, round(16 * side / 16))
        height = max(1, round(11 * side / 16))
        small = Image.fromarray(thumb).resize((width, height), Image.Resampling.LANCZOS)
        fitting = [q for q in range(101) if len(peer.encode_small(small, q, "")) <= budget]
        if fitting:
            data = peer.encode_small(small, max(fitting), "")
            best = min(best, mse(thumb, peer.decode(data, 16, 11)))
    assert mse(thumb, result.decoded) == pytest.approx(best, rel=1e-9)


def test_search_takes_the_largest_quality_within_budget(thumb):
    peer = WebPFile(SearchConfig(extra_probes=0))
    result = peer.encode(thumb, 150)
    assert result is not None
    small = Image.fromarray(thumb).resize(
        (int(result.params["width"]), int(result.params["height"])), Image.Resampling.LANCZOS
    )
    quality = int(result.params["quality"])
    assert peer.encode_small(small, quality, "") == result.data
    if quality < 100:
        assert len(peer.encode_small(small, quality + 1, "")) > 150


def test_webp_stripped_counts_the_file_minus_riff_header(small):
    data = WebPFile().encode_small(small, 40, "")
    payload = WebPStripped().encode_small(small, 40, "")
    assert len(data) == len(payload) + 20 + len(payload) % 2
    assert add_riff(strip_riff(data)) == data
    with pytest.raises(ValueError, match="WebP"):
        strip_riff(b"RIFF0000WEBPVP8L")


@pytest.mark.parametrize("variant", ["4:2:0", "4:4:4"])
def test_avif_payload_rebuilds_a_file_that_decodes_identically(small, variant):
    buffer = io.BytesIO()
    small.save(buffer, format="AVIF", quality=35, speed=6, subsampling=variant)
    original = buffer.getvalue()
    payload = strip_container(original)
    assert payload == AvifPayload().encode_small(small, 35, variant)
    # The whole container and the 2-byte temporal delimiter are not counted.
    assert len(original) - len(payload) > 250
    rebuilt = add_container(payload)
    expected = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"))
    actual = np.asarray(Image.open(io.BytesIO(rebuilt)).convert("RGB"))
    np.testing.assert_array_equal(actual, expected)


def test_jpeg_shared_header_counts_scan_plus_three_bytes(small):
    peer = JpegSharedHeader()
    for variant in ("4:2:0", "4:4:4"):
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=30, subsampling=variant, optimize=False)
        full = buffer.getvalue()
        data = peer.encode_small(small, 30, variant)
        assert data[1] + 1 == small.width
        assert data[2] + 1 == small.height
        assert len(data) < len(full) - 300  # the shared header is several hundred bytes
        decoded = np.asarray(peer.decode_small(data))
        expected = np.asarray(Image.open(io.BytesIO(full)).convert("RGB"))
        np.testing.assert_array_equal(decoded, expected)
    # The header is independent of the content: another picture of the same size shares it.
    other = Image.fromarray(np.full((small.height, small.width, 3), 30, np.uint8))
    assert peer.encode_small(other, 30, "4:2:0")[:3] == peer.encode_small(small, 30, "4:2:0")[:3]


@pytest.mark.parametrize("name", [*RASTER, "blurhash-4x3"])
def test_decoders_raise_only_their_error_type_on_garbage(name):
    peer = make_peer(name)
    rng = np.random.default_rng(1)
    rejected = 0
    for length in (0, 1, 3, 17, 64, 64, 64, 200):
        try:
            decoded = peer.decode(rng.integers(0, 256, length, dtype=np.uint8).tobytes(), 8, 6)
        except PeerDecodeError:
            rejected += 1
        else:  # JPEG decoders accept any scan data: then the output must still be well formed
            assert decoded.shape == (6, 8, 3)
            assert decoded.dtype == np.uint8
    assert rejected >= 3  # at least the empty and the too-short inputs
    with pytest.raises(PeerDecodeError):
        peer.decode(b"", 8, 8)


@pytest.mark.parametrize(("nx", "ny", "length"), [(4, 3, 28), (9, 9, 166), (1, 1, 6)])
def test_blurhash_has_its_own_fixed_size(thumb, nx, ny, length):
    peer = BlurHash(nx, ny)
    result = peer.fixed(thumb)
    assert result.nbytes == length
    assert result.decoded.shape == thumb.shape
    found = peer.search(thumb, [length - 1, length])
    assert found[length - 1] is None
    assert found[length] is not None
    assert found[length].data == result.data


def test_blurhash_reproduces_a_flat_image_and_more_components_help(thumb):
    flat = np.full((12, 20, 3), (200, 120, 40), np.uint8)
    mean_colour = BlurHash(4, 3).fixed(flat).decoded.mean(axis=(0, 1))
    np.testing.assert_allclose(mean_colour, (200, 120, 40), atol=3.0)
    coarse = BlurHash(1, 1).fixed(thumb).decoded
    fine = BlurHash(9, 9).fixed(thumb).decoded
    assert psnr(thumb, fine) > psnr(thumb, coarse) + 1.0


def test_thumbhash(thumb):
    # The test environments install thumbhash-python (without its stale pillow<11 pin).
    peer = ThumbHash()
    result = peer.fixed(thumb)
    assert 5 <= result.nbytes <= 25
    assert result.decoded.shape == thumb.shape
    assert psnr(thumb, result.decoded) > 14.0
    np.testing.assert_array_equal(peer.decode(result.data, 32, 21), result.decoded)
    with pytest.raises(PeerDecodeError):
        peer.decode(b"\x00\x01", 8, 8)


def test_missing_hash_library_gives_a_clear_error(thumb, monkeypatch):
    real_import = builtins.__import__

    def no_hash(name, *args, **kwargs):
        if name in ("thumbhash", "blurhash"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hash)
    with pytest.raises(ImportError, match="--no-deps thumbhash-python"):
        ThumbHash().fixed(thumb)
    with pytest.raises(ImportError, match="pip install blurhash-python"):
        BlurHash().fixed(thumb)


def test_peer_names_and_arguments_are_checked():
    assert [make_peer(name).name for name in PEER_NAMES] == list(PEER_NAMES)
    with pytest.raises(ValueError, match="unknown peer"):
        make_peer("png")
    with pytest.raises(ValueError, match="components"):
        BlurHash(10, 2)
    with pytest.raises(ValueError, match="variants"):
        AvifPayload(variants=["4:2:2"])
    with pytest.raises(ValueError, match="speed"):
        AvifPayload(speed=11)
    with pytest.raises(ValueError, match="min_side"):
        SearchConfig(min_side=0)
    with pytest.raises(ValueError, match="budgets"):
        make_peer("webp-file").search(np.zeros((8, 8, 3), np.uint8), [0])


def test_metrics_and_thumbnails():
    image = np.zeros((300, 451, 3), np.uint8)
    assert make_thumbnail(image, 64).shape == (43, 64, 3)
    assert make_thumbnail(np.zeros((451, 300)), 128).shape == (128, 85, 3)
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 10, np.uint8)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 100))
    assert ssim(b, b) == pytest.approx(1.0)
    assert ssim(a, b) < 0.1
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(a, b[:4])
    # Alpha is composited over white; 16-bit is rescaled; booleans map to 0/255.
    rgba = np.zeros((2, 2, 4), np.uint8)
    np.testing.assert_array_equal(to_rgb_uint8(rgba), np.full((2, 2, 3), 255))
    assert to_rgb_uint8(np.full((2, 2), 65535, np.uint16)).max() == 255
    assert to_rgb_uint8(np.ones((2, 2), bool)).min() == 255
    with pytest.raises(ValueError, match="shape"):
        to_rgb_uint8(np.zeros((2, 2, 2)))

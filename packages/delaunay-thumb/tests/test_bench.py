"""The benchmark harness on one or two small images."""

from __future__ import annotations

import json

import numpy as np
import pytest

import delaunay_thumb
from delaunay_thumb import _bench
from delaunay_thumb._bench import REFERENCE_CODEC, run_benchmark
from delaunay_thumb._bench_images import DEFAULT_IMAGE_NAMES, default_images
from delaunay_thumb._bench_ours import ours_unavailable
from delaunay_thumb._bench_report import check_targets, format_markdown, write_report
from delaunay_thumb._metrics import make_thumbnail, psnr
from delaunay_thumb._peers import JpegSharedHeader, PeerDecodeError, make_peer
from fourfold_common.io import read_run_record

pytest.importorskip("skimage")

CODECS = ("webp-file", "jpeg-shared-420", "blurhash-4x3")


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return default_images(["chelsea", "coffee"])


@pytest.fixture(scope="module")
def result(images):
    return run_benchmark(images, sizes=(24,), budgets=(60, 150), codecs=CODECS, progress=False)


def test_every_codec_is_measured_within_budget(result, images):
    assert result.config.codecs == CODECS
    assert not result.errors
    assert not result.skipped
    by_key = {(m.codec, m.image, m.budget): m for m in result.measurements}
    for image in images:
        for budget in (60, 150):
            assert by_key[("webp-file", image, budget)].nbytes <= budget
            assert by_key[("jpeg-shared-420", image, budget)].nbytes <= budget
        assert by_key[("blurhash-4x3", image, None)].nbytes == 28
    assert len(result.measurements) == 2 * (2 + 2 + 1)


def test_measurements_match_an_independent_computation(result, images):
    thumb = make_thumbnail(images["coffee"], 24)
    direct = make_peer("webp-file").encode(thumb, 150)
    measured = next(
        m
        for m in result.measurements
        if (m.codec, m.image, m.budget) == ("webp-file", "coffee", 150)
    )
    assert measured.nbytes == direct.nbytes
    assert measured.psnr == pytest.approx(psnr(thumb, direct.decoded))
    assert 0.0 < measured.ssim < 1.0
    assert measured.decode_ms > 0.0


def test_rows_are_means_with_ratios_against_the_webp_file(result):
    reference = result.row(REFERENCE_CODEC, 24, 150)
    assert reference.count == 2
    assert reference.bytes_ratio == pytest.approx(1.0)
    assert reference.psnr_delta_db == pytest.approx(0.0)
    assert reference.psnr_wins == 0
    jpeg = result.row("jpeg-shared-420", 24, 150)
    values = [
        m.psnr for m in result.measurements if (m.codec, m.budget) == ("jpeg-shared-420", 150)
    ]
    assert jpeg.mean_psnr == pytest.approx(np.mean(values))
    assert jpeg.psnr_delta_db == pytest.approx(jpeg.mean_psnr - reference.mean_psnr)
    assert jpeg.bytes_ratio == pytest.approx(jpeg.mean_bytes / reference.mean_bytes)
    fixed = result.row("blurhash-4x3", 24, None)
    assert fixed.mean_bytes == 28.0
    assert fixed.psnr_delta_db is None
    # More bytes give a better mean for the searched codecs.
    assert result.row("webp-file", 24, 150).mean_psnr > result.row("webp-file", 24, 60).mean_psnr


def _fake_codec(monkeypatch, overshoot: int = 0) -> None:
    """Stand-in for our codec (a shared-header JPEG), through the public API names."""
    peer = JpegSharedHeader()

    def encode(image, max_bytes=200, *, effort=2, seed=0):
        del effort, seed
        found = peer.encode(np.asarray(image), max_bytes)
        return found.data + b"\x00" * overshoot

    def decode(data, size=None):
        try:
            return peer.decode(data, *size)
        except PeerDecodeError as error:
            raise FakeDecodeError(str(error)) from error

    class FakeDecodeError(ValueError):
        pass

    monkeypatch.setattr(delaunay_thumb, "encode", encode, raising=False)
    monkeypatch.setattr(delaunay_thumb, "decode", decode, raising=False)
    monkeypatch.setattr(delaunay_thumb, "DecodeError", FakeDecodeError, raising=False)


def test_ours_goes_through_the_public_api_and_is_timed(monkeypatch, images):
    _fake_codec(monkeypatch)
    assert ours_unavailable() is None
    result = run_benchmark(
        {"coffee": images["coffee"]},
        sizes=(24,),
        budgets=(60, 150),
        codecs=("ours", "webp-file"),
        progress=False,
    )
    ours = result.row("ours", 24, 150)
    assert ours.count == 1
    assert ours.mean_bytes <= 150
    assert ours.mean_encode_seconds > 0.0
    # The stand-in is the shared-header JPEG, so it matches that peer exactly.
    jpeg = make_peer("jpeg-shared").encode(make_thumbnail(images["coffee"], 24), 150)
    assert ours.mean_psnr == pytest.approx(psnr(make_thumbnail(images["coffee"], 24), jpeg.decoded))
    text = format_markdown(result, command="pytest")
    assert "## Encode and decode time of our codec" in text


def test_a_codec_over_budget_is_an_error_not_a_measurement(monkeypatch, images):
    _fake_codec(monkeypatch, overshoot=1)
    result = run_benchmark(
        {"coffee": images["coffee"]}, sizes=(24,), budgets=(150,), codecs=("ours",), progress=False
    )
    assert result.measurements == ()
    assert len(result.errors) == 1
    assert "bytes" in result.errors[0]


def test_ours_is_skipped_with_a_reason_when_it_does_not_work(monkeypatch, images):
    def broken(*args, **kwargs):
        raise NotImplementedError("not yet")

    monkeypatch.setattr(delaunay_thumb, "encode", broken, raising=False)
    monkeypatch.setattr(delaunay_thumb, "decode", broken, raising=False)
    monkeypatch.setattr(delaunay_thumb, "DecodeError", ValueError, raising=False)
    result = run_benchmark(
        {"coffee": images["coffee"]}, sizes=(24,), budgets=(60,), codecs=("ours",), progress=False
    )
    assert "NotImplementedError" in result.skipped["ours"]
    assert result.rows == ()


@pytest.mark.skipif(not hasattr(delaunay_thumb, "encode"), reason="the codec is not merged yet")
def test_the_real_codec_respects_the_budget(images):
    assert ours_unavailable() is None
    result = run_benchmark(
        {"coffee": images["coffee"]}, sizes=(32,), budgets=(60,), codecs=("ours",), progress=False
    )
    assert not result.errors
    assert result.row("ours", 32, 60).mean_bytes <= 60


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch, images):
    checkpoint = tmp_path / "bench.ckpt.json"
    args = ({"coffee": images["coffee"]},)
    kwargs = {"sizes": (24,), "budgets": (60,), "codecs": ("webp-file",), "progress": False}
    first = run_benchmark(*args, checkpoint=checkpoint, **kwargs)
    assert json.loads(checkpoint.read_text())["units"]

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished unit was measured again")

    monkeypatch.setattr(_bench, "_measure", must_not_run)
    second = run_benchmark(*args, checkpoint=checkpoint, **kwargs)
    assert second.measurements == first.measurements
    assert not second.errors
    # Other settings do not reuse the checkpoint.
    third = run_benchmark(*args, checkpoint=checkpoint, **{**kwargs, "budgets": (70,)})
    assert third.measurements == ()
    assert third.errors


def test_a_time_limit_reports_what_is_missing(images):
    result = run_benchmark(
        images, sizes=(24,), budgets=(60,), codecs=("webp-file",), progress=False, time_limit=0.0
    )
    assert result.measurements == ()
    assert sorted(result.missing) == ["webp-file|chelsea|24", "webp-file|coffee|24"]
    assert "**Incomplete run:** 2 codec-image-size units" in format_markdown(result, command="x")


def test_reports_are_written(tmp_path, result):
    markdown, json_path, png = write_report(result, tmp_path / "bench.md", command="bench --x")
    text = markdown.read_text()
    assert "`bench --x`" in text
    assert "| webp-file | 150 | 2/2 |" in text
    assert "## Prior-art baselines reproduced" in text
    record = read_run_record(json_path)
    assert record["command"] == "bench --x"
    assert len(record["figures"]["rows"]) == len(result.rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_targets_compare_ours_with_the_peers(monkeypatch, images):
    _fake_codec(monkeypatch)
    result = run_benchmark(
        {"coffee": images["coffee"]},
        sizes=(64,),
        budgets=(100, 200),
        codecs=("ours", "webp-file"),
        progress=False,
    )
    targets = {t.description: t for t in check_targets(result)}
    webp = targets["64 px, 200 B: PSNR above webp-file (target, 1 images)"]
    assert webp.threshold == pytest.approx(result.row("webp-file", 64, 200).mean_psnr)
    assert webp.passed == (result.row("ours", 64, 200).mean_psnr > webp.threshold)
    triangle = targets["64 px, 200 B: PSNR >= triangle preview 21.8 dB + 1 dB"]
    assert triangle.threshold == pytest.approx(22.8)


def test_bad_arguments_are_rejected(images):
    with pytest.raises(ValueError, match="at least one image"):
        run_benchmark({}, progress=False)
    with pytest.raises(ValueError, match="unknown peer"):
        run_benchmark(images, codecs=("gif",), progress=False)
    with pytest.raises(ValueError, match="twice"):
        run_benchmark(images, codecs=("webp-file", "webp-file"), progress=False)
    with pytest.raises(ValueError, match="sizes"):
        run_benchmark(images, sizes=(4,), progress=False)
    with pytest.raises(ValueError, match="not an RGB"):
        default_images(["camera"])
    assert len(DEFAULT_IMAGE_NAMES) == 9

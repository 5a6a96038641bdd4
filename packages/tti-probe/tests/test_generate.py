"""Generation with a tiny random Stable-Diffusion-style pipeline, saved and loaded offline."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="generation needs the hf extra (torch)")

from PIL import Image  # noqa: E402

from tti_probe._classes import ClassSpec, fashion_mnist_classes  # noqa: E402
from tti_probe._generate import (  # noqa: E402
    GenerationConfig,
    GenerationError,
    generate,
    plan_images,
)
from tti_probe._manifest import (  # noqa: E402
    ManifestError,
    load_manifest,
    read_png_record,
    rebuild_manifest,
)
from tti_probe._models import ModelLoadError, load_pipeline  # noqa: E402
from tti_probe._tiny import build_tiny_pipeline  # noqa: E402

torch.set_num_threads(1)
CLASSES = fashion_mnist_classes()[:2]


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny pipeline per test session (read-only), shared by the test modules."""
    path = tmp_path_factory.getbasetemp() / "shared-tiny-sd"
    if not (path / "model_index.json").is_file():
        build_tiny_pipeline(path, seed=0)
    return path


def _config(model: Path, **overrides: object) -> GenerationConfig:
    options: dict[str, object] = {
        "strategies": ("photo",),
        "guidance_scales": (1.0, 4.0),
        "images_per_prompt": 2,
        "num_inference_steps": 2,
        "batch_size": 3,
        "device": "cpu",
        "local_files_only": True,
    }
    options.update(overrides)
    return GenerationConfig(str(model), **options)  # type: ignore[arg-type]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every PNG: unchanged values prove a file was not rewritten."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (root / "images").rglob("*.png")
    }


def _log_counts(root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for log in (root / "logs").glob("writes-p*.jsonl"):
        for line in log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            counts[entry["file"]] = counts.get(entry["file"], 0) + 1
    return counts


def _assert_complete(root: Path, config: GenerationConfig, classes: tuple[ClassSpec, ...]) -> None:
    manifest = load_manifest(root, verify=True)
    planned = [job.file for job in plan_images(classes, config)]
    assert [r.file for r in manifest.records] == planned
    on_disk = sorted(p.relative_to(root).as_posix() for p in (root / "images").rglob("*.png"))
    assert on_disk == sorted(planned)
    assert not list((root / "images").rglob("*.tmp"))
    assert all(count == 1 for count in _log_counts(root).values())


def test_generate_writes_images_manifest_and_records(tiny_sd: Path, tmp_path: Path) -> None:
    config = _config(tiny_sd)
    manifest = generate(CLASSES, config, tmp_path, progress=False)
    assert len(manifest) == config.num_images(len(CLASSES)) == 8
    _assert_complete(tmp_path, config, CLASSES)
    record = manifest.records[-1]
    assert record.class_name == "Trouser"
    assert record.guidance_scale == 4.0
    assert record.prompt == "a photo of a Trouser."
    assert (record.width, record.height) == (32, 32)
    assert record.pipeline == "StableDiffusionPipeline"
    assert record.scheduler == "DDIMScheduler"
    assert record.num_inference_steps == 2
    assert record.seed == 3  # class 1, image 1, two images per prompt
    assert record.seconds > 0
    assert read_png_record(tmp_path / record.file) == dataclasses.replace(record, sha256="")
    images = [np.asarray(Image.open(p), dtype=np.int16) for p in manifest.paths()]
    assert all(image.shape == (32, 32, 3) for image in images)
    # Different seeds give different images; guidance changes the image for the same seed.
    assert np.abs(images[0] - images[1]).mean() > 1.0
    assert np.abs(images[0] - images[4]).mean() > 0.1
    run = json.loads((tmp_path / "run_record.json").read_text())
    assert run["figures"]["images"] == 8
    assert run["figures"]["generated_by_main_process"] == 8

    before = _snapshot(tmp_path)
    again = generate(CLASSES, config, tmp_path, progress=False)
    assert _snapshot(tmp_path) == before  # nothing regenerated, nothing rewritten
    assert again.records == manifest.records


def test_generated_image_is_the_standard_pipeline_output(tiny_sd: Path, tmp_path: Path) -> None:
    """generate() makes exactly what a user calling the loaded pipeline directly gets."""
    config = _config(tiny_sd, guidance_scales=(3.0,), images_per_prompt=1, batch_size=1)
    manifest = generate(CLASSES[:1], config, tmp_path, progress=False)
    pipe = load_pipeline(tiny_sd, local_files_only=True)
    direct = pipe(
        prompt="a photo of a T-shirt/top.",
        guidance_scale=3.0,
        num_inference_steps=2,
        generator=torch.Generator("cpu").manual_seed(0),
        output_type="np",
    ).images[0]
    ours = np.asarray(Image.open(manifest.paths()[0]), dtype=np.float64) / 255.0
    np.testing.assert_allclose(ours, direct, atol=1 / 255 + 1e-6)


def test_random_guidance_per_image_is_drawn_recorded_used_and_resumed(
    tiny_sd: Path, tmp_path: Path
) -> None:
    config = _config(
        tiny_sd, guidance_scales=(7.5,), guidance_range=(1.0, 8.0), images_per_prompt=3
    )
    assert config.num_images(len(CLASSES)) == 6
    jobs = plan_images(CLASSES, config)
    draws = [config.draw_guidance(j.class_index, j.image_index) for j in jobs]
    assert [j.guidance_scale for j in jobs] == draws
    assert len(set(draws)) == 6
    assert all(1.0 <= g <= 8.0 for g in draws)
    assert jobs[0].file == "images/photo/g1-8/0000-t-shirt-top/00000.png"
    # Another strategy draws the same scales for the same images; another seed does not.
    both = plan_images(CLASSES, dataclasses.replace(config, strategies=("photo", "hypernym")))
    assert [j.guidance_scale for j in both[6:]] == draws
    other = plan_images(CLASSES, dataclasses.replace(config, seed=1))
    assert [j.guidance_scale for j in other] != draws

    pipe = load_pipeline(tiny_sd, local_files_only=True)
    calls: list[tuple[float, tuple[str, ...]]] = []

    def recording(**kwargs: object) -> object:
        calls.append((float(kwargs["guidance_scale"]), tuple(kwargs["prompt"])))  # type: ignore[arg-type]
        return pipe(**kwargs)

    seen: list[str] = []

    def interrupt(record: object) -> None:
        seen.append(record.file)  # type: ignore[attr-defined]
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(CLASSES, config, tmp_path, pipeline=recording, progress=False, on_image=interrupt)
    before = _snapshot(tmp_path)
    manifest = generate(CLASSES, config, tmp_path, pipeline=recording, progress=False)
    assert {k: _snapshot(tmp_path)[k] for k in before} == before
    _assert_complete(tmp_path, config, CLASSES)
    assert [r.guidance_scale for r in manifest.records] == draws
    assert sorted(g for g, prompts in calls for _ in prompts) == sorted(draws)
    assert json.loads((tmp_path / "manifest.json").read_text())["config"]["guidance_range"] == [
        1.0,
        8.0,
    ]
    low_half = manifest.select_between("guidance_scale", 1.0, 4.5)
    assert [r.guidance_scale for r in low_half.records] == [g for g in draws if g < 4.5]
    # The image is the pipeline's output at the drawn scale.
    record = manifest.records[4]
    direct = pipe(
        prompt=record.prompt,
        guidance_scale=record.guidance_scale,
        num_inference_steps=2,
        generator=torch.Generator("cpu").manual_seed(record.seed),
        output_type="np",
    ).images[0]
    ours = np.asarray(Image.open(tmp_path / record.file), dtype=np.float64) / 255.0
    np.testing.assert_allclose(ours, direct, atol=1 / 255 + 1e-6)


def test_quantised_random_guidance_fills_batches(tiny_sd: Path, tmp_path: Path) -> None:
    config = _config(
        tiny_sd,
        guidance_scales=(7.5,),
        guidance_range=(1.0, 2.0),
        guidance_step=1.0,
        images_per_prompt=4,
        batch_size=4,
    )
    draws = [j.guidance_scale for j in plan_images(CLASSES, config)]
    assert set(draws) <= {1.0, 2.0}
    sizes: list[int] = []
    pipe = load_pipeline(tiny_sd, local_files_only=True)

    def recording(**kwargs: object) -> object:
        sizes.append(len(kwargs["prompt"]))  # type: ignore[arg-type]
        return pipe(**kwargs)

    generate(CLASSES, config, tmp_path, pipeline=recording, progress=False)
    assert len(sizes) == sum(-(-draws.count(g) // 4) for g in set(draws))


def test_same_seed_same_image_after_save_and_reload(tmp_path: Path) -> None:
    """Two builds with one seed, each saved and reloaded, produce identical images."""
    outputs = []
    for name in ("a", "b"):
        model = build_tiny_pipeline(tmp_path / name, seed=7)
        pipe = load_pipeline(model, local_files_only=True)
        assert not pipe.unet.training
        assert not pipe.vae.training
        outputs.append(
            pipe(
                prompt="a photo of a cat.",
                num_inference_steps=2,
                guidance_scale=2.0,
                generator=torch.Generator("cpu").manual_seed(1),
                output_type="np",
            ).images[0]
        )
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("stop_after", [1, 5])
def test_interrupted_run_resumes_without_rewriting(
    tiny_sd: Path, tmp_path: Path, stop_after: int
) -> None:
    config = _config(tiny_sd, strategies=("photo", "hypernym"), guidance_scales=(2.0,))
    seen: list[str] = []

    def interrupt(record: object) -> None:
        seen.append(record.file)  # type: ignore[attr-defined]
        if len(seen) == stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(CLASSES, config, tmp_path, progress=False, on_image=interrupt)
    assert not (tmp_path / "manifest.json").exists()
    before = _snapshot(tmp_path)
    assert sorted(before) == sorted(seen)
    generate(CLASSES, config, tmp_path, progress=False)
    after = _snapshot(tmp_path)
    assert {k: after[k] for k in before} == before
    assert len(after) == 8
    _assert_complete(tmp_path, config, CLASSES)


_SCRIPT = """
import sys
import torch
torch.set_num_threads(1)
from tti_probe._classes import fashion_mnist_classes
from tti_probe._generate import GenerationConfig, generate
config = GenerationConfig(
    sys.argv[1], guidance_range=(1.0, 3.0), guidance_step=1.0, images_per_prompt=6,
    num_inference_steps=2, batch_size=2, device=sys.argv[3], local_files_only=True,
)
generate(fashion_mnist_classes()[:2], config, sys.argv[2], progress=False)
"""


def _subprocess_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accelerate_command(script: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",  # the torch.distributed launcher; without CUDA tti-probe uses gloo on CPU
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        str(script),
        *args,
    ]


def test_interrupted_run_resumes_under_accelerate_with_two_cpu_processes(
    tiny_sd: Path, tmp_path: Path
) -> None:
    """A run cut at a random point, resumed by 2 accelerate processes, ends complete.

    Every planned image exists once, images written before the cut are untouched, a temporary
    file left by a write cut short is cleaned up, the two processes split the remaining work,
    and each image was written by exactly one writer. The run draws a random guidance scale
    per image: both processes draw the scale the plan gives each image, as the cut run did.
    (SIGKILLs at random moments, in a subprocess, are exercised by
    tools/bench/tti_probe_generate.py.)
    """
    pytest.importorskip("accelerate")
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    out = tmp_path / "out"
    config = GenerationConfig(
        str(tiny_sd),
        guidance_range=(1.0, 3.0),
        guidance_step=1.0,
        images_per_prompt=6,
        num_inference_steps=2,
        batch_size=2,
        device="cpu",
        local_files_only=True,
    )
    classes = fashion_mnist_classes()[:2]
    stop_after = int(np.random.default_rng(0).integers(1, 5))
    written: list[str] = []

    def interrupt(record: object) -> None:
        written.append(record.file)  # type: ignore[attr-defined]
        if len(written) == stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(classes, config, out, progress=False, on_image=interrupt)
    before = _snapshot(out)
    assert sorted(before) == sorted(written)
    last = out / plan_images(classes, config)[-1].file
    last.parent.mkdir(parents=True, exist_ok=True)
    (last.parent / f".{last.name}.k1ll3d.tmp").write_bytes(b"half a png")

    result = subprocess.run(
        _accelerate_command(script, str(tiny_sd), str(out), "auto"),
        env=_subprocess_env(),
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    after = _snapshot(out)
    assert {k: after[k] for k in before} == before
    _assert_complete(out, config, classes)
    manifest = load_manifest(out)
    resumed = [r for r in manifest.records if r.file not in before]
    assert {r.process_index for r in resumed} >= {1}
    # Resumed images: the first half of the plan by process 0, the second by process 1.
    assert {r.process_index for r in manifest.records[6:] if r.file not in before} == {1}
    assert {r.process_index for r in manifest.records[:6] if r.file not in before} <= {0}
    planned = plan_images(classes, config)
    assert [r.guidance_scale for r in manifest.records] == [j.guidance_scale for j in planned]
    assert len({j.guidance_scale for j in planned}) > 1
    counts = _log_counts(out)
    assert all(counts.get(r.file) == 1 for r in resumed)


def test_changed_settings_in_same_directory_are_refused(tiny_sd: Path, tmp_path: Path) -> None:
    config = _config(tiny_sd, guidance_scales=(1.0,), images_per_prompt=1)
    generate(CLASSES[:1], config, tmp_path, progress=False)
    changed = _config(tiny_sd, guidance_scales=(1.0,), images_per_prompt=1, num_inference_steps=3)
    with pytest.raises(GenerationError, match="num_inference_steps"):
        generate(CLASSES[:1], changed, tmp_path, progress=False)


def test_rebuild_manifest_from_pngs(tiny_sd: Path, tmp_path: Path) -> None:
    config = _config(tiny_sd, guidance_scales=(1.0,), images_per_prompt=1)
    manifest = generate(CLASSES, config, tmp_path, progress=False)
    (tmp_path / "manifest.json").unlink()
    rebuilt = rebuild_manifest(tmp_path, CLASSES, config.to_dict())
    assert sorted(rebuilt.records, key=lambda r: r.file) == sorted(
        manifest.records, key=lambda r: r.file
    )
    assert load_manifest(tmp_path, verify=True).records == rebuilt.records
    (tmp_path / manifest.records[0].file).write_bytes(b"not a png")
    with pytest.raises(ManifestError, match="SHA-256"):
        load_manifest(tmp_path, verify=True)
    (tmp_path / manifest.records[0].file).unlink()
    with pytest.raises(ManifestError, match="missing"):
        load_manifest(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"guidance_scales": ()}, "guidance_scales"),
        ({"guidance_scales": (-1.0,)}, ">= 0"),
        ({"guidance_scales": (2.0, 2.0)}, "duplicate"),
        ({"images_per_prompt": 0}, "images_per_prompt"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"height": 30}, "multiple of 8"),
        ({"dtype": "int8"}, "dtype"),
        ({"strategies": ()}, "strategies"),
        ({"strategies": ("photo", "photo")}, "duplicate strategies"),
        ({"strategies": ("photos",)}, "unknown prompt strategy"),
        ({"guidance_scales": (7.5,), "guidance_range": (5.0, 2.0)}, "low <= high"),
        ({"guidance_scales": (7.5,), "guidance_range": (-1.0, 2.0)}, "low <= high"),
        ({"guidance_scales": (7.5,), "guidance_range": (1.0,)}, r"\(low, high\)"),
        ({"guidance_range": (1.0, 2.0)}, "not both"),
        ({"guidance_scales": (7.5,), "guidance_range": (1.0, 2.0), "guidance_step": 0}, "> 0"),
        ({"guidance_step": 0.5}, "needs guidance_range"),
    ],
)
def test_invalid_config_is_one_clear_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(GenerationError, match=message):
        _config(Path("/nowhere"), **overrides)


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    config = _config(tmp_path / "no-such-model", guidance_scales=(1.0,), images_per_prompt=1)
    with pytest.raises(ModelLoadError, match="does not exist"):
        generate(CLASSES[:1], config, tmp_path / "out", progress=False)
    not_a_pipeline = tmp_path / "empty"
    not_a_pipeline.mkdir()
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_pipeline(not_a_pipeline, local_files_only=True)
    with pytest.raises(ModelLoadError, match="cannot load"):  # a hub id absent offline
        load_pipeline("fourfold-tests/no-such-pipeline", local_files_only=True)

"""The shipped offline testbed: manifest, loading offline, generation, the small CLIP."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tti_probe as tp
from fourfold_common.data import FASHION_MNIST_DIR, load_fashion_mnist

pytest.importorskip("diffusers", reason="the hf extra is not installed")
torch = pytest.importorskip("torch", reason="the hf extra is not installed")


@pytest.fixture(scope="module")
def testbed() -> Any:
    return tp.load_testbed()


def _images(testbed: Any, prompts: list[str], seeds: list[int], **kwargs: Any) -> np.ndarray:
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    out = testbed.pipeline(prompts, generator=generators, output_type="np", **kwargs)
    return np.asarray(out.images)


def test_manifest_matches_the_shipped_files_and_training_data() -> None:
    manifest = tp.verify_testbed()
    path = tp.default_testbed_dir()
    assert {"clip/model.safetensors", "pipeline/unet/diffusion_pytorch_model.safetensors"} <= set(
        manifest["files"]
    )
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest
    for part in ("clip", "diffusion"):
        record = manifest[part]
        assert record["seed"] == 0
        assert record["steps"] > 0
        assert record["wall_s"] > 0
        assert np.isfinite(record["final_loss_smoothed"])
    assert manifest["clip"]["train_data_sha256"] == manifest["train_data_sha256"]
    for name, digest in manifest["train_data_sha256"].items():
        file = FASHION_MNIST_DIR / name
        assert hashlib.sha256(file.read_bytes()).hexdigest() == digest
    size = sum((path / name).stat().st_size for name in manifest["files"])
    assert size < 20e6  # "a few MB"


def test_verify_rejects_changed_missing_and_extra_files(tmp_path: Path) -> None:
    copy = tmp_path / "testbed"
    shutil.copytree(tp.default_testbed_dir(), copy)
    assert tp.verify_testbed(copy)["format"] == "tti-probe.testbed/1"
    config = copy / "clip" / "config.json"
    config.write_text(config.read_text() + " ")
    with pytest.raises(tp.TestbedError, match=r"changed clip/config\.json"):
        tp.verify_testbed(copy)
    config.unlink()
    (copy / "pipeline" / "stray.txt").write_text("x")
    with pytest.raises(
        tp.TestbedError, match=r"missing clip/config\.json.*unlisted pipeline/stray"
    ):
        tp.load_testbed(copy)
    (copy / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(tp.TestbedError, match=r"not a tti-probe\.testbed/1 manifest"):
        tp.read_testbed_manifest(copy)
    with pytest.raises(tp.TestbedError, match="no readable testbed manifest"):
        tp.read_testbed_manifest(tmp_path)


def test_missing_hf_extra_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(ImportError, match=r"pip install 'tti-probe\[hf\]'"):
        tp.load_testbed()


def test_pipeline_loads_offline_through_the_standard_path(testbed: Any) -> None:
    assert type(testbed.pipeline).__name__ == "TestbedPipeline"
    again = tp.load_pipeline(testbed.path / "pipeline", local_files_only=True)
    assert type(again) is type(testbed.pipeline)
    assert type(again.scheduler).__name__ == "DDIMScheduler"
    assert tp.TestbedPipeline is type(testbed.pipeline)


def test_generation_is_deterministic_and_seeded(testbed: Any) -> None:
    prompts = ["a photo of a Trouser.", "Sneaker", "a photo of a Bag."]
    a = _images(testbed, prompts, [1, 2, 3], num_inference_steps=3, guidance_scale=2.0)
    b = _images(testbed, prompts, [1, 2, 3], num_inference_steps=3, guidance_scale=2.0)
    c = _images(testbed, prompts, [4, 2, 3], num_inference_steps=3, guidance_scale=2.0)
    assert a.shape == (3, 28, 28, 1)
    assert a.dtype == np.float32
    assert a.min() >= 0.0
    assert a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(a[1:], c[1:])
    pil = testbed.pipeline("Dress", num_inference_steps=2, generator=torch.manual_seed(0))
    assert pil.images[0].mode == "L"
    assert pil.images[0].size == (28, 28)


def test_generated_classes_are_told_apart_by_the_small_clip(testbed: Any) -> None:
    names = [c.name for c in tp.fashion_mnist_classes()]
    images = _images(
        testbed,
        [f"a photo of a {n}." for n in names for _ in range(2)],
        list(range(20)),
        num_inference_steps=8,
        guidance_scale=2.0,
    )
    from PIL import Image

    pil = [Image.fromarray((x[..., 0] * 255).astype(np.uint8)) for x in images]
    features = testbed.embedder.embed_images(pil)
    text = testbed.embedder.embed_texts([f"a photo of a {n}." for n in names])
    predicted = (features @ text.T).argmax(axis=1)
    assert (predicted == np.repeat(np.arange(10), 2)).mean() >= 0.6


def test_small_clip_zero_shot_on_natural_test_images(testbed: Any) -> None:
    from PIL import Image

    test = load_fashion_mnist("test")
    images = [Image.fromarray(np.asarray(x)) for x in test.images[:300]]
    features = testbed.embedder.embed_images(images)
    names = [c.name for c in tp.fashion_mnist_classes()]
    text = testbed.embedder.embed_texts([f"a photo of a {n}." for n in names])
    accuracy = ((features @ text.T).argmax(axis=1) == np.asarray(test.labels[:300])).mean()
    assert accuracy >= 0.75


def test_pipeline_rejects_bad_arguments(testbed: Any) -> None:
    pipe = testbed.pipeline
    with pytest.raises(ValueError, match="output_type"):
        pipe("Bag", num_inference_steps=1, output_type="latent")
    with pytest.raises(ValueError, match="2 generators for 1 images"):
        pipe("Bag", num_inference_steps=1, generator=[torch.Generator(), torch.Generator()])
    with pytest.raises(ValueError, match="multiples of 4"):
        pipe("Bag", num_inference_steps=1, height=30)
    with pytest.raises(TypeError, match="prompt must be a string"):
        pipe(3, num_inference_steps=1)
    with pytest.raises(ValueError, match="2 negative prompts for 1 images"):
        pipe("Bag", num_inference_steps=1, negative_prompt=["a", "b"])


def test_training_captions_and_tokenizer_words(testbed: Any, tmp_path: Path) -> None:
    captions = tp.training_captions()
    assert {c.classes for c in captions if c.text == "a photo of a top."} == {(0, 2, 6)}
    assert all(len(c.classes) == 1 for c in captions if "Shirt" in c.text)
    from tti_probe._tiny import write_tiny_tokenizer_files

    with pytest.raises(ValueError, match="word 'Caps'"):
        write_tiny_tokenizer_files(tmp_path, ["Caps"])
    tokens = testbed.pipeline.tokenizer.tokenize("a photo of a Sneaker, a type of footwear.")
    words = "a photo of a sneaker , a type of footwear ."
    assert tokens == [f"{word}</w>" for word in words.split()]

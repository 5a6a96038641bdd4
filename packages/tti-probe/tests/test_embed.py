"""Embedding with a tiny random CLIPModel saved and loaded offline; caching; natural sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="CLIP embedding needs the hf extra (torch)")

from PIL import Image  # noqa: E402

from fourfold_common.data import DatasetError  # noqa: E402
from tti_probe._classes import ClassSpec, fashion_mnist_classes  # noqa: E402
from tti_probe._embed import (  # noqa: E402
    ClipEmbedder,
    EmbeddedSet,
    EmbeddingError,
    embed_class_prompts,
    embed_image_folder,
    embed_images,
    embed_manifest,
    embed_texts,
)
from tti_probe._generate import GenerationConfig, generate  # noqa: E402
from tti_probe._models import ModelLoadError  # noqa: E402
from tti_probe._prompts import clip_imagenet_templates  # noqa: E402
from tti_probe._tiny import build_tiny_clip, build_tiny_pipeline  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny CLIP per test session (read-only)."""
    path = tmp_path_factory.getbasetemp() / "shared-tiny-clip"
    if not (path / "config.json").is_file():
        build_tiny_clip(path, seed=0)
    return path


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny pipeline (the same one test_generate uses)."""
    path = tmp_path_factory.getbasetemp() / "shared-tiny-sd"
    if not (path / "model_index.json").is_file():
        build_tiny_pipeline(path, seed=0)
    return path


@pytest.fixture(scope="module")
def embedder(tiny_clip: Path) -> ClipEmbedder:
    return ClipEmbedder(tiny_clip, local_files_only=True, batch_size=3)


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eight small real photographs' worth of variety: colour patches and gradients."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    files = []
    for i in range(8):
        pixels = rng.integers(0, 256, size=(20 + i, 24, 3), dtype=np.uint8)
        path = root / f"{i}.png"
        Image.fromarray(pixels).save(path)
        files.append(path)
    return files


def test_clip_features_match_the_plain_transformers_path(
    tiny_clip: Path, embedder: ClipEmbedder, image_files: list[Path]
) -> None:
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(tiny_clip, local_files_only=True)
    images = [Image.open(p).convert("RGB") for p in image_files]
    texts = ["a photo of a cat.", "a photo of a dog.", "tench"]
    with torch.no_grad():
        image_ref = model.get_image_features(**processor(images=images, return_tensors="pt"))
        text_ref = model.get_text_features(
            **processor(text=texts, return_tensors="pt", padding=True)
        )
    image_ref = torch.nn.functional.normalize(image_ref.pooler_output, dim=-1).numpy()
    text_ref = torch.nn.functional.normalize(text_ref.pooler_output, dim=-1).numpy()
    ours = embedder.embed_images(images)
    assert ours.shape == (8, 16)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, image_ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embed_texts(texts, embedder), text_ref, atol=1e-5)
    # Distinct inputs, distinct features.
    assert np.min(1 - ours @ ours.T + 2 * np.eye(8)) > 1e-4


def test_cache_makes_re_embedding_free(
    embedder: ClipEmbedder, image_files: list[Path], tmp_path: Path
) -> None:
    first = embed_images(image_files, embedder, cache_dir=tmp_path, progress=False)
    cached = list(tmp_path.rglob("*.npy"))
    assert len(cached) == 8

    calls: list[int] = []

    def counting(images: list[Image.Image]) -> np.ndarray:
        calls.append(len(images))
        return embedder.embed_images(images)

    again = embed_images(
        image_files, counting, cache_dir=tmp_path, model_id=embedder.model_id, progress=False
    )
    assert calls == []
    np.testing.assert_array_equal(again, first)
    # A copy of a file elsewhere hits the cache too (keyed by content), plus one new image.
    copy = tmp_path / "copy.png"
    copy.write_bytes(image_files[0].read_bytes())
    new = tmp_path / "new.png"
    Image.new("RGB", (30, 30), (10, 200, 30)).save(new)
    mixed = embed_images(
        [copy, new], counting, cache_dir=tmp_path, model_id=embedder.model_id, progress=False
    )
    assert calls == [1]
    np.testing.assert_array_equal(mixed[0], first[0])
    # Another model id never sees these entries.
    other = embed_images([copy], counting, cache_dir=tmp_path, model_id="other", progress=False)
    assert calls == [1, 1]
    np.testing.assert_allclose(other[0], first[0], atol=1e-6)  # recomputed, batch of one


def test_pluggable_callable_embedder(image_files: list[Path]) -> None:
    def mean_colour(images: list[Image.Image]) -> np.ndarray:
        return np.stack([np.asarray(i, np.float32).mean(axis=(0, 1)) for i in images])

    raw = embed_images(image_files, mean_colour, normalize=False, batch_size=3, progress=False)
    expected = [np.asarray(Image.open(p), np.float32).mean(axis=(0, 1)) for p in image_files]
    np.testing.assert_allclose(raw, np.stack(expected), rtol=1e-6)
    unit = embed_images(image_files, mean_colour, progress=False)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6)


def test_generate_then_embed_end_to_end(tiny_sd: Path, tiny_clip: Path, tmp_path: Path) -> None:
    """Tiny SD pipeline -> PNGs + manifest -> tiny CLIP features, all loaded from disk."""
    model = tiny_sd
    classes = fashion_mnist_classes()[:2]
    config = GenerationConfig(
        str(model),
        strategies=("photo", "hypernym"),
        guidance_scales=(2.0,),
        images_per_prompt=2,
        num_inference_steps=2,
        device="cpu",
        local_files_only=True,
    )
    manifest = generate(classes, config, tmp_path / "out", progress=False)
    embedder = ClipEmbedder(tiny_clip, local_files_only=True)
    embedded = embed_manifest(manifest, embedder, cache_dir=tmp_path / "cache", progress=False)
    assert embedded.embeddings.shape == (8, 16)
    assert embedded.labels.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert embedded.class_names == ("T-shirt/top", "Trouser")
    assert embedded.files == tuple(r.file for r in manifest.records)
    direct = embedder.embed_images([Image.open(p) for p in manifest.paths()])
    np.testing.assert_allclose(embedded.embeddings, direct, atol=1e-6)
    hypernym = manifest.select(strategy="hypernym")
    assert len(hypernym) == 4
    assert set(hypernym.column("prompt")) == {
        "a photo of a T-shirt/top, a type of top.",
        "a photo of a Trouser, a type of garment.",
    }
    prompts = embed_texts(list(manifest.column("prompt")), embedder)
    assert prompts.shape == (8, 16)


def test_natural_image_folder_with_class_matching(
    embedder: ClipEmbedder, image_files: list[Path], tmp_path: Path
) -> None:
    root = tmp_path / "natural"
    for folder, files in (("n02012849", image_files[:3]), ("Heron", image_files[3:5])):
        (root / folder).mkdir(parents=True)
        for file in files:
            (root / folder / file.name).write_bytes(file.read_bytes())
    classes = (ClassSpec("heron"), ClassSpec("crane", wnid="n02012849"))
    embedded = embed_image_folder(root, embedder, classes=classes, progress=False)
    assert embedded.class_names == ("heron", "crane")
    assert embedded.labels.tolist() == [0, 0, 1, 1, 1]  # folders sorted: Heron, n02...
    plain = embed_image_folder(root, embedder, progress=False)
    assert plain.class_names == ("Heron", "n02012849")
    assert plain.labels.tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(EmbeddingError, match="matches no class"):
        embed_image_folder(root, embedder, classes=(ClassSpec("stork"),), progress=False)
    herons = embed_image_folder(
        root, embedder, classes=(ClassSpec("heron"),), skip_unmatched=True, progress=False
    )
    assert herons.labels.tolist() == [0, 0]
    np.testing.assert_array_equal(herons.embeddings, embedded.embeddings[:2])
    with pytest.raises(EmbeddingError, match="no class folder"):
        embed_image_folder(
            root, embedder, classes=(ClassSpec("stork"),), skip_unmatched=True, progress=False
        )
    with pytest.raises(DatasetError):
        embed_image_folder(tmp_path / "nothing", embedder)


def test_class_prompt_ensembles(embedder: ClipEmbedder) -> None:
    classes = fashion_mnist_classes()[:3]
    single = embed_class_prompts(classes, embedder, "photo")
    np.testing.assert_allclose(
        single, embed_texts([f"a photo of a {c.name}." for c in classes], embedder), atol=1e-6
    )
    ensemble = embed_class_prompts(classes, embedder, "clip80")
    assert ensemble.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(ensemble, axis=1), 1.0, atol=1e-5)
    first = embed_texts(
        [t.format(c=classes[0].name) for t in clip_imagenet_templates()], embedder
    ).mean(axis=0)
    np.testing.assert_allclose(ensemble[0], first / np.linalg.norm(first), atol=1e-5)
    with pytest.raises(EmbeddingError, match="no classes"):
        embed_class_prompts([], embedder)


def test_embedded_set_given_directly_and_saved(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = EmbeddedSet.from_arrays(
        rng.normal(size=(6, 5)),
        [0, 1, 2, 0, 1, 2],
        ("a", "b", "c"),
        class_text=rng.normal(size=(3, 5)),
    )
    loaded = EmbeddedSet.load(data.save(tmp_path / "set.npz"))
    assert loaded.class_text is not None
    assert data.class_text is not None
    np.testing.assert_array_equal(loaded.class_text, data.class_text)
    with pytest.raises(EmbeddingError, match="class_text"):
        EmbeddedSet.from_arrays(np.ones((2, 3)), [0, 1], ("a", "b"), class_text=np.ones((3, 3)))
    np.testing.assert_array_equal(loaded.embeddings, data.embeddings)
    assert loaded.labels.tolist() == data.labels.tolist()
    assert loaded.class_names == data.class_names
    with pytest.raises(EmbeddingError, match="labels must lie"):
        EmbeddedSet.from_arrays(np.ones((2, 3)), [0, 3], ("a", "b"))
    with pytest.raises(EmbeddingError, match="NaN"):
        EmbeddedSet.from_arrays(np.full((1, 3), np.nan), [0], ("a",))
    with pytest.raises(EmbeddingError, match="integers"):
        EmbeddedSet.from_arrays(np.ones((2, 3)), [0.5, 1.0], ("a", "b"))
    with pytest.raises(EmbeddingError, match="cannot read"):
        EmbeddedSet.load(tmp_path / "missing.npz")


def test_bad_inputs_raise_one_clear_error(image_files: list[Path], tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="no image files"):
        embed_images([], lambda images: np.ones((len(images), 2)))
    with pytest.raises(EmbeddingError, match="shape"):
        embed_images(image_files[:2], lambda images: np.ones((1, 2)), progress=False)
    with pytest.raises(EmbeddingError, match="NaN"):
        embed_images(image_files[:1], lambda images: np.full((1, 2), np.nan), progress=False)
    with pytest.raises(EmbeddingError, match="zero norm"):
        embed_images(image_files[:1], lambda images: np.zeros((1, 2)), progress=False)
    with pytest.raises(EmbeddingError, match="needs a model_id"):
        embed_images(image_files[:1], lambda images: np.ones((1, 2)), cache_dir=tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"definitely not an image")
    with pytest.raises(EmbeddingError, match="cannot read image"):
        embed_images([broken], lambda images: np.ones((1, 2)), progress=False)
    with pytest.raises(EmbeddingError, match="cannot read image file"):
        embed_images([tmp_path / "absent.png"], lambda images: np.ones((1, 2)))
    with pytest.raises(EmbeddingError, match="list of strings"):
        embed_texts("a cat", lambda texts: np.ones((len(texts), 2)))
    with pytest.raises(ModelLoadError, match="does not exist"):
        ClipEmbedder(tmp_path / "no-model", local_files_only=True)
    with pytest.raises(ModelLoadError, match="cannot load"):
        ClipEmbedder(tmp_path, local_files_only=True)
    with pytest.raises(ModelLoadError, match="cannot load"):  # a hub id absent offline
        ClipEmbedder("fourfold-tests/no-such-clip", local_files_only=True)


def test_bfloat16_generation_and_embedding_agree_with_float32(
    tiny_sd: Path, tiny_clip: Path, tmp_path: Path
) -> None:
    features = {}
    for dtype in ("float32", "bfloat16"):
        config = GenerationConfig(
            str(tiny_sd),
            guidance_scales=(2.0,),
            images_per_prompt=2,
            num_inference_steps=2,
            device="cpu",
            dtype=dtype,
            local_files_only=True,
        )
        manifest = generate([ClassSpec("cat")], config, tmp_path / dtype, progress=False)
        embedder = ClipEmbedder(tiny_clip, dtype=dtype, local_files_only=True)
        assert str(embedder.model.dtype) == f"torch.{dtype}"
        features[dtype] = embed_manifest(manifest, embedder, progress=False).embeddings
    assert features["bfloat16"].dtype == np.float32
    cosines = np.sum(features["float32"] * features["bfloat16"], axis=1)
    assert np.all(cosines > 0.95), cosines

"""Embedding images and texts with a CLIP-family model, cached per image file.

:class:`ClipEmbedder` wraps any transformers model with ``get_image_features`` /
``get_text_features`` (``CLIPModel`` and its relatives) and its processor. Any other embedder
plugs in as a plain callable: images (a list of RGB PIL images) or texts (a list of strings) in,
an ``(n, d)`` array out. Features are L2-normalised by default.

:func:`embed_images` caches every image's feature vector on disk under a key made of the
file's SHA-256 and the embedder's model id, so embedding the same files again (or a copy of
them elsewhere) costs only the hashing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from fourfold_common.data import list_image_folder
from fourfold_common.io import atomic_write_bytes, atomic_write_text
from tti_probe._classes import ClassSpec
from tti_probe._manifest import Manifest
from tti_probe._models import (
    ModelLoadError,
    check_local,
    model_fingerprint,
    require,
    resolve_device,
    torch_dtype,
)
from tti_probe._prompts import PromptStrategy, get_strategy

ImageEmbedder = Callable[[Sequence[Any]], Any]
"""A callable mapping a list of RGB PIL images to an ``(n, d)`` array."""

TextEmbedder = Callable[[Sequence[str]], Any]
"""A callable mapping a list of strings to an ``(n, d)`` array."""


class EmbeddingError(RuntimeError):
    """Images or texts could not be embedded (unreadable image, bad embedder output, ...)."""


def _as_matrix(features: Any, rows: int, what: str) -> np.ndarray:
    if hasattr(features, "detach"):
        features = features.detach().float().cpu().numpy()
    array = np.asarray(features, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != rows or array.shape[1] == 0:
        raise EmbeddingError(
            f"{what}: the embedder returned shape {array.shape} for {rows} inputs; "
            "expected (n, d) with d > 0"
        )
    if not np.all(np.isfinite(array)):
        raise EmbeddingError(f"{what}: the embedder returned NaN or infinite values")
    return array


def normalize_rows(features: np.ndarray) -> np.ndarray:
    """L2-normalise each row (``float32``).

    Raises:
        EmbeddingError: A row has zero norm.

    Example:
        >>> normalize_rows(np.array([[3.0, 4.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    norms = np.linalg.norm(features.astype(np.float64), axis=1, keepdims=True)
    if np.any(norms == 0):
        raise EmbeddingError("cannot L2-normalise a feature vector of zero norm")
    return (features / norms).astype(np.float32)


def _pooled(output: Any) -> Any:
    """Feature tensor of ``get_*_features``: transformers 5 returns an output object."""
    if hasattr(output, "pooler_output"):
        return output.pooler_output
    return output


class ClipEmbedder:
    """Image and text features from a CLIP-family model through transformers.

    Loads ``AutoModel`` and ``AutoProcessor`` from a hub id or local directory. Image
    features are ``model.get_image_features(...).pooler_output`` (the projected, pooled
    embedding; transformers 5 returns an output object), text features likewise; both are
    L2-normalised.

    Args:
        model: Hub id (e.g. ``"openai/clip-vit-large-patch14"``) or local directory.
        revision: Hub revision.
        device: Torch device, or ``"auto"`` for the device accelerate assigns this process.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (features come back as float32).
        local_files_only: Never touch the network.
        batch_size: Inputs per forward pass.

    Raises:
        tti_probe.ModelLoadError: The model or processor cannot be loaded, or the model has no
            ``get_image_features``/``get_text_features``.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from tti_probe._tiny import build_tiny_clip
        >>> embedder = ClipEmbedder(build_tiny_clip(tempfile.mkdtemp()), local_files_only=True)
        >>> embedder.embed_images([Image.new("RGB", (40, 30))]).shape
        (1, 16)
        >>> round(float(np.linalg.norm(embedder.embed_texts(["a cat"])[0])), 5)
        1.0
    """

    def __init__(
        self,
        model: str | Path,
        *,
        revision: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        local_files_only: bool = False,
        batch_size: int = 32,
    ) -> None:
        transformers = require("transformers")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        check_local(model, "CLIP model")
        self.device = resolve_device(device)
        self.batch_size = batch_size
        options = {"revision": revision, "local_files_only": local_files_only}
        try:
            self.model = transformers.AutoModel.from_pretrained(
                str(model), dtype=torch_dtype(dtype), **options
            )
            self.processor = transformers.AutoProcessor.from_pretrained(str(model), **options)
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"cannot load a CLIP model from {model}: {error}") from error
        if not (
            hasattr(self.model, "get_image_features") and hasattr(self.model, "get_text_features")
        ):
            raise ModelLoadError(
                f"{model} ({type(self.model).__name__}) has no get_image_features/"
                "get_text_features: not a CLIP-family model"
            )
        self.model = self.model.to(self.device).eval()
        commit = getattr(self.model.config, "_commit_hash", None)
        self.model_id = model_fingerprint(model, revision or commit)

    def _run(self, inputs: dict[str, Any], image: bool) -> np.ndarray:
        torch = require("torch")
        moved = {k: v.to(self.device) for k, v in inputs.items()}
        if image and "pixel_values" in moved:
            moved["pixel_values"] = moved["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            if image:
                output = self.model.get_image_features(**moved)
            else:
                output = self.model.get_text_features(**moved)
        return _pooled(output).float().cpu().numpy()

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        """L2-normalised image features of PIL images (converted to RGB), shape ``(n, d)``."""
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = [image.convert("RGB") for image in images[start : start + self.batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt")
            chunks.append(self._run(dict(inputs), image=True))
        if not chunks:
            raise EmbeddingError("no images to embed")
        return normalize_rows(_as_matrix(np.concatenate(chunks), len(images), "images"))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised text features, shape ``(n, d)`` (texts are truncated to the model)."""
        if isinstance(texts, str):
            raise EmbeddingError("embed_texts takes a list of strings, not one string")
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            inputs = self.processor(text=batch, return_tensors="pt", padding=True, truncation=True)
            chunks.append(self._run(dict(inputs), image=False))
        if not chunks:
            raise EmbeddingError("no texts to embed")
        return normalize_rows(_as_matrix(np.concatenate(chunks), len(texts), "texts"))

    def __call__(self, images: Sequence[Any]) -> np.ndarray:
        """Same as :meth:`embed_images`, so a ``ClipEmbedder`` is an :data:`ImageEmbedder`."""
        return self.embed_images(images)


def _image_function(embedder: ClipEmbedder | ImageEmbedder) -> ImageEmbedder:
    if isinstance(embedder, ClipEmbedder):
        return embedder.embed_images
    if not callable(embedder):
        raise EmbeddingError(f"an image embedder must be callable, got {type(embedder).__name__}")
    return embedder


def _cache_file(cache_dir: Path, model_id: str, digest: str) -> Path:
    model_key = hashlib.sha256(model_id.encode()).hexdigest()[:16]
    return cache_dir / model_key / digest[:2] / f"{digest}.npy"


def _load_image(data: bytes, name: str) -> Any:
    pil = require("PIL.Image")
    try:
        with pil.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as error:
        raise EmbeddingError(f"cannot read image {name}: {error}") from error


def embed_images(
    files: Sequence[str | Path],
    embedder: ClipEmbedder | ImageEmbedder,
    *,
    cache_dir: str | Path | None = None,
    model_id: str | None = None,
    batch_size: int = 64,
    normalize: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Embed image files, reusing cached features: returns ``float32`` of shape ``(n, d)``.

    The cache key of a file is its SHA-256 plus the embedder's model id; the cache holds one
    ``.npy`` per (model, image content), written atomically, so an interrupted call loses
    nothing already embedded. Identical files are embedded once.

    Args:
        files: Image files, in the order of the output rows.
        embedder: A :class:`ClipEmbedder` or a callable mapping RGB PIL images to ``(n, d)``.
        cache_dir: Cache folder (``None``: no caching).
        model_id: Cache identity of a callable embedder (a :class:`ClipEmbedder` has its own);
            required with ``cache_dir`` for a callable.
        batch_size: Images passed to the embedder at once.
        normalize: L2-normalise the rows.
        progress: Show a tqdm progress bar.

    Raises:
        EmbeddingError: No files, an unreadable image, bad embedder output, or a callable
            embedder with ``cache_dir`` but no ``model_id``.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (4, 4), (255, 0, 0)).save(folder / "red.png")
        >>> mean_rgb = lambda images: [np.asarray(i, np.float32).mean((0, 1)) for i in images]
        >>> embed_images([folder / "red.png"], mean_rgb, normalize=False, progress=False)
        array([[255.,   0.,   0.]], dtype=float32)
    """
    if not files:
        raise EmbeddingError("no image files to embed")
    if batch_size < 1:
        raise EmbeddingError(f"batch_size must be >= 1, got {batch_size}")
    function = _image_function(embedder)
    if isinstance(embedder, ClipEmbedder):
        model_id = model_id or embedder.model_id
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None and not model_id:
        raise EmbeddingError("caching the features of a callable embedder needs a model_id")
    digests: list[str] = []
    contents: dict[str, tuple[bytes, str]] = {}
    for file in files:
        try:
            data = Path(file).read_bytes()
        except OSError as error:
            raise EmbeddingError(f"cannot read image file {file}: {error}") from error
        digest = hashlib.sha256(data).hexdigest()
        digests.append(digest)
        contents.setdefault(digest, (data, str(file)))
    features: dict[str, np.ndarray] = {}
    if cache is not None and model_id is not None:
        atomic_write_text(_cache_file(cache, model_id, "x").parent.parent / "model.txt", model_id)
        for digest in contents:
            cached = _cache_file(cache, model_id, digest)
            if cached.is_file():
                with contextlib.suppress(OSError, ValueError):  # unreadable: recompute
                    features[digest] = np.load(cached, allow_pickle=False)
    missing = [d for d in contents if d not in features]
    with tqdm(
        total=len(contents), initial=len(features), desc="embed", unit="img", disable=not progress
    ) as bar:
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            images = [_load_image(*contents[d]) for d in batch]
            matrix = _as_matrix(function(images), len(batch), "images")
            for digest, row in zip(batch, matrix, strict=True):
                features[digest] = row
                if cache is not None and model_id is not None:
                    buffer = io.BytesIO()
                    np.save(buffer, row, allow_pickle=False)
                    atomic_write_bytes(_cache_file(cache, model_id, digest), buffer.getvalue())
            bar.update(len(batch))
    widths = {features[d].shape for d in contents}
    if len(widths) != 1:
        raise EmbeddingError(f"inconsistent feature shapes {sorted(widths)} (stale cache?)")
    result = np.stack([features[d] for d in digests]).astype(np.float32)
    return normalize_rows(result) if normalize else result


def embed_texts(
    texts: Sequence[str], embedder: ClipEmbedder | TextEmbedder, *, normalize: bool = True
) -> np.ndarray:
    """Embed texts with a :class:`ClipEmbedder` or a callable: ``float32`` ``(n, d)``.

    Raises:
        EmbeddingError: No texts, a single string instead of a list, or bad embedder output.

    Example:
        >>> lengths = lambda texts: [[len(t), 1.0] for t in texts]
        >>> embed_texts(["ab", "abcd"], lengths, normalize=False).tolist()
        [[2.0, 1.0], [4.0, 1.0]]
    """
    if isinstance(texts, str) or not texts:
        raise EmbeddingError("embed_texts needs a non-empty list of strings")
    if isinstance(embedder, ClipEmbedder):
        return embedder.embed_texts(texts)
    if not callable(embedder):
        raise EmbeddingError(f"a text embedder must be callable, got {type(embedder).__name__}")
    result = _as_matrix(embedder(list(texts)), len(texts), "texts")
    return normalize_rows(result) if normalize else result


def embed_class_prompts(
    classes: Sequence[ClassSpec],
    embedder: ClipEmbedder | TextEmbedder,
    strategy: str | PromptStrategy = "photo",
) -> np.ndarray:
    """One text embedding per class: the re-normalised mean over the strategy's prompt variants.

    This is CLIP's prompt ensembling (with ``"clip80"`` exactly its ImageNet zero-shot
    recipe); with a one-template strategy it is that prompt's embedding.

    Returns:
        ``float32`` array ``(len(classes), d)`` of unit rows.

    Raises:
        EmbeddingError: No classes, or bad embedder output.

    Example:
        >>> from tti_probe._classes import ClassSpec
        >>> letters = lambda texts: [[t.count("a") + 1.0, t.count("o")] for t in texts]
        >>> text = embed_class_prompts([ClassSpec("cat"), ClassSpec("dog")], letters)
        >>> text.astype(float).round(3).tolist()
        [[0.8, 0.6], [0.6, 0.8]]
    """
    if not classes:
        raise EmbeddingError("no classes to embed prompts for")
    resolved = get_strategy(strategy)
    variants = [resolved.prompts(spec) for spec in classes]
    flat = [text for texts in variants for text in texts]
    features = embed_texts(flat, embedder)
    rows, start = [], 0
    for texts in variants:
        rows.append(features[start : start + len(texts)].mean(axis=0))
        start += len(texts)
    return normalize_rows(np.stack(rows))


@dataclass(frozen=True)
class EmbeddedSet:
    """Embeddings of a labelled image set (synthetic or natural).

    Attributes:
        embeddings: ``float32`` array ``(n, d)``.
        labels: ``int64`` class index of each row, ``(n,)``.
        class_names: Name of each class, indexed by label.
        files: Source file of each row (empty strings when embeddings were given directly).
        class_text: Optional text embedding of each class's prompts, ``(num_classes, d)``
            (see :func:`embed_class_prompts`), or ``None``.

    Example:
        >>> s = EmbeddedSet.from_arrays(np.eye(2), [0, 1], ("cat", "dog"))
        >>> s.embeddings.shape, s.labels.tolist()
        ((2, 2), [0, 1])
    """

    embeddings: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    files: tuple[str, ...]
    class_text: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls,
        embeddings: Any,
        labels: Any,
        class_names: Sequence[str],
        files: Sequence[str] | None = None,
        class_text: Any | None = None,
    ) -> EmbeddedSet:
        """Validate and wrap embeddings given directly.

        Raises:
            EmbeddingError: Shapes disagree, labels out of range, or non-finite values.
        """
        array = np.asarray(embeddings, dtype=np.float32)
        label_array = np.asarray(labels)
        names = tuple(str(n) for n in class_names)
        if array.ndim != 2 or array.shape[1] == 0:
            raise EmbeddingError(f"embeddings must be (n, d) with d > 0, got {array.shape}")
        if label_array.shape != (array.shape[0],) or (
            label_array.size and not np.issubdtype(label_array.dtype, np.integer)
        ):
            raise EmbeddingError(
                f"labels must be {array.shape[0]} integers, got shape {label_array.shape} "
                f"of {label_array.dtype}"
            )
        if label_array.size and (label_array.min() < 0 or label_array.max() >= len(names)):
            raise EmbeddingError(f"labels must lie in [0, {len(names)})")
        if not np.all(np.isfinite(array)):
            raise EmbeddingError("embeddings contain NaN or infinite values")
        file_names = tuple(str(f) for f in files) if files is not None else ("",) * len(array)
        if len(file_names) != len(array):
            raise EmbeddingError(f"{len(file_names)} files for {len(array)} embeddings")
        text = None
        if class_text is not None:
            text = np.asarray(class_text, dtype=np.float32)
            if text.shape != (len(names), array.shape[1]) or not np.all(np.isfinite(text)):
                raise EmbeddingError(
                    f"class_text must be finite with shape ({len(names)}, {array.shape[1]}), "
                    f"got {text.shape}"
                )
        return cls(array, label_array.astype(np.int64), names, file_names, text)

    def save(self, path: str | Path) -> Path:
        """Write the set to an ``.npz`` file atomically (see :meth:`load`)."""
        buffer = io.BytesIO()
        arrays = {
            "embeddings": self.embeddings,
            "labels": self.labels,
            "class_names": np.array(self.class_names, dtype=str),
            "files": np.array(self.files, dtype=str),
        }
        if self.class_text is not None:
            arrays["class_text"] = self.class_text
        np.savez(buffer, allow_pickle=False, **arrays)
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> EmbeddedSet:
        """Read a set written by :meth:`save`.

        Any ``.npz`` with ``embeddings``, ``labels`` and ``class_names`` arrays works too.

        Raises:
            EmbeddingError: Unreadable file or missing arrays.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                files = data["files"].tolist() if "files" in data else None
                text = data.get("class_text", None)
                return cls.from_arrays(
                    data["embeddings"], data["labels"], data["class_names"].tolist(), files, text
                )
        except (OSError, KeyError, ValueError) as error:
            raise EmbeddingError(f"cannot read embedded set {path}: {error}") from error


def embed_manifest(
    manifest: Manifest,
    embedder: ClipEmbedder | ImageEmbedder,
    **options: Any,
) -> EmbeddedSet:
    """Embed every image of a generation manifest; labels are the record class indices.

    ``options`` go to :func:`embed_images` (``cache_dir``, ``model_id``, ``batch_size``...).
    Use ``manifest.select(...)`` first to embed part of a run, and ``manifest.column(...)`` for
    per-image guidance scale, strategy or prompt.
    """
    embeddings = embed_images(manifest.paths(), embedder, **options)
    return EmbeddedSet.from_arrays(
        embeddings,
        manifest.labels(),
        [c.name for c in manifest.classes],
        [r.file for r in manifest.records],
    )


def _folder_label(name: str, classes: Sequence[ClassSpec]) -> int | None:
    lowered = name.lower()
    for index, spec in enumerate(classes):
        if name == spec.wnid or lowered == spec.name.lower():
            return index
    for index, spec in enumerate(classes):
        slug = "".join(ch if ch.isalnum() else "_" for ch in spec.name.lower())
        if lowered == slug:
            return index
    return None


def embed_image_folder(
    root: str | Path,
    embedder: ClipEmbedder | ImageEmbedder,
    *,
    classes: Sequence[ClassSpec] | None = None,
    skip_unmatched: bool = False,
    **options: Any,
) -> EmbeddedSet:
    """Embed a natural image set stored as one subfolder per class.

    Without ``classes`` the classes are the subfolder names (sorted). With ``classes`` each
    subfolder is matched to a class by WordNet id (ImageNet's ``n01440764`` folders), by name
    (case-insensitive) or by the name with non-alphanumerics as ``_``, and labels follow the
    class list's order, so the natural set lines up with a generation manifest. Subfolders
    that match no class are an error, or skipped with ``skip_unmatched=True`` (e.g. an
    ImageNet validation folder with all 1,000 classes probed on a subset).
    ``options`` go to :func:`embed_images`.

    Raises:
        fourfold_common.data.DatasetError: ``root`` is missing or holds no images.
        EmbeddingError: A subfolder matches no class (without ``skip_unmatched``), or no
            subfolder matches any class.
    """
    entries, folder_names = list_image_folder(root)
    if classes is None:
        names = folder_names
        labels = [label for _, label in entries]
    else:
        names = tuple(c.name for c in classes)
        mapping = {}
        for folder_label, folder in enumerate(folder_names):
            label = _folder_label(folder, classes)
            if label is None and not skip_unmatched:
                raise EmbeddingError(
                    f"folder {Path(root) / folder} matches no class (by WordNet id or name)"
                )
            if label is not None:
                mapping[folder_label] = label
        entries = [(path, label) for path, label in entries if label in mapping]
        if not entries:
            raise EmbeddingError(f"no class folder under {root} matches the class list")
        labels = [mapping[label] for _, label in entries]
    embeddings = embed_images([path for path, _ in entries], embedder, **options)
    return EmbeddedSet.from_arrays(embeddings, labels, names, [str(p) for p, _ in entries])

"""The generation manifest: one record per image, stored in the PNG and in ``manifest.json``.

Every generated PNG carries its own record in a ``tti-probe`` text chunk, written in the same
atomic file write as the pixels: an image on disk is never without its record, which is what
makes resuming a killed run safe. ``manifest.json`` gathers all records (plus each file's
SHA-256) once a run completes; :func:`rebuild_manifest` regenerates it from the PNGs alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fourfold_common.io import atomic_write_text
from tti_probe._classes import ClassSpec, class_from_dict, class_to_dict

MANIFEST_FORMAT = "tti-probe.manifest/1"
MANIFEST_NAME = "manifest.json"
PNG_KEY = "tti-probe"


class ManifestError(ValueError):
    """A manifest or an image record is missing, malformed or inconsistent with the files."""


@dataclass(frozen=True)
class ImageRecord:
    """Everything known about one generated image.

    Attributes:
        file: Path of the PNG relative to the output directory (POSIX separators).
        class_index: Position of the class in the run's class list.
        class_name: The class name.
        strategy: Prompt strategy name.
        image_index: Image number within (class, strategy, guidance scale).
        prompt: The prompt text.
        negative_prompt: The negative prompt, or ``None``.
        guidance_scale: Classifier-free guidance scale.
        seed: Seed of the image's own ``torch.Generator`` (CPU).
        num_inference_steps: Denoising steps.
        width: Image width in pixels.
        height: Image height in pixels.
        model: Hub id or local directory the pipeline came from.
        revision: Requested hub revision, or ``None``.
        model_fingerprint: Identity of the model files (see ``model_fingerprint``).
        pipeline: Pipeline class name.
        scheduler: Scheduler class name.
        seconds: Wall time of the image's batch divided by the batch size.
        process_index: Index of the (accelerate) process that made the image.
        created: UTC time the image was written (ISO 8601).
        sha256: SHA-256 of the PNG file (empty inside the PNG itself).
    """

    file: str
    class_index: int
    class_name: str
    strategy: str
    image_index: int
    prompt: str
    negative_prompt: str | None
    guidance_scale: float
    seed: int
    num_inference_steps: int
    width: int
    height: int
    model: str
    revision: str | None
    model_fingerprint: str
    pipeline: str
    scheduler: str | None
    seconds: float
    process_index: int
    created: str
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageRecord:
        """Parse a record; raises :class:`ManifestError` on missing or extra fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.name != "sha256"}
        if not isinstance(data, Mapping) or not required <= set(data) or not set(data) <= names:
            keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise ManifestError(f"not an image record: {keys}")
        return cls(**dict(data))


def png_bytes(image: Any, record: ImageRecord) -> bytes:
    """Encode a PIL image as PNG with ``record`` in its ``tti-probe`` text chunk.

    Example:
        >>> from PIL import Image
        >>> record = ImageRecord("a.png", 0, "cat", "photo", 0, "a cat", None, 7.5, 0, 1, 2, 2,
        ...                      "m", None, "m@main", "P", "S", 0.1, 0, "2026-01-01T00:00:00")
        >>> read_png_record(io.BytesIO(png_bytes(Image.new("RGB", (2, 2)), record))).prompt
        'a cat'
    """
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_KEY, json.dumps(record.to_dict(), sort_keys=True))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_png_record(source: str | Path | io.BytesIO) -> ImageRecord:
    """Read the record stored in a generated PNG.

    Raises:
        ManifestError: The file is unreadable, not a PNG, or carries no valid record.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            text = image.info.get(PNG_KEY) if image.format == "PNG" else None
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise ManifestError(f"cannot read image {source}: {error}") from error
    if not isinstance(text, str):
        raise ManifestError(f"{source} carries no tti-probe record")
    try:
        return ImageRecord.from_dict(json.loads(text))
    except json.JSONDecodeError as error:
        raise ManifestError(f"{source}: malformed tti-probe record: {error}") from error


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A completed (or rebuilt) generation run.

    Attributes:
        root: The output directory; record files are relative to it.
        classes: The run's class list (``record.class_index`` indexes it).
        config: The generation settings, JSON-like.
        records: One record per image, in plan order.

    Example:
        >>> manifest = Manifest(Path("."), (ClassSpec("cat"),), {}, ())
        >>> manifest.labels().shape
        (0,)
    """

    root: Path
    classes: tuple[ClassSpec, ...]
    config: Mapping[str, Any]
    records: tuple[ImageRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    def paths(self) -> list[Path]:
        """Absolute paths of the images, in record order."""
        return [self.root / r.file for r in self.records]

    def labels(self) -> np.ndarray:
        """Class index of every image (``int64``)."""
        return np.array([r.class_index for r in self.records], dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        """One record field for every image, e.g. ``column("guidance_scale")``.

        Raises:
            KeyError: ``name`` is not a record field.
        """
        if name not in {f.name for f in dataclasses.fields(ImageRecord)}:
            raise KeyError(f"unknown record field {name!r}")
        return np.array([getattr(r, name) for r in self.records])

    def select(self, **conditions: Any) -> Manifest:
        """The records whose fields equal the given values, e.g. ``select(strategy="photo")``.

        Example:
            >>> Manifest(Path("."), (), {}, ()).select(guidance_scale=2.0).records
            ()
        """
        kept = tuple(
            r for r in self.records if all(getattr(r, k) == v for k, v in conditions.items())
        )
        return dataclasses.replace(self, records=kept)

    def select_between(self, name: str, low: float, high: float) -> Manifest:
        """The records with ``low <= field < high``, e.g. a bin of random guidance scales.

        Raises:
            KeyError: ``name`` is not a record field.

        Example:
            >>> Manifest(Path("."), (), {}, ()).select_between("guidance_scale", 1.0, 4.0).records
            ()
        """
        if name not in {f.name for f in dataclasses.fields(ImageRecord)}:
            raise KeyError(f"unknown record field {name!r}")
        kept = tuple(r for r in self.records if low <= getattr(r, name) < high)
        return dataclasses.replace(self, records=kept)


def manifest_to_json(manifest: Manifest) -> str:
    """Serialise a manifest (the ``manifest.json`` text)."""
    data = {
        "format": MANIFEST_FORMAT,
        "config": manifest.config,
        "classes": [class_to_dict(c) for c in manifest.classes],
        "num_images": len(manifest.records),
        "images": [r.to_dict() for r in manifest.records],
    }
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def write_manifest(manifest: Manifest) -> Path:
    """Write ``manifest.json`` into ``manifest.root`` atomically and return its path."""
    return atomic_write_text(manifest.root / MANIFEST_NAME, manifest_to_json(manifest))


def load_manifest(path: str | Path, *, verify: bool = False) -> Manifest:
    """Load a generation manifest from ``manifest.json`` or the directory holding it.

    Every listed image must exist. With ``verify=True`` every file's SHA-256 must also match
    its record.

    Raises:
        ManifestError: Missing or malformed manifest, a missing image, a duplicate entry, or
            (``verify``) a hash mismatch.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = write_manifest(Manifest(root, (ClassSpec("cat"),), {"seed": 0}, ()))
        >>> load_manifest(root).config
        {'seed': 0}
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path} is not a tti-probe manifest ({MANIFEST_FORMAT})")
    root = path.parent
    try:
        classes = tuple(class_from_dict(c) for c in data["classes"])
        records = tuple(ImageRecord.from_dict(r) for r in data["images"])
        config = data["config"]
    except (KeyError, TypeError) as error:
        raise ManifestError(f"{path}: malformed manifest ({error})") from error
    _check_records(root, classes, records, verify)
    return Manifest(root, classes, config, records)


def _check_records(
    root: Path, classes: Sequence[ClassSpec], records: Iterable[ImageRecord], verify: bool
) -> None:
    seen: set[str] = set()
    for record in records:
        if record.file in seen:
            raise ManifestError(f"image {record.file} is listed twice")
        seen.add(record.file)
        if not 0 <= record.class_index < len(classes):
            raise ManifestError(f"{record.file}: class index {record.class_index} out of range")
        file = root / record.file
        if not file.is_file():
            raise ManifestError(f"image {file} listed in the manifest is missing")
        if verify and file_sha256(file) != record.sha256:
            raise ManifestError(f"image {file} does not match its SHA-256 in the manifest")


def collect_records(root: Path, files: Iterable[str]) -> list[ImageRecord]:
    """Read the records of the given PNG files (relative to ``root``) and add their SHA-256.

    Raises:
        ManifestError: A file is missing or carries no valid record.
    """
    records = []
    for name in files:
        record = read_png_record(root / name)
        if record.file != name:
            raise ManifestError(f"{root / name} carries the record of {record.file}")
        records.append(dataclasses.replace(record, sha256=file_sha256(root / name)))
    return records


def rebuild_manifest(
    root: str | Path, classes: Sequence[ClassSpec], config: Mapping[str, Any]
) -> Manifest:
    """Rebuild and write ``manifest.json`` from every generated PNG under ``root/images``.

    Use it after a run was killed before it wrote its manifest and will not be resumed.

    Raises:
        ManifestError: A PNG under ``root/images`` carries no valid record.
    """
    root = Path(root)
    files = sorted(p.relative_to(root).as_posix() for p in (root / "images").rglob("*.png"))
    records = collect_records(root, files)
    records.sort(key=lambda r: (r.strategy, r.guidance_scale, r.class_index, r.image_index))
    manifest = Manifest(root, tuple(classes), dict(config), tuple(records))
    write_manifest(manifest)
    return manifest

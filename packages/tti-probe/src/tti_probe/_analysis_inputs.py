"""Embedding inputs of the analyses: validation, the :class:`ProbeData` container, ``.npz`` I/O."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import numpy as np

from fourfold_common.io import atomic_write_bytes


class ProbeInputError(ValueError):
    """Raised for embeddings or labels that the analyses cannot use (one clear message)."""


def as_embeddings(x: object, name: str = "embeddings", *, min_rows: int = 1) -> np.ndarray:
    """Check and convert an embedding matrix to a C-contiguous ``float32`` array of shape (n, d).

    Args:
        x: Anything ``numpy.asarray`` accepts.
        name: Name used in the error message.
        min_rows: Smallest acceptable number of rows.

    Returns:
        The embeddings as ``float32``.

    Raises:
        ProbeInputError: Not 2-D, too few rows, zero width, or non-finite values.

    Example:
        >>> as_embeddings([[1, 0], [0, 1]]).dtype
        dtype('float32')
    """
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ProbeInputError(f"{name}: not a numeric array ({error})") from error
    if array.ndim != 2:
        raise ProbeInputError(f"{name}: expected a 2-D array (n, d), got shape {array.shape}")
    if array.shape[1] == 0:
        raise ProbeInputError(f"{name}: embeddings have dimension 0")
    if array.shape[0] < min_rows:
        raise ProbeInputError(f"{name}: need at least {min_rows} rows, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ProbeInputError(f"{name}: contains NaN or infinite values")
    return np.ascontiguousarray(array, dtype=np.float32)


def as_labels(y: object, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Check class labels: integers in ``[0, num_classes)``, one per embedding row.

    Raises:
        ProbeInputError: Wrong length, non-integer values, or out of range.

    Example:
        >>> as_labels([0, 1, 1], 3, 2).tolist()
        [0, 1, 1]
    """
    array = np.asarray(y)
    if array.ndim != 1 or array.shape[0] != n:
        raise ProbeInputError(f"{name}: expected shape ({n},), got {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        rounded = np.round(array.astype(np.float64))
        if not np.array_equal(rounded, array):
            raise ProbeInputError(f"{name}: labels must be integers")
        array = rounded
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ProbeInputError(
            f"{name}: labels must lie in [0, {num_classes}), got [{array.min()}, {array.max()}]"
        )
    return array


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit Euclidean norm (zero rows raise).

    Raises:
        ProbeInputError: A row has zero norm.

    Example:
        >>> l2_normalize(np.array([[3.0, 4.0]], dtype=np.float32)).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    norms = np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ProbeInputError("cannot L2-normalise an embedding of zero norm")
    return (x / norms).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class ProbeData:
    """Embeddings of one synthetic set and one natural set, with class prompts.

    All embeddings share one space (e.g. CLIP image features); ``text`` holds one text
    embedding per class (the class prompt) in the same joint space, or is ``None`` when no text
    encoder is available (then the adherence, collision and geometry analyses are skipped).

    Attributes:
        class_names: Class names, index = label.
        synthetic: Synthetic image embeddings, shape (n_s, d).
        synthetic_labels: Prompted class of each synthetic embedding, shape (n_s,).
        natural: Natural image embeddings, shape (n_n, d).
        natural_labels: Class of each natural embedding, shape (n_n,).
        text: Class-prompt text embeddings, shape (num_classes, d), or ``None``.
        synthetic_text: Optional text embedding of each synthetic image's own prompt, shape
            (n_s, d); defaults to ``text[synthetic_labels]`` for the CLIP score.
        sense_names: Optional names of extra senses (e.g. ``"crane (bird)"``).
        sense_text: Text embeddings of those senses, shape (num_senses, d).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> data = ProbeData.create(
        ...     ["a", "b"], rng.normal(size=(8, 4)), [0, 1] * 4, rng.normal(size=(8, 4)), [0, 1] * 4
        ... )
        >>> data.num_classes, data.dim
        (2, 4)
    """

    class_names: tuple[str, ...]
    synthetic: np.ndarray
    synthetic_labels: np.ndarray
    natural: np.ndarray
    natural_labels: np.ndarray
    text: np.ndarray | None = None
    synthetic_text: np.ndarray | None = None
    sense_names: tuple[str, ...] = ()
    sense_text: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.synthetic.shape[1])

    @classmethod
    def create(
        cls,
        class_names: object,
        synthetic: object,
        synthetic_labels: object,
        natural: object,
        natural_labels: object,
        text: object | None = None,
        synthetic_text: object | None = None,
        sense_names: object = (),
        sense_text: object | None = None,
    ) -> ProbeData:
        """Validate and build a :class:`ProbeData` (see the class for the fields).

        Raises:
            ProbeInputError: Inconsistent shapes, bad labels, non-finite values, an empty
                class list or duplicate class names.
        """
        names = tuple(str(n) for n in np.asarray(class_names, dtype=object).ravel())
        if not names:
            raise ProbeInputError("class_names: need at least one class")
        if len(set(names)) != len(names):
            raise ProbeInputError("class_names: duplicate names")
        syn = as_embeddings(synthetic, "synthetic")
        nat = as_embeddings(natural, "natural")
        if syn.shape[1] != nat.shape[1]:
            raise ProbeInputError(
                f"synthetic (d={syn.shape[1]}) and natural (d={nat.shape[1]}) differ in dimension"
            )
        syn_y = as_labels(synthetic_labels, syn.shape[0], len(names), "synthetic_labels")
        nat_y = as_labels(natural_labels, nat.shape[0], len(names), "natural_labels")
        txt = None
        if text is not None:
            txt = as_embeddings(text, "text")
            if txt.shape != (len(names), syn.shape[1]):
                raise ProbeInputError(
                    f"text: expected shape ({len(names)}, {syn.shape[1]}), got {txt.shape}"
                )
        syn_txt = None
        if synthetic_text is not None:
            syn_txt = as_embeddings(synthetic_text, "synthetic_text")
            if syn_txt.shape != syn.shape:
                raise ProbeInputError(
                    f"synthetic_text: expected shape {syn.shape}, got {syn_txt.shape}"
                )
        senses = tuple(str(n) for n in np.asarray(sense_names, dtype=object).ravel())
        sense = None
        if sense_text is not None:
            sense = as_embeddings(sense_text, "sense_text")
            if sense.shape != (len(senses), syn.shape[1]):
                raise ProbeInputError(
                    f"sense_text: expected shape ({len(senses)}, {syn.shape[1]}), got {sense.shape}"
                )
        elif senses:
            raise ProbeInputError("sense_names given without sense_text")
        return cls(names, syn, syn_y, nat, nat_y, txt, syn_txt, senses, sense)


_ARRAY_FIELDS = ("synthetic", "synthetic_labels", "natural", "natural_labels")
_OPTIONAL_FIELDS = ("text", "synthetic_text", "sense_text")


def save_npz(data: ProbeData, path: str | Path) -> Path:
    """Write a :class:`ProbeData` to a compressed ``.npz`` file, atomically.

    Keys: ``class_names``, ``synthetic``, ``synthetic_labels``, ``natural``,
    ``natural_labels`` and, when present, ``text``, ``synthetic_text``, ``sense_names``,
    ``sense_text``. This is the input format of ``tti-probe analyze``.

    Example:
        >>> import tempfile, pathlib
        >>> rng = np.random.default_rng(0)
        >>> data = ProbeData.create(["a"], rng.normal(size=(3, 2)), [0] * 3,
        ...                         rng.normal(size=(3, 2)), [0] * 3)
        >>> path = save_npz(data, pathlib.Path(tempfile.mkdtemp()) / "e.npz")
        >>> load_npz(path).synthetic.shape
        (3, 2)
    """
    arrays: dict[str, np.ndarray] = {
        "class_names": np.asarray(data.class_names, dtype=np.str_),
        "sense_names": np.asarray(data.sense_names, dtype=np.str_),
    }
    for field in _ARRAY_FIELDS + _OPTIONAL_FIELDS:
        value = getattr(data, field)
        if value is not None:
            arrays[field] = value
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return atomic_write_bytes(path, buffer.getvalue())


def load_npz(path: str | Path) -> ProbeData:
    """Read a ``.npz`` written by :func:`save_npz` (or by hand with the same keys).

    Raises:
        ProbeInputError: Missing file or keys, unreadable archive, or invalid contents.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            content = {key: archive[key] for key in archive.files}
    except FileNotFoundError as error:
        raise ProbeInputError(f"{path}: no such file") from error
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ProbeInputError(f"{path}: not a readable .npz archive ({error})") from error
    missing = [k for k in ("class_names", *_ARRAY_FIELDS) if k not in content]
    if missing:
        raise ProbeInputError(f"{path}: missing keys {missing}")
    return ProbeData.create(
        content["class_names"],
        content["synthetic"],
        content["synthetic_labels"],
        content["natural"],
        content["natural_labels"],
        text=content.get("text"),
        synthetic_text=content.get("synthetic_text"),
        sense_names=content.get("sense_names", ()),
        sense_text=content.get("sense_text"),
    )


def _read_set(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            content = {key: archive[key] for key in archive.files}
    except FileNotFoundError as error:
        raise ProbeInputError(f"{path}: no such file") from error
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ProbeInputError(f"{path}: not a readable .npz archive ({error})") from error
    missing = [k for k in ("embeddings", "labels", "class_names") if k not in content]
    if missing:
        raise ProbeInputError(f"{path}: missing keys {missing} (not an embedded set)")
    return content


def probe_data_from_sets(synthetic: str | Path, natural: str | Path) -> ProbeData:
    """Pair two embedded-set ``.npz`` files (as written by ``tti-probe embed``) into a ProbeData.

    Each file holds ``embeddings``, ``labels``, ``class_names`` and optionally ``class_text``
    (one prompt embedding per class). The classes are those of the synthetic set; natural
    classes are matched by name (natural classes absent from the synthetic set are dropped),
    and the class text comes from the synthetic file, else from the natural one.

    Raises:
        ProbeInputError: Unreadable files, missing keys, or a synthetic class with no natural
            counterpart.
    """
    syn = _read_set(Path(synthetic))
    nat = _read_set(Path(natural))
    names = [str(n) for n in syn["class_names"]]
    nat_names = [str(n) for n in nat["class_names"]]
    lookup = {n: i for i, n in enumerate(nat_names)}
    missing = [n for n in names if n not in lookup]
    if missing:
        raise ProbeInputError(f"natural set lacks classes {missing[:5]} of the synthetic set")
    remap = np.full(len(nat_names), -1, np.int64)
    for i, n in enumerate(names):
        remap[lookup[n]] = i
    nat_labels = np.asarray(nat["labels"], np.int64)
    if nat_labels.size and (nat_labels.min() < 0 or nat_labels.max() >= len(nat_names)):
        raise ProbeInputError(f"{natural}: labels out of range")
    mapped = remap[nat_labels]
    keep = mapped >= 0
    text = syn.get("class_text")
    if text is None and "class_text" in nat:
        text = nat["class_text"][[lookup[n] for n in names]]
    return ProbeData.create(
        names, syn["embeddings"], syn["labels"], nat["embeddings"][keep], mapped[keep], text=text
    )

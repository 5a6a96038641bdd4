"""The benchmark: every codec on the same thumbnails at the same byte budgets, in one run.

For each image and thumbnail size (longest side 64 and 128 px, Lanczos from the original), each
codec codes the thumbnail within each byte budget; the reconstruction at the thumbnail size is
scored with PSNR on RGB and SSIM (scikit-image, ``channel_axis=-1, data_range=255``). Codecs:
our codec (``"ours"``, when ``delaunay_thumb.encode/decode`` work) and the peers of
:mod:`delaunay_thumb._peers`. For each result the decode time to a 128 px output is measured
(median of a few repeats); for our codec also the CPU time of the encode.

Example:
    >>> import numpy as np
    >>> image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    >>> result = run_benchmark({"noise": image}, sizes=(32,), budgets=(200,),
    ...                        codecs=("webp-file", "jpeg-shared"), progress=False)
    >>> [(row.codec, row.count) for row in result.rows]
    [('webp-file', 1), ('jpeg-shared', 1)]
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from delaunay_thumb._bench_ours import Ours, ours_unavailable
from delaunay_thumb._metrics import fit_long_side, make_thumbnail, psnr, ssim, to_rgb_uint8
from delaunay_thumb._peers import PEER_NAMES, Peer, make_peer
from delaunay_thumb._peers_base import PeerResult

REFERENCE_CODEC = "webp-file"
DEFAULT_CODECS: tuple[str, ...] = ("ours", *PEER_NAMES)


@dataclass(frozen=True)
class BenchConfig:
    """What one benchmark run measured.

    Attributes:
        images: Names of the images, in order.
        sizes: Longest sides of the thumbnails.
        budgets: Byte budgets.
        codecs: Codecs measured (``"ours"`` and peer names).
        effort: Effort passed to our encoder (``None``: its default).
        seed: Seed passed to our encoder.
        decode_size: Longest side of the output whose decode time is measured.
        decode_repeats: Repeats of each timed decode (the median is kept).
    """

    images: tuple[str, ...]
    sizes: tuple[int, ...]
    budgets: tuple[int, ...]
    codecs: tuple[str, ...]
    effort: int | None = None
    seed: int = 0
    decode_size: int = 128
    decode_repeats: int = 5


@dataclass(frozen=True)
class Measurement:
    """One codec on one thumbnail at one budget (``budget`` is ``None`` for fixed-size codes)."""

    image: str
    codec: str
    size: int
    budget: int | None
    nbytes: int
    psnr: float
    ssim: float
    decode_ms: float
    encode_seconds: float | None = None
    params: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """Means over the images of one codec, thumbnail size and budget.

    ``count`` images produced a result within the budget (the means are over those). The
    comparison with the WebP file (same size and budget) is made over the images both produced
    a result for: ratios of the means of bytes and SSIM, the difference of mean PSNR in dB, and
    the number of images on which the codec's PSNR beats the WebP file's.
    """

    codec: str
    size: int
    budget: int | None
    count: int
    mean_bytes: float
    mean_psnr: float
    mean_ssim: float
    mean_decode_ms: float
    mean_encode_seconds: float | None
    max_encode_seconds: float | None
    bytes_ratio: float | None
    psnr_delta_db: float | None
    ssim_ratio: float | None
    psnr_wins: int | None


@dataclass(frozen=True)
class BenchmarkResult:
    """Everything one run measured: per-image measurements, summary rows, skipped codecs.

    ``missing`` lists the ``codec|image|size`` units not measured because of a time limit; the
    rows then average over the images measured (their ``count``).
    """

    config: BenchConfig
    measurements: tuple[Measurement, ...]
    rows: tuple[Row, ...]
    skipped: Mapping[str, str]
    errors: tuple[str, ...]
    seconds: float
    resumed_units: int = 0
    missing: tuple[str, ...] = ()

    def row(self, codec: str, size: int, budget: int | None) -> Row | None:
        """The summary row of ``codec`` at ``size`` and ``budget``, if any."""
        for row in self.rows:
            if (row.codec, row.size, row.budget) == (codec, size, budget):
                return row
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary of the whole result."""
        return {
            "config": asdict(self.config),
            "rows": [asdict(row) for row in self.rows],
            "measurements": [asdict(m) for m in self.measurements],
            "skipped": dict(self.skipped),
            "errors": list(self.errors),
            "seconds": self.seconds,
            "resumed_units": self.resumed_units,
            "missing": list(self.missing),
        }


def _codec(codec: str | Peer, effort: int | None, seed: int) -> Peer:
    if isinstance(codec, Peer):
        return codec
    return Ours(effort=effort, seed=seed) if codec == "ours" else make_peer(codec)


def _median_decode_ms(peer: Peer, result: PeerResult, size: tuple[int, int], repeats: int) -> float:
    timings = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        peer.decode(result.data, *size)
        timings.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(timings)


def _measure(
    peer: Peer,
    image_name: str,
    thumb: np.ndarray,
    size: int,
    config: BenchConfig,
) -> list[Measurement]:
    decode_size = fit_long_side(thumb.shape[1], thumb.shape[0], config.decode_size)
    results = peer.search(thumb, config.budgets)
    if not peer.budgeted:  # a fixed-size code: one result, reported at its own size
        any_result = next((r for r in results.values() if r is not None), None)
        fixed = any_result if any_result is not None else peer.search(thumb, [1 << 20])[1 << 20]
        results = {0: fixed}
    measurements = []
    for budget, result in results.items():
        if result is None:
            continue
        if peer.budgeted and result.nbytes > budget:
            raise RuntimeError(f"{peer.name} returned {result.nbytes} bytes for budget {budget}")
        measurements.append(
            Measurement(
                image=image_name,
                codec=peer.name,
                size=size,
                budget=budget if peer.budgeted else None,
                nbytes=result.nbytes,
                psnr=psnr(thumb, result.decoded),
                ssim=ssim(thumb, result.decoded),
                decode_ms=_median_decode_ms(peer, result, decode_size, config.decode_repeats),
                encode_seconds=result.encode_seconds,
                params=dict(result.params),
            )
        )
    return measurements


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def summarize(measurements: Sequence[Measurement], codecs: Sequence[str]) -> tuple[Row, ...]:
    """Summary rows (means and WebP-file comparisons) in codec, size, budget order."""
    groups: dict[tuple[str, int, int | None], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.codec, m.size, m.budget), []).append(m)
    order = {codec: index for index, codec in enumerate(codecs)}

    def sort_key(key: tuple[str, int, int | None]) -> tuple[int, int, int]:
        codec, size, budget = key
        return order.get(codec, len(order)), size, -1 if budget is None else budget

    rows = []
    for key in sorted(groups, key=sort_key):
        codec, size, budget = key
        group = groups[key]
        reference = {m.image: m for m in groups.get((REFERENCE_CODEC, size, budget), [])}
        encode = [m.encode_seconds for m in group if m.encode_seconds is not None]
        mean_bytes = _mean([m.nbytes for m in group])
        mean_psnr = _mean([m.psnr for m in group])
        mean_ssim = _mean([m.ssim for m in group])
        bytes_ratio = psnr_delta = ssim_ratio = None
        wins = None
        common = [m for m in group if m.image in reference]
        if budget is not None and common:
            ref = [reference[m.image] for m in common]
            bytes_ratio = _mean([m.nbytes for m in common]) / _mean([m.nbytes for m in ref])
            psnr_delta = _mean([m.psnr for m in common]) - _mean([m.psnr for m in ref])
            ssim_ratio = _mean([m.ssim for m in common]) / _mean([m.ssim for m in ref])
            wins = sum(1 for m in common if m.psnr > reference[m.image].psnr)
        rows.append(
            Row(
                codec=codec,
                size=size,
                budget=budget,
                count=len(group),
                mean_bytes=mean_bytes,
                mean_psnr=mean_psnr,
                mean_ssim=mean_ssim,
                mean_decode_ms=_mean([m.decode_ms for m in group]),
                mean_encode_seconds=_mean(encode) if encode else None,
                max_encode_seconds=max(encode) if encode else None,
                bytes_ratio=bytes_ratio,
                psnr_delta_db=psnr_delta,
                ssim_ratio=ssim_ratio,
                psnr_wins=wins,
            )
        )
    return tuple(rows)


def _fingerprint(config: BenchConfig, thumbs: Mapping[tuple[str, int], np.ndarray]) -> str:
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    for key in sorted(thumbs):
        digest.update(repr(key).encode())
        digest.update(thumbs[key].tobytes())
    return digest.hexdigest()


def _load_checkpoint(path: Path | None, fingerprint: str) -> dict[str, list[Measurement]]:
    if path is None or not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(stored, dict) or stored.get("fingerprint") != fingerprint:
        return {}
    return {
        unit: [Measurement(**m) for m in items] for unit, items in stored.get("units", {}).items()
    }


def _save_checkpoint(path: Path, fingerprint: str, units: Mapping[str, list[Measurement]]) -> None:
    from fourfold_common.io import atomic_write_text

    payload = {
        "fingerprint": fingerprint,
        "units": {unit: [asdict(m) for m in items] for unit, items in units.items()},
    }
    atomic_write_text(path, json.dumps(payload))


def run_benchmark(
    images: Mapping[str, Any] | Sequence[Any],
    sizes: Sequence[int] = (64, 128),
    budgets: Sequence[int] = (50, 100, 200, 400),
    codecs: Sequence[str | Peer] = DEFAULT_CODECS,
    progress: bool = True,
    *,
    effort: int | None = None,
    seed: int = 0,
    decode_repeats: int = 5,
    checkpoint: str | Path | None = None,
    redo: Sequence[str] = (),
    time_limit: float | None = None,
) -> BenchmarkResult:
    """Measure every codec on every image, thumbnail size and budget, side by side.

    Args:
        images: Images by name (or a sequence, named ``image0``, ``image1``, ...); any array or
            Pillow image accepted by :func:`delaunay_thumb._metrics.to_rgb_uint8`.
        sizes: Longest sides of the thumbnails (Lanczos from the original).
        budgets: Byte budgets.
        codecs: ``"ours"``, peer names (see :func:`delaunay_thumb._peers.make_peer`) or
            :class:`~delaunay_thumb._peers.Peer` instances (with distinct names). ``"ours"`` is
            skipped, with the reason in ``skipped``, when the codec does not work yet; a peer
            whose library is missing is skipped the same way.
        progress: Show a tqdm progress bar.
        effort: Effort for our encoder (``None``: its default).
        seed: Seed for our encoder.
        decode_repeats: Repeats of each timed decode.
        checkpoint: Optional JSON file where finished (codec, image, size) units are saved, so
            an interrupted run resumes where it stopped (ignored if the settings differ).
        redo: Codec names whose checkpointed units are measured again (e.g. ``("ours",)``
            after a codec change), keeping the others.
        time_limit: Seconds after which no new unit is started; the units left are listed in
            ``missing`` (the work runs one thumbnail size at a time, smallest first, so the
            smaller sizes complete first). Rerun with the same checkpoint to finish them.

    Returns:
        The measurements and their summary.

    Raises:
        ValueError: No images, or invalid sizes, budgets or codec names.
    """
    named = (
        dict(images)
        if isinstance(images, Mapping)
        else {f"image{index}": image for index, image in enumerate(images)}
    )
    if not named:
        raise ValueError("run_benchmark needs at least one image")
    if not sizes or any(int(s) < 8 for s in sizes):
        raise ValueError(f"sizes must be thumbnail sides of at least 8 px, got {tuple(sizes)}")
    if not budgets or any(int(b) <= 0 for b in budgets):
        raise ValueError(f"budgets must be positive, got {tuple(budgets)}")
    prepared: dict[str, Peer | None] = {}
    for codec in codecs:
        name = codec.name if isinstance(codec, Peer) else codec
        if name in prepared:
            raise ValueError(f"codec {name!r} is listed twice")
        # Unknown names raise ValueError here; "ours" is checked below.
        prepared[name] = None if name == "ours" else _codec(codec, effort, seed)
    config = BenchConfig(
        images=tuple(named),
        sizes=tuple(int(s) for s in sizes),
        budgets=tuple(int(b) for b in budgets),
        codecs=tuple(prepared),
        effort=effort,
        seed=seed,
        decode_repeats=decode_repeats,
    )
    start = time.perf_counter()
    skipped: dict[str, str] = {}
    active: list[Peer] = []
    for name, prepared_peer in prepared.items():
        reason = ours_unavailable() if name == "ours" else None
        if reason is None:
            peer = prepared_peer if prepared_peer is not None else _codec(name, effort, seed)
            reason = None if name == "ours" else _probe(peer)
            if reason is None:
                active.append(peer)
        if reason is not None:
            skipped[name] = reason

    thumbs = {
        (name, size): make_thumbnail(to_rgb_uint8(image), size)
        for name, image in named.items()
        for size in config.sizes
    }
    checkpoint_path = Path(checkpoint) if checkpoint is not None else None
    fingerprint = _fingerprint(config, thumbs)
    units = {
        unit: items
        for unit, items in _load_checkpoint(checkpoint_path, fingerprint).items()
        if unit.split("|", 1)[0] not in redo
    }
    resumed = len(units)
    errors: list[str] = []
    from tqdm import tqdm

    work = [
        (peer, (image_name, size))
        for size in sorted(config.sizes)
        for image_name in config.images
        for peer in active
    ]
    missing: list[str] = []
    for peer, (image_name, size) in tqdm(work, desc="delaunay-thumb bench", disable=not progress):
        unit = f"{peer.name}|{image_name}|{size}"
        if unit in units:
            continue
        if time_limit is not None and time.perf_counter() - start > time_limit:
            missing.append(unit)
            continue
        try:
            units[unit] = _measure(peer, image_name, thumbs[(image_name, size)], size, config)
        except Exception as error:  # one failing codec must not lose the whole run
            errors.append(f"{unit}: {type(error).__name__}: {error}")
            continue
        if checkpoint_path is not None:
            _save_checkpoint(checkpoint_path, fingerprint, units)
    measurements = tuple(m for items in units.values() for m in items)
    return BenchmarkResult(
        config=config,
        measurements=measurements,
        rows=summarize(measurements, config.codecs),
        skipped=skipped,
        errors=tuple(errors),
        seconds=time.perf_counter() - start,
        resumed_units=resumed,
        missing=tuple(missing),
    )


def _probe(peer: Peer) -> str | None:
    """``None`` if the peer can code a tiny image (its library is installed), else why not."""
    try:
        peer.search(np.full((8, 8, 3), 128, np.uint8), [1000])
    except ImportError as error:
        return str(error)
    return None

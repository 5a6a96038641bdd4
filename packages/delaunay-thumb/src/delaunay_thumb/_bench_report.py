"""Reports of a benchmark run: markdown tables, a JSON run record and a rate-distortion plot.

The markdown has one table per thumbnail size (every codec at every budget, with ratios against
the WebP file), the fixed-size codes, timings, the prior-art baselines next to what this run
measured for them, and the issue's targets for our codec with their status.

Example:
    >>> import numpy as np
    >>> from delaunay_thumb._bench import run_benchmark
    >>> image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    >>> result = run_benchmark({"noise": image}, sizes=(32,), budgets=(200,),
    ...                        codecs=("webp-file",), progress=False)
    >>> "| webp-file | 200 |" in format_markdown(result, command="example")
    True
"""

from __future__ import annotations

import datetime
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from delaunay_thumb._bench import REFERENCE_CODEC, BenchmarkResult

#: Baselines of the prior-art note (9 bundled scikit-image colour photos):
#: (codec, size, budget) -> (PSNR dB, SSIM); budget ``None`` for fixed-size codes.
PRIOR_ART: dict[tuple[str, int, int | None], tuple[float, float]] = {
    ("thumbhash", 64, None): (17.84, 0.344),
    ("blurhash-9x9", 64, None): (18.07, 0.401),
    ("webp-file", 64, 200): (23.91, 0.702),
    ("jpeg-shared", 64, 200): (24.16, 0.720),
    ("webp-stripped", 64, 200): (24.39, 0.725),
    ("avif-payload", 64, 200): (25.59, 0.759),
    ("webp-file", 64, 100): (20.73, 0.527),
    ("avif-payload", 64, 100): (22.61, 0.628),
    ("webp-file", 64, 400): (27.42, 0.834),
    ("avif-payload", 64, 400): (28.79, 0.868),
    ("webp-file", 128, 200): (22.65, 0.570),
    ("avif-payload", 128, 200): (23.99, 0.616),
}

#: libwebp2's triangle preview as measured in the prior-art note: (size, budget) -> (PSNR, SSIM).
TRIANGLE_PREVIEW: dict[tuple[int, int], tuple[float, float]] = {
    (64, 100): (20.5, 0.49),
    (64, 200): (21.8, 0.59),
    (128, 100): (19.6, 0.41),
    (128, 200): (20.6, 0.47),
}

_LABELS = {
    "ours": "ours (delaunay-thumb)",
    "webp-file": "WebP file",
    "webp-stripped": "WebP, RIFF stripped",
    "avif-payload": "AVIF payload",
    "jpeg-shared": "JPEG, shared header",
    "thumbhash": "ThumbHash",
}


@dataclass(frozen=True)
class Target:
    """One of the issue's targets for our codec and whether this run meets it."""

    description: str
    measured: float
    threshold: float
    passed: bool


def _fmt(value: float | None, digits: int, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}{suffix}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def paired_means(
    result: BenchmarkResult,
    size: int,
    first: tuple[str, int | None],
    second: tuple[str, int | None],
    value: str,
) -> tuple[float, float, int] | None:
    """Mean ``value`` (``"psnr"`` or ``"ssim"``) of two (codec, budget) pairs on shared images.

    Returns:
        ``(mean of first, mean of second, number of images)``, or ``None`` if no image has both.
    """

    def by_image(key: tuple[str, int | None]) -> dict[str, float]:
        return {
            m.image: float(getattr(m, value))
            for m in result.measurements
            if m.size == size and (m.codec, m.budget) == key
        }

    a, b = by_image(first), by_image(second)
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    count = len(shared)
    return sum(a[i] for i in shared) / count, sum(b[i] for i in shared) / count, count


def check_targets(result: BenchmarkResult) -> list[Target]:
    """The issue's quality targets for ``"ours"`` that this run can check.

    Comparisons with a peer use the images both coded within the budget.
    """
    targets: list[Target] = []
    for (size, budget), (triangle_psnr, _) in sorted(TRIANGLE_PREVIEW.items()):
        row = result.row("ours", size, budget)
        if row is not None and row.count:
            threshold = triangle_psnr + 1.0
            targets.append(
                Target(
                    f"{size} px, {budget} B: PSNR >= triangle preview {triangle_psnr} dB + 1 dB",
                    row.mean_psnr,
                    threshold,
                    row.mean_psnr >= threshold,
                )
            )
    for peer, kind in (("webp-file", "target"), ("avif-payload", "stretch")):
        for size in (64, 128):
            for budget in (100, 200):
                for value in ("psnr", "ssim"):
                    pair = paired_means(result, size, ("ours", budget), (peer, budget), value)
                    if pair is None:
                        continue
                    mine, theirs, count = pair
                    targets.append(
                        Target(
                            f"{size} px, {budget} B: {value.upper()} above {peer} ({kind}, "
                            f"{count} images)",
                            mine,
                            theirs,
                            mine > theirs,
                        )
                    )
    for size in result.config.sizes:
        budgets = [r.budget for r in result.rows if r.codec == "ours" and r.size == size]
        smallest = min((b for b in budgets if b is not None), default=None)
        thumbhash = result.row("thumbhash", size, None)
        if smallest is None or smallest > 25 or thumbhash is None:
            continue
        pair = paired_means(result, size, ("ours", smallest), ("thumbhash", None), "psnr")
        if pair is not None:
            mine, theirs, count = pair
            targets.append(
                Target(
                    f"{size} px, {smallest} B: PSNR above ThumbHash ({thumbhash.mean_bytes:.1f} B, "
                    f"{count} images)",
                    mine,
                    theirs,
                    mine > theirs,
                )
            )
    return targets


def _size_table(result: BenchmarkResult, size: int) -> list[str]:
    total = len(result.config.images)
    lines = [
        "| codec | budget | images | mean bytes | PSNR dB | SSIM | bytes ×WebP | ΔPSNR vs WebP dB "
        "| SSIM ×WebP | PSNR wins vs WebP | decode ms (128 px) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for budget in result.config.budgets:
        for row in result.rows:
            if row.size != size or row.budget != budget:
                continue
            wins = "–" if row.psnr_wins is None else f"{row.psnr_wins}/{row.count}"
            lines.append(
                f"| {row.codec} | {budget} | {row.count}/{total} | {row.mean_bytes:.1f} "
                f"| {row.mean_psnr:.2f} | {row.mean_ssim:.3f} | {_fmt(row.bytes_ratio, 3)} "
                f"| {_signed(row.psnr_delta_db)} | {_fmt(row.ssim_ratio, 3)} | {wins} "
                f"| {row.mean_decode_ms:.2f} |"
            )
    fixed = [r for r in result.rows if r.size == size and r.budget is None]
    if fixed:
        lines += ["", "Fixed-size codes at their own size:", ""]
        lines += [
            "| codec | images | mean bytes | PSNR dB | SSIM | decode ms (128 px) |",
            "|---|---|---|---|---|---|",
        ]
        for row in fixed:
            lines.append(
                f"| {row.codec} | {row.count}/{total} | {row.mean_bytes:.1f} "
                f"| {row.mean_psnr:.2f} | {row.mean_ssim:.3f} | {row.mean_decode_ms:.2f} |"
            )
    return lines


def _prior_art_table(result: BenchmarkResult) -> list[str]:
    lines = [
        "| codec | size | budget | prior art PSNR / SSIM | this run PSNR / SSIM | ΔPSNR dB |",
        "|---|---|---|---|---|---|",
    ]
    for (codec, size, budget), (psnr, ssim) in PRIOR_ART.items():
        row = result.row(codec, size, budget)
        if row is None:
            continue
        lines.append(
            f"| {codec} | {size} | {budget if budget is not None else 'own'} "
            f"| {psnr:.2f} / {ssim:.3f} | {row.mean_psnr:.2f} / {row.mean_ssim:.3f} "
            f"| {row.mean_psnr - psnr:+.2f} |"
        )
    for (size, budget), (psnr, ssim) in sorted(TRIANGLE_PREVIEW.items()):
        lines.append(
            f"| libwebp2 triangle preview (not run here) | {size} | {budget} "
            f"| {psnr:.1f} / {ssim:.2f} | – | – |"
        )
    return lines


def _timing_table(result: BenchmarkResult) -> list[str]:
    rows = [r for r in result.rows if r.mean_encode_seconds is not None]
    if not rows:
        return []
    lines = [
        "| codec | size | budget | encode CPU s, mean | encode CPU s, max | decode ms (128 px) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.codec} | {row.size} | {row.budget} | {_fmt(row.mean_encode_seconds, 3)} "
            f"| {_fmt(row.max_encode_seconds, 3)} | {row.mean_decode_ms:.2f} |"
        )
    return lines


def default_machine() -> str:
    """A one-line description of this machine."""
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}"


def format_markdown(
    result: BenchmarkResult,
    *,
    command: str,
    created: str | None = None,
    machine: str | None = None,
    notes: Sequence[str] = (),
    plot_name: str | None = None,
    appendix: Sequence[str] = (),
) -> str:
    """The benchmark as a markdown document.

    Args:
        result: A benchmark result.
        command: The exact command line that produced it.
        created: Date and time of the run (default: now, UTC).
        machine: Machine description (default: :func:`default_machine`).
        notes: Extra paragraphs (method notes) placed before the tables.
        plot_name: File name of the rate-distortion plot to embed, if any.
        appendix: Extra markdown lines placed at the end.
    """
    created = created or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine or default_machine()
    config = result.config
    lines = [
        "# delaunay-thumb benchmark",
        "",
        f"Generated by `{command}` on {created} ({machine}); the run took {result.seconds:.0f} s.",
        "",
        f"Images ({len(config.images)}): {', '.join(config.images)}. Thumbnails: longest side "
        f"{' and '.join(str(s) for s in config.sizes)} px (Lanczos from the original); every "
        "codec gets the thumbnail as input and is scored on its reconstruction at that size: PSNR "
        "on RGB, SSIM with `skimage.metrics.structural_similarity(..., channel_axis=-1, "
        "data_range=255)`, means over the images that fit the budget. Budgets: "
        f"{', '.join(str(b) for b in config.budgets)} bytes. Ratios and differences are against "
        f"the `{REFERENCE_CODEC}` row of the same size and budget.",
        "",
    ]
    for note in notes:
        lines += [note, ""]
    if result.skipped:
        lines += ["Skipped codecs:", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in result.skipped.items()]
        lines.append("")
    if result.missing:
        lines += [
            f"**Incomplete run:** {len(result.missing)} codec-image-size units were not measured "
            "within the time limit (rows show how many images they average over): "
            + ", ".join(f"`{unit}`" for unit in result.missing),
            "",
        ]
    if result.errors:
        lines += ["Errors during the run:", ""]
        lines += [f"- {error}" for error in result.errors]
        lines.append("")
    if plot_name:
        lines += [f"![rate-distortion plot]({plot_name})", ""]
    for size in config.sizes:
        lines += [f"## Thumbnails of {size} px", "", *_size_table(result, size), ""]
    timing = _timing_table(result)
    if timing:
        lines += ["## Encode and decode time of our codec", "", *timing, ""]
    targets = check_targets(result)
    if targets:
        lines += ["## Targets of issue #3 for our codec", ""]
        lines += ["| target | measured | threshold | met |", "|---|---|---|---|"]
        for target in targets:
            lines.append(
                f"| {target.description} | {target.measured:.3f} | {target.threshold:.3f} "
                f"| {'yes' if target.passed else 'no'} |"
            )
        lines.append("")
    lines += ["## Prior-art baselines reproduced", "", *_prior_art_table(result), ""]
    return "\n".join([*lines, *appendix])


def plot_rate_distortion(result: BenchmarkResult, path: str | Path) -> Path:
    """Write a PSNR-versus-bytes plot, one panel per thumbnail size, as PNG (atomically).

    A codec's point at a budget is drawn only if it coded every image within that budget.

    Needs matplotlib (the ``bench`` extra).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import NullFormatter

    from fourfold_common.io import atomic_open

    sizes = result.config.sizes
    figure, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 4.8), squeeze=False)
    for axis, size in zip(axes[0], sizes, strict=True):
        for codec in result.config.codecs:
            rows = [r for r in result.rows if r.codec == codec and r.size == size]
            complete = len(result.config.images)  # a mean over fewer images would mislead
            budgeted = sorted(
                (r for r in rows if r.budget is not None and r.count == complete),
                key=lambda r: r.mean_bytes,
            )
            label = _LABELS.get(codec, codec)
            if budgeted:
                style = "o-" if codec != "ours" else "s-"
                width = 2.5 if codec == "ours" else 1.3
                axis.plot(
                    [r.mean_bytes for r in budgeted],
                    [r.mean_psnr for r in budgeted],
                    style,
                    label=label,
                    linewidth=width,
                )
            for r in rows:
                if r.budget is None:
                    axis.plot([r.mean_bytes], [r.mean_psnr], "D", label=label, markersize=7)
        preview = sorted((b, v[0]) for (s, b), v in TRIANGLE_PREVIEW.items() if s == size)
        if preview:
            axis.plot(
                [b for b, _ in preview],
                [p for _, p in preview],
                "x--",
                color="grey",
                label="libwebp2 triangle preview (prior-art note)",
            )
        axis.set_xscale("log")
        ticks = sorted({20, *result.config.budgets})
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("bytes (mean over images)")
        axis.set_ylabel("PSNR dB (RGB)")
        axis.set_title(f"{size} px thumbnails (points: budgets every image fits in)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=120)
    plt.close(figure)
    return path


def write_report(
    result: BenchmarkResult,
    markdown_path: str | Path,
    *,
    command: str,
    notes: Sequence[str] = (),
    plot: bool = True,
    appendix: Sequence[str] = (),
) -> tuple[Path, Path, Path | None]:
    """Write ``<name>.md``, ``<name>.json`` (a run record) and ``<name>.png`` side by side.

    ``notes`` and ``appendix`` are passed to :func:`format_markdown`.

    Returns:
        The paths of the markdown, JSON and PNG files (``None`` for the PNG if ``plot`` is
        false).
    """
    from fourfold_common.io import atomic_write_text, make_run_record, write_run_record

    markdown_path = Path(markdown_path)
    json_path = markdown_path.with_suffix(".json")
    png_path = markdown_path.with_suffix(".png") if plot else None
    if png_path is not None:
        plot_rate_distortion(result, png_path)
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = format_markdown(
        result,
        command=command,
        created=created,
        notes=notes,
        plot_name=png_path.name if png_path is not None else None,
        appendix=appendix,
    )
    atomic_write_text(markdown_path, text + "\n")
    figures = result.to_json()
    figures["targets"] = [t.__dict__ for t in check_targets(result)]
    record = make_run_record("delaunay-thumb bench", result.config, figures, command=command)
    write_run_record(json_path, record)
    return markdown_path, json_path, png_path

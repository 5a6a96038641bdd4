"""The report: one self-contained HTML file (inline PNG plots, tables, image grids) and JSON."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fourfold_common.io import atomic_write_text, make_run_record, write_run_record
from tti_probe._analysis import ISSUES, Analysis
from tti_probe._analysis_inputs import ProbeInputError

ImageLike = str | Path | np.ndarray | Image.Image
"""An image for the grids: a file path, a PIL image, or an array (H, W) or (H, W, C)."""

ReportImages = Mapping[str, tuple[Sequence[ImageLike], Sequence[ImageLike]]]
"""Per class name: (synthetic images, natural images) to show side by side."""

RECORD_NAME = "tti-probe analysis"
_PACKAGES = ("tti-probe", "fourfold-common", "numpy", "jax", "flax", "optax")


def analysis_to_dict(analysis: Analysis, sweep: Any = None) -> dict[str, Any]:
    """The analysis (and an optional sweep) as plain JSON-ready data (a record's ``figures``).

    Example:
        >>> from tti_probe import AnalysisConfig, analyze, simulate
        >>> world = simulate(num_classes=5, per_class=30, dim=16)
        >>> a = analyze(world.data, AnalysisConfig(probe_kinds=(), progress=False))
        >>> sorted(analysis_to_dict(a))[:3]
        ['class_names', 'classes', 'collisions']
    """
    names = analysis.class_names
    out: dict[str, Any] = {
        "class_names": list(names),
        "summary": dict(analysis.summary),
        "classes": [dataclasses.asdict(c) for c in analysis.classes],
        "pooled": None if analysis.pooled is None else dataclasses.asdict(analysis.pooled),
        "geometry": None if analysis.geometry is None else dataclasses.asdict(analysis.geometry),
        "collisions": [
            {"first": names[c.first], "second": names[c.second], "cosine": c.cosine}
            for c in analysis.collisions
        ],
        "transfer": [dataclasses.asdict(t) for t in analysis.transfer],
    }
    if sweep is not None:
        out["sweep"] = [dataclasses.asdict(p) for p in sweep.points]
    return out


def _num(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return float("nan")
    return float(value)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return html.escape(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(float(value)):
        return "–"
    return f"{float(value):.{digits}g}" if abs(float(value)) < 1e4 else f"{float(value):.0f}"


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img_tag(png64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png64}">'


def _plots(figures: Mapping[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = figures["classes"]
    names = [c["name"] for c in classes]
    out: list[tuple[str, str]] = []

    def per_class(key: str, sub: str | None = None) -> np.ndarray:
        values = []
        for c in classes:
            v = c.get(key)
            if sub is not None:
                v = None if v is None else v.get(sub)
            values.append(_num(v))
        return np.asarray(values)

    x = np.arange(len(names))
    width = max(6.0, 0.25 * len(names))
    fig, ax = plt.subplots(figsize=(width, 3.2))
    ax.bar(x - 0.2, per_class("diversity_natural", "vendi"), 0.4, label="natural")
    ax.bar(x + 0.2, per_class("diversity_synthetic", "vendi"), 0.4, label="synthetic")
    ax.set_ylabel("Vendi score")
    ax.set_xticks(x, names, rotation=90, fontsize=7)
    ax.legend()
    ax.set_title("Diversity per class")
    out.append(("Diversity per class (Vendi score)", _png(fig)))

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    pairs = [
        (("fidelity", "precision"), ("fidelity", "coverage"), "precision", "coverage"),
        (("zero_shot_natural", None), ("zero_shot_synthetic", None), "zero-shot natural",
         "zero-shot synthetic"),
        (("concept_offset", None), ("transfer_synthetic", None), "concept offset",
         "train-on-synthetic accuracy"),
    ]  # fmt: skip
    for ax, ((kx, sx), (ky, sy), lx, ly) in zip(axes, pairs, strict=True):
        xs, ys = per_class(kx, sx), per_class(ky, sy)
        flagged = np.array([bool(c["issues"]) for c in classes])
        ax.scatter(xs[~flagged], ys[~flagged], s=14, label="no issue")
        ax.scatter(xs[flagged], ys[flagged], s=22, c="crimson", label="issue flagged")
        for i in np.flatnonzero(flagged)[:30]:
            ax.annotate(names[i], (xs[i], ys[i]), fontsize=7)
        ax.set_xlabel(lx)
        ax.set_ylabel(ly)
    axes[0].legend(fontsize=7)
    fig.suptitle("Per-class measures (each dot a class)")
    out.append(("Per-class measures", _png(fig)))

    transfer = figures.get("transfer") or []
    if transfer:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for kind in sorted({t["kind"] for t in transfer}):
            rows = sorted(
                (t for t in transfer if t["kind"] == kind), key=lambda t: t["synthetic_fraction"]
            )
            ax.plot(
                [t["synthetic_fraction"] for t in rows],
                [_num(t["accuracy"]) for t in rows],
                marker="o",
                label=kind,
            )
        ax.set_xlabel("fraction of synthetic images in the training set")
        ax.set_ylabel("accuracy on natural test images")
        ax.legend()
        ax.set_title("Train on synthetic / test on natural")
        out.append(("Transfer accuracy", _png(fig)))

    sweep = figures.get("sweep") or []
    if sweep:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for strategy in sorted({str(p["strategy"]) for p in sweep}):
            rows = [p for p in sweep if str(p["strategy"]) == strategy]
            rows.sort(key=lambda p: _num(p["guidance_scale"]))
            vx = [_num(p["vendi_synthetic"]) for p in rows]
            vy = [_num(p["transfer_accuracy"]) for p in rows]
            ax.plot(vx, vy, marker="o", label=strategy)
            for p, xv, yv in zip(rows, vx, vy, strict=True):
                ax.annotate(f"g={_fmt(p['guidance_scale'], 2)}", (xv, yv), fontsize=7)
        ax.set_xlabel("mean synthetic Vendi score (diversity)")
        ax.set_ylabel("train-on-synthetic accuracy")
        ax.legend(fontsize=7)
        ax.set_title("Diversity vs accuracy across the sweep")
        out.append(("Sweep: diversity vs accuracy", _png(fig)))
    return out


def _load_image(item: ImageLike, size: int) -> Image.Image:
    if isinstance(item, Image.Image):
        image = item
    elif isinstance(item, np.ndarray):
        array = item
        if array.dtype != np.uint8:
            array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(array)
    else:
        try:
            with Image.open(item) as opened:
                image = opened.copy()
        except OSError as error:
            raise ProbeInputError(f"cannot read image {item}: {error}") from error
    return image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)


def image_grid(images: Sequence[ImageLike], columns: int = 8, size: int = 64) -> Image.Image:
    """Tile images into one grid image (row-major, ``size`` pixels per tile, 2 px gutters).

    Raises:
        ProbeInputError: No images or an unreadable file.

    Example:
        >>> grid = image_grid([np.zeros((8, 8)), np.ones((8, 8))], columns=2, size=16)
        >>> grid.size
        (34, 16)
    """
    if not images:
        raise ProbeInputError("image_grid: no images")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    grid = Image.new(
        "RGB", (columns * size + 2 * (columns - 1), rows * size + 2 * (rows - 1)), "white"
    )
    for i, item in enumerate(images):
        r, c = divmod(i, columns)
        grid.paste(_load_image(item, size), (c * (size + 2), r * (size + 2)))
    return grid


def _grid_png(images: Sequence[ImageLike], columns: int) -> str:
    buffer = io.BytesIO()
    image_grid(images, columns).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.issue{color:#b00020;font-weight:600}.grid{display:flex;gap:1.5em;flex-wrap:wrap}
img{max-width:100%}figure{margin:0.5em 0}
"""


def render_html(
    figures: Mapping[str, Any],
    *,
    title: str = "tti-probe report",
    images: ReportImages | None = None,
    notes: Sequence[str] = (),
    grid_columns: int = 6,
    sections: Sequence[tuple[str, str]] = (),
) -> str:
    """Render the report as one self-contained HTML page from :func:`analysis_to_dict` data.

    Args:
        figures: The analysis as plain data (or the ``figures`` of a saved record).
        title: Page title.
        images: Per-class synthetic and natural images for side-by-side grids.
        notes: Paragraphs shown under the title (e.g. the command that made the report).
        grid_columns: Tiles per row in the image grids.
        sections: Extra ``(heading, HTML body)`` sections placed after the notes (the body is
            trusted HTML made by the caller, e.g. the testbed study's tables).

    Returns:
        The HTML text (plots and grids are inline base64 PNGs: no other file is needed).

    Raises:
        ProbeInputError: ``figures`` lacks the analysis keys.
    """
    missing = [k for k in ("class_names", "summary", "classes") if k not in figures]
    if missing:
        raise ProbeInputError(f"report: the analysis data lacks {missing}")
    classes = figures["classes"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [f"<p>{html.escape(n)}</p>" for n in notes]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    flagged = [c for c in classes if c["issues"]]
    parts.append("<h2>Diagnosis</h2>")
    if flagged:
        parts.append(
            "<table><tr><th class=l>class</th><th class=l>issues</th><th class=l>evidence</th></tr>"
        )
        for c in flagged:
            evidence = []
            if "ambiguity" in c["issues"]:
                modes = ", ".join(
                    f"{_fmt(m['fraction'], 2)} near {html.escape(m['nearest_class'])}"
                    + (f" / {html.escape(m['nearest_sense'])}" if m.get("nearest_sense") else "")
                    for m in c["modes"]
                )
                evidence.append(
                    f"{c['modes_synthetic']} synthetic modes vs "
                    f"{c['modes_natural']} natural ({modes})"
                )
            if "adherence" in c["issues"]:
                evidence.append(
                    f"zero-shot {_fmt(c['zero_shot_synthetic'])} synthetic vs "
                    f"{_fmt(c['zero_shot_natural'])} natural, confused with "
                    f"{html.escape(str(c['zero_shot_confused_with']))}"
                )
            if "low diversity" in c["issues"]:
                evidence.append(
                    f"Vendi {_fmt((c['diversity_synthetic'] or {}).get('vendi'))} synthetic vs "
                    f"{_fmt((c['diversity_natural'] or {}).get('vendi'))} natural"
                )
            if "not represented" in c["issues"]:
                evidence.append(
                    f"centroid offset {_fmt(c['concept_offset'])} (x nearest inter-class "
                    f"distance), true-class rank {c['true_class_rank']}"
                )
            parts.append(
                f"<tr><td class=l>{html.escape(c['name'])}</td><td class='l issue'>"
                f"{html.escape(', '.join(c['issues']))}</td>"
                f"<td class=l>{'; '.join(evidence)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>No class was flagged.</p>")
    counts = ", ".join(f"{issue}: {sum(issue in c['issues'] for c in classes)}" for issue in ISSUES)
    parts.append(f"<p>Classes flagged per issue — {html.escape(counts)}.</p>")

    parts.append("<h2>Summary</h2><table><tr><th class=l>measure</th><th>value</th></tr>")
    for key, value in figures["summary"].items():
        parts.append(f"<tr><td class=l>{html.escape(key)}</td><td>{_fmt(value, 4)}</td></tr>")
    parts.append("</table>")
    pooled = figures.get("pooled")
    geometry = figures.get("geometry")
    if pooled:
        parts.append("<h3>Pooled synthetic vs natural (all classes)</h3><table><tr>")
        parts += [f"<th>{html.escape(k)}</th>" for k in pooled]
        parts.append(
            "</tr><tr>"
            + "".join(f"<td>{_fmt(v, 4)}</td>" for v in pooled.values())
            + "</tr></table>"
        )
    if geometry:
        parts.append("<h3>CLIP geometry</h3><table>")
        for key in (
            "modality_gap_natural",
            "modality_gap_synthetic",
            "cone_natural",
            "cone_synthetic",
            "cone_text",
        ):
            parts.append(f"<tr><td class=l>{key}</td><td>{_fmt(geometry[key], 4)}</td></tr>")
        parts.append("</table>")
    collisions = figures.get("collisions") or []
    if collisions:
        parts.append(
            "<h3>Colliding class prompts</h3>"
            "<table><tr><th class=l>classes</th><th>cosine</th></tr>"
        )
        for c in collisions[:50]:
            parts.append(
                f"<tr><td class=l>{html.escape(c['first'])} / {html.escape(c['second'])}</td>"
                f"<td>{_fmt(c['cosine'], 4)}</td></tr>"
            )
        parts.append("</table>")
    transfer = figures.get("transfer") or []
    if transfer:
        parts.append(
            "<h3>Train on synthetic, test on natural</h3><table><tr><th class=l>probe</th>"
            "<th>synthetic fraction</th><th>training images</th><th>accuracy</th></tr>"
        )
        for t in transfer:
            parts.append(
                f"<tr><td class=l>{html.escape(t['kind'])}</td>"
                f"<td>{_fmt(t['synthetic_fraction'])}</td>"
                f"<td>{t['n_train']}</td><td>{_fmt(t['accuracy'], 4)}</td></tr>"
            )
        parts.append("</table>")
    sweep = figures.get("sweep") or []
    if sweep:
        keys = list(sweep[0].keys())
        parts.append(
            "<h3>Sweep</h3><table><tr>"
            + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
            + "</tr>"
        )
        for p in sweep:
            parts.append("<tr>" + "".join(f"<td>{_fmt(p[k], 4)}</td>" for k in keys) + "</tr>")
        parts.append("</table>")

    parts.append("<h2>Plots</h2>")
    for caption, png in _plots(figures):
        parts.append(
            f"<figure>{_img_tag(png, caption)}"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    parts.append("<h2>Per class</h2><table><tr>")
    columns = [
        ("class", lambda c: html.escape(c["name"])),
        ("n syn", lambda c: c["n_synthetic"]),
        ("n nat", lambda c: c["n_natural"]),
        ("Vendi syn", lambda c: _fmt((c["diversity_synthetic"] or {}).get("vendi"))),
        ("Vendi nat", lambda c: _fmt((c["diversity_natural"] or {}).get("vendi"))),
        ("precision", lambda c: _fmt((c["fidelity"] or {}).get("precision"))),
        ("recall", lambda c: _fmt((c["fidelity"] or {}).get("recall"))),
        ("density", lambda c: _fmt((c["fidelity"] or {}).get("density"))),
        ("coverage", lambda c: _fmt((c["fidelity"] or {}).get("coverage"))),
        ("FD", lambda c: _fmt((c["fidelity"] or {}).get("frechet"))),
        ("CLIP score syn", lambda c: _fmt(c["clip_score_synthetic"])),
        ("zero-shot syn", lambda c: _fmt(c["zero_shot_synthetic"])),
        ("zero-shot nat", lambda c: _fmt(c["zero_shot_natural"])),
        ("modes syn/nat", lambda c: f"{c['modes_synthetic']}/{c['modes_natural']}"),
        (
            "drift",
            lambda c: (
                f"{_fmt(c['drift_fraction'], 2)} → {html.escape(str(c['drift_target'] or '–'))}"
            ),
        ),
        (
            "nearest prompt",
            lambda c: (
                f"{html.escape(str(c['nearest_prompt'] or '–'))} "
                f"({_fmt(c['nearest_prompt_cosine'])})"
            ),
        ),
        ("offset", lambda c: _fmt(c["concept_offset"])),
        ("rank", lambda c: c["true_class_rank"]),
        ("txt·nat", lambda c: _fmt(c["text_to_natural"])),
        ("txt·syn", lambda c: _fmt(c["text_to_synthetic"])),
        ("TSTR", lambda c: _fmt(c["transfer_synthetic"])),
        ("TNTR", lambda c: _fmt(c["transfer_natural"])),
        ("issues", lambda c: f"<span class=issue>{html.escape(', '.join(c['issues']))}</span>"),
    ]
    parts += [f"<th>{html.escape(name)}</th>" for name, _ in columns]
    parts.append("</tr>")
    for c in classes:
        parts.append("<tr>" + "".join(f"<td>{getter(c)}</td>" for _, getter in columns) + "</tr>")
    parts.append("</table>")

    if images:
        parts.append("<h2>Images: synthetic (left) vs natural (right)</h2>")
        for name, (synthetic, natural) in images.items():
            parts.append(f"<h3>{html.escape(name)}</h3><div class=grid>")
            for label, items in (("synthetic", synthetic), ("natural", natural)):
                if items:
                    tag = _img_tag(_grid_png(items, grid_columns), f"{name} {label}")
                    parts.append(f"<figure>{tag}<figcaption>{label}</figcaption></figure>")
            parts.append("</div>")
    parts.append(
        "<p><small>Definitions: see the tti-probe documentation (docs/tti-probe/analyses.md). "
        "Thresholds of the diagnosis are ours.</small></p></body></html>"
    )
    return "\n".join(parts)


@dataclasses.dataclass(frozen=True)
class ReportPaths:
    """Where a report was written.

    Attributes:
        html: The HTML page.
        json: The JSON run record (``figures`` holds :func:`analysis_to_dict`).
    """

    html: Path
    json: Path


def write_report(
    analysis: Analysis,
    out_dir: str | Path,
    *,
    images: ReportImages | None = None,
    sweep: Any = None,
    title: str = "tti-probe report",
    command: str | None = None,
    stem: str = "report",
    sections: Sequence[tuple[str, str]] = (),
    extra: Mapping[str, Any] | None = None,
) -> ReportPaths:
    """Write ``<stem>.json`` (a run record) and ``<stem>.html`` into ``out_dir``, atomically.

    Args:
        analysis: The result of :func:`tti_probe.analyze`.
        out_dir: Output directory (created).
        images: Optional per-class image grids.
        sweep: Optional :class:`tti_probe.Sweep` shown as a table and a trade-off plot.
        title: Page title.
        command: The command line recorded (defaults to ``sys.argv``).
        stem: File name stem.
        sections: Extra ``(heading, HTML body)`` sections of the page (see :func:`render_html`).
        extra: Extra figures stored in the JSON record under ``figures["extra"]``.

    Returns:
        The two paths.
    """
    out = Path(out_dir)
    figures = analysis_to_dict(analysis, sweep)
    if extra is not None:
        figures["extra"] = dict(extra)
    record = make_run_record(
        RECORD_NAME, analysis.config, figures, packages=_PACKAGES, command=command
    )
    json_path = write_run_record(out / f"{stem}.json", record)
    notes = [
        f"Command: {record['command']}",
        f"Created {record['created']} (git {record['git_revision']}).",
    ]
    page = render_html(
        json.loads(json_path.read_text(encoding="utf-8"))["figures"],
        title=title,
        images=images,
        notes=notes,
        sections=sections,
    )
    html_path = atomic_write_text(out / f"{stem}.html", page)
    return ReportPaths(html_path, json_path)


def report_from_record(
    record_path: str | Path,
    html_path: str | Path,
    *,
    images: ReportImages | None = None,
    title: str = "tti-probe report",
) -> Path:
    """Re-render the HTML page of a saved analysis record (no analysis is recomputed).

    Raises:
        ProbeInputError: The file is not a tti-probe analysis record.
    """
    try:
        record = json.loads(Path(record_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ProbeInputError(f"cannot read analysis record {record_path}: {error}") from error
    if not isinstance(record, dict) or record.get("name") != RECORD_NAME:
        raise ProbeInputError(f"{record_path} is not a tti-probe analysis record")
    notes = [f"Command: {record.get('command')}", f"Created {record.get('created')}."]
    page = render_html(record["figures"], title=title, images=images, notes=notes)
    return atomic_write_text(html_path, page)


def images_from_folders(
    synthetic_dir: str | Path | None,
    natural_dir: str | Path | None,
    class_names: Sequence[str],
    per_class: int = 12,
) -> dict[str, tuple[list[Path], list[Path]]]:
    """Pick up to ``per_class`` images per class from folders with one subfolder per class.

    Subfolders match class names exactly, case-insensitively, or with non-alphanumerics as
    ``_``; a class without a folder gets no images. Files are taken in sorted order.

    Raises:
        ProbeInputError: A given directory does not exist.
    """

    def pick(root: str | Path | None, name: str) -> list[Path]:
        if root is None:
            return []
        root = Path(root)
        if not root.is_dir():
            raise ProbeInputError(f"image folder {root} does not exist")
        wanted = {name, name.lower(), "".join(ch if ch.isalnum() else "_" for ch in name)}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name in wanted or folder.name.lower() in wanted:
                files = sorted(
                    f
                    for f in folder.iterdir()
                    if f.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
                )
                return files[:per_class]
        return []

    return {name: (pick(synthetic_dir, name), pick(natural_dir, name)) for name in class_names}

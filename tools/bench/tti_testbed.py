"""Benchmark of the offline text-to-image testbed shipped with tti-probe.

    python tools/bench/tti_testbed.py

1. Generates a synthetic Fashion-MNIST with the shipped testbed pipeline (through
   ``tti_probe.run_testbed_study``: the Stable Diffusion code path) for every class under two
   prompt strategies (bare class name; "a photo of a {c}, a type of {h}.") and four guidance
   scales, and runs every analysis against natural Fashion-MNIST test images.
2. Recognisability: a small CNN trained on natural Fashion-MNIST (train split; its test
   accuracy is reported) labels every generated image; the share labelled as the prompted class,
   per guidance scale and strategy, and per class at the best condition, with the CNN's
   confusion of the synthetic images.
3. Train on synthetic / test on natural, at equal set size: the same CNN architecture trained
   on the best condition's synthetic images vs on as many natural training images (pixels,
   tested on the whole test split), and the linear probe on CLIP embeddings from the study.
4. Diversity and accuracy vs guidance (the trade-off), the classes the synthetic images are
   confused with, and the modality gap of the small CLIP.

Writes docs/benchmarks/tti-testbed.md, .json and .png. Peers: train-on-natural at equal size
is the reference every figure is compared with (ratios in the tables).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _judge import _net, load_judge  # noqa: E402
from PIL import Image  # noqa: E402

from fourfold_common.data import load_fashion_mnist  # noqa: E402
from fourfold_common.io import (  # noqa: E402
    atomic_write_bytes,
    atomic_write_text,
    make_run_record,
    write_run_record,
)
from tti_probe import TestbedStudyConfig, load_manifest, run_testbed_study  # noqa: E402

COMMAND = "python tools/bench/tti_testbed.py"


def _pixels(paths: list[Path]) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.uint8) for p in paths])


def _train_cnn(x: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> Any:
    """The judge architecture trained on (x, y) (uint8 images) with a fixed seed."""
    from _judge import Judge, _inputs

    torch.manual_seed(seed)
    net = _net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    inputs, targets = _inputs(x), torch.from_numpy(y).long()
    for epoch in range(epochs):
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(len(x)))
        for start in range(0, len(x), 50):
            rows = order[start : start + 50]
            loss = torch.nn.functional.cross_entropy(net(inputs[rows]), targets[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return Judge(net, float("nan"), 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/bench-tti-testbed"))
    parser.add_argument("--images-per-class", type=int, default=30)
    parser.add_argument("--natural-per-class", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-cache", type=Path, default=Path("out/testbed/judge.pt"))
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks")
    parser.add_argument(
        "--render-only", action="store_true", help="redraw the .md and .png from the .json"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        from fourfold_common.io import read_run_record

        record = read_run_record(args.docs / "tti-testbed.json")
        saved = argparse.Namespace(**{**vars(args), **record["config"]})
        config = TestbedStudyConfig(
            images_per_class=saved.images_per_class,
            natural_per_class=saved.natural_per_class,
            num_inference_steps=saved.steps,
            seed=saved.seed,
        )
        _plot(record["figures"]["tradeoff"], config, args.docs / "tti-testbed.png")
        text = _markdown(record["figures"], config, saved, record)
        atomic_write_text(args.docs / "tti-testbed.md", text)
        return 0
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    began = time.perf_counter()
    judge = load_judge(args.judge_cache)
    print(f"judge (CNN on natural train split): test accuracy {judge.test_accuracy:.4f}")
    config = TestbedStudyConfig(
        images_per_class=args.images_per_class,
        natural_per_class=args.natural_per_class,
        num_inference_steps=args.steps,
        seed=args.seed,
    )
    study = run_testbed_study(args.out, config, command=COMMAND)
    manifest = load_manifest(args.out / "synthetic")
    x = _pixels(manifest.paths())
    labels = manifest.labels()
    strategies = manifest.column("strategy")
    guidance = manifest.column("guidance_scale")
    predicted = judge.predict(x)
    names = list(manifest.classes[i].name for i in range(len(manifest.classes)))
    vendi = {(p.strategy, p.guidance_scale): p for p in study.sweep.points}
    rows = []
    for s in config.strategies:
        for g in config.guidance_scales:
            mask = (strategies == s) & (guidance == g)
            point = vendi[(s, g)]
            rows.append(
                {
                    "strategy": s,
                    "guidance": float(g),
                    "recognised": float((predicted[mask] == labels[mask]).mean()),
                    "vendi": point.vendi_synthetic,
                    "coverage": point.coverage,
                    "precision": point.precision,
                    "zero_shot_clip": point.zero_shot_synthetic,
                    "tstr_linear_clip": point.transfer_accuracy,
                }
            )
    best = max(rows, key=lambda r: (r["recognised"], -r["guidance"]))
    mask = (strategies == best["strategy"]) & (guidance == best["guidance"])
    per_class = {
        names[k]: float((predicted[mask & (labels == k)] == k).mean()) for k in range(len(names))
    }
    confusion = np.zeros((len(names), len(names)))
    np.add.at(confusion, (labels[mask], predicted[mask]), 1.0)
    confusion /= confusion.sum(axis=1, keepdims=True)
    confused = sorted(
        (
            (names[i], names[j], float(confusion[i, j]))
            for i in range(len(names))
            for j in range(len(names))
            if i != j and confusion[i, j] >= 0.05
        ),
        key=lambda t: -t[2],
    )[:8]
    # Pixel-space train-on-synthetic vs train-on-natural at equal size, tested on the test split.
    train = load_fashion_mnist("train")
    test = load_fashion_mnist("test")
    n = args.images_per_class
    natural_rows = np.concatenate(
        [np.flatnonzero(np.asarray(train.labels) == k)[:n] for k in range(len(names))]
    )
    test_x, test_y = np.asarray(test.images), np.asarray(test.labels)
    syn_net = _train_cnn(x[mask], labels[mask], args.seed, epochs=30)
    nat_net = _train_cnn(
        np.asarray(train.images)[natural_rows],
        np.asarray(train.labels)[natural_rows],
        args.seed,
        30,
    )
    tstr_cnn = float((syn_net.predict(test_x) == test_y).mean())
    trtr_cnn = float((nat_net.predict(test_x) == test_y).mean())
    wall = time.perf_counter() - began
    figures = {
        "judge_test_accuracy": judge.test_accuracy,
        "tradeoff": rows,
        "best_condition": {"strategy": best["strategy"], "guidance": best["guidance"]},
        "recognised_best": best["recognised"],
        "recognised_per_class_best": per_class,
        "judge_confused_best": [{"prompted": a, "judged": b, "share": c} for a, b, c in confused],
        "clip_confused_main": [
            {"prompted": c.prompted, "assigned": c.assigned, "share": c.fraction}
            for c in study.confused
        ],
        "tstr_cnn": tstr_cnn,
        "trtr_cnn": trtr_cnn,
        "tstr_linear_clip_main": study.tstr_accuracy,
        "trtr_linear_clip_main": study.natural_accuracy,
        "modality_gap_natural": study.modality_gap,
        "modality_gap_synthetic": float(study.analysis.geometry.modality_gap_synthetic)
        if study.analysis.geometry is not None
        else float("nan"),
        "flagged": {c.name: list(c.issues) for c in study.analysis.classes if c.issues},
        "study_seconds": study.seconds,
        "wall_s": wall,
        "load_average": os.getloadavg(),
    }
    record = make_run_record("tti-testbed bench", vars(args), figures, command=COMMAND)
    args.docs.mkdir(parents=True, exist_ok=True)
    write_run_record(args.docs / "tti-testbed.json", record)
    _plot(rows, config, args.docs / "tti-testbed.png")
    atomic_write_text(args.docs / "tti-testbed.md", _markdown(figures, config, args, record))
    print(_markdown(figures, config, args, record))
    return 0


def _plot(rows: list[dict[str, Any]], config: TestbedStudyConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for s in config.strategies:
        mine = [r for r in rows if r["strategy"] == s]
        g = [r["guidance"] for r in mine]
        axes[0].plot(g, [r["recognised"] for r in mine], marker="o", label=f"{s}: recognised")
        axes[0].plot(
            g,
            [r["tstr_linear_clip"] for r in mine],
            marker="x",
            ls="--",
            label=f"{s}: train-syn/test-nat",
        )
        axes[1].plot(g, [r["vendi"] for r in mine], marker="o", label=f"{s}: Vendi")
        axes[1].plot(
            g, [r["coverage"] * 10 for r in mine], marker="x", ls="--", label=f"{s}: coverage x10"
        )
    axes[0].set_xlabel("guidance scale")
    axes[0].set_ylabel("accuracy")
    axes[1].set_xlabel("guidance scale")
    axes[1].set_ylabel("diversity")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(list(config.guidance_scales))
        ax.set_xticklabels([f"{g:g}" for g in config.guidance_scales])
        ax.minorticks_off()
        ax.legend(fontsize=7)
    fig.suptitle("tti-probe testbed: accuracy and diversity vs guidance")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _markdown(f: dict[str, Any], config: TestbedStudyConfig, args: Any, record: Any) -> str:
    lines = [
        "# tti-probe: offline text-to-image testbed",
        "",
        "Command (from the repository root):",
        "",
        "```",
        COMMAND,
        "```",
        "",
        f"Run {record['created']} (git {record['git_revision']}), {f['wall_s']:.0f} s wall "
        f"(load average {f['load_average'][0]:.1f} on 2 shared cores). Models: the testbed "
        "shipped in `tti_probe/data/testbed/` (see docs/tti-probe/testbed.md). "
        f"{args.images_per_class} synthetic images per class and condition, "
        f"{config.num_inference_steps} DDIM steps; {args.natural_per_class} natural test images "
        "per class for the embedding analyses.",
        "",
        "## Recognisability and the diversity/accuracy trade-off",
        "",
        f"Judge: a small CNN trained on natural Fashion-MNIST (train split), test accuracy "
        f"{f['judge_test_accuracy']:.4f}. *recognised*: share of generated images it labels "
        "as the prompted class (ratio to the judge's accuracy on natural test images in "
        "brackets). Vendi / coverage / precision: per-class means on the small CLIP's "
        "embeddings against natural test images; zero-shot: the small CLIP on the synthetic "
        "images; train-syn/test-nat: linear probe on CLIP embeddings of the synthetic images, "
        "tested on natural ones.",
        "",
        "| strategy | guidance | recognised | Vendi | coverage | precision | zero-shot | "
        "train-syn/test-nat |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in f["tradeoff"]:
        lines.append(
            f"| {r['strategy']} | {r['guidance']:g} | {r['recognised']:.3f} "
            f"({r['recognised'] / f['judge_test_accuracy']:.2f}) | {r['vendi']:.3f} | "
            f"{r['coverage']:.3f} | {r['precision']:.3f} | {r['zero_shot_clip']:.3f} | "
            f"{r['tstr_linear_clip']:.3f} |"
        )
    b = f["best_condition"]
    lines += [
        "",
        "![accuracy and diversity vs guidance](tti-testbed.png)",
        "",
        f"Best condition: **{b['strategy']}, guidance {b['guidance']:g}: "
        f"{f['recognised_best']:.1%} recognised**.",
        "",
        "Per class at the best condition: "
        + ", ".join(f"{k} {v:.2f}" for k, v in f["recognised_per_class_best"].items())
        + ".",
        "",
        "## Train on synthetic, test on natural (equal set size)",
        "",
        "| classifier | trained on synthetic | trained on natural | ratio |",
        "|---|---:|---:|---:|",
        f"| CNN on pixels ({args.images_per_class}/class, best condition; whole test split) | "
        f"{f['tstr_cnn']:.4f} | {f['trtr_cnn']:.4f} | {f['tstr_cnn'] / f['trtr_cnn']:.2f} |",
        f"| linear probe on CLIP embeddings ({config.main_strategy}, guidance "
        f"{config.main_guidance:g}; held-out natural) | {f['tstr_linear_clip_main']:.4f} | "
        f"{f['trtr_linear_clip_main']:.4f} | "
        f"{f['tstr_linear_clip_main'] / f['trtr_linear_clip_main']:.2f} |",
        "",
        "## Confused classes",
        "",
        "Judge labels of the best condition's synthetic images (prompted -> judged, share): "
        + (
            ", ".join(
                f"{c['prompted']} -> {c['judged']} {c['share']:.2f}"
                for c in f["judge_confused_best"]
            )
            or "none"
        )
        + ".",
        "",
        f"Small CLIP zero-shot labels ({config.main_strategy}, guidance "
        f"{config.main_guidance:g}): "
        + (
            ", ".join(
                f"{c['prompted']} -> {c['assigned']} {c['share']:.2f}"
                for c in f["clip_confused_main"]
            )
            or "none"
        )
        + ".",
        "",
        "Classes the analysis flags: "
        + ("; ".join(f"{k}: {', '.join(v)}" for k, v in f["flagged"].items()) or "none")
        + ".",
        "",
        "## Modality gap of the small CLIP",
        "",
        f"Distance between the centroid of image embeddings and that of the class prompts: "
        f"{f['modality_gap_natural']:.4f} (natural test images), "
        f"{f['modality_gap_synthetic']:.4f} (synthetic images).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

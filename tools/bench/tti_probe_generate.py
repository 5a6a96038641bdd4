"""Benchmark of tti-probe generation: resume after random kills, and batching throughput.

Offline, on the tiny random Stable-Diffusion-style pipeline (the generation code path is the
one used with real weights; the figures say nothing about real-model speed).

1. Reference: one uninterrupted run of the plan.
2. Resume: the same plan in a subprocess SIGKILLed at --kills random moments and restarted
   each time, then run to completion. Reported: images requested / on disk / in the manifest,
   images rewritten after they were first written (inode or mtime changed), writes per image
   in the audit logs, manifest hash check, and pixel agreement with the reference run.
3. Throughput: images per second at batch sizes 1, 4, 8 in one process, as ratios to batch 1.

    python tools/bench/tti_probe_generate.py

Results go to docs/benchmarks/tti-probe-generate.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fourfold_common.io import atomic_write_text, make_run_record, write_run_record
from tti_probe import (
    GenerationConfig,
    build_tiny_pipeline,
    fashion_mnist_classes,
    generate,
    load_manifest,
    plan_images,
)

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python tools/bench/tti_probe_generate.py"

_RUNNER = """
import json, sys
import torch
torch.set_num_threads(1)
from tti_probe import GenerationConfig, fashion_mnist_classes, generate
options = json.loads(sys.argv[3])
config = GenerationConfig(sys.argv[1], **{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in options.items()})
generate(fashion_mnist_classes(), config, sys.argv[2], progress=False)
"""


def _options(model: Path, batch_size: int) -> dict[str, Any]:
    return {
        "strategies": ["photo", "hypernym"],
        "guidance_scales": [1.0, 4.0],
        "images_per_prompt": 3,
        "num_inference_steps": 4,
        "batch_size": batch_size,
        "device": "cpu",
        "local_files_only": True,
    }


def _config(model: Path, batch_size: int = 4) -> GenerationConfig:
    options = _options(model, batch_size)
    return GenerationConfig(
        str(model), **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    )


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
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
                continue
            counts[entry["file"]] = counts.get(entry["file"], 0) + 1
    return counts


def resume_trial(model: Path, work: Path, kills: int, seed: int) -> dict[str, Any]:
    script = work / "runner.py"
    script.write_text(textwrap.dedent(_RUNNER))
    out = work / "resumed"
    command = [sys.executable, str(script), str(model), str(out), json.dumps(_options(model, 4))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(seed)
    total = _config(model).num_images(10)
    first_seen: dict[str, tuple[int, int]] = {}
    rewritten: set[str] = set()
    kill_counts = []
    for _ in range(kills):
        done = len(first_seen)
        target = done + int(rng.integers(1, max(2, (total - done) // (kills + 1))))
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while process.poll() is None and len(_snapshot(out) if out.exists() else {}) < target:
            time.sleep(0.01)
        time.sleep(float(rng.uniform(0, 0.2)))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        snapshot = _snapshot(out)
        kill_counts.append(len(snapshot))
        for name, identity in snapshot.items():
            if name in first_seen and first_seen[name] != identity:
                rewritten.add(name)
            first_seen.setdefault(name, identity)
        print(f"  killed with {len(snapshot)}/{total} images on disk", flush=True)
    subprocess.run(command, env=env, check=True, capture_output=True)
    final = _snapshot(out)
    rewritten |= {n for n, ident in final.items() if n in first_seen and first_seen[n] != ident}
    manifest = load_manifest(out, verify=True)
    planned = [job.file for job in plan_images(fashion_mnist_classes(), _config(model))]
    counts = _log_counts(out)
    return {
        "requested": total,
        "on_disk": len(final),
        "in_manifest": len(manifest),
        "manifest_matches_plan": [r.file for r in manifest.records] == planned,
        "manifest_hashes_verified": True,
        "kills": kills,
        "images_on_disk_at_each_kill": kill_counts,
        "rewritten_after_first_write": len(rewritten),
        "max_writes_per_image": max(counts.values()),
        "leftover_temporary_files": len(list((out / "images").rglob("*.tmp"))),
        "out": out,
    }


def _pixels(root: Path, file: str) -> np.ndarray:
    return np.asarray(Image.open(root / file), dtype=np.int16)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="work directory (temporary)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    work = args.work or Path(tempfile.mkdtemp(prefix="tti-bench-"))
    model = build_tiny_pipeline(work / "tiny-sd", seed=0)
    classes = fashion_mnist_classes()

    print("reference run", flush=True)
    reference = work / "reference"
    started = time.perf_counter()
    ref_manifest = generate(classes, _config(model), reference, progress=False)
    reference_seconds = time.perf_counter() - started

    print(f"resume trial with {args.kills} random kills", flush=True)
    trial = resume_trial(model, work, args.kills, args.seed)
    resumed_out = trial.pop("out")
    diffs = [
        int(np.abs(_pixels(reference, r.file) - _pixels(resumed_out, r.file)).max())
        for r in ref_manifest.records
    ]
    trial["max_abs_pixel_difference_vs_uninterrupted"] = max(diffs)
    trial["images_identical_to_uninterrupted"] = sum(d == 0 for d in diffs)

    print("throughput by batch size", flush=True)
    throughput: dict[str, float] = {}
    for batch_size in (1, 4, 8):
        out = work / f"throughput-b{batch_size}"
        started = time.perf_counter()
        manifest = generate(classes, _config(model, batch_size), out, progress=False)
        throughput[str(batch_size)] = len(manifest) / (time.perf_counter() - started)
    ratios = {k: v / throughput["1"] for k, v in throughput.items()}

    figures = {
        "resume": trial,
        "reference_run_seconds": round(reference_seconds, 2),
        "images_per_second_by_batch_size": {k: round(v, 2) for k, v in throughput.items()},
        "throughput_ratio_to_batch_1": {k: round(v, 2) for k, v in ratios.items()},
    }
    config = {**_options(model, 4), "classes": "fashion-mnist (10)", "model": "tiny random SD"}
    record = make_run_record("tti-probe generation benchmark", config, figures, command=COMMAND)
    out_json = ROOT / "docs/benchmarks/tti-probe-generate.json"
    write_run_record(out_json, record)
    rows = "\n".join(f"| {k} | {throughput[k]:.2f} | {ratios[k]:.2f} |" for k in ("1", "4", "8"))
    text = f"""# tti-probe: generation resume and batching

Made by `{COMMAND}` on {record["created"]} ({record["platform"]}, git {record["git_revision"]}).
Offline, on the tiny random Stable-Diffusion-style pipeline of `tti_probe.build_tiny_pipeline`
(32x32 images, {_options(model, 4)["num_inference_steps"]} DDIM steps, CPU, one thread per
process): these figures test the generation machinery, not real-model speed.

Plan: 10 Fashion-MNIST classes x 2 strategies (photo, hypernym) x 2 guidance scales (1, 4)
x 3 seeds = {trial["requested"]} images.

## Resume after random kills

The plan ran in a subprocess that was SIGKILLed {trial["kills"]} times at random moments
(images on disk at each kill: {trial["images_on_disk_at_each_kill"]}) and restarted each time,
then once more to completion.

| figure | value |
| --- | --- |
| images requested | {trial["requested"]} |
| images on disk at the end | {trial["on_disk"]} |
| images in manifest.json (hashes verified) | {trial["in_manifest"]} |
| manifest lists exactly the plan, in order | {trial["manifest_matches_plan"]} |
| images rewritten after their first write | {trial["rewritten_after_first_write"]} |
| most writes of one image (audit logs) | {trial["max_writes_per_image"]} |
| temporary files left | {trial["leftover_temporary_files"]} |
| images pixel-identical to an uninterrupted run | \
{trial["images_identical_to_uninterrupted"]} / {trial["requested"]} |
| largest pixel difference to the uninterrupted run (0-255) | \
{trial["max_abs_pixel_difference_vs_uninterrupted"]} |

Pixel differences, if any, come from batch composition (a resumed run batches different images
together; per-image seeds make the starting noise identical).

## Throughput by batch size (one process)

| batch size | images / s | ratio to batch 1 |
| --- | --- | --- |
{rows}

Uninterrupted reference run (batch 4): {reference_seconds:.1f} s for {len(ref_manifest)} images.
"""
    atomic_write_text(ROOT / "docs/benchmarks/tti-probe-generate.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

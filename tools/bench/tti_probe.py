"""Benchmark of the tti-probe analyses: all of them on 50,000 embeddings of dimension 768.

Data: the simulated world of ``tti_probe.simulate`` with 100 classes, 250 synthetic and 250
natural embeddings per class (50,000 embeddings in all), dimension 768, with the four planted
issues and 100 class-prompt embeddings. Everything is exact (no sampling).

1. ``analyze`` with the default settings (per-class diversity, fidelity/coverage, FD, KID,
   CMMD, adherence, modes, drift, collisions, concept offsets, geometry; pooled 25,000 vs
   25,000 k-NN manifolds, FD, KID and CMMD; linear and MLP probes on three mixes), cold (with
   JIT compilation) and warm; wall and process CPU time.
2. Peers, side by side on the same data, as ratios: ``prdc`` (Naeem et al.'s code) and
   ``vendi-score`` on every class's 250 vs 250 sets, torchmetrics' FID on the pooled sets;
   the maximum relative difference of the values is reported too.

    python tools/bench/tti_probe.py

Results go to docs/benchmarks/tti-probe.md and .json. The load average of the machine is
recorded: on a shared machine the wall times rise with it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small host eigensolves: threads only contend
# This file is named like the package: keep its folder off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from fourfold_common.io import atomic_write_text, make_run_record, write_run_record  # noqa: E402
from tti_probe import (  # noqa: E402
    AnalysisConfig,
    analyze,
    diversity,
    fidelity,
    frechet_distance,
    simulate,
)

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python tools/bench/tti_probe.py"


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _peers(data: Any, skip_torch: bool) -> dict[str, Any]:
    import prdc
    from vendi_score import vendi

    syn, nat = data.synthetic, data.natural
    syn = syn / np.linalg.norm(syn, axis=1, keepdims=True)
    nat = nat / np.linalg.norm(nat, axis=1, keepdims=True)
    classes = range(data.num_classes)
    groups = [(nat[data.natural_labels == c], syn[data.synthetic_labels == c]) for c in classes]
    out: dict[str, Any] = {}

    ours, t_ours, _ = _timed(lambda: [fidelity(n, s, 5) for n, s in groups])
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        ref, t_ref, _ = _timed(lambda: [prdc.compute_prdc(n, s, 5) for n, s in groups])
    diff = max(
        abs(getattr(o, k) - float(r[k])) / max(abs(float(r[k])), 1e-12)
        for o, r in zip(ours, ref, strict=True)
        for k in ("precision", "recall", "density", "coverage")
    )
    out["prdc_per_class"] = {
        "ours_s": t_ours, "peer_s": t_ref, "peer_over_ours": t_ref / t_ours, "max_rel_diff": diff,
        "note": "ours also computes FD, KID and CMMD in the same call",
    }  # fmt: skip

    ours_v, t_ours, _ = _timed(lambda: [diversity(s).vendi for _, s in groups])
    ref_v, t_ref, _ = _timed(lambda: [float(vendi.score_X(s)) for _, s in groups])
    diff = max(abs(a - b) / b for a, b in zip(ours_v, ref_v, strict=True))
    out["vendi_per_class"] = {
        "ours_s": t_ours, "peer_s": t_ref, "peer_over_ours": t_ref / t_ours, "max_rel_diff": diff,
        "note": "ours also computes mean cosine distance and effective rank",
    }  # fmt: skip

    if not skip_torch:
        import torch
        from torchmetrics.image.fid import FrechetInceptionDistance

        class Identity(torch.nn.Module):
            num_features = nat.shape[1]

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x

        def torch_fid() -> float:
            metric = FrechetInceptionDistance(feature=Identity(), normalize=True)
            metric.update(torch.from_numpy(nat.astype(np.float64)), real=True)
            metric.update(torch.from_numpy(syn.astype(np.float64)), real=False)
            return float(metric.compute())

        ours_f, t_ours, _ = _timed(lambda: frechet_distance(nat, syn))
        ref_f, t_ref, _ = _timed(torch_fid)
        out["fid_pooled"] = {
            "ours_s": t_ours, "peer_s": t_ref, "peer_over_ours": t_ref / t_ours,
            "max_rel_diff": abs(ours_f - ref_f) / abs(ref_f),
        }  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=250)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-torch", action="store_true", help="skip the torchmetrics peer")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args(argv)

    world = simulate(args.classes, args.per_class, args.dim, seed=0)
    data = world.data
    total = data.synthetic.shape[0] + data.natural.shape[0]
    print(f"data: {args.classes} classes, {total} embeddings of dimension {args.dim}")
    config = AnalysisConfig(progress=False)
    load_before = os.getloadavg()
    result, cold_wall, cold_cpu = _timed(lambda: analyze(data, config))
    print(f"analyze, cold (incl. JIT compile): {cold_wall:.1f} s wall, {cold_cpu:.1f} s CPU")
    _, warm_wall, warm_cpu = _timed(lambda: analyze(data, config))
    print(f"analyze, warm:                     {warm_wall:.1f} s wall, {warm_cpu:.1f} s CPU")
    load_after = os.getloadavg()
    detected = {
        issue: name in [c.name for c in result.classes if issue in c.issues]
        for issue, name in world.planted
    }
    print(f"planted issues detected: {detected}")
    figures: dict[str, Any] = {
        "embeddings": total,
        "dim": args.dim,
        "classes": args.classes,
        "analyze_cold_wall_s": cold_wall,
        "analyze_cold_cpu_s": cold_cpu,
        "analyze_warm_wall_s": warm_wall,
        "analyze_warm_cpu_s": warm_cpu,
        "load_average_1min_before_after": [load_before[0], load_after[0]],
        "cpu_count": os.cpu_count(),
        "planted_detected": detected,
        "pooled": result.pooled,
        "summary": result.summary,
    }
    if not args.no_peers:
        peers = _peers(data, args.no_torch)
        figures["peers"] = peers
        for name, row in peers.items():
            print(
                f"peer {name}: ours {row['ours_s']:.2f} s, peer {row['peer_s']:.2f} s "
                f"(peer/ours {row['peer_over_ours']:.2f}x), max rel diff {row['max_rel_diff']:.1e}"
            )
    out = Path(args.out)
    record = make_run_record(
        "tti-probe analyses benchmark",
        {**vars(args), "analysis": config},
        figures,
        packages=["tti-probe", "numpy", "jax", "prdc", "vendi-score", "torchmetrics", "torch"],
        command=COMMAND + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
    )
    write_run_record(out / "tti-probe.json", record)
    lines = [
        "# tti-probe: analyses benchmark",
        "",
        f"Command: `{record['command']}` (git {record['git_revision']}, {record['created']}).",
        "",
        f"Data: `tti_probe.simulate` with {args.classes} classes, {args.per_class} synthetic and "
        f"{args.per_class} natural embeddings per class = **{total:,} embeddings of dimension "
        f"{args.dim}**, 100 class prompts; every analysis exact (no sampling), default "
        "`AnalysisConfig` (pooled 25,000 vs 25,000 k-NN manifolds, FD, KID, CMMD; linear and "
        "MLP probes at synthetic fractions 1, 0.5, 0).",
        "",
        "| run | wall (s) | process CPU (s) |",
        "|---|---|---|",
        f"| `analyze`, cold (incl. JIT compilation) | {cold_wall:.1f} | {cold_cpu:.1f} |",
        f"| `analyze`, warm | {warm_wall:.1f} | {warm_cpu:.1f} |",
        "",
        f"Machine: {os.cpu_count()} CPUs; 1-minute load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after (other jobs shared the machine: wall times grow with load).",
        "",
        f"Planted issues found in their classes: {detected}.",
    ]
    if "peers" in figures:
        lines += [
            "",
            "## Peers, same data, same run",
            "",
            "| measure | ours (s) | peer (s) | peer / ours | max relative difference |",
            "|---|---|---|---|---|",
        ]
        names = {
            "prdc_per_class": "PRDC, 100 classes x (250 vs 250): `prdc.compute_prdc`",
            "vendi_per_class": "Vendi, 100 classes x 250: `vendi_score.vendi.score_X`",
            "fid_pooled": "FD, pooled 25,000 vs 25,000: torchmetrics FID (identity features)",
        }
        for key, row in figures["peers"].items():
            lines.append(
                f"| {names[key]} | {row['ours_s']:.2f} | {row['peer_s']:.2f} | "
                f"{row['peer_over_ours']:.2f} | {row['max_rel_diff']:.1e} |"
            )
    atomic_write_text(out / "tti-probe.md", "\n".join(lines) + "\n")
    print(f"wrote {out / 'tti-probe.md'} and {out / 'tti-probe.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

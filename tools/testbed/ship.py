"""Copy the trained testbed into the tti-probe package and write its manifest.

    python tools/testbed/ship.py --out out/testbed

Copies ``<out>/clip`` and ``<out>/pipeline`` to
``packages/tti-probe/src/tti_probe/data/testbed/`` (replacing what is there) and writes
``manifest.json``: format, training data sha256, both trainers' configs, seeds, steps, final
losses and wall times (from their ``record.json``), the git commit, and the sha256 of every
shipped file (checked by ``tti_probe.verify_testbed``). The loss curves are copied to
``docs/tti-probe/`` for the testbed page.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from fourfold_common.io import atomic_write_text, read_run_record
from tti_probe._testbed import MANIFEST, TESTBED_FORMAT, file_hashes

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "packages/tti-probe/src/tti_probe/data/testbed"


def _summary(record: dict) -> dict:
    figures = dict(record["figures"])
    return {
        "command": record["command"],
        "git_revision": record["git_revision"],
        "created": record["created"],
        "config": record["config"],
        "seed": record["config"]["seed"],
        "steps": figures.pop("steps"),
        "final_loss_smoothed": figures.pop("final_loss_smoothed"),
        "wall_s": round(figures.pop("wall_s"), 1),
        "train_data_sha256": figures.pop("train_data_sha256"),
        "figures": figures,
        "versions": record["versions"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/testbed"))
    parser.add_argument("--target", type=Path, default=TARGET)
    parser.add_argument("--docs", type=Path, default=ROOT / "docs/tti-probe")
    parser.add_argument("--no-docs", action="store_true", help="do not copy the loss curves")
    args = parser.parse_args(argv)
    clip = _summary(read_run_record(args.out / "clip-train" / "record.json"))
    diffusion = _summary(read_run_record(args.out / "diffusion-train" / "record.json"))
    args.target.mkdir(parents=True, exist_ok=True)
    for part in ("clip", "pipeline"):
        shutil.rmtree(args.target / part, ignore_errors=True)
        shutil.copytree(args.out / part, args.target / part)
    manifest = {
        "format": TESTBED_FORMAT,
        "dataset": "Fashion-MNIST, train split (Debian package dataset-fashion-mnist)",
        "train_data_sha256": clip["train_data_sha256"],
        "image_size": 28,
        "clip": clip,
        "diffusion": diffusion,
        "retrain": [
            "python tools/testbed/train_clip.py --out out/testbed",
            "python tools/testbed/train_diffusion.py --out out/testbed",
            "python tools/testbed/ship.py --out out/testbed",
        ],
        "files": file_hashes(args.target),
    }
    atomic_write_text(args.target / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if not args.no_docs:
        for name, part in (("clip", "clip-train"), ("diffusion", "diffusion-train")):
            png = args.out / part / "loss.png"
            if png.is_file():
                shutil.copyfile(png, args.docs / f"testbed-{name}-loss.png")
    print(f"shipped {len(manifest['files'])} files to {args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

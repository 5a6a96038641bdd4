"""Recognisability of a diffusion checkpoint (early check while training runs).

    python tools/testbed/check_samples.py --out out/testbed --per-class 20 --guidance 1 2 4

Builds a pipeline from the checkpoint's EMA UNet, samples ``--per-class`` images per class
with "a photo of a {c}." and reports the share the natural-data judge labels as the prompted
class, per guidance scale; writes a grid PNG next to the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from _judge import load_judge
from PIL import Image
from train_diffusion import build_pipeline, make_unet

from fourfold_common.data import FASHION_MNIST_CLASSES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/testbed"))
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    judge = load_judge(args.out / "judge.pt")
    print(f"judge test accuracy {judge.test_accuracy:.4f}")
    state = torch.load(
        args.out / "diffusion-train" / "checkpoint.pt", map_location="cpu", weights_only=False
    )
    ema = state["ema"]
    shape = argparse.Namespace(
        channels=[ema[f"down_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in range(3)]
    )
    text_width = ema["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"].shape[1]
    unet = make_unet(shape, text_width)
    unet.load_state_dict(ema)
    pipe = build_pipeline(unet, args.out / "clip")
    pipe.set_progress_bar_config(disable=True)
    print(f"checkpoint step {state['step']}")
    rows = []
    for g in args.guidance:
        prompts = [
            f"a photo of a {c}." for c in FASHION_MNIST_CLASSES for _ in range(args.per_class)
        ]
        labels = np.repeat(np.arange(10), args.per_class)
        gens = [torch.Generator().manual_seed(i) for i in range(len(prompts))]
        images = []
        for s in range(0, len(prompts), 50):
            out = pipe(
                prompts[s : s + 50],
                guidance_scale=g,
                num_inference_steps=args.steps,
                generator=gens[s : s + 50],
                output_type="np",
            ).images
            images.append(out[..., 0])
        x = np.concatenate(images)
        pred = judge.predict(x)
        per = [(pred[labels == k] == k).mean() for k in range(10)]
        print(
            f"g={g}: recognised {np.mean(pred == labels):.3f}  per class "
            + " ".join(f"{p:.2f}" for p in per),
            flush=True,
        )
        rows.append(
            x.reshape(10, args.per_class, 28, 28)[:, :10].transpose(0, 2, 1, 3).reshape(280, -1)
        )
    grid = np.concatenate(rows, axis=1)
    Image.fromarray((grid * 255).astype(np.uint8)).save(args.out / "diffusion-train" / "check.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

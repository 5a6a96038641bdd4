"""Train the testbed's text-conditioned pixel-space diffusion model on Fashion-MNIST (train split).

    python tools/testbed/train_diffusion.py --out out/testbed       # after train_clip.py

A diffusers ``UNet2DConditionModel`` (28x28 greyscale, pixel space, no VAE) learns to predict
DDPM noise (1000 linear-beta steps, epsilon) while attending through cross-attention to the
hidden states of the testbed CLIP's text encoder (``<out>/clip``, frozen). Captions come from the
same templates as the CLIP's; 10 % of them are dropped to the empty prompt, which teaches the
unconditional prediction that classifier-free guidance needs. The weights kept are an EMA.

Deterministic (seeded; noise and timesteps of step k depend only on (seed, k); deterministic
torch kernels; fixed thread count), resumable (atomic checkpoint every ``--checkpoint-every``
steps; rerun the same command to continue), tqdm progress. Writes ``<out>/pipeline/`` (a
``tti_probe.TestbedPipeline`` saved with ``save_pretrained``: tokenizer, text encoder, UNet,
DDIM scheduler), ``<out>/diffusion-train/loss.json`` + ``loss.png`` and ``record.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diffusers
import numpy as np
import torch
import transformers
from _common import (
    batch_indices,
    fashion_mnist_hash,
    load_checkpoint,
    save_checkpoint,
    set_determinism,
    smooth,
    step_generator,
    step_rng,
    write_loss_curve,
)
from tqdm import tqdm

from fourfold_common.data import load_fashion_mnist
from fourfold_common.io import git_revision, make_run_record, write_run_record
from tti_probe._testbed_pipeline import TestbedPipeline
from tti_probe._testbed_text import training_captions

TRAIN_TIMESTEPS = 1000


def make_unet(args: argparse.Namespace, text_width: int) -> diffusers.UNet2DConditionModel:
    return diffusers.UNet2DConditionModel(
        sample_size=28,
        in_channels=1,
        out_channels=1,
        block_out_channels=tuple(args.channels),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=text_width,
        attention_head_dim=4,
        norm_num_groups=8,
    )


def train_scheduler() -> diffusers.DDPMScheduler:
    return diffusers.DDPMScheduler(
        num_train_timesteps=TRAIN_TIMESTEPS,
        beta_schedule="linear",
        prediction_type="epsilon",
        clip_sample=True,
    )


def sample_scheduler() -> diffusers.DDIMScheduler:
    return diffusers.DDIMScheduler.from_config(train_scheduler().config)


def load_text(clip_dir: Path) -> tuple[transformers.CLIPTokenizer, transformers.CLIPTextModel]:
    tokenizer = transformers.CLIPTokenizer.from_pretrained(str(clip_dir), local_files_only=True)
    encoder = transformers.CLIPTextModel.from_pretrained(str(clip_dir), local_files_only=True)
    return tokenizer, encoder.eval()


def build_pipeline(unet: diffusers.UNet2DConditionModel, clip_dir: Path) -> TestbedPipeline:
    tokenizer, encoder = load_text(clip_dir)
    return TestbedPipeline(
        unet=unet.eval(), scheduler=sample_scheduler(), text_encoder=encoder, tokenizer=tokenizer
    )


def lr_at(step: int, args: argparse.Namespace) -> float:
    """Linear warm-up, then constant (the EMA does the averaging), so ``--steps`` can grow."""
    return args.lr * min(1.0, (step + 1) / args.warmup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/testbed"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1600)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=7e-4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--ema", type=float, default=0.995)
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    parser.add_argument("--hypernym-prob", type=float, default=0.1)
    parser.add_argument("--channels", type=int, nargs=3, default=[24, 48, 64])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    args = parser.parse_args(argv)
    set_determinism(args.threads)
    clip_dir = args.out / "clip"
    if not (clip_dir / "config.json").is_file():
        parser.error(f"no CLIP at {clip_dir}: run tools/testbed/train_clip.py --out {args.out}")
    work = args.out / "diffusion-train"
    work.mkdir(parents=True, exist_ok=True)
    data = load_fashion_mnist("train")
    images = torch.from_numpy(np.asarray(data.images).astype(np.float32) / 127.5 - 1.0)[:, None]
    labels = np.asarray(data.labels)
    captions = training_captions()
    tokenizer, encoder = load_text(clip_dir)
    texts = [c.text for c in captions] + [""]
    with torch.no_grad():
        ids = tokenizer(
            texts,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        states = encoder(input_ids=ids).last_hidden_state
    empty = len(captions)
    by_class = [[j for j, c in enumerate(captions) if c.classes == (k,)] for k in range(10)]
    hyper = [
        [j for j, c in enumerate(captions) if len(c.classes) > 1 and k in c.classes]
        for k in range(10)
    ]

    torch.manual_seed(args.seed)
    unet = make_unet(args, encoder.config.hidden_size)
    ema = copy.deepcopy(unet).requires_grad_(False)
    scheduler = train_scheduler()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.0)
    history: dict[str, list[float]] = {"step": [], "loss": [], "loss_smoothed": []}
    start, wall = 0, 0.0
    checkpoint = load_checkpoint(work / "checkpoint.pt")
    if checkpoint is not None:
        unet.load_state_dict(checkpoint["unet"])
        ema.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start, history, wall = checkpoint["step"], checkpoint["history"], checkpoint["wall_s"]
        print(f"resuming at step {start}")
    unet.train()
    began = time.perf_counter() - wall
    alphas = scheduler.alphas_cumprod
    bar = tqdm(range(start, args.steps), initial=start, total=args.steps, desc="diffusion")
    for step in bar:
        idx = batch_indices(args.seed, step, args.batch, len(images))
        rng = step_rng(args.seed, step, 1)
        chosen = []
        for k in labels[idx]:
            u = rng.random()
            if u < args.caption_dropout:
                chosen.append(empty)
            elif hyper[k] and u < args.caption_dropout + args.hypernym_prob:
                chosen.append(int(rng.choice(hyper[k])))
            else:
                chosen.append(int(rng.choice(by_class[k])))
        gen = step_generator(args.seed, step, 2)
        x0 = images[idx]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, TRAIN_TIMESTEPS, (len(idx),), generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args)
        pred = unet(xt, t, encoder_hidden_states=states[torch.tensor(chosen)]).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), unet.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        history["step"].append(step + 1)
        history["loss"].append(float(loss))
        history["loss_smoothed"] = smooth(history["loss"], 50)
        bar.set_postfix(loss=f"{history['loss_smoothed'][-1]:.4f}")
        done = step + 1
        if done % args.checkpoint_every == 0 or done == args.steps:
            wall = time.perf_counter() - began
            save_checkpoint(
                work / "checkpoint.pt",
                {
                    "unet": unet.state_dict(),
                    "ema": ema.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": done,
                    "history": history,
                    "wall_s": wall,
                },
            )
            write_loss_curve(work, history, "testbed diffusion: noise-prediction MSE")
    wall = time.perf_counter() - began
    pipe = build_pipeline(ema, clip_dir)
    pipe.save_pretrained(str(args.out / "pipeline"), safe_serialization=True)
    write_loss_curve(work, history, "testbed diffusion: noise-prediction MSE")
    record = make_run_record(
        "tools/testbed/train_diffusion.py",
        config=vars(args) | {"out": str(args.out)},
        figures={
            "final_loss_smoothed": history["loss_smoothed"][-1],
            "wall_s": wall,
            "steps": args.steps,
            "parameters": sum(p.numel() for p in unet.parameters()),
            "train_data_sha256": fashion_mnist_hash("train"),
            "git_commit": git_revision(),
        },
    )
    write_run_record(work / "record.json", record)
    print(json.dumps(record["figures"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

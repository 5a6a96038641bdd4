"""Train the testbed's small CLIP contrastively on the Fashion-MNIST training split.

    python tools/testbed/train_clip.py --out out/testbed            # ~10 min on 2 cores

Deterministic (seeded, deterministic torch kernels, fixed thread count), resumable (a
checkpoint every ``--checkpoint-every`` steps, written atomically; rerun the same command to
continue), with a tqdm progress bar. Writes ``<out>/clip/`` (``CLIPModel`` + ``CLIPProcessor``,
safetensors), ``<out>/clip-train/loss.json`` + ``loss.png`` and ``record.json``.

Captions come from templates over the class names and their hypernyms
(:func:`tti_probe._testbed_text.training_captions`); a hypernym caption ("a photo of a
footwear.") is a positive for every class under it, so the contrastive targets are
multi-positive: image i and caption j match when i's class is among the caption's classes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    step_rng,
    write_loss_curve,
)
from tqdm import tqdm

from fourfold_common.data import load_fashion_mnist
from fourfold_common.io import git_revision, make_run_record, write_run_record
from tti_probe._testbed_text import TESTBED_MAX_TOKENS, training_captions, write_testbed_tokenizer

IMAGE_SIZE = 28


def clip_config(vocab_size: int, args: argparse.Namespace) -> transformers.CLIPConfig:
    text = transformers.CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=args.text_width,
        intermediate_size=4 * args.text_width,
        num_hidden_layers=args.text_layers,
        num_attention_heads=4,
        max_position_embeddings=TESTBED_MAX_TOKENS,
        projection_dim=args.projection_dim,
        hidden_act="gelu",
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    vision = transformers.CLIPVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=args.patch_size,
        num_channels=3,
        hidden_size=args.vision_width,
        intermediate_size=4 * args.vision_width,
        num_hidden_layers=args.vision_layers,
        num_attention_heads=4,
        projection_dim=args.projection_dim,
        hidden_act="gelu",
    )
    return transformers.CLIPConfig(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=args.projection_dim,
    )


def make_tokenizer() -> transformers.CLIPTokenizer:
    with tempfile.TemporaryDirectory() as directory:
        write_testbed_tokenizer(directory)
        return transformers.CLIPTokenizer.from_pretrained(
            directory, local_files_only=True, model_max_length=TESTBED_MAX_TOKENS
        )


def make_processor(tokenizer: transformers.CLIPTokenizer) -> transformers.CLIPProcessor:
    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 (n, 28, 28) -> the processor's float (n, 3, 28, 28) in [-1, 1]."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    x = (x - 0.5) / 0.5
    return x[:, None].expand(-1, 3, -1, -1).contiguous()


def features(
    model: transformers.CLIPModel,
    x: torch.Tensor | None,
    ids: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    if x is not None:
        out = model.visual_projection(model.vision_model(pixel_values=x).pooler_output)
    else:
        out = model.text_projection(
            model.text_model(input_ids=ids, attention_mask=mask).pooler_output
        )
    return torch.nn.functional.normalize(out, dim=-1)


def lr_at(step: int, args: argparse.Namespace) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def zero_shot(
    model: transformers.CLIPModel,
    tokenizer: transformers.CLIPTokenizer,
    images: np.ndarray,
    labels: np.ndarray,
    names: tuple[str, ...],
) -> float:
    prompts = [f"a photo of a {name}." for name in names]
    tokens = tokenizer(prompts, padding=True, return_tensors="pt")
    text = features(model, None, tokens.input_ids, tokens.attention_mask)
    correct = 0
    for start in range(0, len(images), 1000):
        img = features(model, pixels(images[start : start + 1000]), None, None)
        correct += int(((img @ text.T).argmax(1).numpy() == labels[start : start + 1000]).sum())
    return correct / len(images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/testbed"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--hypernym-prob", type=float, default=0.2)
    parser.add_argument("--text-width", type=int, default=64)
    parser.add_argument("--text-layers", type=int, default=2)
    parser.add_argument("--vision-width", type=int, default=64)
    parser.add_argument("--vision-layers", type=int, default=3)
    parser.add_argument("--patch-size", type=int, default=7)
    parser.add_argument("--projection-dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    args = parser.parse_args(argv)
    set_determinism(args.threads)
    work = args.out / "clip-train"
    work.mkdir(parents=True, exist_ok=True)
    data = load_fashion_mnist("train")
    images, labels = np.asarray(data.images), np.asarray(data.labels)
    names = tuple(data.class_names)
    captions = training_captions()
    tokenizer = make_tokenizer()
    tokens = tokenizer([c.text for c in captions], padding=True, return_tensors="pt")
    by_class = [[j for j, c in enumerate(captions) if c.classes == (k,)] for k in range(10)]
    hyper = [
        [j for j, c in enumerate(captions) if len(c.classes) > 1 and k in c.classes]
        for k in range(10)
    ]
    member = torch.zeros(len(captions), 10)
    for j, c in enumerate(captions):
        member[j, list(c.classes)] = 1.0

    torch.manual_seed(args.seed)
    model = transformers.CLIPModel(clip_config(len(tokenizer), args))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    history: dict[str, list[float]] = {"step": [], "loss": [], "loss_smoothed": []}
    start, wall = 0, 0.0
    checkpoint = load_checkpoint(work / "checkpoint.pt")
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start, history, wall = checkpoint["step"], checkpoint["history"], checkpoint["wall_s"]
        print(f"resuming at step {start}")
    model.train()
    began = time.perf_counter() - wall
    bar = tqdm(range(start, args.steps), initial=start, total=args.steps, desc="clip")
    for step in bar:
        idx = batch_indices(args.seed, step, args.batch, len(images))
        y = labels[idx]
        rng = step_rng(args.seed, step, 1)
        chosen = np.array(
            [
                rng.choice(hyper[k])
                if hyper[k] and rng.random() < args.hypernym_prob
                else rng.choice(by_class[k])
                for k in y
            ]
        )
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args)
        img = features(model, pixels(images[idx]), None, None)
        unique, inverse = np.unique(chosen, return_inverse=True)
        txt = features(model, None, tokens.input_ids[unique], tokens.attention_mask[unique])
        txt = txt[torch.from_numpy(inverse)]
        scale = model.logit_scale.clamp(max=math.log(100.0)).exp()
        logits = scale * img @ txt.T
        positive = member[torch.from_numpy(chosen)][:, torch.from_numpy(y)].T  # [image, caption]
        loss_i = -(positive / positive.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
        loss_t = -(positive / positive.sum(0, keepdim=True) * logits.log_softmax(0)).sum(0).mean()
        loss = 0.5 * (loss_i + loss_t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history["step"].append(step + 1)
        history["loss"].append(float(loss))
        history["loss_smoothed"] = smooth(history["loss"])
        bar.set_postfix(loss=f"{history['loss_smoothed'][-1]:.3f}")
        done = step + 1
        if done % args.checkpoint_every == 0 or done == args.steps:
            wall = time.perf_counter() - began
            save_checkpoint(
                work / "checkpoint.pt",
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": done,
                    "history": history,
                    "wall_s": wall,
                },
            )
            write_loss_curve(work, history, "testbed CLIP: contrastive loss")
    wall = time.perf_counter() - began
    model.eval()
    test = load_fashion_mnist("test")
    accuracy = zero_shot(model, tokenizer, np.asarray(test.images), np.asarray(test.labels), names)
    print(f"zero-shot test accuracy ('a photo of a {{c}}.'): {accuracy:.4f}")
    target = args.out / "clip"
    model.save_pretrained(str(target), safe_serialization=True)
    make_processor(tokenizer).save_pretrained(str(target))
    write_loss_curve(work, history, "testbed CLIP: contrastive loss")
    record = make_run_record(
        "tools/testbed/train_clip.py",
        config=vars(args) | {"out": str(args.out)},
        figures={
            "final_loss_smoothed": history["loss_smoothed"][-1],
            "zero_shot_test_accuracy": accuracy,
            "wall_s": wall,
            "steps": args.steps,
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_data_sha256": fashion_mnist_hash("train"),
            "git_commit": git_revision(),
        },
    )
    write_run_record(work / "record.json", record)
    print(json.dumps(record["figures"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Tiny randomly initialised Stable-Diffusion-style pipelines and CLIP models, built offline.

No weights can be downloaded in offline environments, yet generation and embedding should be
exercised through exactly the code path a real Stable Diffusion / CLIP user takes. These
builders make miniature models from configs (random weights, a few hundred thousand
parameters), save them with ``save_pretrained`` to a directory, and return that directory;
load them back with :func:`tti_probe.generate` / :class:`tti_probe.ClipEmbedder` and
``local_files_only=True``. The images they make are noise-like: they test plumbing, not
quality.

The tokenizer is a real ``CLIPTokenizer`` (byte-level BPE) over a small hand-written
vocabulary: lower-case letters, digits and punctuation as single tokens, plus a few merges of
common prompt words.
"""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fourfold_common.io import atomic_write_text
from tti_probe._models import require

_CHARS = string.ascii_lowercase + string.digits + ".,-/'!?:;()&+"
_WORDS = ("a", "of", "the", "photo", "type", "in", "on")
_MAX_TOKENS = 77


def _word_merges(word: str) -> list[tuple[str, str]]:
    """Left-to-right merges that build ``word + '</w>'`` from single characters."""
    pieces = [*word[:-1], word[-1] + "</w>"]
    merges = []
    while len(pieces) > 1:
        merges.append((pieces[0], pieces[1]))
        pieces = [pieces[0] + pieces[1], *pieces[2:]]
    return merges


def write_tiny_tokenizer_files(directory: str | Path, words: Sequence[str] = _WORDS) -> Path:
    """Write a hand-made CLIP BPE vocabulary (``vocab.json``, ``merges.txt``) to ``directory``.

    Load it with ``transformers.CLIPTokenizer.from_pretrained(directory)``. Every character of
    :data:`_CHARS` is a token, so any lower-case text can be encoded; each of ``words`` (lower
    case letters) also gets the merges that build it, so common words take few tokens.

    Args:
        directory: Where to write the two files.
        words: Words that get merges, in priority order.

    Raises:
        ValueError: A word holds a character outside the vocabulary.

    Example:
        >>> import tempfile
        >>> path = write_tiny_tokenizer_files(tempfile.mkdtemp())
        >>> sorted(p.name for p in path.iterdir())
        ['merges.txt', 'vocab.json']
    """
    directory = Path(directory)
    for word in words:
        if not word or any(char not in _CHARS for char in word):
            raise ValueError(f"word {word!r} must be non-empty, of characters in {_CHARS!r}")
    vocab: dict[str, int] = {}
    for char in _CHARS:
        vocab.setdefault(char, len(vocab))
    for char in _CHARS:
        vocab.setdefault(char + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    for word in words:
        for left, right in _word_merges(word):
            if (left, right) not in merges:
                merges.append((left, right))
                vocab.setdefault(left + right, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    atomic_write_text(directory / "vocab.json", json.dumps(vocab, indent=0) + "\n")
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    atomic_write_text(directory / "merges.txt", "\n".join(lines) + "\n")
    return directory


def _tiny_tokenizer() -> object:
    transformers = require("transformers")
    with tempfile.TemporaryDirectory() as directory:
        write_tiny_tokenizer_files(directory)
        return transformers.CLIPTokenizer.from_pretrained(
            directory, local_files_only=True, model_max_length=_MAX_TOKENS
        )


def _text_config(vocab_size: int, projection_dim: int) -> object:
    transformers = require("transformers")
    return transformers.CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=_MAX_TOKENS,
        projection_dim=projection_dim,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )


def build_tiny_pipeline(directory: str | Path, *, seed: int = 0, image_size: int = 32) -> Path:
    """Build and save a tiny random Stable-Diffusion-style pipeline; return its directory.

    Parts: ``UNet2DConditionModel`` (two blocks, one with cross-attention), ``AutoencoderKL``
    (two blocks, so latents are ``image_size / 2`` wide), ``CLIPTextModel`` (2 layers, width
    32), a DDIM scheduler, and a ``CLIPTokenizer`` over a hand-written vocabulary, assembled into
    a ``StableDiffusionPipeline`` without safety checker and saved with ``save_pretrained``.

    Args:
        directory: Where to save (created; existing files of a previous build are replaced).
        seed: Seed of the random weights (the same seed gives the same weights).
        image_size: Default image height and width (a multiple of 8).

    Raises:
        ValueError: ``image_size`` is not a positive multiple of 8.

    Example:
        >>> import tempfile
        >>> path = build_tiny_pipeline(tempfile.mkdtemp())
        >>> (path / "model_index.json").is_file()
        True
    """
    if image_size < 8 or image_size % 8:
        raise ValueError(f"image_size must be a positive multiple of 8, got {image_size}")
    torch = require("torch")
    diffusers = require("diffusers")
    transformers = require("transformers")
    directory = Path(directory)
    tokenizer = _tiny_tokenizer()
    vocab_size = len(tokenizer)  # type: ignore[arg-type]
    torch.manual_seed(seed)
    unet = diffusers.UNet2DConditionModel(
        sample_size=image_size // 2,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = diffusers.AutoencoderKL(
        sample_size=image_size,
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 2)
    text_encoder = transformers.CLIPTextModel(_text_config(vocab_size, 32))
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(directory), safe_serialization=True)
    return directory


def build_tiny_clip(
    directory: str | Path, *, seed: int = 0, image_size: int = 32, projection_dim: int = 16
) -> Path:
    """Build and save a tiny random ``CLIPModel`` with its ``CLIPProcessor``; return the directory.

    Vision tower: ViT with 8-pixel patches, 2 layers, width 32; text tower: 2 layers, width 32;
    joint embedding of ``projection_dim`` dimensions. The processor resizes and centre-crops to
    ``image_size`` and uses the hand-written tokenizer vocabulary.

    Args:
        directory: Where to save (created).
        seed: Seed of the random weights.
        image_size: Input resolution of the vision tower (a multiple of 8).
        projection_dim: Dimension of the image/text embeddings.

    Raises:
        ValueError: ``image_size`` is not a positive multiple of 8 or ``projection_dim`` < 1.

    Example:
        >>> import tempfile
        >>> path = build_tiny_clip(tempfile.mkdtemp())
        >>> (path / "config.json").is_file()
        True
    """
    if image_size < 8 or image_size % 8:
        raise ValueError(f"image_size must be a positive multiple of 8, got {image_size}")
    if projection_dim < 1:
        raise ValueError(f"projection_dim must be >= 1, got {projection_dim}")
    torch = require("torch")
    transformers = require("transformers")
    directory = Path(directory)
    tokenizer = _tiny_tokenizer()
    text_config = _text_config(len(tokenizer), projection_dim)  # type: ignore[arg-type]
    vision_config = transformers.CLIPVisionConfig(
        image_size=image_size,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        projection_dim=projection_dim,
    )
    config = transformers.CLIPConfig(
        text_config=text_config.to_dict(),  # type: ignore[attr-defined]
        vision_config=vision_config.to_dict(),
        projection_dim=projection_dim,
    )
    torch.manual_seed(seed)
    model = transformers.CLIPModel(config).eval()
    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )
    processor = transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(str(directory), safe_serialization=True)
    processor.save_pretrained(str(directory))
    return directory

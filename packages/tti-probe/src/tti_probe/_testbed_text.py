"""Captions and tokenizer of the offline Fashion-MNIST text-to-image testbed.

The testbed's CLIP and diffusion model are trained on Fashion-MNIST images paired with
captions made from templates over the class names and their hypernyms ("top", "footwear",
...). A caption names a *concept*: one class ("a photo of a Sneaker.") or every class under a
hypernym ("a photo of a footwear."). :func:`training_captions` lists them all with the classes
each one is true of; the trainers in ``tools/testbed/`` draw from that list.

The tokenizer is a real ``CLIPTokenizer`` (byte-level BPE) over a vocabulary written offline:
single characters (so any text encodes) plus whole-word merges for the caption words and the
words of tti-probe's built-in prompt strategies (:func:`caption_words`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tti_probe._classes import ClassSpec, fashion_mnist_classes
from tti_probe._prompts import (
    DEFAULT_DOMAINS,
    DEFAULT_SCENES,
    clip_imagenet_templates,
)
from tti_probe._tiny import write_tiny_tokenizer_files

TESTBED_MAX_TOKENS = 32
"""Longest token sequence of the testbed text encoder (start and end tokens included)."""

CLASS_TEMPLATES: tuple[str, ...] = (
    "{c}",
    "a {c}",
    "a photo of a {c}.",
    "a photo of a {c}, a type of {h}.",
    "a picture of a {c}.",
    "a black and white photo of a {c}.",
    "a small photo of the {c}.",
    "a {h}: a {c}.",
)
"""Caption templates of one class (``{c}`` class name, ``{h}`` its hypernym)."""

HYPERNYM_TEMPLATES: tuple[str, ...] = ("{h}", "a photo of a {h}.", "a picture of a {h}.")
"""Caption templates of a hypernym: true of every class under it."""


@dataclass(frozen=True)
class Caption:
    """A training caption and the classes it is true of.

    Attributes:
        text: The caption.
        classes: Label indices of the classes the caption describes (one for a class caption,
            several for a hypernym caption).

    Example:
        >>> Caption("a photo of a top.", (0, 2, 6)).classes
        (0, 2, 6)
    """

    text: str
    classes: tuple[int, ...]


def training_captions(classes: Sequence[ClassSpec] | None = None) -> tuple[Caption, ...]:
    """Every training caption of the testbed: class captions, then hypernym captions.

    Args:
        classes: The class list (default: :func:`tti_probe.fashion_mnist_classes`).

    Example:
        >>> captions = training_captions()
        >>> captions[2].text, captions[2].classes
        ('a photo of a T-shirt/top.', (0,))
        >>> [c.classes for c in captions if c.text == "a photo of a footwear."]
        [(5, 7, 9)]
    """
    specs = tuple(classes) if classes is not None else fashion_mnist_classes()
    out = [
        Caption(template.format(c=spec.name, h=spec.hypernym or "thing"), (index,))
        for index, spec in enumerate(specs)
        for template in CLASS_TEMPLATES
    ]
    hypernyms: dict[str, list[int]] = {}
    for index, spec in enumerate(specs):
        if spec.hypernym is not None:
            hypernyms.setdefault(spec.hypernym, []).append(index)
    for hypernym, members in hypernyms.items():
        out.extend(Caption(t.format(h=hypernym), tuple(members)) for t in HYPERNYM_TEMPLATES)
    return tuple(out)


def caption_words(classes: Sequence[ClassSpec] | None = None) -> tuple[str, ...]:
    """Words that get whole-word tokens: caption words first, then prompt-strategy words.

    Example:
        >>> words = caption_words()
        >>> "sneaker" in words and "photo" in words and "itap" not in words
        True
    """
    specs = tuple(classes) if classes is not None else fashion_mnist_classes()
    texts = [caption.text for caption in training_captions(specs)]
    texts += [spec.definition or "" for spec in specs]
    texts += [*clip_imagenet_templates(), *DEFAULT_SCENES, *DEFAULT_DOMAINS]
    words: dict[str, None] = {}
    for text in texts:
        for word in re.findall(r"[a-z]+", text.lower()):
            words.setdefault(word, None)
    return tuple(words)


def write_testbed_tokenizer(directory: str | Path) -> Path:
    """Write the testbed tokenizer's ``vocab.json`` and ``merges.txt`` to ``directory``.

    Example:
        >>> import tempfile
        >>> path = write_testbed_tokenizer(tempfile.mkdtemp())
        >>> sorted(p.name for p in path.iterdir())
        ['merges.txt', 'vocab.json']
    """
    return write_tiny_tokenizer_files(directory, caption_words())

"""Prompt strategies: how a class name becomes text-to-image prompts.

A :class:`PromptStrategy` is a list of templates with the fields ``{c}`` (class name), ``{h}``
(hypernym), ``{d}`` (definition) and ``{s}`` (a scene or domain phrase). Expanding it for a
class gives that class's prompt *variants*; generation cycles through the variants image by
image, so a strategy with many templates (the 80 CLIP ImageNet templates, scene words) spreads
a class's images over many prompts, one of the levers that raise diversity.

Built-in strategies (:data:`BUILTIN_STRATEGIES`):

* ``name``: the bare class name.
* ``photo``: "a photo of a {c}."
* ``clip80``: the 80 CLIP ImageNet templates.
* ``hypernym``: "a photo of a {c}, a type of {h}." (classes without one get "a photo of a {c}.")
* ``definition``: "a photo of a {c}, {d}." (classes without one get "a photo of a {c}.")
* ``scene``: "a photo of a {c} {s}." over :data:`DEFAULT_SCENES`.
* ``domain``: "{s} of a {c}." over :data:`DEFAULT_DOMAINS`.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tti_probe._classes import ClassSpec, Sense

FIELDS = frozenset({"c", "h", "d", "s"})
"""Template fields: class name, hypernym, definition, scene/domain phrase."""

DEFAULT_SCENES: tuple[str, ...] = (
    "in a park",
    "on a kitchen table",
    "in a city street",
    "in a living room",
    "at the beach",
    "in the snow",
    "in a forest",
    "in a shop window",
)
"""Scene phrases of the ``scene`` strategy."""

DEFAULT_DOMAINS: tuple[str, ...] = (
    "a photo",
    "a close-up photo",
    "a black and white photo",
    "a painting",
    "a pencil sketch",
    "a 3D rendering",
    "a cartoon",
    "a studio product shot",
)
"""Domain phrases of the ``domain`` strategy."""


class PromptError(ValueError):
    """A prompt template or strategy is invalid; the message says which and why."""


def _template_fields(template: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise PromptError(f"template {template!r} is malformed: {error}") from error
    fields = {name for _, name, _, _ in parsed if name is not None}
    unknown = fields - FIELDS
    if unknown or "" in fields:
        raise PromptError(
            f"template {template!r} uses unknown fields {sorted(unknown)}; "
            f"allowed are {{c}} {{h}} {{d}} {{s}}"
        )
    if "c" not in fields:
        raise PromptError(f"template {template!r} must contain the class name field {{c}}")
    return fields


def _clean_definition(definition: str) -> str:
    return definition.strip().rstrip(".;")


@dataclass(frozen=True)
class PromptStrategy:
    """A named list of prompt templates.

    Attributes:
        name: Identifier recorded with every image (e.g. ``"clip80"``).
        templates: Templates with the fields ``{c}``, ``{h}``, ``{d}``, ``{s}``; each needs
            ``{c}``.
        phrases: Values of ``{s}``; templates using ``{s}`` expand once per phrase.
        fallback: Template used for a class that lacks the hypernym or definition a template
            asks for (``None``: such a class raises :class:`PromptError` instead).

    Example:
        >>> strategy = PromptStrategy("mine", ("a {c} {s}",), phrases=("at night", "in rain"))
        >>> strategy.prompts(ClassSpec("fox"))
        ('a fox at night', 'a fox in rain')
    """

    name: str
    templates: tuple[str, ...]
    phrases: tuple[str, ...] = ()
    fallback: str | None = "a photo of a {c}."

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise PromptError("a prompt strategy needs a non-empty name")
        if isinstance(self.templates, str) or not self.templates:
            raise PromptError(f"strategy {self.name!r}: templates must be a non-empty tuple")
        uses_phrases = False
        for template in self.templates:
            uses_phrases |= "s" in _template_fields(template)
        if uses_phrases and not self.phrases:
            raise PromptError(f"strategy {self.name!r}: templates use {{s}} but no phrases given")
        if self.fallback is not None and _template_fields(self.fallback) != {"c"}:
            raise PromptError(f"strategy {self.name!r}: the fallback may only use {{c}}")

    def prompts(self, spec: ClassSpec) -> tuple[str, ...]:
        """All prompt variants of this strategy for one class, in a fixed order.

        Raises:
            PromptError: A template needs a hypernym or definition the class lacks and the
                strategy has no fallback.

        Example:
            >>> get_strategy("hypernym").prompts(ClassSpec("tench", hypernym="cyprinid"))
            ('a photo of a tench, a type of cyprinid.',)
        """
        variants: list[str] = []
        for template in self.templates:
            fields = _template_fields(template)
            missing = ("h" in fields and not spec.hypernym) or (
                "d" in fields and not spec.definition
            )
            if missing:
                if self.fallback is None:
                    raise PromptError(
                        f"strategy {self.name!r} needs a hypernym/definition that class "
                        f"{spec.name!r} lacks"
                    )
                variants.append(self.fallback.format(c=spec.name))
                continue
            values = {
                "c": spec.name,
                "h": spec.hypernym or "",
                "d": _clean_definition(spec.definition or ""),
            }
            if "s" in fields:
                variants.extend(template.format(s=phrase, **values) for phrase in self.phrases)
            else:
                variants.append(template.format(**values))
        return tuple(dict.fromkeys(variants))

    def prompt(self, spec: ClassSpec, index: int) -> str:
        """The prompt of image number ``index`` of a class: variants are cycled.

        Example:
            >>> get_strategy("clip80").prompt(ClassSpec("cat"), 0)
            'a bad photo of a cat.'
        """
        variants = self.prompts(spec)
        return variants[index % len(variants)]


@cache
def clip_imagenet_templates() -> tuple[str, ...]:
    """The 80 prompt templates of CLIP's ImageNet zero-shot evaluation, with ``{c}`` fields.

    Example:
        >>> templates = clip_imagenet_templates()
        >>> len(templates), templates[39]
        (80, 'a photo of a {c}.')
    """
    text = (
        resources.files("tti_probe").joinpath("data/clip_imagenet_templates.txt").read_text("utf-8")
    )
    templates = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if len(templates) != 80:
        raise PromptError(f"the shipped CLIP template file is damaged ({len(templates)} lines)")
    return templates


def _builtin() -> dict[str, PromptStrategy]:
    return {
        "name": PromptStrategy("name", ("{c}",)),
        "photo": PromptStrategy("photo", ("a photo of a {c}.",)),
        "clip80": PromptStrategy("clip80", clip_imagenet_templates()),
        "hypernym": PromptStrategy("hypernym", ("a photo of a {c}, a type of {h}.",)),
        "definition": PromptStrategy("definition", ("a photo of a {c}, {d}.",)),
        "scene": PromptStrategy("scene", ("a photo of a {c} {s}.",), DEFAULT_SCENES),
        "domain": PromptStrategy("domain", ("{s} of a {c}.",), DEFAULT_DOMAINS),
    }


BUILTIN_STRATEGIES: tuple[str, ...] = tuple(_builtin())
"""Names accepted by :func:`get_strategy`."""


def get_strategy(strategy: str | PromptStrategy) -> PromptStrategy:
    """Resolve a strategy: a built-in name, ``"template:<text>"``, or a strategy itself.

    ``"template:a cartoon {c}"`` makes a one-template strategy named after its text.

    Raises:
        PromptError: Unknown name or invalid template.

    Example:
        >>> get_strategy("photo").templates
        ('a photo of a {c}.',)
        >>> get_strategy("template:a cartoon {c}").prompts(ClassSpec("owl"))
        ('a cartoon owl',)
    """
    if isinstance(strategy, PromptStrategy):
        return strategy
    if not isinstance(strategy, str):
        raise PromptError(f"expected a strategy name or PromptStrategy, got {strategy!r}")
    if strategy.startswith("template:"):
        template = strategy.removeprefix("template:")
        return PromptStrategy(strategy, (template,))
    builtin = _builtin()
    if strategy not in builtin:
        raise PromptError(
            f"unknown prompt strategy {strategy!r}; choose one of {', '.join(builtin)} "
            "or 'template:<text with {c}>'"
        )
    return builtin[strategy]


@dataclass(frozen=True)
class Prompt:
    """One prompt for one image slot.

    Attributes:
        class_index: Position of the class in the class list.
        class_name: The class name.
        strategy: Name of the strategy that made the prompt.
        index: Image number within (class, strategy); selects the variant.
        text: The prompt text.
    """

    class_index: int
    class_name: str
    strategy: str
    index: int
    text: str


def make_prompts(
    classes: Sequence[ClassSpec],
    strategies: Iterable[str | PromptStrategy] = ("photo",),
    per_class: int = 1,
) -> list[Prompt]:
    """Prompts for ``per_class`` images of every class under every strategy.

    Order: strategy, then class, then image number. Image ``i`` uses variant ``i mod V``.

    Raises:
        PromptError: ``per_class`` < 1, no class, or an invalid strategy.

    Example:
        >>> from tti_probe._classes import fashion_mnist_classes
        >>> prompts = make_prompts(fashion_mnist_classes()[:2], ["photo", "hypernym"])
        >>> [p.text for p in prompts]  # doctest: +NORMALIZE_WHITESPACE
        ['a photo of a T-shirt/top.', 'a photo of a Trouser.',
         'a photo of a T-shirt/top, a type of top.', 'a photo of a Trouser, a type of garment.']
    """
    if per_class < 1:
        raise PromptError(f"per_class must be >= 1, got {per_class}")
    if not classes:
        raise PromptError("no classes given")
    resolved = [get_strategy(s) for s in strategies]
    if not resolved:
        raise PromptError("no prompt strategy given")
    prompts: list[Prompt] = []
    for strategy in resolved:
        for class_index, spec in enumerate(classes):
            variants = strategy.prompts(spec)
            prompts.extend(
                Prompt(class_index, spec.name, strategy.name, i, variants[i % len(variants)])
                for i in range(per_class)
            )
    return prompts


def sense_prompts(spec: ClassSpec, template: str = "a photo of a {c}, {d}.") -> tuple[str, ...]:
    """One prompt per sense of a class name, for telling senses apart (ambiguity analysis).

    Each sense contributes ``template`` with ``{c}`` the class name, ``{d}`` the sense's
    definition and ``{h}`` its hypernym (the template may use any of them). A class without
    listed senses gives its single intended meaning (definition if any).

    Example:
        >>> from tti_probe._classes import fashion_mnist_classes
        >>> sense_prompts(fashion_mnist_classes()[8])[1]
        'a photo of a Bag, a flexible container with a single opening.'
    """
    fields = _template_fields(template)
    if "s" in fields:
        raise PromptError("sense templates cannot use {s}")
    senses = spec.senses or (Sense(spec.definition or "", (spec.name,), spec.hypernym),)
    return tuple(
        template.format(
            c=spec.name, d=_clean_definition(sense.definition), h=sense.hypernym or ""
        ).replace(", .", ".")
        for sense in senses
    )

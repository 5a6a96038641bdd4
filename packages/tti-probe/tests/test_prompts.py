"""Prompt strategies: templates, hypernym/definition/scene prompts, senses, errors."""

from __future__ import annotations

import pytest

from tti_probe._classes import ClassSpec, Sense, fashion_mnist_classes, load_imagenet_classes
from tti_probe._prompts import (
    BUILTIN_STRATEGIES,
    DEFAULT_SCENES,
    PromptError,
    PromptStrategy,
    clip_imagenet_templates,
    get_strategy,
    make_prompts,
    sense_prompts,
)

TENCH = ClassSpec("tench", hypernym="cyprinid", definition="a freshwater fish.")


def test_clip_templates_are_the_80_distinct_templates() -> None:
    templates = clip_imagenet_templates()
    assert len(templates) == len(set(templates)) == 80
    assert all(t.count("{c}") == 1 for t in templates)
    assert "itap of a {c}." in templates
    assert templates[0] == "a bad photo of a {c}."
    assert templates[-1] == "a tattoo of the {c}."


def test_builtin_strategies() -> None:
    assert set(BUILTIN_STRATEGIES) == {
        "name",
        "photo",
        "clip80",
        "hypernym",
        "definition",
        "scene",
        "domain",
    }
    assert get_strategy("name").prompts(TENCH) == ("tench",)
    assert get_strategy("photo").prompts(TENCH) == ("a photo of a tench.",)
    assert get_strategy("hypernym").prompts(TENCH) == ("a photo of a tench, a type of cyprinid.",)
    assert get_strategy("definition").prompts(TENCH) == ("a photo of a tench, a freshwater fish.",)
    scenes = get_strategy("scene").prompts(TENCH)
    assert len(scenes) == len(DEFAULT_SCENES)
    assert scenes[0] == f"a photo of a tench {DEFAULT_SCENES[0]}."
    assert len(get_strategy("clip80").prompts(TENCH)) == 80
    assert get_strategy("domain").prompts(TENCH)[2] == "a black and white photo of a tench."


def test_missing_hypernym_falls_back_or_raises() -> None:
    bare = ClassSpec("widget")
    assert get_strategy("hypernym").prompts(bare) == ("a photo of a widget.",)
    strict = PromptStrategy("strict", ("a {c}, a kind of {h}",), fallback=None)
    with pytest.raises(PromptError, match="lacks"):
        strict.prompts(bare)


def test_make_prompts_cycles_variants_over_images() -> None:
    classes = fashion_mnist_classes()[:2]
    prompts = make_prompts(classes, ["scene", "photo"], per_class=10)
    assert len(prompts) == 2 * 2 * 10
    first = [p for p in prompts if p.strategy == "scene" and p.class_index == 0]
    assert [p.index for p in first] == list(range(10))
    assert first[8].text == first[0].text  # 8 scenes, then they repeat
    assert len({p.text for p in first}) == 8
    assert {p.text for p in prompts if p.strategy == "photo" and p.class_index == 1} == {
        "a photo of a Trouser."
    }


def test_custom_template_strategy() -> None:
    strategy = get_strategy("template:a {c} drawn by a child")
    assert strategy.prompts(ClassSpec("cat")) == ("a cat drawn by a child",)
    assert strategy.name == "template:a {c} drawn by a child"


def test_sense_prompts_distinguish_senses() -> None:
    crane = load_imagenet_classes()[134]
    texts = sense_prompts(crane)
    assert len(texts) == len(crane.senses) >= 2
    assert len(set(texts)) == len(texts)
    assert any("lifts and moves heavy objects" in t for t in texts)
    assert sense_prompts(ClassSpec("x", definition="a thing")) == ("a photo of a x, a thing.",)
    spec = ClassSpec("bat", senses=(Sense("a flying mammal"), Sense("a club")))
    assert sense_prompts(spec, "{c} ({h}): {d}") == ("bat (): a flying mammal", "bat (): a club")


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        (("a photo",), "must contain"),
        (("a {x} of {c}",), "unknown fields"),
        (("a {c} {s}",), "no phrases"),
        (("a {c",), "malformed"),
        ((), "non-empty"),
    ],
)
def test_bad_templates_raise(templates: tuple[str, ...], message: str) -> None:
    with pytest.raises(PromptError, match=message):
        PromptStrategy("bad", templates)


def test_unknown_strategy_and_bad_arguments() -> None:
    with pytest.raises(PromptError, match="unknown prompt strategy"):
        get_strategy("photos")
    with pytest.raises(PromptError, match="per_class"):
        make_prompts([TENCH], ["photo"], per_class=0)
    with pytest.raises(PromptError, match="no classes"):
        make_prompts([], ["photo"])
    with pytest.raises(PromptError, match="no prompt strategy"):
        make_prompts([TENCH], [])

"""Class lists: shipped ImageNet-1k and Fashion-MNIST classes, user files, senses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fourfold_common.data import FASHION_MNIST_CLASSES
from tti_probe._classes import (
    ClassListError,
    ClassSpec,
    Sense,
    class_from_dict,
    class_to_dict,
    fashion_mnist_classes,
    load_classes,
    load_imagenet_classes,
    parse_class_list,
)


def test_imagenet_classes_are_the_standard_1000_in_label_order() -> None:
    classes = load_imagenet_classes()
    assert len(classes) == 1000
    wnids = [c.wnid for c in classes]
    assert len(set(wnids)) == 1000
    assert wnids == sorted(wnids)  # the standard label order is sorted by WordNet id
    assert (classes[0].name, classes[0].wnid) == ("tench", "n01440764")
    assert (classes[999].name, classes[999].wnid) == ("toilet tissue", "n15075141")
    assert classes[1].name == "goldfish"
    assert classes[207].name == "golden retriever"
    assert classes[0].synonyms == ("Tinca tinca",)
    assert classes[0].hypernym == "cyprinid"
    assert classes[0].definition is not None
    assert "freshwater" in classes[0].definition
    assert all(c.definition for c in classes)
    assert sum(c.hypernym is not None for c in classes) == 1000


def test_imagenet_ambiguity_is_first_class() -> None:
    classes = load_imagenet_classes()
    bird, machine = classes[134], classes[517]
    assert bird.name == machine.name == "crane"
    assert bird.is_ambiguous
    assert bird.hypernym == "wading bird"
    assert machine.hypernym == "lifting device"
    bird_others = {s.wnid for s in bird.other_senses()}
    assert machine.wnid in bird_others
    assert bird.wnid not in bird_others
    assert any(s.wnid == bird.wnid for s in bird.senses)
    assert not classes[0].is_ambiguous  # "tench" has one WordNet sense
    assert 200 < sum(c.is_ambiguous for c in classes) < 500


def test_fashion_mnist_classes_match_the_dataset_and_have_hypernyms() -> None:
    classes = fashion_mnist_classes()
    assert tuple(c.name for c in classes) == tuple(FASHION_MNIST_CLASSES)
    assert all(c.hypernym and c.definition for c in classes)
    footwear = {c.name for c in classes if c.hypernym == "footwear"}
    assert footwear == {"Sandal", "Sneaker", "Ankle boot"}
    tops = {c.name for c in classes if c.hypernym == "top"}
    assert tops == {"T-shirt/top", "Pullover", "Shirt"}
    bag = classes[8]
    assert bag.is_ambiguous
    assert bag.other_senses() == bag.senses[1:]


def test_round_trip_and_user_files(tmp_path: Path) -> None:
    spec = ClassSpec(
        "crane",
        hypernym="wading bird",
        definition="a bird",
        synonyms=("Grus",),
        senses=(Sense("a bird", ("crane",), "wading bird", "n1"), Sense("a machine")),
        wnid="n1",
    )
    assert class_from_dict(class_to_dict(spec)) == spec
    json_file = tmp_path / "classes.json"
    json_file.write_text(json.dumps({"classes": [class_to_dict(spec), "heron"]}))
    loaded = load_classes(json_file)
    assert loaded == (spec, ClassSpec("heron"))
    text_file = tmp_path / "classes.txt"
    text_file.write_text("# my classes\ncat\n\n  dog  \n")
    assert [c.name for c in load_classes(text_file)] == ["cat", "dog"]


def test_intended_sense_is_added_when_missing() -> None:
    (spec,) = parse_class_list(
        [{"name": "bat", "definition": "a flying mammal", "senses": [{"definition": "a club"}]}]
    )
    assert [s.definition for s in spec.senses] == ["a flying mammal", "a club"]
    assert [s.definition for s in spec.other_senses()] == ["a club"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "empty"),
        ("cat", "list of classes"),
        ({"names": []}, "'classes'"),
        ([{"hypernym": "x"}], "'name' is required"),
        ([{"name": "x", "hypernym": 3}], "'hypernym' must be a string"),
        ([{"name": "x", "senses": [{"lemmas": []}]}], "needs a string 'definition'"),
        ([{"name": "x", "synonyms": "y"}], "list of strings"),
        ([""], "non-empty"),
    ],
)
def test_malformed_class_lists_raise_one_clear_error(data: object, message: str) -> None:
    with pytest.raises(ClassListError, match=message):
        parse_class_list(data)


def test_unreadable_class_files(tmp_path: Path) -> None:
    with pytest.raises(ClassListError, match="cannot read"):
        load_classes(tmp_path / "missing.txt")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ClassListError, match="not valid JSON"):
        load_classes(bad)

"""Class lists: names with optional hypernym, definition and senses (ambiguity).

A :class:`ClassSpec` is one class a user wants synthetic images of. Besides its name it may carry
a hypernym ("cyprinid" for "tench"), a definition (a WordNet gloss), synonyms, and the list of
*senses* of its name: the other meanings the same words have ("crane" the bird, the machine,
the poet...). Senses make ambiguity a first-class concept: prompt strategies can spell out the
intended sense, and the analysis can ask which sense a generator drifted to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fourfold_common.data import FASHION_MNIST_CLASSES

CLASSES_FORMAT = "tti-probe.classes/1"


class ClassListError(ValueError):
    """A class list (file or mapping) is malformed; the message says what and where."""


@dataclass(frozen=True)
class Sense:
    """One meaning of a class name.

    Attributes:
        definition: What this sense means (e.g. a WordNet gloss).
        lemmas: Words that name this sense (the class name among them).
        hypernym: Name of a more general concept, if known.
        wnid: WordNet 3.0 noun id such as ``"n02012849"``, if known.

    Example:
        >>> Sense("a large wading bird", lemmas=("crane",), hypernym="wading bird").hypernym
        'wading bird'
    """

    definition: str
    lemmas: tuple[str, ...] = ()
    hypernym: str | None = None
    wnid: str | None = None


@dataclass(frozen=True)
class ClassSpec:
    """A class to generate and probe.

    Attributes:
        name: The class name used in prompts (e.g. ``"tench"``).
        hypernym: Name of a more general concept (e.g. ``"cyprinid"``), or ``None``.
        definition: A one-sentence definition of the intended meaning, or ``None``.
        synonyms: Other names of the intended meaning.
        senses: All known meanings of ``name`` (the intended one included); more than one sense
            means the name is ambiguous.
        wnid: WordNet id of the intended meaning, or ``None``.

    Example:
        >>> spec = ClassSpec("crane", hypernym="wading bird",
        ...                  senses=(Sense("a wading bird", wnid="n1"), Sense("a lifting machine")))
        >>> spec.is_ambiguous, spec.other_senses()[0].definition
        (True, 'a lifting machine')
    """

    name: str
    hypernym: str | None = None
    definition: str | None = None
    synonyms: tuple[str, ...] = ()
    senses: tuple[Sense, ...] = field(default=())
    wnid: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ClassListError(f"a class name must be a non-empty string, got {self.name!r}")

    @property
    def is_ambiguous(self) -> bool:
        """Whether the class name has more than one known sense."""
        return len(self.senses) > 1

    def other_senses(self) -> tuple[Sense, ...]:
        """The senses of the name other than the intended one.

        The intended sense is recognised by its WordNet id (when both carry one) or else by its
        definition; without either, every listed sense after the first counts as "other".
        """
        if self.wnid is not None and any(s.wnid == self.wnid for s in self.senses):
            return tuple(s for s in self.senses if s.wnid != self.wnid)
        if self.definition is not None and any(
            s.definition == self.definition for s in self.senses
        ):
            return tuple(s for s in self.senses if s.definition != self.definition)
        return self.senses[1:]


def _optional_str(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClassListError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value


def _str_tuple(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, ())
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ClassListError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def class_from_dict(entry: Mapping[str, Any], where: str = "class") -> ClassSpec:
    """Build a :class:`ClassSpec` from a JSON-like mapping.

    Keys: ``name`` (required), ``hypernym``, ``definition``, ``synonyms``, ``wnid`` and
    ``senses`` (a list of mappings with ``definition`` and optional ``lemmas``, ``hypernym``,
    ``wnid``). Unknown keys are ignored.

    Raises:
        ClassListError: A key has the wrong type or ``name`` is missing.

    Example:
        >>> class_from_dict({"name": "bag", "hypernym": "container"}).hypernym
        'container'
    """
    if not isinstance(entry, Mapping):
        raise ClassListError(f"{where}: expected a mapping, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str):
        raise ClassListError(f"{where}: 'name' is required and must be a string")
    raw_senses = entry.get("senses", ())
    if not isinstance(raw_senses, (list, tuple)):
        raise ClassListError(f"{where}: 'senses' must be a list")
    senses = []
    for i, raw in enumerate(raw_senses):
        sense_where = f"{where}, sense {i}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("definition"), str):
            raise ClassListError(f"{sense_where}: a sense needs a string 'definition'")
        senses.append(
            Sense(
                definition=raw["definition"],
                lemmas=_str_tuple(raw, "lemmas", sense_where),
                hypernym=_optional_str(raw, "hypernym", sense_where),
                wnid=_optional_str(raw, "wnid", sense_where),
            )
        )
    return ClassSpec(
        name=name,
        hypernym=_optional_str(entry, "hypernym", where),
        definition=_optional_str(entry, "definition", where),
        synonyms=_str_tuple(entry, "synonyms", where),
        senses=tuple(senses),
        wnid=_optional_str(entry, "wnid", where),
    )


def class_to_dict(spec: ClassSpec) -> dict[str, Any]:
    """Return the JSON-ready mapping of ``spec`` (inverse of :func:`class_from_dict`).

    Example:
        >>> class_from_dict(class_to_dict(ClassSpec("bag"))) == ClassSpec("bag")
        True
    """
    return {
        "name": spec.name,
        "hypernym": spec.hypernym,
        "definition": spec.definition,
        "synonyms": list(spec.synonyms),
        "wnid": spec.wnid,
        "senses": [
            {
                "definition": s.definition,
                "lemmas": list(s.lemmas),
                "hypernym": s.hypernym,
                "wnid": s.wnid,
            }
            for s in spec.senses
        ],
    }


def _intended_first(spec: ClassSpec) -> ClassSpec:
    """Make sure a class with listed senses lists its intended meaning among them."""
    if not spec.senses or spec.definition is None:
        return spec
    if any(s.wnid == spec.wnid for s in spec.senses if s.wnid is not None):
        return spec
    own = Sense(spec.definition, (spec.name, *spec.synonyms), spec.hypernym, spec.wnid)
    return ClassSpec(
        spec.name, spec.hypernym, spec.definition, spec.synonyms, (own, *spec.senses), spec.wnid
    )


def parse_class_list(data: Any, where: str = "class list") -> tuple[ClassSpec, ...]:
    """Parse a class list: a list of names/mappings, or ``{"classes": [...]}``.

    Raises:
        ClassListError: The structure is not a class list, or it is empty.

    Example:
        >>> [c.name for c in parse_class_list(["cat", {"name": "dog", "hypernym": "canine"}])]
        ['cat', 'dog']
    """
    if isinstance(data, Mapping):
        if "classes" not in data:
            raise ClassListError(f"{where}: a mapping needs a 'classes' list")
        data = data["classes"]
    if isinstance(data, str) or not isinstance(data, Sequence):
        raise ClassListError(f"{where}: expected a list of classes")
    classes = []
    for i, entry in enumerate(data):
        if isinstance(entry, str):
            classes.append(ClassSpec(entry))
        else:
            classes.append(class_from_dict(entry, f"{where}, class {i}"))
    if not classes:
        raise ClassListError(f"{where}: the class list is empty")
    return tuple(_intended_first(c) for c in classes)


def load_classes(path: str | Path) -> tuple[ClassSpec, ...]:
    r"""Load a class list from a file.

    ``.json`` files hold a list of names or mappings (see :func:`class_from_dict`), or an object
    with a ``"classes"`` list. Any other file is read as plain text, one class name per line
    (blank lines and lines starting with ``#`` are skipped).

    Raises:
        ClassListError: The file cannot be read or is malformed.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "classes.txt"
        >>> _ = path.write_text("cat\n# comment\ndog\n")
        >>> [c.name for c in load_classes(path)]
        ['cat', 'dog']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ClassListError(f"cannot read class list {path}: {error}") from error
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClassListError(f"{path} is not valid JSON: {error}") from error
        return parse_class_list(data, str(path))
    names = [line.strip() for line in text.splitlines()]
    return parse_class_list([n for n in names if n and not n.startswith("#")], str(path))


@cache
def _imagenet() -> tuple[ClassSpec, ...]:
    text = resources.files("tti_probe").joinpath("data/imagenet_classes.json").read_text("utf-8")
    data = json.loads(text)
    if data.get("format") != CLASSES_FORMAT or len(data["classes"]) != 1000:
        raise ClassListError("the shipped ImageNet-1k class file is damaged")
    return parse_class_list(data, "imagenet_classes.json")


def load_imagenet_classes() -> tuple[ClassSpec, ...]:
    """The 1,000 ImageNet-1k classes in the standard label order.

    Names, synonyms, WordNet ids and definitions come from timm's ImageNet data files;
    hypernyms and the senses of each name from WordNet 3.0 (see
    ``tools/make_imagenet_classes.py``). Names that WordNet knows in several meanings carry
    them all as :attr:`ClassSpec.senses`, the intended one included. Note that ImageNet itself
    has two classes named "crane" (bird, machine) and two named "maillot".

    Example:
        >>> classes = load_imagenet_classes()
        >>> len(classes), classes[0].name, classes[0].hypernym
        (1000, 'tench', 'cyprinid')
        >>> classes[134].is_ambiguous
        True
    """
    return _imagenet()


_FASHION_MNIST: tuple[tuple[str, str, str, tuple[Sense, ...]], ...] = (
    (
        "T-shirt/top",
        "top",
        "a short-sleeved collarless pullover shirt, or a garment worn on the upper body",
        (
            Sense("a garment worn on the upper body", ("top",), "garment"),
            Sense("a conical child's plaything that spins on its tip", ("top",), "plaything"),
            Sense("the upper part of anything; the highest point", ("top",), "side"),
        ),
    ),
    (
        "Trouser",
        "garment",
        "a garment extending from the waist to the ankles, covering each leg",
        (),
    ),
    (
        "Pullover",
        "top",
        "a sweater pulled on over the head, without buttons or zip",
        (),
    ),
    (
        "Dress",
        "garment",
        "a one-piece garment for a woman with a skirt and a bodice",
        (
            Sense(
                "a one-piece garment for a woman; has skirt and bodice",
                ("dress", "frock"),
                "woman's clothing",
            ),
            Sense(
                "clothing of a distinctive style or for a particular occasion",
                ("dress", "attire"),
                "clothing",
            ),
        ),
    ),
    (
        "Coat",
        "outerwear",
        "an outer garment with sleeves, worn outdoors over other clothes",
        (
            Sense(
                "an outer garment that has sleeves and covers the body from shoulder down",
                ("coat",),
                "overgarment",
            ),
            Sense(
                "a thin layer covering something, such as a coat of paint",
                ("coat", "coating"),
                "layer",
            ),
            Sense(
                "growth of hair or wool or fur covering the body of an animal",
                ("coat", "pelage"),
                "hair",
            ),
        ),
    ),
    ("Sandal", "footwear", "a shoe with a sole attached to the foot by straps", ()),
    (
        "Shirt",
        "top",
        "a garment for the upper body with a collar, sleeves and buttons down the front",
        (),
    ),
    ("Sneaker", "footwear", "a canvas or leather sports shoe with a rubber sole", ()),
    (
        "Bag",
        "accessory",
        "a handbag or shoulder bag carried to hold small personal items",
        (
            Sense(
                "a container used for carrying money and small personal items",
                ("bag", "handbag", "purse"),
                "container",
            ),
            Sense("a flexible container with a single opening", ("bag",), "container"),
            Sense(
                "the quantity of game taken in a particular period", ("bag",), "indefinite quantity"
            ),
        ),
    ),
    ("Ankle boot", "footwear", "a boot that reaches just above the ankle", ()),
)


def fashion_mnist_classes() -> tuple[ClassSpec, ...]:
    """The ten Fashion-MNIST classes, in label order, with hypernyms and definitions.

    The names match ``fourfold_common.data.FASHION_MNIST_CLASSES``. Hypernyms group the tops
    (T-shirt/top, pullover, shirt), the footwear (sandal, sneaker, ankle boot) and the rest;
    the names that are ambiguous in everyday English ("top", "coat", "bag", "dress") list
    their common senses, the intended one first.

    Example:
        >>> classes = fashion_mnist_classes()
        >>> [c.hypernym for c in classes[5:8]]
        ['footwear', 'top', 'footwear']
        >>> classes[8].is_ambiguous
        True
    """
    specs = tuple(
        ClassSpec(name=name, hypernym=hypernym, definition=definition, senses=senses)
        for name, hypernym, definition, senses in _FASHION_MNIST
    )
    if tuple(s.name for s in specs) != tuple(FASHION_MNIST_CLASSES):
        raise AssertionError("Fashion-MNIST class names drifted from fourfold_common")
    return specs


def class_names(classes: Iterable[ClassSpec]) -> tuple[str, ...]:
    """The names of ``classes``, in order.

    Example:
        >>> class_names(fashion_mnist_classes())[:2]
        ('T-shirt/top', 'Trouser')
    """
    return tuple(c.name for c in classes)

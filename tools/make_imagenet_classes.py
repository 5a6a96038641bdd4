"""Build tti-probe's shipped ImageNet-1k class file from timm's data files and WordNet 3.0.

Facts only, no code: the class order, WordNet ids, lemmas and glosses come from the data files
inside the ``timm`` wheel (Apache-2.0); hypernyms and the other senses of each class name come
from the WordNet 3.0 database files of Debian's ``wordnet-base`` package.

Usage (the exact command that made tti_probe/data/imagenet_classes.json)::

    python -m pip download --no-deps timm -d /tmp/timm
    apt-get install wordnet-base
    python tools/make_imagenet_classes.py --timm-wheel /tmp/timm/timm-1.0.31-py3-none-any.whl \
        --wordnet /usr/share/wordnet
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

from fourfold_common.io import atomic_write_text

_INFO = "timm/data/_info/"
_OUT = (
    Path(__file__).resolve().parents[1]
    / "packages/tti-probe/src/tti_probe/data/imagenet_classes.json"
)


def _read_tsv(text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition("\t")
            table[key.strip()] = value.strip()
    return table


class WordNet:
    """Minimal reader of the WordNet 3.0 noun database (format: wndb(5WN))."""

    def __init__(self, root: Path) -> None:
        self._data = (root / "data.noun").read_bytes()
        self._index: dict[str, list[int]] = {}
        for line in (root / "index.noun").read_text(encoding="utf-8").splitlines():
            if line.startswith("  "):
                continue  # licence header
            fields = line.split()
            lemma, synset_count = fields[0], int(fields[2])
            pointer_count = int(fields[3])
            offsets = fields[4 + pointer_count + 2 :]
            assert len(offsets) == synset_count, line
            self._index[lemma] = [int(o) for o in offsets]

    def synset(self, offset: int) -> tuple[list[str], list[int], str]:
        """Return (lemmas, hypernym offsets, gloss) of the noun synset at ``offset``."""
        end = self._data.index(b"\n", offset)
        line = self._data[offset:end].decode("utf-8")
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        assert int(fields[0]) == offset, (fields[0], offset)
        word_count = int(fields[3], 16)
        lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(word_count)]
        position = 4 + 2 * word_count
        pointer_count = int(fields[position])
        hypernyms = []
        for i in range(pointer_count):
            symbol, target, pos = fields[position + 1 + 4 * i : position + 4 + 4 * i]
            if symbol in ("@", "@i") and pos == "n":
                hypernyms.append(int(target))
        return lemmas, hypernyms, gloss.strip()

    def senses(self, word: str) -> list[int]:
        """Noun synset offsets of ``word`` (most frequent sense first)."""
        return self._index.get(word.lower().replace(" ", "_"), [])


def _clean_lemma(lemma: str) -> str:
    # WordNet marks adjective positions like "(a)" only for adjectives; nouns are plain.
    return lemma.split("(")[0].strip()


def build(wheel: Path, wordnet_root: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    with zipfile.ZipFile(wheel) as archive:
        synsets = archive.read(_INFO + "imagenet_synsets.txt").decode().split()
        lemmas = _read_tsv(archive.read(_INFO + "imagenet_synset_to_lemma.txt").decode())
        glosses = _read_tsv(archive.read(_INFO + "imagenet_synset_to_definition.txt").decode())
    if len(synsets) != 1000:
        raise SystemExit(f"expected 1000 ImageNet-1k synsets, got {len(synsets)}")
    wordnet = WordNet(wordnet_root)
    classes = []
    for index, wnid in enumerate(synsets):
        names = [n.strip() for n in lemmas[wnid].split(",") if n.strip()]
        _, hypernym_offsets, _ = wordnet.synset(int(wnid[1:]))
        hypernym = hypernym_wnid = None
        if hypernym_offsets:
            hypernym_lemmas, _, _ = wordnet.synset(hypernym_offsets[0])
            hypernym = _clean_lemma(hypernym_lemmas[0])
            hypernym_wnid = f"n{hypernym_offsets[0]:08d}"
        senses = []
        offsets = wordnet.senses(names[0])
        if len(offsets) > 1:
            for offset in offsets:
                sense_lemmas, sense_hypernyms, sense_gloss = wordnet.synset(offset)
                sense_hypernym = None
                if sense_hypernyms:
                    sense_hypernym = _clean_lemma(wordnet.synset(sense_hypernyms[0])[0][0])
                senses.append(
                    {
                        "wnid": f"n{offset:08d}",
                        "lemmas": [_clean_lemma(s) for s in sense_lemmas],
                        "hypernym": sense_hypernym,
                        "definition": sense_gloss,
                    }
                )
        classes.append(
            {
                "index": index,
                "wnid": wnid,
                "name": names[0],
                "synonyms": names[1:],
                "hypernym": hypernym,
                "hypernym_wnid": hypernym_wnid,
                "definition": glosses[wnid],
                "senses": senses,
            }
        )
    header = {
        "format": "tti-probe.classes/1",
        "name": "imagenet-1k",
        "source": (
            f"class order, WordNet ids, lemmas, definitions: {wheel.name} "
            "(timm/data/_info, Apache-2.0); hypernyms and senses: WordNet 3.0 "
            "(Princeton WordNet licence) via Debian wordnet-base"
        ),
    }
    return header, classes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timm-wheel", type=Path, required=True)
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--out", type=Path, default=_OUT)
    args = parser.parse_args()
    header, classes = build(args.timm_wheel, args.wordnet)
    lines = ",\n".join(json.dumps(c, ensure_ascii=False) for c in classes)
    text = json.dumps(header, ensure_ascii=False)[:-1] + ', "classes": [\n' + lines + "\n]}\n"
    json.loads(text)
    atomic_write_text(args.out, text)
    ambiguous = sum(1 for c in classes if c["senses"])
    print(f"wrote {args.out} ({len(text)} bytes, {ambiguous} of 1000 class names with >1 sense)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

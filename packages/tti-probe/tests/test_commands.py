"""The generation-side subcommands of ``tti-probe``: classes, prompts, generate, embed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tti_probe._cli import main


def test_classes_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classes", "--classes", "imagenet", "--select", "133:135"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split("\t")[:4] == ["1", "n02012849", "crane", "wading bird"]
    assert main(["classes", "--classes", "fashion-mnist", "--ambiguous", "--json"]) == 0
    names = [c["name"] for c in json.loads(capsys.readouterr().out)]
    assert names == ["T-shirt/top", "Dress", "Coat", "Bag"]


def test_prompts_command(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["prompts", "--select", "0,7", "--strategy", "hypernym", "--strategy", "scene"]
    assert main([*argv, "--per-class", "2"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 * 2 * 2
    assert rows[2] == ["hypernym", "1", "0", "a photo of a Sneaker, a type of footwear."]
    assert rows[4][0] == "scene"


RANGE = ["--guidance-range", "1", "3"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["classes", "--select", "20:30"], "selects no class"),
        (["classes", "--select", "x"], "bad --select"),
        (["classes", "--classes", "/no/such/file.txt"], "cannot read class list"),
        (["prompts", "--strategy", "poem"], "unknown prompt strategy"),
        (["generate", "--model", "/no/such/model", "--out", "/tmp/x", "--steps", "0"], "steps"),
        (
            ["generate", "--model", "/m", "--out", "/tmp/x", "--guidance", "2", *RANGE],
            "not both",
        ),
        (
            ["generate", "--model", "/m", "--out", "/tmp/x", "--guidance-range", "3", "1"],
            "low <= high",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_generate_and_embed_commands_on_tiny_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="needs the hf extra")
    assert main(["build-tiny", str(tmp_path / "models")]) == 0
    sd, clip = tmp_path / "models" / "sd", tmp_path / "models" / "clip"
    out = tmp_path / "run"
    common = ["--offline", "--device", "cpu", "--quiet"]
    argv = ["generate", "--model", str(sd), "--out", str(out), "--select", "0:2"]
    argv += ["--guidance", "1", "--guidance", "3", "--images-per-prompt", "1", "--steps", "2"]
    assert main([*argv, *common]) == 0
    assert "4 images" in capsys.readouterr().out
    randomised = tmp_path / "random"
    argv = ["generate", "--model", str(sd), "--out", str(randomised), "--select", "0:2"]
    argv += ["--guidance-range", "1", "9", "--images-per-prompt", "2", "--steps", "2"]
    assert main([*argv, *common]) == 0
    assert "4 images" in capsys.readouterr().out
    manifest = json.loads((randomised / "manifest.json").read_text())
    assert manifest["config"]["guidance_range"] == [1.0, 9.0]
    scales = [image["guidance_scale"] for image in manifest["images"]]
    assert len(set(scales)) == 4
    assert all(1.0 <= g <= 9.0 for g in scales)
    npz = tmp_path / "synthetic.npz"
    embed = ["embed", "--model", str(clip), "--images", str(out), "--out", str(npz)]
    assert (
        main([*embed, "--cache", str(tmp_path / "cache"), "--class-text", "clip80", *common]) == 0
    )
    with np.load(npz) as data:
        assert data["embeddings"].shape == (4, 16)
        assert data["class_text"].shape == (2, 16)
        np.testing.assert_allclose(np.linalg.norm(data["class_text"], axis=1), 1.0, atol=1e-5)
        assert data["labels"].tolist() == [0, 1, 0, 1]
        assert data["class_names"].tolist() == ["T-shirt/top", "Trouser"]
    assert (
        main(["embed", "--model", str(tmp_path / "nope"), "--images", str(out), "--out", str(npz)])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_without_the_hf_extra_generation_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tti_probe._models import require

    for module in ("torch", "diffusers", "transformers", "accelerate"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'tti-probe\[hf\]'"):
        require("torch")
    argv = ["generate", "--model", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 2
    assert "tti-probe[hf]" in capsys.readouterr().err
    assert main(["prompts", "--select", "0:1"]) == 0  # classes and prompts need no torch

"""The testbed study behind `tti-probe demo`, on a reduced setting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tti_probe as tp
from tti_probe._cli import main

pytest.importorskip("diffusers", reason="the hf extra is not installed")


def test_reduced_testbed_study_writes_the_report(tmp_path: Path) -> None:
    config = tp.TestbedStudyConfig(
        guidance_scales=(1.0, 2.0),
        images_per_class=3,
        natural_per_class=6,
        num_inference_steps=2,
        probe_kinds=("linear",),
    )
    study = tp.run_testbed_study(tmp_path, config, progress=False, command="test")
    assert len(study.sweep.points) == 4
    np.testing.assert_allclose(study.confusion.sum(axis=1), 1.0)
    assert 0.0 <= study.tstr_accuracy <= 1.0
    assert 0.0 <= study.natural_accuracy <= 1.0
    assert study.modality_gap > 0
    manifest = tp.load_manifest(tmp_path / "synthetic", verify=True)
    assert len(manifest.records) == 10 * 2 * 2 * 3
    assert {r.pipeline for r in manifest.records} == {"TestbedPipeline"}
    page = study.report.html.read_text(encoding="utf-8")
    for heading in ("Testbed: synthetic vs natural", "Diversity and accuracy vs guidance"):
        assert heading in page
    extra = json.loads(study.report.json.read_text(encoding="utf-8"))["figures"]["extra"]
    assert extra["tstr_accuracy"] == study.tstr_accuracy
    assert len(extra["tradeoff"]) == 4


def test_confused_pairs_orders_and_thresholds() -> None:
    m = np.array([[0.6, 0.3, 0.1], [0.02, 0.98, 0.0], [0.5, 0.0, 0.5]])
    pairs = tp.confused_pairs(m, ("a", "b", "c"), top=2)
    assert [(p.prompted, p.assigned, p.fraction) for p in pairs] == [
        ("c", "a", 0.5),
        ("a", "b", 0.3),
    ]
    assert tp.confused_pairs(np.eye(3), ("a", "b", "c")) == ()


def test_study_config_and_demo_cli_reject_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="main_strategy 'photo'"):
        tp.TestbedStudyConfig(main_strategy="photo")
    with pytest.raises(ValueError, match=r"main_guidance 3\.0"):
        tp.TestbedStudyConfig(main_guidance=3.0)
    assert main(["demo", "--images-per-class", "1"]) == 2
    assert "at least 2 images per class" in capsys.readouterr().err

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tti_probe import (
    ISSUES,
    AnalysisConfig,
    ProbeData,
    ProbeInputError,
    analyze,
    simulate,
)

CONFIG = AnalysisConfig(probe_kinds=("linear",), mixes=(1.0, 0.0), progress=False)


@pytest.fixture(scope="module")
def world_and_result(planted_world, planted_analysis):  # type: ignore[no-untyped-def]
    return planted_world, planted_analysis


def test_each_planted_issue_is_found_in_its_class_and_nowhere_else(world_and_result) -> None:  # type: ignore[no-untyped-def]
    world, result = world_and_result
    planted = dict((name, issue) for issue, name in world.planted)
    assert sorted(planted.values()) == sorted(ISSUES)
    for report in result.classes:
        expected = (planted[report.name],) if report.name in planted else ()
        assert report.issues == expected, report.name


def test_ambiguous_class_drifts_to_the_planted_sense(world_and_result) -> None:  # type: ignore[no-untyped-def]
    _, result = world_and_result
    crane = result.classes[0]
    assert crane.modes_synthetic == 2
    assert crane.modes_natural == 1
    assert sorted(round(m.fraction, 1) for m in crane.modes) == [0.5, 0.5]
    other = [m for m in crane.modes if m.nearest_class != "crane"]
    assert other
    assert other[0].nearest_sense == "crane (other sense)"


def test_summary_and_transfer(world_and_result) -> None:  # type: ignore[no-untyped-def]
    _, result = world_and_result
    s = result.summary
    assert s["classes"] == 6
    assert s["classes_ambiguity"] == 1
    assert 0.0 <= s["zero_shot_synthetic"] < s["zero_shot_natural"] <= 1.0
    by_mix = {t.synthetic_fraction: t for t in result.transfer}
    assert set(by_mix) == {0.0, 1.0}
    # Natural training data beats synthetic on natural test images, as in the paper.
    assert by_mix[0.0].accuracy > by_mix[1.0].accuracy
    assert by_mix[0.0].n_train == by_mix[1.0].n_train
    assert result.geometry is not None
    assert result.geometry.modality_gap_natural > 0.3
    assert result.pooled is not None
    assert 0 < result.pooled.precision <= 1


def test_healthy_world_has_no_issues_and_identical_sets_match() -> None:
    world = simulate(num_classes=6, per_class=60, dim=32, seed=1, plant=False)
    data = dataclasses.replace(world.data, synthetic=world.data.natural)
    result = analyze(data, dataclasses.replace(CONFIG, probe_kinds=()))
    assert all(r.issues == () for r in result.classes)
    for r in result.classes:
        assert r.fidelity is not None
        assert (r.fidelity.precision, r.fidelity.recall, r.fidelity.coverage) == (1.0, 1.0, 1.0)
        assert r.fidelity.frechet == pytest.approx(0.0, abs=1e-5)
        assert r.concept_offset == pytest.approx(0.0, abs=1e-6)
    assert result.transfer == ()


def test_without_text_the_text_analyses_are_skipped() -> None:
    world = simulate(num_classes=5, per_class=30, dim=16, seed=2)
    data = dataclasses.replace(world.data, text=None, sense_names=(), sense_text=None)
    result = analyze(data, dataclasses.replace(CONFIG, probe_kinds=(), pooled=False))
    assert result.geometry is None
    assert result.collisions == ()
    assert np.isnan(result.summary["zero_shot_synthetic"])
    assert all("adherence" not in r.issues for r in result.classes)


def test_bad_config_and_data() -> None:
    with pytest.raises(ProbeInputError, match="test_fraction"):
        AnalysisConfig(test_fraction=1.5)
    with pytest.raises(ProbeInputError, match="probe_kinds"):
        AnalysisConfig(probe_kinds=("svm",))
    rng = np.random.default_rng(0)
    with pytest.raises(ProbeInputError, match="labels must lie"):
        ProbeData.create(
            ["a"], rng.normal(size=(3, 2)), [0, 1, 0], rng.normal(size=(3, 2)), [0] * 3
        )
    with pytest.raises(ProbeInputError, match="differ in dimension"):
        ProbeData.create(["a"], rng.normal(size=(3, 2)), [0] * 3, rng.normal(size=(3, 4)), [0] * 3)
    with pytest.raises(ProbeInputError, match="duplicate"):
        ProbeData.create(
            ["a", "a"], rng.normal(size=(3, 2)), [0] * 3, rng.normal(size=(3, 2)), [0] * 3
        )

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tti_probe import (
    AnalysisConfig,
    ProbeInputError,
    SweepCondition,
    detection_table,
    format_detection_table,
    image_grid,
    report_from_record,
    save_npz,
    simulate,
    sweep,
    write_report,
)
from tti_probe._cli import main

CONFIG = AnalysisConfig(probe_kinds=("linear",), mixes=(1.0, 0.0), progress=False)


@pytest.fixture(scope="module")
def world(planted_world):  # type: ignore[no-untyped-def]
    return planted_world


def test_report_is_self_contained_html_and_a_run_record(
    world, planted_analysis, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    result = planted_analysis
    rng = np.random.default_rng(0)
    images = {"crane": ([rng.random((16, 16)) for _ in range(3)], [rng.random((16, 16, 3))])}
    paths = write_report(result, tmp_path, images=images, command="test")
    page = paths.html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # Plots and the image grid are inline PNGs; nothing refers to another file.
    assert page.count("data:image/png;base64,") >= 5
    assert 'src="http' not in page
    assert "src='http" not in page
    assert "ambiguity" in page
    assert "crane (other sense)" in page
    record = json.loads(paths.json.read_text(encoding="utf-8"))
    assert record["format"] == "fourfold.run-record/1"
    assert record["command"] == "test"
    assert [c["name"] for c in record["figures"]["classes"]] == list(world.data.class_names)
    again = report_from_record(paths.json, tmp_path / "again.html")
    assert "ambiguity" in again.read_text(encoding="utf-8")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ProbeInputError, match="not a tti-probe analysis record"):
        report_from_record(tmp_path / "other.json", tmp_path / "x.html")


def test_image_grid_layout() -> None:
    grid = image_grid([np.zeros((4, 4), np.uint8)] * 5, columns=3, size=10)
    assert grid.size == (3 * 10 + 2 * 2, 2 * 10 + 2)
    with pytest.raises(ProbeInputError, match="no images"):
        image_grid([])


def test_sweep_tracks_the_diversity_accuracy_trade_off() -> None:
    conditions = [
        SweepCondition(simulate(6, 60, 32, plant=False, seed=1, synthetic_spread=s).data, g, "name")
        for g, s in ((1.0, 1.0), (7.5, 0.3))
    ]
    result = sweep(conditions)
    low_g, high_g = result.points
    assert low_g.vendi_synthetic > high_g.vendi_synthetic
    assert low_g.recall > high_g.recall
    assert 0.0 <= high_g.transfer_accuracy <= 1.0
    assert high_g.name == "name g=7.5"
    with pytest.raises(ProbeInputError, match="no condition"):
        sweep([])


def test_detection_table_text(world, planted_analysis) -> None:  # type: ignore[no-untyped-def]
    rows = detection_table(planted_analysis, world.planted)
    assert [r.detected for r in rows] == [True] * 4
    text = format_detection_table(rows)
    assert "not represented" in text
    assert "NO" not in text


def test_cli_analyze_and_report(world, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    npz = save_npz(world.data, tmp_path / "emb.npz")
    out = tmp_path / "out"
    code = main(["analyze", str(npz), "--out", str(out), "--probes", "linear", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "crane: ambiguity" in printed
    assert (out / "report.html").is_file()
    assert (out / "report.json").is_file()
    assert main(["report", str(out / "report.json"), "--html", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").is_file()


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["analyze", str(tmp_path / "missing.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tti-probe: error:")
    assert "no such file" in err
    (tmp_path / "bad.json").write_text("not json")
    assert main(["report", str(tmp_path / "bad.json")]) == 2


def test_cli_analyze_two_embedded_sets(world, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    d = world.data
    # The natural file lists its classes in another order and one extra class.
    order = [2, 0, 1, 3, 5, 4]
    names = [d.class_names[i] for i in order] + ["extra"]
    inverse = np.argsort(order)
    np.savez(
        tmp_path / "syn.npz",
        embeddings=d.synthetic,
        labels=d.synthetic_labels,
        class_names=np.array(d.class_names),
        class_text=d.text,
    )
    np.savez(
        tmp_path / "nat.npz",
        embeddings=np.concatenate([d.natural, d.natural[:3]]),
        labels=np.concatenate([inverse[d.natural_labels], [6, 6, 6]]),
        class_names=np.array(names),
    )
    from tti_probe import probe_data_from_sets

    paired = probe_data_from_sets(tmp_path / "syn.npz", tmp_path / "nat.npz")
    np.testing.assert_array_equal(paired.natural_labels, d.natural_labels)
    np.testing.assert_array_equal(paired.natural, d.natural)
    out = tmp_path / "out2"
    args = ["analyze", str(tmp_path / "syn.npz"), "--natural", str(tmp_path / "nat.npz")]
    assert main([*args, "--out", str(out), "--probes", "--no-pooled", "--quiet"]) == 0
    assert "crane: ambiguity" in capsys.readouterr().out


def test_demo_without_the_pipeline_pass(tmp_path: Path) -> None:
    from tti_probe import run_demo

    result = run_demo(
        tmp_path, pipeline=False, progress=False, num_classes=6, per_class=60, dim=32, seed=1
    )
    assert all(row.detected and not row.also_flagged for row in result.detection)
    assert len(result.sweep.points) == 8
    assert result.report.html.is_file()
    assert result.pipeline_report is None
    assert "skipped" in result.pipeline_note
    page = result.report.html.read_text(encoding="utf-8")
    assert "Sweep: diversity vs accuracy" in page

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discrete_nets import load_model
from discrete_nets._cli import main
from fourfold_common import engine

TINY = ["--dataset", "digits", "--arch", "mlp", "--hidden", "32", "--epochs", "4"]


def test_train_eval_export_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "model.npz"
    args = [*TINY, "--levels-a", "16", "--levels-w", "64", "--every", "20", "--no-progress"]
    assert main(["train", *args, "--out", str(model_path)]) == 0
    assert "test" in capsys.readouterr().out
    _, levels, info = load_model(model_path)
    assert levels is not None
    assert len(levels) == 64
    assert info["dataset"] == "digits"
    assert (tmp_path / "model.run.json").exists()

    assert main(["eval", str(model_path), "--limit", "200"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["integer"]["match_simulation"] == 1.0
    assert figures["integer"]["metric_integer"] > 0.5

    artifact = tmp_path / "model.ffi"
    assert main(["export", str(model_path), "--out", str(artifact)]) == 0
    assert engine.load(artifact).tables["T"].shape == (17, 64)
    capsys.readouterr()

    report = tmp_path / "report.md"
    assert main(["report", str(artifact), "--out", str(report)]) == 0
    assert "| 17 | 64 |" not in capsys.readouterr().out  # the table is (|A|+1) x |W| entries
    assert "1088" in report.read_text()  # 17 * 64 table entries


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing.ffi")]) == 2
    assert "error" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    assert main(["eval", str(tmp_path / "bad.npz")]) == 2
    assert "cannot read model file" in capsys.readouterr().err
    float_model = tmp_path / "float.npz"
    args = [*TINY[:-1], "1", "--levels-a", "float", "--levels-w", "float", "--no-progress"]
    assert main(["train", *args, "--out", str(float_model)]) == 0
    assert main(["export", str(float_model), "--out", str(tmp_path / "x.ffi")]) == 2
    assert "num_levels" in capsys.readouterr().err
    # a half-configured multi-process run is refused before any training
    assert main(["train", *args, "--num-processes", "2", "--out", str(float_model)]) == 2
    err = capsys.readouterr().err
    assert "multi-process setup is incomplete" in err
    assert err.count("\n") == 1


def test_sweep_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sweep", *TINY[:-1], "1", "--levels-a", "8", "--levels-w", "4", "--limit", "256"]
    assert main([*args, "--out", str(tmp_path), "--no-progress"]) == 0
    first = capsys.readouterr().out
    cells = sorted(p.name for p in tmp_path.glob("cell_*.json"))
    assert cells == ["cell_A8_W4.json", "cell_Afloat_Wfloat.json"]
    stamp = (tmp_path / "cell_A8_W4.json").stat().st_mtime_ns
    assert main([*args, "--out", str(tmp_path), "--no-progress"]) == 0
    assert capsys.readouterr().out == first
    assert (tmp_path / "cell_A8_W4.json").stat().st_mtime_ns == stamp

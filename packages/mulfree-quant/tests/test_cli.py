from __future__ import annotations

import pytest

from mulfree_quant._cli import main


def test_cli_train_quantize_export_eval_report(tmp_path, capsys):
    float_path, twin_path, artifact = tmp_path / "f.npz", tmp_path / "t.npz", tmp_path / "n.ffi"
    assert main(["train", "--epochs", "2", "--out", str(float_path)]) == 0
    assert (
        main(
            [
                "quantize",
                "--model-file",
                str(float_path),
                "--na",
                "6",
                "--nw",
                "7",
                "--scheme",
                "laplacian",
                "--epochs",
                "1",
                "--out",
                str(twin_path),
            ]
        )
        == 0
    )
    assert main(["export", "--model-file", str(twin_path), "--out", str(artifact)]) == 0
    assert main(["eval", "--artifact", str(artifact), "--limit", "100"]) == 0
    output = capsys.readouterr().out
    assert "simulate == executor on 100.00 %" in output
    assert main(["report", "--artifact", str(artifact)]) == 0
    report = capsys.readouterr().out
    assert "| 6 | 7 | 42 |" in report
    assert main(["eval", "--model-file", str(twin_path), "--limit", "50"]) == 0
    assert "fake: accuracy" in capsys.readouterr().out


def test_cli_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "bad.ffi"
    bad.write_bytes(b"garbage")
    assert main(["report", "--artifact", str(bad)]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["export", "--model-file", str(tmp_path / "none.npz"), "--out", "x"]) == 2
    with pytest.raises(SystemExit):
        main(["quantize", "--model-file", "x", "--scheme", "nope", "--out", "y"])

import json
import os

import numpy as np
import pytest

from fourfold_common.io import (
    RECORD_FORMAT,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    git_revision,
    make_run_record,
    read_run_record,
    write_run_record,
)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["file.bin"]


def test_atomic_open_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old")

    def interrupted_write() -> None:
        with atomic_open(target) as handle:
            handle.write("partial new content")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_atomic_open_rejects_append_mode(tmp_path):
    with pytest.raises(ValueError, match="modes"), atomic_open(tmp_path / "x", "a"):  # type: ignore[call-overload]
        pass


def test_run_record_roundtrip(tmp_path):
    record = make_run_record(
        "unit",
        {"seed": 1, "array": np.arange(3), "path": tmp_path},
        {"psnr": np.float32(24.5), "nan": float("nan")},
        packages=["numpy", "surely-not-installed-dist"],
        command="unit-test",
    )
    path = write_run_record(tmp_path / "run.json", record)
    loaded = read_run_record(path)
    assert loaded["format"] == RECORD_FORMAT
    assert loaded["config"] == {"seed": 1, "array": [0, 1, 2], "path": str(tmp_path)}
    assert loaded["figures"]["psnr"] == pytest.approx(24.5)
    assert loaded["figures"]["nan"] == "nan"
    assert loaded["versions"]["numpy"] == np.__version__
    assert loaded["versions"]["surely-not-installed-dist"] is None
    assert loaded["command"] == "unit-test"


def test_read_run_record_rejects_other_json(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a run record"):
        read_run_record(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="cannot read"):
        read_run_record(tmp_path / "broken.json")


def test_git_revision_outside_repository(tmp_path):
    assert git_revision(tmp_path) is None

"""Each package's wheel installs alone with only its declared dependencies."""

import importlib.util
import shutil
import sys

import pytest

pytestmark = pytest.mark.repo


def _load_checker(repo_root):
    spec = importlib.util.spec_from_file_location(
        "check_isolation", repo_root / "tools" / "check_isolation.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_isolation"] = module
    spec.loader.exec_module(module)
    return module


def test_every_wheel_installs_alone_without_forbidden_dependencies(repo_root, tmp_path, capsys):
    checker = _load_checker(repo_root)
    status = checker.main(["--keep", str(tmp_path / "work")])
    report = capsys.readouterr().out
    print(report)
    assert status == 0, report
    for folder in checker.RULES:
        assert f"\n{folder} " in "\n" + report


def test_checker_flags_a_forbidden_dependency(repo_root, tmp_path):
    checker = _load_checker(repo_root)
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    wheels = checker.build_wheels(wheel_dir, ["common"])
    original = checker.RULES["common"]
    checker.RULES["common"] = (original[0], original[1], ("numpy",))
    try:
        result = checker.check_package("common", wheels["common"], wheel_dir, tmp_path)
    finally:
        checker.RULES["common"] = original
    assert any("forbidden dependency installed: numpy" in p for p in result.problems)
    assert shutil.which("uv") or result.installed

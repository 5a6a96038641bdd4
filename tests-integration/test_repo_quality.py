"""The repository-wide checks of CI run as tests, so `hatch test` is the one gate."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.repo


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_lint_is_clean(repo_root):
    result = _run([sys.executable, "-m", "ruff", "check", "."], repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean(repo_root):
    result = _run([sys.executable, "-m", "ruff", "format", "--check", "."], repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_over_all_packages(repo_root):
    result = _run([sys.executable, "-m", "mypy"], repo_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_docs_build_strict(repo_root, tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is part of the hatch-test environment")
    result = _run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            "tools/mkdocs.yml",
            "-d",
            str(tmp_path / "site"),
        ],
        repo_root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "architecture" / "index.html").exists()

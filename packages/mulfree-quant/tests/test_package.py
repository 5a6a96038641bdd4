import subprocess
import sys
from importlib import metadata

import pytest

import mulfree_quant
from mulfree_quant._cli import main


def test_version_matches_distribution_metadata():
    assert mulfree_quant.__version__ == metadata.version("mulfree-quant")


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert mulfree_quant.__version__ in capsys.readouterr().out
    result = subprocess.run(
        [sys.executable, "-m", "mulfree_quant", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


def test_console_script_is_declared():
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts["mulfree-quant"] == "mulfree_quant._cli:main"

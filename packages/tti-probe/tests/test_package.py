import subprocess
import sys
from importlib import metadata

import pytest

import tti_probe
from tti_probe._cli import main


def test_version_matches_distribution_metadata():
    assert tti_probe.__version__ == metadata.version("tti-probe")


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert tti_probe.__version__ in capsys.readouterr().out
    result = subprocess.run(
        [sys.executable, "-m", "tti_probe", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


def test_console_script_is_declared():
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts["tti-probe"] == "tti_probe._cli:main"

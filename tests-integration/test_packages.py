"""Every package: version single-sourced, CLI answers --version/--help, script declared."""

import importlib
import subprocess
import sys
from importlib import metadata

import pytest

PACKAGES = [
    ("delaunay-thumb", "delaunay_thumb"),
    ("mulfree-quant", "mulfree_quant"),
    ("discrete-nets", "discrete_nets"),
    ("tti-probe", "tti_probe"),
]


@pytest.mark.parametrize(("dist", "module"), [*PACKAGES, ("fourfold-common", "fourfold_common")])
def test_version_matches_distribution_metadata(dist, module):
    assert importlib.import_module(module).__version__ == metadata.version(dist)


@pytest.mark.parametrize(("dist", "module"), PACKAGES)
def test_cli_version_and_help(dist, module, capsys):
    main = importlib.import_module(f"{module}._cli").main
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert importlib.import_module(module).__version__ in capsys.readouterr().out
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


@pytest.mark.parametrize(("dist", "module"), PACKAGES)
def test_console_script_is_declared(dist, module):
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts[dist] == f"{module}._cli:main"

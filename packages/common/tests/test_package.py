from importlib import metadata

import fourfold_common


def test_version_matches_distribution_metadata():
    assert fourfold_common.__version__ == metadata.version("fourfold-common")


def test_common_requires_only_numpy_at_base():
    requirements = metadata.requires("fourfold-common") or []
    base = [r for r in requirements if "extra ==" not in r]
    assert [r.split(">")[0].split("=")[0].strip() for r in base] == ["numpy"]

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "delaunay_thumb",
    "delaunay_thumb._decode",
    "delaunay_thumb._delaunay",
    "delaunay_thumb._encode",
    "delaunay_thumb._errors",
    "delaunay_thumb._fit",
    "delaunay_thumb._format",
    "delaunay_thumb._image",
    "delaunay_thumb._optimise",
    "delaunay_thumb._rangecoder",
    "delaunay_thumb._render",
    "delaunay_thumb._thumb",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

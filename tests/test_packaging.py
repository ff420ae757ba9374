"""Every Python package of the source tree is listed in pyproject.toml, so `pip install .` ships all of them."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_package_directory_is_installed():
    tomllib = pytest.importorskip("tomllib")
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = set()
    for name, folder in setup["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *relative)))
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"

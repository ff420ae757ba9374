"""The contributor guide's test templates, run against the example each page defines, so the guide cannot rot.

Each page of docs/contributing/ holds Python blocks whose first line names a file (``# mylab_beacon.py``): the
example plug-in module and the test template, ``test_*.py``. Its TOML block declares the example's entry
point. The test installs the example as a distribution on ``PYTHONPATH`` (see plugin_site.py), the layout
``pip install`` writes, and runs pytest on the template in a fresh interpreter, as a contributor would. A
broken variant of each example must make its template fail, so the templates check what they claim.
"""

from __future__ import annotations

import pathlib
import re

import pytest
from plugin_site import install, run

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "contributing"
PAGES = ["add-a-family.md", "add-an-agent.md", "add-a-solver.md"]

# page: (example module, text replaced, replacement, the template's test that must then fail)
BROKEN = {
    "add-a-family.md": ("mylab_beacon.py", "mrandom.lanes(keys, 1)[:, 0]", "torch.rand(keys.shape)",
                        "test_same_seed_same_run"),
    "add-an-agent.md": ("mylab_softmax.py", 'self.actions.set_state(state["actions"])', "pass",
                        "test_resume_continues_exactly"),
    "add-a-solver.md": ("mylab_commit.py", "return self.successes.argmax(dim=1)", "return self.successes.argmin(dim=1)",
                        "test_solver_beats_random_actions_on_held_out_tasks"),
}


def files(page: str) -> dict[str, str]:
    """The page's Python blocks by the file name on their first line."""
    blocks = re.findall(r"```python\n# (\S+\.py)\n(.*?)```", (GUIDE / page).read_text(), re.S)
    return {name: f"# {name}\n{source}" for name, source in blocks}


def entry_points(page: str) -> list[tuple[str, str, str]]:
    """(group, name, object reference) of every entry point the page's TOML blocks declare."""
    declared = []
    for block in re.findall(r"```toml\n(.*?)```", (GUIDE / page).read_text(), re.S):
        [group] = re.findall(r'^\[project\.entry-points\."([\w.]+)"\]$', block, re.M)
        declared += [(group, name, value) for name, value in re.findall(r'^([\w-]+) = "([\w.:]+)"$', block, re.M)]
    return declared


def site_with(tmp_path: pathlib.Path, page: str, sources: dict[str, str]) -> pathlib.Path:
    """A folder holding the page's files, with its example installed as the distribution ``mylab-N``."""
    site = tmp_path / "site"
    site.mkdir()
    for name, source in sources.items():
        (site / name).write_text(source)
    for number, (group, name, value) in enumerate(entry_points(page)):
        install(site, f"mylab-{number}", value.split(":")[0], None, value, group=group, name=name)
    return site


def template(page: str) -> str:
    [name] = [name for name in files(page) if name.startswith("test_")]
    return name


@pytest.mark.parametrize("page", PAGES)
def test_page_has_an_example_a_template_and_an_entry_point(page):
    names = files(page)
    assert len(names) == 2 and template(page) in names
    modules = {value.split(":")[0] for _, _, value in entry_points(page)}
    assert modules and all(f"{module}.py" in names for module in modules)


@pytest.mark.parametrize("page", PAGES)
def test_template_passes_on_the_example(tmp_path, page):
    site = site_with(tmp_path, page, files(page))
    result = run(site, "-m", "pytest", "-q", "-p", "no:cacheprovider", template(page))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tests = len(re.findall(r"^def test_", files(page)[template(page)], re.M))
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= tests and "skipped" not in result.stdout


@pytest.mark.parametrize("page", PAGES)
def test_template_fails_on_a_broken_example(tmp_path, page):
    module, text, replacement, failing = BROKEN[page]
    sources = files(page)
    assert text in sources[module]
    sources[module] = sources[module].replace(text, replacement)
    site = site_with(tmp_path, page, sources)
    result = run(site, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", failing, template(page))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(rf"^FAILED \S+::{failing}\b", result.stdout, re.M), result.stdout[-3000:]

"""Every ``>>>`` example in the docstrings of metarl, metarl.envs and metarl.agents runs and prints what it shows.

Modules are found with ``pkgutil.walk_packages`` and imported under their installed names (``envs/bandit.py`` is
``metarl.envs.bandit``), so examples see the same objects a user's ``import`` gives them. Each module is one test,
run from an empty working directory that must stay empty: examples write only into folders they make themselves.
Only a training run (``.fit(``) and the examples after it that use its result may carry ``+SKIP``; the guard
test holds that rule and counts the examples, so they cannot silently stop running.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from functools import cache

import gymnasium
import pytest
import torch
from metarl.envs.mujoco import missing_modules as missing_mujoco
from test_fewshot_omniglot import write_tree

from metarl import registry

PACKAGES = ("metarl", "metarl.envs", "metarl.agents")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MIN_EXAMPLE_LINES = 300  # source lines of examples that run, over all modules
MAX_SKIPPED = 20
TRAINING_RUN = re.compile(r"\.fit\(")
FIXED_TMP_PATH = re.compile(r"[\"']/tmp\b")  # examples make their folders with tempfile instead
OPTIONAL = {"metarl.envs.mujoco.": missing_mujoco}  # modules that import an extra: collected where it is installed


def needs_missing_extra(module_name: str) -> bool:
    return any(module_name.startswith(prefix) and missing() for prefix, missing in OPTIONAL.items())


@cache
def module_names() -> tuple[str, ...]:
    names = set(PACKAGES)
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        found = pkgutil.walk_packages(package.__path__, prefix=f"{package_name}.")
        names.update(info.name for info in found  # importing a __main__ runs it
                     if not info.name.endswith(".__main__") and not needs_missing_extra(info.name))
    return tuple(sorted(names))


@cache
def doctests(module_name: str) -> tuple[doctest.DocTest, ...]:
    module = importlib.import_module(module_name)
    found = doctest.DocTestFinder(exclude_empty=True).find(module, module_name)
    return tuple(sorted((test for test in found if test.examples), key=lambda test: test.name))


def is_skipped(example: doctest.Example) -> bool:
    return example.options.get(doctest.SKIP, False)


def example_lines(examples) -> int:
    return sum(len(example.source.splitlines()) for example in examples)


def skipped_without_training(test: doctest.DocTest) -> list[str]:
    """Skipped examples of ``test`` that neither start a training run (``.fit(``) nor come after a skipped one."""
    trained, wrong = False, []
    for example in filter(is_skipped, test.examples):
        trained = trained or bool(TRAINING_RUN.search(example.source))
        if not trained:
            wrong.append(f"{test.name}: {example.source.strip()}")
    return wrong


@pytest.fixture(scope="module")
def namespace(tmp_path_factory):
    """Names the examples may use besides their module's: ``omniglot_root``, a tiny tree in Omniglot's layout."""
    return {"omniglot_root": write_tree(tmp_path_factory.mktemp("doctest") / "omniglot")}


@pytest.fixture
def restored_registries():
    """Ids an example registers are gone afterwards, so every module's examples start from the built-in families."""
    ours, gyms = dict(registry._REGISTRY), dict(gymnasium.registry)
    yield
    for saved, live in ((ours, registry._REGISTRY), (gyms, gymnasium.registry)):
        live.clear()
        live.update(saved)


@pytest.mark.parametrize("module_name", [name for name in module_names() if doctests(name)])
def test_module_examples(module_name, namespace, restored_registries, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report: list[str] = []
    with torch.random.fork_rng(devices=[]):  # the same draws in any test order, and other tests' RNG untouched
        torch.manual_seed(0)
        for test in doctests(module_name):
            test.globs = {**test.globs, **namespace}  # each docstring starts from its module's names, as pytest does
            runner.run(test, out=report.append, clear_globs=True)
    assert runner.failures == 0, "".join(report)
    ran = [example for test in doctests(module_name) for example in test.examples if not is_skipped(example)]
    assert runner.tries == len(ran)
    assert list(tmp_path.iterdir()) == [], "examples wrote into the working directory"


def test_examples_keep_running():
    tests = [test for name in module_names() for test in doctests(name)]
    examples = [example for test in tests for example in test.examples]
    skipped = [example for example in examples if is_skipped(example)]
    ran = [example for example in examples if not is_skipped(example)]
    assert {"metarl.envs.bandit", "metarl.agents.rl2.trainer", "metarl.rl.gae"} <= set(module_names())
    assert example_lines(ran) >= MIN_EXAMPLE_LINES, f"only {example_lines(ran)} example lines run"
    assert len(skipped) <= MAX_SKIPPED, f"{len(skipped)} examples are skipped"
    assert [e.source for e in examples if FIXED_TMP_PATH.search(e.source)] == [], "a fixed /tmp path may collide"
    wrong = [line for test in tests for line in skipped_without_training(test)]
    assert wrong == [], "only a training run (.fit) and the examples that use its result may be skipped:\n" + \
        "\n".join(wrong)

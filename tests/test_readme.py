"""The README's "Adding an environment family" example runs as written and yields a working family."""

import pathlib
import re
import sys
import types

import gymnasium
from gymnasium.utils.env_checker import check_env

from metarl import registry, solvers

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_add_env_example_runs():
    section = README.read_text().split("## Adding an environment family", 1)[1].split("\n## ", 1)[0]
    module_code, usage_code = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    module = types.ModuleType("mylab_envs")  # the first block is the module the second one imports
    sys.modules["mylab_envs"] = module
    namespace: dict = {}
    try:
        exec(compile(module_code, str(README), "exec"), module.__dict__)
        exec(compile(usage_code, str(README), "exec"), namespace)
        env = namespace["env"]
        assert namespace["step"].reward.shape == (8,)
        assert env.trial_steps == 40
        assert namespace["held_out"].target.shape == (100,)
        assert namespace["oracle"].shape == (8,) and bool((namespace["oracle"] > -0.1).all())
        check_env(gymnasium.make("mylab/Drift-v0").unwrapped)
    finally:
        sys.modules.pop("mylab_envs", None)
        registry._REGISTRY.pop("mylab/Drift-v0", None)
        gymnasium.registry.pop("mylab/Drift-v0", None)
        solvers._SOLVERS.pop("Drift", None)

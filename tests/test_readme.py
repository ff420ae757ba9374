"""The README's "Adding an environment family" example runs as written and yields a working family."""

import pathlib
import re

import gymnasium
from gymnasium.utils.env_checker import check_env

from metarl import registry

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_add_env_example_runs():
    text = README.read_text()
    section = text.split("## Adding an environment family", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    try:
        exec(compile(code, str(README), "exec"), namespace)
        env = namespace["env"]
        assert namespace["step"].reward.shape == (8,)
        assert env.trial_steps == 40
        check_env(gymnasium.make("mylab/Drift-v0").unwrapped)
    finally:
        registry._REGISTRY.pop("mylab/Drift-v0", None)
        gymnasium.registry.pop("mylab/Drift-v0", None)

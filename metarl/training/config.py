"""Training configurations: typed dataclasses filled from YAML files and command-line values.

Every agent declares its hyperparameters as one dataclass (its ``config``; the family arguments inside it
are ``env_kwargs``). :func:`metarl.training.recipes.load_config` is the one route from sources to a config,
for the command line, the recipes and the benchmarks alike: the defaults, then a YAML file, then
command-line values (:func:`config_values`), merged by :func:`build_config`, which rejects an unknown key
or a value of the wrong type before anything runs, naming the key, the expected type and the valid keys.
Command-line strings (``--set`` and ``--env-kwargs`` values) are read by one parser, :func:`parse_literal`.

Example:
    >>> @dataclasses.dataclass
    ... class Config:
    ...     lr: float = 1e-3
    ...     hidden: int = 64
    >>> build_config(Config, {"hidden": 128}, {"lr": 3e-4})
    Config(lr=0.0003, hidden=128)
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import itertools
import math
import re
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from metarl.errors import ConfigError

C = TypeVar("C")
FLOAT32_MAX = 3.4028234663852886e38
LR_MAX = 1e12
"""Largest learning rate a config accepts: far larger ones overflow the optimizers' float32 steps."""


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(tp))) + "}"
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(t) for t in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp`` (exact types only; an int is accepted for a float), or ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
    elif origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"config key {key!r} must be one of {list(typing.get_args(tp))}, got {value!r}")
    elif tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
                raise ConfigError(f"config key {key!r} must be a finite float32 number, got {value!r}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is dict or tp is dict:
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return dict(value)
    elif origin is list or tp is list:
        if isinstance(value, (list, tuple)):
            return list(value)
    else:
        raise TypeError(f"unsupported config field type {tp!r} for {key!r}")
    raise ConfigError(f"config key {key!r} must be {_type_name(tp)}, got {type(value).__name__} {value!r}")


def build_config(cls: type[C], *sources: Mapping[str, Any] | None) -> C:
    """An instance of the dataclass ``cls`` from defaults updated by each source in turn.

    Raises :class:`ConfigError` for an unknown key (with close matches) or a wrongly typed value,
    and whatever the dataclass's ``__post_init__`` raises for out-of-range values.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if key not in hints:
                close = difflib.get_close_matches(key, names, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; valid keys: {', '.join(names)}"
                raise ConfigError(f"unknown config key {key!r} for {cls.__name__}{hint}")
            values[key] = _check_learning_rate(key, _coerce(value, hints[key], key))
    return cls(**values)


def _check_learning_rate(key: str, value: Any) -> Any:
    """``value``, or ConfigError if ``key`` names a learning rate (``lr``, ``*_lr``) outside (0, LR_MAX]."""
    is_rate = key == "lr" or key.endswith("_lr")
    if is_rate and isinstance(value, float) and not 0.0 < value <= LR_MAX:
        raise ConfigError(f"config key {key!r} is a learning rate and must lie in (0, {LR_MAX:g}], got {value!r}")
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file, or a ConfigError naming the file and what is wrong with it."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file (binary or not UTF-8); give a YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"config file {path} is not valid YAML: {problem}{where}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def config_values(path: str | Path | None = None, *sources: Mapping[str, Any] | None
                  ) -> tuple[str | None, dict[str, Any]]:
    """(agent the YAML file at ``path`` names, its other values updated by each source in turn).

    The values are not checked here; :func:`~metarl.training.recipes.load_config` checks them against the
    agent's config.

    Example:
        >>> config_values(None, {"lr": 0.1}, {"lr": 0.2, "seed": 1})
        (None, {'lr': 0.2, 'seed': 1})
    """
    values = load_yaml(path) if path is not None else {}
    agent = values.pop("agent", None)
    for source in sources:
        values.update(source or {})
    return agent, values


def command_line_values(flags: Mapping[str, Any] | None = None, env_kwargs: str | None = None,
                        assignments: list[str] | None = None) -> dict[str, Any]:
    """The config values given on a command line: ``flags`` that are not None, then ``--env-kwargs``, then ``--set``.

    Example:
        >>> command_line_values({"seed": 1, "device": None}, "arms=5,pulls=10", ["lr=3e-4"])
        {'seed': 1, 'env_kwargs': {'arms': 5, 'pulls': 10}, 'lr': 0.0003}
    """
    values = {key: value for key, value in (flags or {}).items() if value is not None}
    if env_kwargs is not None:
        values["env_kwargs"] = parse_env_kwargs(env_kwargs)
    values.update(parse_assignments(assignments))
    return values


def parse_assignments(items: list[str] | None) -> dict[str, Any]:
    """``["lr=3e-4", "cell=lstm"]`` -> ``{"lr": 0.0003, "cell": "lstm"}`` (each value read by :func:`parse_literal`)."""
    return dict(_assignment(item, "--set", "key=value") for item in items or [])


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    """Family arguments written ``key=value,key=value``, each value read by :func:`parse_literal`.

    Commas inside brackets, braces or quotes belong to the value, so lists and quoted strings pass whole.

    Example:
        >>> parse_env_kwargs("arms=5,pulls=100,dims=[2, 3],name='a, b'")
        {'arms': 5, 'pulls': 100, 'dims': [2, 3], 'name': 'a, b'}
    """
    return dict(_assignment(item, "--env-kwargs", "key=value[,key=value...]") for item in _top_level_items(text or ""))


def _assignment(item: str, option: str, form: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"malformed {option} item {item!r}; expected {form}")
    return key.strip(), parse_literal(text.strip())


def _top_level_items(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces and quotes, empty items dropped."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item for item in items if item.strip()]


def parse_literal(text: str) -> Any:
    """The value a command-line string stands for: the one reader of ``--set`` and ``--env-kwargs`` values.

    ``true``/``false`` and ``null``/``none`` (any case) are bools and None; a Python literal (number, quoted
    string, list, dict) is that value; a YAML flow collection with bare words (``[reward_mean]``,
    ``{arms: 5}``) is read as YAML; anything else is the string itself, spaces included.

    Example:
        >>> parse_literal("true"), parse_literal("3e-4"), parse_literal("[reward_mean]"), parse_literal("a b")
        (True, 0.0003, ['reward_mean'], 'a b')
    """
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    if text.startswith(("[", "{")):  # a YAML flow collection with bare words: [reward_mean], {arms: 5}
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            pass
    return text


def check_ranges(config: Any, *, at_least: Mapping[str, float] | None = None, positive: tuple[str, ...] = (),
                 unit: tuple[str, ...] = ()) -> None:
    """Raise :class:`ConfigError` naming the first key of ``config`` outside its range.

    ``at_least`` maps keys to their minimum, ``positive`` keys must be > 0, ``unit`` keys must lie in [0, 1].

    Example:
        >>> check_ranges(types.SimpleNamespace(epochs=0), at_least={"epochs": 1})
        Traceback (most recent call last):
        metarl.errors.ConfigError: config key 'epochs' must be at least 1, got 0
    """
    for key, minimum in (at_least or {}).items():
        if getattr(config, key) < minimum:
            raise ConfigError(f"config key {key!r} must be at least {minimum}, got {getattr(config, key)}")
    for key in positive:
        if not getattr(config, key) > 0:
            raise ConfigError(f"config key {key!r} must be positive, got {getattr(config, key)}")
    for key in unit:
        if not 0.0 <= getattr(config, key) <= 1.0:
            raise ConfigError(f"config key {key!r} must lie in [0, 1], got {getattr(config, key)}")


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain dict (what checkpoints and TensorBoard's hparams store)."""
    return dataclasses.asdict(config)


BASE_KEY_DOCS = {
    "seed": "Seed of every random draw: the same seed gives the same run.",
    "device": "auto (CUDA when present), cpu or cuda.",
    "total_steps": "Training length, in the agent's steps.",
    "logdir": "Parent directory of run directories.",
    "run_name": "Run directory name (None: <family>__<agent>__<seed>__<time>).",
    "checkpoint_every": "Iterations between checkpoints.",
    "env_kwargs": "Family arguments (empty: the family's defaults, ``metarl list -v``).",
}
"""Docs of the keys every agent's config has (those of :class:`metarl.training.TrainConfig` and ``env_kwargs``),
used where the agent's config does not document them itself."""


def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstring (the string literal under a field) of each field of the dataclass ``cls``.

    A field without one in ``cls`` takes the nearest base class's, then :data:`BASE_KEY_DOCS`.

    Example:
        >>> from metarl.training import TrainConfig
        >>> field_docs(TrainConfig)["logdir"]
        'Parent directory of run directories.'
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_attribute_docstrings(klass))
    return {f.name: docs.get(f.name) or BASE_KEY_DOCS.get(f.name, "") for f in dataclasses.fields(cls)}


def _attribute_docstrings(klass: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):  # defined where no source is kept (an interactive session)
        return {}
    body = ast.parse(source).body[0].body
    docs = {}
    for node, following in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[node.target.id] = inspect.cleandoc(following.value.value)
    return docs


def describe_fields(cls: type) -> list[tuple[str, str, str, str]]:
    """(key, type, default, first sentence of the doc) for each field of the config dataclass ``cls``.

    Example:
        >>> from metarl.training import TrainConfig
        >>> describe_fields(TrainConfig)[0]
        ('seed', 'int', '0', 'Seed of every random draw: the same seed gives the same run.')
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        rows.append((f.name, _type_name(hints[f.name]), _yaml_value(default), first_sentence(docs[f.name])))
    return rows


def _yaml_value(value: Any) -> str:
    """A default as it is written in a config file: ``true``, ``null``, ``[40, 40]``."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)


def first_sentence(doc: str) -> str:
    """The first sentence of a reST docstring as plain text on one line.

    Example:
        >>> first_sentence("Width of the ``hidden`` layer, e.g. 64. Set 0 to skip it.")
        'Width of the hidden layer, e.g. 64.'
    """
    text = re.sub(r":\w+:`([^`]*)`", r"\1", " ".join(doc.split())).replace("``", "")
    end = re.search(r"(?<!e\.g)(?<!i\.e)\.(\s|$)", text)  # a period that ends a sentence, not an abbreviation's
    return text[:end.start() + 1] if end else text

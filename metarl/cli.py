"""The metarl command line: list families, measure throughput, score reference solvers, train and evaluate agents.

User mistakes (an unknown id, a malformed --env-kwargs) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import shutil
import sys
import typing
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium
import torch

from metarl.errors import BadArgumentError, MetaRLError
from metarl.protocols import PROTOCOLS


def _space(space: Any) -> str:
    if isinstance(space, (gymnasium.spaces.Discrete, gymnasium.spaces.MultiBinary)):
        return f"{type(space).__name__}({space.n})"
    return f"Box{tuple(space.shape)}"


def cmd_list(args: argparse.Namespace) -> None:
    from metarl.registry import make, registered

    rows = []
    for spec in registered():
        env = make(spec.id)
        defaults = ", ".join(f"{k}={v}" for k, v in env.config.items())
        rows.append((spec.id, spec.family, _space(env.single_action_space), _space(env.single_observation_space),
                     spec.description, defaults))
    header = ("id", "family", "action", "observation")
    widths = [max(len(r[i]) for r in [*rows, header]) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  description")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + f"  {r[4]}")
        if args.verbose:
            print(" " * 4 + f"defaults: {r[5]}")


def cmd_bench(args: argparse.Namespace) -> None:
    from metarl import bench

    if args.device == "auto":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    else:
        devices = [args.device]
    if args.budget <= 0 or args.seconds <= 0:
        raise BadArgumentError(f"--seconds and --budget must be positive, got --seconds {args.seconds} "
                               f"--budget {args.budget}")
    save = (lambda result: bench.write_json(result, args.json)) if args.json else None
    print(f"each measurement times at least {args.seconds:g} s and stops at {args.budget:g} s; a batch predicted "
          f"to take longer is skipped (SyncVectorEnv: measured at a smaller B)"
          + (f"; rows are saved to {args.json} as they come" if save else ""), flush=True)
    print(bench.HEADER, flush=True)
    result = bench.run(args.env or None, args.sizes, devices, args.sync_sizes, args.seconds, budget=args.budget,
                       on_row=save)
    print(f"done in {result['elapsed_seconds']:.0f} s" + (f"; wrote {args.json}" if save else ""))


def cmd_solvers(args: argparse.Namespace) -> None:
    from metarl.registry import make, registered
    from metarl.solvers import solver_families, solver_names, solver_table
    from metarl.training.config import parse_env_kwargs

    if args.trials < 1:
        raise BadArgumentError(f"--trials must be a positive number of tasks, got {args.trials}")
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    env = make(args.env, **env_kwargs)
    if not solver_names(env):
        scored = [spec.id for spec in registered() if spec.family in solver_families()]
        raise BadArgumentError(f"{args.env} has no reference solvers; families that have them: {', '.join(scored)}")
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    print(f"{args.env} ({settings}), {args.trials} trials, split={args.split}")
    print(f"  {'solver':16s} {'mean trial return':>22s} {'published':>10s} {'time':>7s}")
    for row in solver_table(args.env, args.trials, args.seed, args.split, args.device, **env_kwargs):
        published = f"{row['published']:10.1f}" if row["published"] is not None else f"{'-':>10s}"
        print(f"  {row['solver']:16s} {row['mean']:12.2f} ± {row['ci95']:7.2f} {published} {row['seconds']:6.1f}s")


def cmd_demo(args: argparse.Namespace) -> None:
    from metarl import bench

    settings = [
        ("metarl/BernoulliBandit-v0", "arms=5,pulls=10"),
        ("metarl/BernoulliBandit-v0", "arms=5,pulls=100"),
        ("metarl/TabularMDP-v0", "episodes=10"),
        ("metarl/Navigation2D-v0", ""),
    ]
    print("== throughput: random actions, B = 4096, native engine vs Gymnasium SyncVectorEnv ==")
    print(bench.HEADER)
    scored = list(dict.fromkeys(env_id for env_id, _ in settings))  # the families with reference solvers
    bench.run(scored, sizes=(4096,), devices=[args.device], sync_sizes=(4096,), min_seconds=0.5)
    for env_id, kw in settings:
        print()
        cmd_solvers(argparse.Namespace(env=env_id, env_kwargs=kw, trials=args.trials, seed=0, split="test",
                                       device=args.device))


def _command_line_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config values ``metarl train`` was given on its command line (they override the --config file)."""
    from metarl.training.config import command_line_values

    flags = {"env": args.env, "device": args.device, "seed": args.seed, "total_steps": args.total_steps,
             "logdir": args.logdir, "run_name": args.run_name}
    return command_line_values(flags, args.env_kwargs, args.set)


def tensorboard_command() -> str:
    """A command that starts TensorBoard from the user's shell.

    ``tensorboard`` when the one on the PATH is this interpreter's; else the script beside this interpreter
    (``.venv/bin/tensorboard`` for a virtual environment that is not activated); else ``python -m tensorboard.main``.
    """
    script = shutil.which("tensorboard", path=str(Path(sys.executable).parent))
    if script is None:
        return f"{sys.executable} -m tensorboard.main"
    on_path = shutil.which("tensorboard")
    if on_path is not None and Path(on_path).resolve() == Path(script).resolve():
        return "tensorboard"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else script


def _max_seconds(minutes: float | None) -> float | None:
    if minutes is None:
        return None
    if not (math.isfinite(minutes) and minutes > 0):
        raise BadArgumentError(f"--max-minutes must be a positive number of minutes, got {minutes:g}")
    return 60.0 * minutes


def cmd_train(args: argparse.Namespace) -> None:
    from metarl.training.recipes import load_config

    max_seconds = _max_seconds(args.max_minutes)
    if args.resume:
        trainer = _resumed_trainer(args)
        where = f"at step {trainer.global_step:,} (iteration {trainer.iteration})"
        if trainer.forked_from is not None and trainer.parallel.is_main:
            print(f"forking {trainer.forked_from} {where} into the new run {trainer.run_dir}; its run is left as it is")
        elif trainer.parallel.is_main:
            print(f"resuming {trainer.run_dir} {where}")
    else:
        trainer_type, config = load_config(args.config, _command_line_values(args), agent=args.agent)
        trainer = trainer_type(config)
        trainer.prepare_run_dir()
        if trainer.parallel.is_main:
            processes = f", {trainer.parallel.size} processes" if trainer.parallel.active else ""
            print(f"training {trainer.agent} on {config.env} ({trainer.device}{processes}); logs and checkpoint in "
                  f"{trainer.run_dir}")
    checkpoint = trainer.fit(progress=not args.no_progress, max_seconds=max_seconds)
    if not trainer.parallel.is_main:  # under torchrun, rank 0 alone reports
        return
    if trainer.global_step < trainer.config.total_steps:
        print(f"stopped on the time limit (--max-minutes {args.max_minutes:g}) at step {trainer.global_step:,} of "
              f"{trainer.config.total_steps:,}; continue with: metarl train --resume {trainer.run_dir}")
    print(f"checkpoint: {checkpoint}")
    print(f"watch it:   {tensorboard_command()} --logdir {trainer.run_dir.parent}")
    if args.eval_trials:
        print()
        print("\n".join(trainer.evaluation_report(args.eval_trials, "test", 0)))


def _resumed_trainer(args: argparse.Namespace) -> Any:
    """The run saved at ``--resume``; every other option given must agree with it (see ``Trainer.resume``)."""
    from metarl.agent_registry import trainer_class
    from metarl.training.checkpoint import load_checkpoint
    from metarl.training.config import config_values

    agent = load_checkpoint(args.resume)["agent"]
    named_in_file, given = config_values(args.config, _command_line_values(args))
    for named in (named_in_file, args.agent):
        if named is not None and named != agent:
            raise BadArgumentError(f"{args.resume} holds a {agent} run, not {named}; drop the agent name or start a "
                                   "new run")
    return trainer_class(agent).resume(args.resume, given)


def cmd_eval(args: argparse.Namespace) -> None:
    from metarl.agent_registry import trainer_class
    from metarl.training.checkpoint import load_checkpoint

    payload = load_checkpoint(args.checkpoint)
    trainer = trainer_class(payload["agent"]).resume(args.checkpoint, {"device": args.device})
    for mismatch in trainer.data_mismatch:
        print(f"metarl: warning: {mismatch}, so these scores are not on the run's data", file=sys.stderr)
    if args.protocol:
        from metarl.protocols import protocol_report_for

        print("\n".join(protocol_report_for(trainer, args.protocol, args.trials, args.seed, args.greedy)))
        return
    trials = 1000 if args.trials is None else args.trials
    print("\n".join(trainer.evaluation_report(trials, args.split, args.seed, greedy=args.greedy)))


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as lines of left-aligned columns, the last column unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows]


def agents_help() -> list[str]:
    """``metarl train --help`` epilogue: each agent with its default env and what it trains."""
    from metarl.agent_registry import agent_names, trainer_class
    from metarl.training.config import first_sentence

    rows = [("agent", "default env", "trains")]
    for name in agent_names():
        trainer = trainer_class(name)
        rows.append((name, trainer.config_type().env, first_sentence(trainer.__doc__ or "")))
    return ["agents (metarl train AGENT --help lists its config keys):", *_table(rows)]


def agent_keys_help(agent: str) -> list[str]:
    """``metarl train AGENT --help`` epilogue: the agent's config keys with type, default and doc."""
    from metarl.agent_registry import trainer_class
    from metarl.training.config import describe_fields

    config_type = trainer_class(agent).config_type
    rows = [("key", "type", "default", "doc")] + describe_fields(config_type)
    return [f"{agent} config keys ({config_type.__name__}), set in a --config file or with --set KEY=VALUE:",
            *_table(rows)]


class _TrainHelp(argparse.Action):
    """``metarl train [AGENT] --help``: the options, then the agent's config keys, or the agents without one."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        agent = getattr(namespace, "agent", None)
        try:
            extra = agent_keys_help(agent) if agent else agents_help()
        except MetaRLError as exc:
            parser.exit(2, f"metarl: error: {exc}\n")
        parser.print_help()
        print("\n" + "\n".join(extra))
        parser.exit()


class UsageError(MetaRLError):
    """A command line that argparse cannot parse (unknown option, ill-typed value)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors reach :func:`main` as :class:`UsageError` (one line, exit code 2)."""

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    from metarl.agent_registry import agent_names
    from metarl.bench import DEFAULT_BUDGET

    parser = _Parser(prog="metarl", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered environment ids with their spaces")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each id's default arguments")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("bench", help="environment steps/s, native vs Gymnasium SyncVectorEnv")
    p.add_argument("--env", action="append", help="env id (repeatable; default: all built-in families)")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 4096, 65536], help="batch sizes B")
    p.add_argument("--sync-sizes", type=int, nargs="+", default=[1, 64, 4096],
                   help="batch sizes also measured through SyncVectorEnv (slow: one Python env per B)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, or auto (= cpu and cuda when present)")
    p.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per measurement")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET,
                   help="most seconds one measurement may take, building included; a native batch predicted to "
                        "take longer is skipped, a SyncVectorEnv one is measured at a smaller B that fits "
                        "(default: %(default)g)")
    p.add_argument("--json", help="also write the results to this JSON file (rewritten after every row)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("solvers", help="score the reference solvers of a family on held-out tasks")
    p.add_argument("--env", default="metarl/BernoulliBandit-v0", help="env id")
    p.add_argument("--env-kwargs", default="", help="family arguments, e.g. arms=5,pulls=100")
    p.add_argument("--trials", type=int, default=1000, help="number of tasks (one trial each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="test", choices=["train", "test", "validation"])
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.set_defaults(func=cmd_solvers)

    p = sub.add_parser("train", help="train a meta-agent (writes TensorBoard logs and checkpoints)", add_help=False,
                       description="Train a meta-agent. Values come from the agent's defaults, then --config, then "
                                   "the options below (command-line values override the file). An --env starts "
                                   "from that family's default arguments.")
    p.add_argument("-h", "--help", action=_TrainHelp,
                   help="show this help and the agent's config keys (or the agents, without AGENT), then exit")
    p.add_argument("agent", nargs="?", help=f"agent name ({', '.join(agent_names())}); optional when the config file "
                   "names it")
    p.add_argument("--config", help="YAML file of config keys (see configs/)")
    p.add_argument("--env", help="env id, e.g. metarl/BernoulliBandit-v0")
    p.add_argument("--env-kwargs", help="family arguments, e.g. arms=5,pulls=100")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--seed", type=int)
    p.add_argument("--total-steps", type=int, help="training length: environment steps summed over environments (RL "
                   "agents) or training episodes (few-shot learners)")
    p.add_argument("--logdir", help="parent directory of run directories (default: runs)")
    p.add_argument("--run-name", help="run directory name (default: <family>__<agent>__<seed>__<time>)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other config key (repeatable)")
    p.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint or run directory")
    p.add_argument("--max-minutes", type=float, help="stop training after this many minutes, with a checkpoint "
                   "(continue it with --resume)")
    p.add_argument("--eval-trials", type=int, default=0, help="after training, evaluate on this many test tasks")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on held-out tasks beside the reference solvers")
    p.add_argument("checkpoint", help="checkpoint file or run directory")
    p.add_argument("--trials", type=int, default=None,
                   help="number of held-out tasks: one trial each (RL agents) or one episode each (few-shot learners); "
                        "default 1000, or with --protocol every held-out task of the benchmark")
    p.add_argument("--split", default="test", choices=["train", "test", "validation"])
    p.add_argument("--seed", type=int, default=0, help="seed of the task stream (same seed: same tasks)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--greedy", action="store_true", help="take the most likely action instead of sampling")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS),
                   help="a benchmark's own evaluation (metaworld: 10 adaptation episodes, then the success rate of 3 "
                        "scored episodes on every held-out task), for any agent that offers an adaptive agent")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("demo", help="throughput at B = 4096 and reference-solver scores for every family")
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_demo)
    return parser


FILESYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                               errno.EEXIST, errno.EISDIR, errno.ENOENT, errno.ENAMETOOLONG, errno.EFBIG, errno.EIO,
                               errno.ELOOP})
"""Errors of reading or writing a file that the user can fix (a path, a permission, free space)."""


def _filesystem_error(exc: OSError, args: argparse.Namespace) -> str:
    """One line naming the path and the cause of ``exc``; a write with no file name (a full disk) names the output
    location the command was given."""
    path = exc.filename
    if path is None:
        given = [getattr(args, name, None) for name in ("resume", "logdir", "json", "checkpoint", "config")]
        path = next((p for p in given if p), "runs" if args.command == "train" else ".")
    cause = exc.strerror or str(exc)
    return f"cannot use {path}: {cause}"


def _print_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"metarl: warning: {message}", file=sys.stderr)  # one line, as errors are (e.g. a broken plug-in)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``metarl`` command line; returns the exit code (2 for a user mistake, with one line on stderr)."""
    with warnings.catch_warnings():  # warnings print as one line while the command runs, and only then
        warnings.showwarning = _print_warning
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, or a usage mistake argparse already printed in one line
            return exc.code if isinstance(exc.code, int) else 0
        args.func(args)
    except MetaRLError as exc:
        print(f"metarl: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path or disk the user can fix; anything else is a bug and keeps its traceback
        if exc.errno not in FILESYSTEM_ERRNOS or args is None:
            raise
        print(f"metarl: error: {_filesystem_error(exc, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metarl: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

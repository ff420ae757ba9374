"""The ``metarl`` command line: list families, measure throughput, score reference solvers.

User mistakes (an unknown id, a malformed ``--env-kwargs``) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from metarl.errors import BadArgumentError, MetaRLError


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``"arms=5,pulls=100"`` -> ``{"arms": 5, "pulls": 100}`` (values are Python literals or strings)."""
    out: dict[str, Any] = {}
    for item in filter(None, (text or "").split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadArgumentError(f"malformed --env-kwargs item {item!r}; expected key=value[,key=value...]")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def _space(space: Any) -> str:
    return f"Discrete({space.n})" if hasattr(space, "n") else f"Box{tuple(space.shape)}"


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
    print(bench.HEADER)
    result = bench.run(args.env or None, args.sizes, devices, args.sync_sizes, args.seconds)
    if args.json:
        bench.write_json(result, args.json)
        print(f"wrote {args.json}")


def solver_table(env_id: str, trials: int, seed: int, split: str, device: str, **kwargs: Any) -> list[dict]:
    """Mean trial return (with a 95% interval) of every reference solver on ``trials`` tasks."""
    from metarl.published import published_scores
    from metarl.registry import make
    from metarl.solvers import solver_names, trial_returns

    env = make(env_id, num_envs=trials, device=device, seed=seed, split=split, **kwargs)
    published = published_scores(env.family, env.config)
    rows = []
    for name in solver_names(env):
        start = time.perf_counter()
        returns = trial_returns(env, name, generator=torch.Generator().manual_seed(seed)).double().cpu()
        half = 1.96 * float(returns.std()) / math.sqrt(len(returns))
        reference = published.get(name, published.get(name.removesuffix("-n01")))
        rows.append({"solver": name, "mean": float(returns.mean()), "ci95": half, "published": reference,
                     "seconds": time.perf_counter() - start})
    return rows


def cmd_solvers(args: argparse.Namespace) -> None:
    from metarl.registry import make

    kwargs = parse_kwargs(args.env_kwargs)
    env = make(args.env, **kwargs)
    settings = ", ".join(f"{k}={v}" for k, v in env.config.items())
    print(f"{args.env} ({settings}), {args.trials} trials, split={args.split}")
    print(f"  {'solver':16s} {'mean trial return':>22s} {'published':>10s} {'time':>7s}")
    for row in solver_table(args.env, args.trials, args.seed, args.split, args.device, **kwargs):
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metarl", description=__doc__.splitlines()[0])
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
    p.add_argument("--json", help="also write the results to this JSON file")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("solvers", help="score the reference solvers of a family on held-out tasks")
    p.add_argument("--env", default="metarl/BernoulliBandit-v0", help="env id")
    p.add_argument("--env-kwargs", default="", help="family arguments, e.g. arms=5,pulls=100")
    p.add_argument("--trials", type=int, default=1000, help="number of tasks (one trial each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="test", choices=["train", "test", "validation"])
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.set_defaults(func=cmd_solvers)

    p = sub.add_parser("demo", help="throughput at B = 4096 and reference-solver scores for every family")
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except MetaRLError as exc:
        print(f"metarl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metarl: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""MAML meta-iterations per second on sinusoid: our vmapped meta-batch against a plain copy-and-step loop.

Both run the MAML paper's sinusoid setting (a 2 x 40 ReLU MLP, 25 tasks per meta-batch, K = 10 support
and 10 query points, one second-order inner step of 0.01, Adam 1e-3) in the same process on the same
episodes:

- **ours**: ``MAMLTrainer.train_iteration`` (episode sampling, task parameters for the whole meta-batch,
  one vmapped forward and one ``autograd.grad`` per inner step, the meta-update);
- **reference**: per task, a deep copy of the network whose parameters are graph-connected clones of the
  originals, a manual SGD step with ``create_graph=True``, the query loss, all in a Python loop over
  tasks (the pattern of learn2learn's ``clone()`` / ``adapt()``), then the same meta-update.

The two meta-gradients are compared on one batch first. Timed blocks alternate between the two so
that load on a shared machine affects both alike. Target: ours at least 2x the reference.

Usage:
    python benchmarks/maml_speed.py                  # 3 rounds of 5 s per implementation
    python benchmarks/maml_speed.py --seconds 10 --rounds 5 --json speed.json
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from metarl.agents.fewshot import MAMLConfig, MAMLTrainer
from torch import nn

from metarl.fewshot import Episodes

TARGET = 2.0


def clone_module(module: nn.Module) -> nn.Module:
    """A deep copy whose parameters are differentiable clones of ``module``'s (gradients flow back to them)."""
    clone = copy.deepcopy(module)
    originals = dict(module.named_parameters())
    for name, sub in clone.named_modules():
        for key in list(sub._parameters):
            full = f"{name}.{key}" if name else key
            sub._parameters[key] = originals[full].clone()
    return clone


def step_module(module: nn.Module, grads: dict[str, torch.Tensor], lr: float) -> None:
    """Replace every parameter p of ``module`` by ``p - lr * grad`` (a differentiable, non-leaf tensor)."""
    for name, sub in module.named_modules():
        for key in list(sub._parameters):
            full = f"{name}.{key}" if name else key
            sub._parameters[key] = sub._parameters[key] - lr * grads[full]


def reference_meta_loss(net: nn.Module, episodes: Episodes, lr: float) -> torch.Tensor:
    """The MAML meta-loss one task at a time: copy, step by hand with the graph kept, score the query set."""
    total = 0.0
    for t in range(episodes.batch_size):
        clone = clone_module(net)
        names = [n for n, _ in clone.named_parameters()]
        inner = F.mse_loss(clone(episodes.support_x[t]), episodes.support_y[t])
        grads = torch.autograd.grad(inner, [p for _, p in clone.named_parameters()], create_graph=True)
        step_module(clone, dict(zip(names, grads, strict=True)), lr)
        total = total + F.mse_loss(clone(episodes.query_x[t]), episodes.query_y[t])
    return total / episodes.batch_size


def reference_iteration(trainer: MAMLTrainer) -> None:
    """One meta-iteration of the reference loop on the trainer's network, optimizer and episode stream."""
    episodes = trainer.episodes()
    loss = reference_meta_loss(trainer.net, episodes, trainer.config.inner_lr)
    trainer.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    trainer.optimizer.step()


def gradients_agree(trainer: MAMLTrainer) -> float:
    """Largest difference between the two meta-gradients on one batch (the same episodes, the same parameters)."""
    from metarl.agents.fewshot.scoring import support_loss, task_losses

    from metarl.rl.functional import adapt, per_task_call

    episodes = trainer.episodes()
    adapted = adapt(support_loss(trainer.net, episodes.support_x, episodes.support_y),
                    trainer.meta_params(episodes.batch_size), [trainer.config.inner_lr])[-1]
    ours = torch.autograd.grad(task_losses(per_task_call(trainer.net, adapted, episodes.query_x),
                                           episodes.query_y).mean(), list(trainer.net.parameters()))
    theirs = torch.autograd.grad(reference_meta_loss(trainer.net, episodes, trainer.config.inner_lr),
                                 list(trainer.net.parameters()))
    return max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True))


def timed(run, seconds: float) -> tuple[int, float]:
    """Iterations of ``run()`` in about ``seconds`` and the time they took."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()
        count += 1
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-batch", type=int, default=25)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per implementation per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    config = MAMLConfig(env="metarl/Sinusoid-v0", shots=args.shots, queries=args.shots, meta_batch=args.meta_batch,
                        inner_lr=0.01, inner_steps=1, hidden=[40, 40], device=args.device, logdir="/tmp",
                        validate_every=10**9)  # no validation inside the timed iterations
    trainer = MAMLTrainer(config)
    difference = gradients_agree(trainer)
    print(f"device {trainer.device}, {torch.get_num_threads()} CPU threads; meta-batch {args.meta_batch}, K = "
          f"{args.shots}, one second-order inner step; largest meta-gradient difference {difference:.2e}", flush=True)
    runs = {"ours (vmapped meta-batch)": trainer.train_iteration, "reference (copy-and-step loop)":
            lambda: reference_iteration(trainer)}
    for run in runs.values():  # warm-up
        for _ in range(3):
            run()
    totals = {name: [0, 0.0] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            count, seconds = timed(run, args.seconds)
            totals[name][0] += count
            totals[name][1] += seconds
    rates = {name: count / seconds for name, (count, seconds) in totals.items()}
    ours, reference = rates.values()
    ratio = ours / reference
    for name, rate in rates.items():
        print(f"  {name:34s} {rate:9.1f} meta-iterations/s")
    print(f"  {'ratio':34s} {ratio:9.2f}x   target >= {TARGET:.0f}x: {'met' if ratio >= TARGET else 'not met'}")
    if args.json:
        result = {"device": str(trainer.device), "threads": torch.get_num_threads(), "meta_batch": args.meta_batch,
                  "shots": args.shots, "iterations_per_second": rates, "ratio": ratio, "target": TARGET,
                  "met": ratio >= TARGET, "max_gradient_difference": difference}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

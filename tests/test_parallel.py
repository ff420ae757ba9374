"""Data-parallel training: 2 processes with global batch B end with the parameters of 1 process with batch B.

Every agent of the ``metarl.agents`` entry points is checked. The two processes (gloo on CPU) are started once for
the module and train every case in turn; each case is then compared with the same config trained in this process.
Both run in float64 (``torch.set_default_dtype``: the learners compute in the default dtype, environments keep
their own), so that rounding, which differs when a sum is split in two, stays near 1e-16 and a statistic computed
per process instead of globally (a per-process mean, normalisation or random draw: 1e-3 and more) cannot hide
behind it. After ``ITERATIONS`` iterations the largest difference of a parameter, relative to the largest
parameter, must be at most 1e-6.

Two settings of the tiny contract cases change here, because they amplify float64 rounding past 1e-6 without any
difference between the processes' arithmetic: TRPO's conjugate gradients with ``cg_damping`` 1e-5 on a Fisher matrix
estimated from 30 steps (ten iterations with step sizes up to 4e4 turn a 1e-16 difference into 1e-4), so MAML-RL is
checked at ``cg_damping`` 0.1; and the convolution bias before batch normalisation, whose exact gradient is zero:
its rounding noise (1e-10 beside gradients of 100) is 2% of Adam's ``eps``, so Adam steps on it (2e-5), so protonet
is checked with layer normalisation (matchingnet, relationnet, gnn and metanet keep batch normalisation and pass).
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest
import torch
from test_trainer_contract import CASES

import metarl
from metarl.agent_registry import agent_names, trainer_class
from metarl.errors import ConfigError
from metarl.training import build_config
from metarl.training import parallel as par
from metarl.training.loop import TrainConfig, Trainer

ITERATIONS = 2
TOLERANCE = 1e-6
WELL_CONDITIONED = {"cg_damping": 0.1}
EVEN = {"rl2": {"minibatches": 2}, "maml-rl": WELL_CONDITIONED, "maml": {}, "fomaml": {}, "reptile": {},
        "pretrain": {}, "protonet": {"meta_batch": 2, "norm": "layer"}, "matchingnet": {"meta_batch": 2},
        "learned-optimizer": {}, "learned-teacher": {}, "meta-sgd": {}, "versa": {},
        "relationnet": {"meta_batch": 2}, "gnn": {"meta_batch": 2}, "metanet": {"meta_batch": 2},
        "varibad": {"minibatches": 2}, "controller": {}, "mann": {}, "pearl": {}}
"""Every agent, with what its contract case needs to split in two."""
VARIANTS = {"maml-rl-ppo": ("maml-rl", {"outer": "ppo"}),
            "maml-rl-pretrain": ("maml-rl", {"pretrain": True, **WELL_CONDITIONED}),
            "rl2-predictions": ("rl2", {"next_obs_prediction_coef": 1.0, "previous_obs": True,
                                        "task_prediction_coef": 1.0, "epochs": 2}),
            "learned-optimizer-reinforce": ("learned-optimizer", {"estimator": "reinforce", "samples": 2}),
            "learned-optimizer-es": ("learned-optimizer", {"estimator": "es", "pairs": 2}),
            "learned-teacher-ppo": ("learned-teacher", {"estimator": "ppo", "gae_lambda": 0.9}),
            "learned-teacher-es": ("learned-teacher", {"estimator": "es", "pairs": 2}),
            "learned-teacher-lookahead": ("learned-teacher", {"estimator": "lookahead"}),
            "learned-teacher-repeats": ("learned-teacher", {"repeats": 2}),
            "varibad-state": ("varibad", {"decode_state": True, "elbo_samples": 0, "vae_updates": 2}),
            "controller-ppo": ("controller", {"estimator": "ppo"}),
            "controller-es": ("controller", {"estimator": "es", "pairs": 2}),
            "controller-unroll": ("controller", {"env": "metarl/MetaKD-v0", "estimator": "unroll",
                                                 "env_kwargs": {"steps": 2, "eval_size": 16, "teacher_steps": 5}}),
            "pearl-learned-alpha": ("pearl", {"target_entropy": -2.0, "critic_reward": "dense",
                                              "context_next_obs": True, "env_kwargs": {
                                                  "horizon": 4, "reward": "sparse", "goals": "semicircle"}}),
            "pretrain-glyphs": ("pretrain", {**CASES["protonet"].settings, "meta_batch": 2, "norm": "layer"}),
            "pretrain-glyphs-batch-norm": ("pretrain", {**CASES["protonet"].settings, "meta_batch": 2,
                                                        "norm": "batch"})}


def cases() -> dict[str, tuple[str, dict[str, Any]]]:
    out = {agent: (agent, {**CASES[agent].settings, **extra}) for agent, extra in EVEN.items()}
    for name, (agent, extra) in VARIANTS.items():
        out[name] = (agent, {**CASES[agent].settings, **extra})
    return out


def train(agent: str, settings: dict[str, Any], logdir: str, iterations: int = ITERATIONS
          ) -> dict[str, torch.Tensor]:
    """The trainer's parameters (all its modules') after ``iterations`` iterations in float64."""
    torch.manual_seed(0)  # for parts that draw from the global generator, e.g. the unused head of pretrain
    trainer_type = trainer_class(agent)
    config = build_config(trainer_type.config_type, {**settings, "logdir": logdir, "run_name": agent,
                                                      "device": "cpu", "checkpoint_every": 1000})
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        trainer = trainer_type(config)
        trainer.fit(max_iterations=iterations, progress=False)
    finally:
        torch.set_default_dtype(default)
    return parameters(trainer)


def parameters(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Every parameter of the trainer's modules, by module and name, as float64."""
    return {f"{key}.{name}": p.detach().double().clone() for key, module in vars(trainer).items()
            if isinstance(module, torch.nn.Module) for name, p in module.named_parameters()}


def difference(together: dict[str, torch.Tensor], alone: dict[str, torch.Tensor]) -> float:
    """The largest relative difference: of every parameter coordinate, ``|a - b|``, over the largest ``|b|``.

    (Per tensor it would be ill-posed: a bias whose exact gradient is zero stays at 1e-11, all rounding noise.)
    """
    assert together.keys() == alone.keys()
    a, b = (torch.cat([values[k].reshape(-1) for k in alone]) for values in (together, alone))
    return float((a - b).abs().max() / b.abs().max())


def train_all(todo: dict[str, tuple[str, dict[str, Any]]], logdir: str) -> dict[str, dict[str, torch.Tensor] | str]:
    """Every case trained by this process of the job (errors are kept per case, so one bad case fails alone)."""
    out: dict[str, dict[str, torch.Tensor] | str] = {}
    for name, (agent, settings) in todo.items():
        try:
            out[name] = train(agent, settings, os.path.join(logdir, str(par.current().rank)))
        except Exception as exc:  # noqa: BLE001 - reported by the case's test
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor | str]:
    assert metarl.make("metarl/Glyphs-v0").data is not None  # rendered once, here, for both processes
    results = par.launch(train_all, 2, cases(), str(tmp_path_factory.mktemp("parallel")))
    return results[0]


@pytest.mark.parametrize("name", list(cases()))
def test_two_processes_equal_one(name: str, two_processes: dict[str, Any], tmp_path) -> None:
    agent, settings = cases()[name]
    together = two_processes[name]
    assert not isinstance(together, str), together
    alone = train(agent, settings, str(tmp_path))
    assert all(p.dtype == torch.float64 for p in together.values())
    gap = difference(together, alone)
    assert math.isfinite(gap) and gap <= TOLERANCE, f"{name}: relative parameter difference {gap:.2e}"


def test_every_agent_is_checked() -> None:
    assert {agent for agent, _ in cases().values()} == set(agent_names())


def test_only_rank_zero_writes(two_processes, tmp_path_factory) -> None:
    root = tmp_path_factory.getbasetemp()
    written = {p.parent.parent.name for p in root.glob("parallel*/*/*/checkpoint.pt")}
    assert written == {"0"}


def test_uneven_split_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"meta_batch \(3\) must be a multiple of the number of processes \(2\)"):
        par.Parallel(rank=0, size=2).shard(3, "meta_batch")


def test_one_process_is_the_world_of_one() -> None:
    world = par.current()
    assert (world.rank, world.size, world.is_main, world.active) == (0, 1, True, False)
    x = torch.arange(4.0)
    assert world.mean(x) is x and world.gather(x) is x


def test_shards_of_every_family_step_as_the_whole_batch(env_id) -> None:
    """Environments 2..3 made as a shard (``first_env=2``) step as environments 2..3 of the batch of 4; states joined
    from shards continue as the whole batch's, and a split of the whole batch's state as the shard."""
    from conftest import make_small

    from metarl.engine import join_env_states, split_env_state

    whole = make_small(env_id, num_envs=4, seed=3)
    parts = [make_small(env_id, num_envs=2, seed=3, first_env=first) for first in (0, 2)]
    generator = torch.Generator().manual_seed(0)
    outputs = [whole.reset(), *(p.reset() for p in parts)]

    def step(steps: int) -> None:
        for _ in range(steps):
            action = whole.sample_actions(generator)
            results = [whole.step(action), parts[0].step(action[:2]), parts[1].step(action[2:])]
            outputs[:] = [results[0].obs, results[1].obs, results[2].obs]
            assert torch.equal(results[0].reward, torch.cat([results[1].reward, results[2].reward]))
            assert torch.equal(outputs[0], torch.cat(outputs[1:]))

    step(9)
    joined = make_small(env_id, num_envs=4, seed=99)
    joined.load_state_dict(join_env_states([p.state_dict() for p in parts]))
    parts[1].load_state_dict(split_env_state(whole.state_dict(), slice(2, 4)))
    parts[0] = make_small(env_id, num_envs=2, seed=99)
    parts[0].load_state_dict(split_env_state(joined.state_dict(), slice(0, 2)))
    whole = joined
    step(9)


def test_an_agent_that_does_not_split_its_batch_refuses_several_processes(monkeypatch) -> None:
    """Every built-in agent trains data-parallel; a plugin's trainer that does not say so runs as one process."""
    class OneProcess(Trainer):
        agent = "one-process"

        def train_iteration(self) -> dict[str, float]:
            return {}

        def state_dict(self) -> dict[str, Any]:
            return {}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            pass

    monkeypatch.setattr(par, "_CURRENT", par.Parallel(rank=0, size=2))
    with pytest.raises(ConfigError, match="the one-process agent does not train data-parallel; run it as one process"):
        OneProcess(TrainConfig(device="cpu"))
    assert all(trainer_class(name).data_parallel for name in agent_names())


if __name__ == "__main__":  # python tests/test_parallel.py: the table of every case's difference
    import tempfile

    todo = cases()
    with tempfile.TemporaryDirectory() as tmp:
        together_all = par.launch(train_all, 2, todo, tmp)[0]
        print(f"{'case':28s} {'agent':18s} {'max |a-b| / max |b|':>20s} {'|a-b| / |b|':>12s} {'parameters':>10s}")
        for case, (agent, settings) in todo.items():
            together = together_all[case]
            if isinstance(together, str):
                print(f"{case:28s} {agent:18s} failed: {together}")
                continue
            alone = train(agent, settings, tmp)
            a, b = (torch.cat([v[k].reshape(-1) for k in alone]) for v in (together, alone))
            print(f"{case:28s} {agent:18s} {difference(together, alone):20.2e} "
                  f"{float((a - b).norm() / b.norm()):12.2e} {b.numel():10d}")

"""Steps/s of a gymnax environment with random actions (JAX: jit + vmap + lax.scan), for side-by-side runs.

Run with an interpreter that has ``jax`` and ``gymnax`` installed (kept out of metarl's dependencies):

    /path/to/gymnax-venv/bin/python benchmarks/gymnax_peer.py BernoulliBandit-misc 4096

Prints one JSON line: {"env": ..., "num_envs": ..., "steps_per_second": ...}.
"""

import json
import sys
import time

import gymnax
import jax


def steps_per_second(name: str, num_envs: int, steps: int = 1000) -> float:
    env, params = gymnax.make(name)
    actions = env.action_space(params).n

    def rollout(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

        def one_step(carry, _):
            key, state = carry
            key, act_key, step_key = jax.random.split(key, 3)
            action = jax.random.randint(act_key, (num_envs,), 0, actions)
            step_keys = jax.random.split(step_key, num_envs)
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(step_keys, state, action, params)
            state, reward = out[1], out[2]  # (obs, state, reward, done, info, ...) across gymnax versions
            return (key, state), reward.sum()

        return jax.lax.scan(one_step, (key, state), None, length=steps)[1].sum()

    compiled = jax.jit(rollout)
    compiled(jax.random.PRNGKey(0)).block_until_ready()
    start = time.perf_counter()
    compiled(jax.random.PRNGKey(1)).block_until_ready()
    return num_envs * steps / (time.perf_counter() - start)


if __name__ == "__main__":
    env_name, batch = sys.argv[1], int(sys.argv[2])
    print(json.dumps({"env": env_name, "num_envs": batch, "steps_per_second": steps_per_second(env_name, batch)}))

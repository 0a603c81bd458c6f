"""Does a larger budget make the board's plain PPO usable? One instance, the board's PPO at several step counts.

Run: ``nice -n 10 python -m bench.board_ppo_budget --instance removal/L0-lost-p9 --timesteps 60000,300000``.
Each budget trains PPO exactly as ``python -m invgym.agents.board --entries PPO`` does (``_train`` with
``BUDGETS["default"]`` but ``ppo_timesteps``; seed 0, one torch thread), then scores the deterministic policy on
the instance's own protocol with ``invgym.evaluate`` and prints its cost, its gap to the suite's reference and the
training CPU seconds. Nothing is written to the leaderboard (the artifacts go to a temporary folder).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Print cost, gap and training CPU seconds of PPO at each budget."""
    import torch

    from invgym.agents.board import _sha256, _spend, _stem, _train, load_policy
    from invgym.evaluate import evaluate
    from invgym.leaderboard.suite import load_suite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default="removal/L0-lost-p9")
    parser.add_argument("--timesteps", default="60000,300000", help="comma-separated PPO step counts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    inst = load_suite().instance(args.instance)
    config, p = inst.config(), inst.protocol
    reference = inst.reference["cost"]
    print(f"instance {inst.id}: reference {reference:.4f} ({inst.reference['method']}); protocol {p}")
    with tempfile.TemporaryDirectory() as folder:
        for steps in (int(s) for s in args.timesteps.split(",")):
            budget = {**_spend("default", inst.track), "ppo_timesteps": steps}
            path = Path(folder) / f"{_stem(inst.id)}-{steps}.pt"
            start = time.process_time()
            _train("PPO", config, budget, path)
            cpu = time.process_time() - start
            policy = load_policy(folder, {repr(config): (path.name, _sha256(path), "sb3-policy")}, config)
            result = evaluate(policy, config, num_envs=p.num_envs, periods=p.periods, warmup=p.warmup, seed=p.seed)
            gap = 100 * (result.average_cost - reference) / abs(reference)
            print(f"PPO {steps:>8} steps: cost {result.average_cost:.4f} (stderr {result.stderr:.4f}), gap "
                  f"{gap:.2f} %, training {cpu:.1f} CPU s", flush=True)


if __name__ == "__main__":
    main()

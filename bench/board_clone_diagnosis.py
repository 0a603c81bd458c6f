"""Why does the board's ORPR-clone fall short of its teacher on a track? One instance, every stage measured.

Run: ``nice -n 10 python -m bench.board_clone_diagnosis --instance retail/L0`` (any instance of the suite;
``--label-envs N`` overrides the board's labelled envs). It repeats the board's clone pipeline
(:func:`invgym.agents.board._train` for ``ORPR-clone``: the track's teacher fitted as the board fits it, on the
panel's train window for a panel track, labelled by :class:`~invgym.agents.orpr.ORLabeler`, cloned by
:class:`~invgym.agents.pretrain.Pretrainer`, the board's default budget of the track; ``--explore``,
``--label-envs``, ``--label-periods`` override its labelling) and prints

- the teacher's and the clone's cost on the instance's own protocol (the board's seeds and window);
- the label match (exact order) and mean absolute error of the clone on its training states, on the states the
  teacher visits in the scored window, and on the states the clone itself visits there (DAgger's question);
- which products (panel rows) the labelled rollout covers, and the share of zero orders in the labels and in the
  clone's actions;
- the mean order of teacher and clone on the clone's own scored states.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np


def _rollout(policy, config, protocol, teacher):
    """Run ``policy`` on the instance's protocol; return its states and the teacher's and its own orders there."""
    from invgym.envs.common import KernelVectorEnv, env_action_space

    offset = env_action_space(config)[1]
    envs = KernelVectorEnv(config, protocol.num_envs)
    obs, _ = envs.reset(seed=protocol.seed)
    states, own, wanted = [], [], []
    for _ in range(protocol.warmup + protocol.periods):
        action = np.asarray(policy(obs))
        states.append(obs.copy())
        own.append(action)
        wanted.append(np.asarray(teacher(obs)))
        obs, *_ = envs.step(action if offset is None else action - (offset[0] if action.ndim == 1 else offset))
    envs.close()
    return np.concatenate(states), np.concatenate(own), np.concatenate(wanted)


def main() -> None:
    """Print the stage-by-stage figures of one instance."""
    import torch

    from invgym.agents.board import SEED, TEACHERS, IndexDecoder, _fine_tune_config, _spend
    from invgym.agents.orpr import ORLabeler
    from invgym.agents.pretrain import PretrainConfig, Pretrainer
    from invgym.baselines.common import family_of
    from invgym.envs.common import env_action_space
    from invgym.evaluate import evaluate
    from invgym.leaderboard.baselines import fit_baseline
    from invgym.leaderboard.suite import load_suite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default="retail/L0")
    parser.add_argument("--label-envs", type=int, default=None, help="labelled envs (default the board's)")
    parser.add_argument("--label-periods", type=int, default=None, help="labelled periods (default the board's)")
    parser.add_argument("--explore", type=float, default=None,
                        help="the labeler's share of random moves (default the board's setting of the track)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    inst = load_suite().instance(args.instance)
    config = inst.config()
    family = family_of(config)
    train = config.replace(split="train") if family in ("retail", "replenishment") else config
    budget = dict(_spend("default", inst.track))
    if args.label_envs is not None:
        budget["label_envs"] = args.label_envs
    if args.label_periods is not None:
        budget["label_periods"] = args.label_periods
    cfg = _fine_tune_config(budget, 0, select=False)
    teacher = fit_baseline(TEACHERS[family], train)
    labeling = dataclasses.replace(cfg.labeler, seed=SEED)
    if args.explore is not None:
        labeling = dataclasses.replace(labeling, explore=args.explore)
    labeler = ORLabeler(train, teacher=teacher, config=labeling)
    data = labeler.label()
    pretrainer = Pretrainer(train, data, PretrainConfig(epochs=budget["clone_epochs"], seed=SEED))
    clone = pretrainer.fit()
    offset = env_action_space(config)[1]
    act = IndexDecoder(clone, offset) if offset is not None else (lambda o: clone.predict(o, deterministic=True)[0])
    p = inst.protocol
    costs = {name: evaluate(pol, config, num_envs=p.num_envs, periods=p.periods, warmup=p.warmup, seed=p.seed)
             for name, pol in (("teacher", teacher), ("clone", act))}
    where = "train window" if train is not config else "instance"
    print(f"instance {inst.id}: teacher {teacher!r} (fitted on the {where})")
    print(f"labels: {len(data['actions'])} states from {budget['label_envs']} envs x {budget['label_periods']} "
          f"periods, explore {labeling.explore}; zero orders {np.mean(data['actions'] == 0):.3f}; mean order "
          f"{np.mean(data['actions']):.3f}")
    products = getattr(train, "products", None)
    if products is not None:
        covered = sorted({products[i % len(products)] for i in range(budget["label_envs"])})
        print(f"panel rows labelled: {len(covered)} of {len(products)} (env i runs row i mod {len(products)})")
    for name, r in costs.items():
        print(f"{name:>8} cost on the board's protocol {r.average_cost:.4f} (stderr {r.stderr:.4f}); "
              + ", ".join(f"{k} {v:.4f}" for k, v in sorted(r.metrics.items())))
    ref = costs["teacher"].average_cost
    print(f"clone gap to its teacher: {100 * (costs['clone'].average_cost - ref) / abs(ref):.2f} %")

    def match(own, wanted):
        own, wanted = np.asarray(own, float).ravel(), np.asarray(wanted, float).ravel()
        return float(np.mean(np.abs(own - wanted) < 0.5)), float(np.mean(np.abs(own - wanted)))

    fit = pretrainer.score(clone)
    print(f"train states: label match {fit['accuracy']:.3f}, MAE {fit['mae']:.3f} (index space)")
    for name, pol in (("teacher", teacher), ("clone", act)):
        states, own, wanted = _rollout(pol, config, p, teacher)
        cloned = np.asarray(act(states))
        acc, mae = match(cloned, wanted)
        print(f"scored window, {name}'s states: clone matches teacher {acc:.3f}, MAE {mae:.3f}; mean order "
              f"teacher {np.mean(wanted):.3f} clone {np.mean(cloned):.3f}; zero orders teacher "
              f"{np.mean(np.asarray(wanted) == 0):.3f} clone {np.mean(cloned == 0):.3f}")
    print(f"CPU seconds: {time.process_time() - start:.1f}")


if __name__ == "__main__":
    main()

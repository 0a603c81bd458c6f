"""Settings shared by the learning-agent benchmarks (``bench/agents_*.py``; benchmarks, never tests).

Every agents benchmark trains with DirectBackprop from the same command-line settings and evaluates on the
compiled kernel with common random numbers (env i seeded ``seed + i``), comparing policies by their paired
per-env cost difference. The three pieces live here once: the arguments, the config they make, the paired
difference.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from invgym.agents import DirectBackpropConfig


def add_training_arguments(parser: argparse.ArgumentParser, epochs: int) -> None:
    """``--epochs --batch --train-periods --lr --train-seed``: DirectBackprop's budget and seed."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch", type=int, default=64, help="demand paths per epoch")
    parser.add_argument("--train-periods", type=int, default=32, help="counted periods per training path")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--train-seed", type=int, default=0)


def add_evaluation_arguments(parser: argparse.ArgumentParser, envs: int = 100, periods: int = 2000,
                             warmup: int = 500) -> None:
    """``--envs --periods --warmup --seed``: the kernel evaluation (``envs x periods`` counted periods)."""
    parser.add_argument("--envs", type=int, default=envs)
    parser.add_argument("--periods", type=int, default=periods, help="counted periods per env")
    parser.add_argument("--warmup", type=int, default=warmup, help="uncounted periods first")
    parser.add_argument("--seed", type=int, default=2024, help="env i of the evaluation is seeded seed + i")


def evaluation_settings(args: argparse.Namespace) -> dict[str, int]:
    """The ``invgym.evaluate`` keywords of :func:`add_evaluation_arguments`'s arguments."""
    return {"num_envs": args.envs, "periods": args.periods, "warmup": args.warmup, "seed": args.seed}


def training_config(args: argparse.Namespace, warmup: int, **overrides: Any) -> DirectBackpropConfig:
    """DirectBackprop's config from :func:`add_training_arguments`'s arguments.

    The agent's own per-epoch evaluation is cut to a token run: the benchmark evaluates on the kernel itself.
    """
    settings = {"epochs": args.epochs, "batch_size": args.batch, "periods": args.train_periods, "warmup": warmup,
                "learning_rate": args.lr, "seed": args.train_seed, "eval_envs": 8, "eval_periods": 10,
                "eval_warmup": 0}
    return DirectBackpropConfig(**{**settings, **overrides})


def paired(a: Any, b: Any) -> tuple[float, float]:
    """Mean and standard error of the per-env cost difference ``a - b`` of two evaluations on the same seeds."""
    d = np.asarray(a.per_env_cost, dtype=np.float64) - np.asarray(b.per_env_cost, dtype=np.float64)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))

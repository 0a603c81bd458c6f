"""The ``invgym`` command line: one typer app, ``invgym --help`` lists every command.

Commands: ``list``, ``describe``, ``simulate``, ``solve``, ``train``, ``grade``, ``demo`` and the ``leaderboard``
sub-app (``invgym/leaderboard/cli.py``). Every command takes ``--help``; those that report figures take ``--json``
(one JSON document on stdout, nothing else) for scripts. Long jobs show a rich progress bar on stderr.

Heavy modules (torch, SB3, matplotlib, the leaderboard engine's workers) are imported inside the command that
needs them, so ``invgym --help`` and ``invgym list`` start in well under a second.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

__all__ = ["app", "main", "parse_env_kwargs"]

app = typer.Typer(
    name="invgym", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="invgym: Cython-accelerated Gymnasium inventory environments, OR baselines, agents and a leaderboard.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

AGENTS = ("direct-backprop", "ppo", "orpr")
# typer >= 0.20 vendors click; find its exception classes through typer's own BadParameter, whichever click it is.
_UsageError, _ClickException = typer.BadParameter.__mro__[1], typer.BadParameter.__mro__[2]

# Optional[...] rather than "X | None": typer reads these annotations at runtime, also on Python 3.10.
EnvId = Annotated[str, typer.Argument(help="A registered id, e.g. invgym/LostSales-v0 ('invgym/' may be left out).")]
Params = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--set", "-s", metavar="NAME=VALUE",
                 help="An env parameter, e.g. -s lead_time=4 -s 'demand=Poisson(3)' (repeat for several)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed (the same seed gives the same result).")]


def _version(value: bool) -> None:
    if value:
        from invgym import __version__

        typer.echo(f"invgym {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Cython-accelerated Gymnasium inventory environments, OR baselines, learning agents and a leaderboard."""


# === Helpers ===


def _emit(data: Any, as_json: bool, text: str) -> None:
    """Print ``data`` as JSON (``--json``) or ``text``."""
    typer.echo(json.dumps(data, indent=2, default=_jsonable) if as_json else text)


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _env_id(value: str) -> str:
    """Return the full registered id for ``value`` (``LostSales-v0`` -> ``invgym/LostSales-v0``)."""
    from invgym.registration import ENV_IDS

    full = value if value.startswith("invgym/") else f"invgym/{value}"
    if full not in ENV_IDS:
        raise typer.BadParameter(f"{value!r} is not an invgym id; `invgym list` shows them: {', '.join(ENV_IDS)}.",
                                 param_hint="'ID'")
    return full


_CALL = re.compile(r"^([A-Za-z_]\w*)\((.*)\)$", re.DOTALL)


def _parse_value(text: str) -> Any:
    """Read a Python literal (``4``, ``[1, 2]``, ``True``) or a demand model (``Poisson(3)``); else keep the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    match = _CALL.match(text.strip())
    if match:
        from invgym import demand

        name, args = match.groups()
        if name in demand.__all__:
            try:
                parsed = ast.literal_eval(f"({args},)") if args.strip() else ()
            except (ValueError, SyntaxError) as exc:
                raise typer.BadParameter(f"cannot read the arguments of {text!r}.", param_hint="'--set'") from exc
            return getattr(demand, name)(*parsed)
    return text


def parse_env_kwargs(pairs: list[str] | None) -> dict[str, Any]:
    """Turn ``["lead_time=4", "demand=Poisson(3)"]`` into env keywords (literals and demand models parsed)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise typer.BadParameter(f"expected NAME=VALUE, got {pair!r}.", param_hint="'--set'")
        out[name.strip()] = _parse_value(value.strip())
    return out


def _config(env_id: str, kwargs: dict[str, Any]) -> Any:
    from invgym.envs.common import config_for

    try:
        return config_for(env_id, **kwargs)
    except TypeError as exc:  # an unknown keyword
        raise typer.BadParameter(str(exc), param_hint="'--set'") from exc
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--set'") from exc


def _env_class(env_id: str) -> type:
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    return load_env_creator(gym.spec(env_id).entry_point)


def _parameters(env_id: str) -> dict[str, Any]:
    """The env's keyword arguments and their defaults (``None`` where the default is computed, e.g. Morton's)."""
    params = {}
    for name, p in inspect.signature(_env_class(env_id).__init__).parameters.items():
        if name in ("self", "render_mode") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        params[name] = None if p.default is inspect.Parameter.empty else p.default
    return params


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _progress(description: str, total: float | None) -> Any:
    """A rich progress bar on stderr (quiet when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                        TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    progress.add_task(description, total=total)
    return progress


# === Commands ===


@app.command("list")
def list_envs(as_json: Json = False) -> None:
    """List every registered id with its parameters and their defaults."""
    from invgym.registration import ENV_IDS

    data = {env_id: _parameters(env_id) for env_id in ENV_IDS}
    lines = []
    for env_id, params in data.items():
        lines.append(env_id)
        lines.extend(f"    {name} = {_short(default)}" for name, default in params.items())
    _emit({k: {n: _jsonable(v) if not isinstance(v, str | int | float | bool | type(None)) else v
               for n, v in p.items()} for k, p in data.items()}, as_json, "\n".join(lines))


@app.command()
def describe(env_id: EnvId, params: Params = None, as_json: Json = False) -> None:
    """Describe one id: what it models, its spaces, its parameters (defaults or as set) and its Period Timeline."""
    env_id = _env_id(env_id)
    config = _config(env_id, parse_env_kwargs(params))
    doc = inspect.getdoc(_env_class(env_id)) or ""
    summary = doc.split("\n\n")[0]
    timeline = ""
    if "## Period Timeline" in doc:
        timeline = doc.split("## Period Timeline", 1)[1].split("\n## ", 1)[0].strip()
    resolved = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "owner"}
    # The env's own spaces: a signed discrete order is offered as indices from 0 and decoded inside the env.
    from invgym.envs.common import env_action_space

    space, offset = env_action_space(config)
    data = {"id": env_id, "summary": summary, "action_space": str(space),
            "observation_space": str(config.observation_space()), "parameters": resolved, "timeline": timeline}
    lines = [env_id, "", summary, "", f"action space:      {data['action_space']}",
             f"observation space: {data['observation_space']}"]
    if offset is not None:
        data["action_decoding"] = f"order u = a + ({', '.join(str(int(o)) for o in offset)}); negative u removes"
        lines.append(f"action decoding:   {data['action_decoding']}")
    lines += ["", "parameters:"]
    lines += [f"    {name} = {_short(value)}" for name, value in resolved.items()]
    if timeline:
        lines += ["", "Period Timeline:", timeline]
    cls = _env_class(env_id)
    lines += ["", f"Full docs: python -m pydoc {cls.__module__}.{cls.__name__}"]
    _emit({**data, "parameters": {k: v if isinstance(v, str | int | float | bool) else repr(v)
                                  for k, v in resolved.items()}}, as_json, "\n".join(lines))


def _policy_names(config: Any) -> list[str]:
    """The names ``--policy`` accepts on this config: the baselines serving its family, ``naive`` and ``exact``."""
    from invgym.baselines.common import family_of
    from invgym.leaderboard.baselines import BASELINES

    return [*(b.name for b in BASELINES if b.serves(family_of(config))), "naive", "exact"]


def _canonical_policy(name: str, names: list[str]) -> str:
    """Map a spelling such as ``base-stock`` or ``basestock`` onto the baseline's name (``BaseStock``)."""
    def key(text: str) -> str:
        return text.replace("-", "").replace("_", "").lower()

    matches = [n for n in names if key(n) == key(name)]
    return matches[0] if matches else name


def _policy(name: str, config: Any) -> tuple[Any, str]:
    """Return a fitted policy by name: a built-in baseline, ``naive`` or ``exact`` (the optimum)."""
    from invgym.baselines.common import family_of
    from invgym.leaderboard.baselines import BASELINES, naive_policy

    family = family_of(config)
    name = _canonical_policy(name, _policy_names(config))
    if name == "naive":
        return naive_policy(config)
    if name == "exact":
        from invgym.baselines import solve_exact

        try:
            solution = solve_exact(config)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--policy'") from exc
        return solution.policy, f"exact optimum ({solution.num_states} states)"
    for baseline in BASELINES:
        if baseline.name == name and baseline.serves(family):
            policy = baseline.load().fit(config)
            return policy, f"{name}: {baseline.description} ({policy!r})"
    choices = ", ".join(_policy_names(config))
    raise typer.BadParameter(f"{name!r} does not run on {family}; choose one of {choices}.", param_hint="'--policy'")


@app.command()
def simulate(
    env_id: EnvId,
    policy: Annotated[str, typer.Option("--policy", "-p", help="A built-in baseline (e.g. BaseStock), 'naive' or "
                                                                "'exact'; `invgym simulate ID -p x` lists them.")],
    params: Params = None,
    periods: Annotated[int, typer.Option("--periods", min=1, help="Periods to simulate.")] = 200,
    seed: Seed = 0,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write the trajectory picture here (.png/.svg; "  # noqa: UP045
                                                                 "needs the 'plot' extra).", dir_okay=False)] = None,
    as_json: Json = False,
) -> None:
    """Fit a policy, run it on one env for PERIODS periods and print its cost (optionally plot the trajectory)."""
    import gymnasium as gym
    import numpy as np

    env_id = _env_id(env_id)
    kwargs = parse_env_kwargs(params)
    config = _config(env_id, kwargs)
    policy = _canonical_policy(policy, _policy_names(config))  # the record shows BaseStock for base-stock
    fitted, description = _policy(policy, config)
    env = gym.make(env_id, **kwargs).unwrapped
    obs, _ = env.reset(seed=seed)
    rows: list[dict[str, float]] = []
    observations = [obs]
    with _progress(f"simulating {policy}", periods) as progress:
        for _ in range(periods):
            action = np.asarray(fitted(obs))[0]
            action = int(action) if env.action_space.shape == () else action
            obs, _, terminated, truncated, info = env.step(action)
            rows.append({k: float(v) for k, v in info.items()})
            observations.append(obs)
            progress.advance(progress.task_ids[0])
            if terminated or truncated:
                obs, _ = env.reset()
    costs = np.array([r["cost"] for r in rows])
    totals = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    data = {"id": env_id, "policy": policy, "description": description, "periods": periods, "seed": seed,
            "average_cost": float(costs.mean()), "per_period_means": totals}
    if plot is not None:
        from invgym import plot as invplot

        fig = invplot.trajectory(np.array(observations[:-1]), rows, config=config,
                                 title=f"{env_id}, {policy}, seed {seed}")
        invplot.save(fig, plot)
        data["plot"] = str(plot)
    text = (f"{env_id} with {description}\n{periods} periods, seed {seed}: average cost {costs.mean():.4f} per period\n"
            + "  ".join(f"{k} {v:.3f}" for k, v in totals.items()) + (f"\nwrote {plot}" if plot else ""))
    _emit(data, as_json, text)


@app.command()
def solve(
    env_id: EnvId,
    params: Params = None,
    max_states: Annotated[Optional[int], typer.Option("--max-states", min=1, help="Refuse larger state spaces.")] = None,  # noqa: UP045, E501
    tol: Annotated[Optional[float], typer.Option("--tol", min=0.0, help="Span tolerance (cost units).")] = None,  # noqa: UP045
    max_memory_gb: Annotated[Optional[float], typer.Option("--max-memory-gb", help="Refuse instances whose estimated working memory exceeds this many GiB (default 2).")] = None,  # noqa: UP045, E501
    as_json: Json = False,
) -> None:
    """Solve an instance exactly (relative value iteration) and print the optimal average cost per period."""
    from rich.console import Console

    from invgym.baselines import solve_exact

    env_id = _env_id(env_id)
    config = _config(env_id, parse_env_kwargs(params))
    with Console(stderr=True).status(f"solving {env_id} exactly (relative value iteration)..."):
        try:
            solution = solve_exact(config, max_states=max_states, tol=tol, max_memory_gb=max_memory_gb)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'ID'/'--set'") from exc
    data = {"id": env_id, "average_cost": solution.average_cost, "num_states": solution.num_states,
            "iterations": solution.iterations, "span": solution.span,
            "memory_bytes": solution.info["memory_bytes"]}
    _emit(data, as_json, f"{env_id}: optimal average cost {solution.average_cost:.4f} per period "
                         f"({solution.num_states} states, {solution.iterations} iterations, span {solution.span:.2e}, "
                         f"working memory estimated at {solution.info['memory_bytes'] / 2**30:.3f} GiB)")


def _train_direct_backprop(env_id: str, kwargs: dict, budget: int, seed: int) -> Any:
    from invgym.agents import DirectBackprop, DirectBackpropConfig

    config = DirectBackpropConfig(epochs=budget, batch_size=64, periods=32, warmup=8, learning_rate=1e-2, seed=seed)
    with _progress("DirectBackprop", budget) as progress:
        agent = DirectBackprop(env_id, policy="mlp", config=config,
                               on_epoch=lambda _: progress.advance(progress.task_ids[0]), **kwargs)
        return agent.fit()


def _train_ppo(env_id: str, kwargs: dict, budget: int, seed: int) -> Any:
    import numpy as np
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from invgym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env(env_id, n_envs=16, seed=seed, **kwargs)
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, seed=seed, device="cpu")

    with _progress("PPO", budget) as progress:
        class _Bar(BaseCallback):
            def _on_step(self) -> bool:
                progress.update(progress.task_ids[0], completed=min(self.num_timesteps, budget))
                return True

        model.learn(budget, callback=_Bar())
    return lambda obs: model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)[0]


def _train_orpr(env_id: str, kwargs: dict, budget: int, seed: int) -> Any:
    from invgym.agents.orpr import ORPR, ORPRConfig
    from invgym.agents.reinforce import RLOOConfig

    if env_id != "invgym/Replenishment-v0":
        raise typer.BadParameter("ORPR runs on invgym/Replenishment-v0 only.", param_hint="'--agent'")
    with _status(f"ORPR: teacher, cloning, {budget} RLOO iterations"):
        agent = ORPR(env_id, ORPRConfig(rl=RLOOConfig(iterations=budget, seed=seed)), **kwargs)
        return agent.fit()


def _status(text: str) -> Any:
    """A rich spinner on stderr, for jobs without a countable step."""
    from rich.console import Console

    return Console(stderr=True).status(text)


@app.command()
def train(
    env_id: EnvId,
    agent: Annotated[str, typer.Option("--agent", "-a", help=f"One of {', '.join(AGENTS)} (direct-backprop and ppo "
                                                              "need the 'rl' extra).")],
    params: Params = None,
    budget: Annotated[Optional[int], typer.Option("--budget", min=1, help="Epochs (direct-backprop), timesteps "  # noqa: UP045
                                                                          "(ppo) or RLOO iterations (orpr).")] = None,
    seed: Seed = 0,
    eval_envs: Annotated[int, typer.Option("--eval-envs", min=1, help="Envs for the evaluation.")] = 64,
    eval_periods: Annotated[int, typer.Option("--eval-periods", min=1, help="Periods per env.")] = 1000,
    as_json: Json = False,
) -> None:
    """Train a learning agent on an id and evaluate it against the naive policy (and the optimum, where known)."""
    if agent not in AGENTS:
        raise typer.BadParameter(f"{agent!r} is not one of {', '.join(AGENTS)}.", param_hint="'--agent'")
    env_id = _env_id(env_id)
    kwargs = parse_env_kwargs(params)
    config = _config(env_id, kwargs)
    try:
        import torch
    except ImportError as exc:
        raise _ClickException("training needs the 'rl' extra: pip install -c constraints.txt -e '.[rl]'") from exc
    torch.set_num_threads(1)
    default = {"direct-backprop": 120, "ppo": 100_000, "orpr": 20}[agent]
    budget = default if budget is None else budget
    trainer = {"direct-backprop": _train_direct_backprop, "ppo": _train_ppo, "orpr": _train_orpr}[agent]
    try:
        policy = trainer(env_id, kwargs, budget, seed)
    except ModuleNotFoundError as exc:
        raise _ClickException(f"{exc}; the agents need the 'rl' extra: "
                                   "pip install -c constraints.txt -e '.[rl]'") from exc

    import invgym
    from invgym.leaderboard.baselines import naive_policy

    run = {"num_envs": eval_envs, "periods": eval_periods, "warmup": min(100, eval_periods), "seed": 10_000 + seed}
    learnt = invgym.evaluate(policy, config, **run)
    naive = invgym.evaluate(naive_policy(config)[0], config, **run)
    data = {"id": env_id, "agent": agent, "budget": budget, "seed": seed, "average_cost": learnt.average_cost,
            "stderr": learnt.stderr, "naive_cost": naive.average_cost, "optimum": None}
    try:
        from invgym.baselines import solve_exact

        data["optimum"] = solve_exact(config).average_cost
    except (ValueError, TypeError):
        pass
    unit = {"direct-backprop": "epochs", "ppo": "timesteps", "orpr": "RLOO iterations"}[agent]
    lines = [f"{env_id}: {agent} ({budget} {unit}, seed {seed})",
             f"  learnt   {learnt.average_cost:9.4f} +- {learnt.stderr:.4f}",
             f"  naive    {naive.average_cost:9.4f}"]
    if data["optimum"] is not None:
        gap = 100 * (learnt.average_cost / data["optimum"] - 1)
        lines.append(f"  optimum  {data['optimum']:9.4f}   (learnt gap {gap:+.2f} %)")
    _emit(data, as_json, "\n".join(lines))


@app.command()
def grade(
    assignment: Annotated[str, typer.Argument(help="Assignment name (`invgym grade --list` shows them).")] = "",
    student: Annotated[Optional[Path], typer.Argument(help="The student's .py file.", dir_okay=False)] = None,  # noqa: UP045
    list_: Annotated[bool, typer.Option("--list", help="List the assignments and their thresholds.")] = False,
    board: Annotated[Optional[Path], typer.Option("--board", help="Grade every .py in this folder of submissions "  # noqa: UP045
                                                                   "and write a class leaderboard (index.html + "
                                                                   "grades.json) into --out.", file_okay=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for --board's page.", file_okay=False)] = None,  # noqa: UP045
    quick: Annotated[bool, typer.Option("--quick", help="A small evaluation (tests, a first try).")] = False,
    as_json: Json = False,
) -> None:
    """Grade a course assignment on hidden seeds (INVGYM_COURSE_SECRET) against the OR benchmarks and the optimum."""
    from invgym import course

    if list_:
        items = course.ASSIGNMENTS.items()
        data = {name: a.describe() for name, a in items}
        _emit(data, as_json, "\n".join(f"{name}: {a.title}\n    {a.rubric()}" for name, a in items))
        return
    if assignment not in course.ASSIGNMENTS:
        raise typer.BadParameter(f"{assignment!r} is not an assignment; choose one of "
                                 f"{', '.join(course.ASSIGNMENTS)}.", param_hint="'ASSIGNMENT'")
    if board is not None:
        with _progress(f"grading {board}", len(list(board.glob("*.py")))) as progress:
            result = course.grade_folder(assignment, board, out or board / "board", quick=quick,
                                         on_graded=lambda _: progress.advance(progress.task_ids[0]))
        _emit(result, as_json, "\n".join(f"{g['student']}: {'PASS' if g['passed'] else 'FAIL'} "
                                         f"(score {g['score']:.1f})" for g in result["grades"])
              + f"\nwrote {result['page']}")
        return
    if student is None:
        raise typer.BadParameter("give the student's file (or --board FOLDER).", param_hint="'STUDENT'")
    if not student.is_file():
        raise typer.BadParameter(f"{student} is not a file.", param_hint="'STUDENT'")
    with _status(f"grading {student} on {assignment}"):
        report = course.grade(assignment, student, quick=quick)
    _emit(report, as_json, course.format_report(report))
    raise typer.Exit(0 if report["passed"] else 1)


@app.command()
def demo(
    lead_time: Annotated[int, typer.Option("--lead-time", min=0, max=50, help="Lead time L.")] = 2,
    lost_sales_cost: Annotated[float, typer.Option("--lost-sales-cost", min=0.0, help="Cost p per lost unit.")] = 9.0,
) -> None:
    """Fit a base-stock policy on invgym/LostSales-v0 by compiled simulation search and print its cost."""
    import invgym
    from invgym.baselines import BaseStock

    kwargs = {"lead_time": lead_time, "lost_sales_cost": lost_sales_cost}
    policy = BaseStock.fit("invgym/LostSales-v0", **kwargs)
    result = invgym.evaluate(policy, "invgym/LostSales-v0", **kwargs)
    typer.echo(f"invgym/LostSales-v0, L={lead_time}, Poisson(5), h=1, p={lost_sales_cost:g}: best base-stock level "
               f"S={policy.params['level']}, average cost {result.average_cost:.3f} per period "
               f"(95 % CI {result.ci95[0]:.3f}..{result.ci95[1]:.3f})")


def _mount_leaderboard() -> None:
    from invgym.leaderboard.cli import app as leaderboard_app

    app.add_typer(leaderboard_app, name="leaderboard")


_mount_leaderboard()


def main(argv: list[str] | None = None) -> int:
    """Run ``invgym`` on ``argv`` (``sys.argv[1:]`` by default); return the exit code.

    Usage errors print one line naming the option (``invgym train: Invalid value for '--agent': ...``), exit 2.
    """
    from invgym.leaderboard.cli import bare_ray

    argv = bare_ray(list(sys.argv[1:] if argv is None else argv))
    try:
        code = app(args=argv, prog_name="invgym", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("invgym: aborted", err=True)
        return 130
    except _UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``invgym``: the help was printed; that is no error
            return 0
        command = exc.ctx.command_path if exc.ctx is not None else "invgym"
        typer.echo(f"{command}: error: {exc.format_message()}".replace("\n", " "), err=True)
        return 2
    except _ClickException as exc:
        typer.echo(f"invgym: error: {exc.format_message()}".replace("\n", " "), err=True)
        return exc.exit_code
    return code if isinstance(code, int) else 0

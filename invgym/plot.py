"""Pictures of invgym runs with matplotlib (the ``plot`` extra): trajectories, costs, policies, leaderboard charts.

Every function returns a :class:`matplotlib.figure.Figure` (draw more on it, or pass it to :func:`save`, which
writes PNG or SVG by the file's suffix). matplotlib is imported when a function here is first called, never by
``import invgym``; the Agg backend is used, so nothing needs a display.

- :func:`trajectory`: on-hand, pipeline, demand, sales, lost units and orders of one simulated run;
- :func:`cost_breakdown`: each policy's average cost per period split into holding, shortage, purchase, ...;
- :func:`policy_contour`: the order as a function of on-hand stock and the order arriving next (Figure 1 of the
  Amazon structure-informed RL paper), for any policy, exact lookup tables included;
- :func:`policy_maps`: several policies side by side on one colour scale, and the difference to the first
  (exact vs heuristic);
- :func:`gap_by_track`, :func:`cost_vs_reference`: the leaderboard's charts;
- :func:`render_frame`: the ``rgb_array`` frame of ``env.render()``.

Example:
    >>> import invgym, invgym.plot
    >>> from invgym.baselines import BaseStock, solve_exact
    >>> exact = solve_exact("invgym/LostSales-v0", lead_time=2)
    >>> heuristic = BaseStock.fit("invgym/LostSales-v0", lead_time=2)
    >>> fig = invgym.plot.policy_maps({"optimal": exact.policy, "base-stock": heuristic},
    ...                               "invgym/LostSales-v0", lead_time=2)
    >>> invgym.plot.save(fig, "/tmp/policy_maps.png")  # doctest: +ELLIPSIS
    PosixPath('/tmp/policy_maps.png')
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from invgym.atomic import atomic_writer

__all__ = ["COLOURS", "colour_for", "cost_breakdown", "cost_parts", "cost_vs_reference", "gap_by_track",
           "policy_contour", "policy_maps", "render_frame", "save", "trajectory"]

# Tableau 20 reordered so the strong shades come first; an entry's colour is picked by a hash of its name, so
# adding or re-ranking entries never recolours the others.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5")
PLOT_EXTRA = "invgym.plot needs matplotlib: pip install -c constraints.txt -e '.[plot]'"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(PLOT_EXTRA) from exc
    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot

    return pyplot


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state, nothing to close

    _pyplot()
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def colour_for(name: str) -> str:
    """Return the stable colour of an entry: chosen by a hash of its name, never by its rank."""
    return COLOURS[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(COLOURS)]


def save(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (PNG or SVG by suffix) atomically: a temporary file, then a rename."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"The 'path' parameter of save must end in .png, .svg or .pdf. Got {str(path)!r} instead.")
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "invgym"}):  # the same figure gives the same bytes
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else {"Date": None})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return path


# === One run ===


def _series(rows: Sequence[Mapping[str, float]], key: str) -> np.ndarray | None:
    if not rows or key not in rows[0]:
        return None
    return np.array([r[key] for r in rows], dtype=np.float64)


def trajectory(observations: np.ndarray, infos: Sequence[Mapping[str, float]], config: Any = None,
               title: str = "") -> Any:
    """Plot one run: stock (on-hand, pipeline) above, flows (demand, sales, lost, order) below, per period.

    Args:
        observations: the observation each decision was taken in, shape (T, obs_dim).
        infos: the ``info`` dict of each of the T steps.
        config: the scenario config (``env.unwrapped.config``), to read on-hand and pipeline from observations;
            without it on-hand is ``obs[:, 0]`` and no pipeline is drawn.
        title: the figure's title.
    """
    from invgym.envs.common import stock_view

    observations = np.asarray(observations, dtype=np.float64)
    if observations.ndim != 2 or len(observations) != len(infos) or not len(infos):
        raise ValueError("The 'observations' parameter of trajectory must have one row per info dict (T >= 1). "
                         f"Got shape {observations.shape} for {len(infos)} infos instead.")
    if config is not None:
        stock = np.array([stock_view(config, o) for o in observations])
    else:
        stock = np.column_stack([observations[:, 0], np.full(len(observations), np.nan)])
    rows = [{"on_hand": s[0], "pipeline": s[1], **info} for s, info in zip(stock, infos, strict=True)]
    fig, axes = _figure(9, 5.5, nrows=2, sharex=True)
    _draw_rows(axes[0, 0], axes[1, 0], rows)
    if title:
        fig.suptitle(title)
    return fig


def _draw_rows(stock_ax: Any, flow_ax: Any, rows: Sequence[Mapping[str, float]]) -> None:
    periods = _series(rows, "period")
    t = np.arange(len(rows)) if periods is None else periods
    for key, label, colour in (("on_hand", "on-hand (at decision)", "#1f77b4"), ("pipeline", "pipeline", "#ff7f0e")):
        values = _series(rows, key)
        if values is not None and not np.isnan(values).all():
            stock_ax.step(t, values, where="post", label=label, color=colour)
    stock_ax.set_ylabel("units in stock")
    stock_ax.legend(loc="upper right", fontsize="small")
    stock_ax.grid(alpha=0.3)
    for key, label, style in (("demand", "demand", dict(color="#7f7f7f", ls="--")),
                              ("sales", "sales", dict(color="#2ca02c")),
                              ("lost", "lost", dict(color="#d62728")),
                              ("order", "order", dict(color="#9467bd", alpha=0.7))):
        values = _series(rows, key)
        if values is not None:
            flow_ax.step(t, values, where="post", label=label, **style)
    flow_ax.set_xlabel("period")
    flow_ax.set_ylabel("units per period")
    flow_ax.legend(loc="upper right", fontsize="small", ncols=4)
    flow_ax.grid(alpha=0.3)


def render_frame(rows: Sequence[Mapping[str, float]], title: str = "", width: int = 640,
                 height: int = 400) -> np.ndarray:
    """Return the ``rgb_array`` frame of ``env.render()``: uint8 (height, width, 3) of the recent periods."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dpi = 80
    fig, axes = _figure(width / dpi, height / dpi, nrows=2, sharex=True)
    fig.set_dpi(dpi)
    if rows:
        _draw_rows(axes[0, 0], axes[1, 0], rows)
    else:
        axes[0, 0].text(0.5, 0.5, "reset: no period yet", ha="center", transform=axes[0, 0].transAxes)
    if title:
        fig.suptitle(title, fontsize="medium")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    frame = np.asarray(canvas.buffer_rgba())[:, :, :3]
    return np.ascontiguousarray(frame[:height, :width])


# === Costs ===

# part -> the config attribute it is multiplied by (unit counts); parts already in money are used as they are.
_UNIT_COSTS = {"holding": "holding_cost", "lost": "lost_sales_cost", "backorder": "backorder_cost",
               "backlog": "backorder_cost", "outdated": "outdating_cost", "order": "purchase_cost",
               "removed": "removal_cost"}
_MONEY = ("holding_cost", "lost_sales_cost", "order_cost", "purchase_cost", "penalty")


def cost_parts(config: Any, means: Mapping[str, float]) -> dict[str, float]:
    """Split an average cost per period into its components from the mean ``info`` parts of a run.

    Units are priced with the config's costs (h · holding, p · lost, ...); money parts (``holding_cost`` of the
    panel scenarios) are taken as they are; salvage enters negatively.
    """
    out: dict[str, float] = {}
    for part, attr in _UNIT_COSTS.items():
        if part in means and hasattr(config, attr):
            value = float(getattr(config, attr)) * float(means[part])
            if value:
                out[part] = value
    if "order_regular" in means:  # dual sourcing: two purchase prices
        out["regular orders"] = float(config.regular_cost) * float(means["order_regular"])
        out["expedited orders"] = float(config.expedited_cost) * float(means["order_expedited"])
    for part in _MONEY:
        if part in means and part not in out:
            out[part] = float(means[part])
    if "salvage" in means and means["salvage"]:
        out["salvage"] = -float(means["salvage"])
    return out


def cost_breakdown(breakdowns: Mapping[str, Mapping[str, float]], title: str = "") -> Any:
    """Stacked horizontal bars: each policy's average cost per period by component (see :func:`cost_parts`)."""
    if not breakdowns:
        raise ValueError("The 'breakdowns' parameter of cost_breakdown must name at least one policy.")
    parts = list(dict.fromkeys(k for b in breakdowns.values() for k in b))
    names = list(breakdowns)
    fig, axes = _figure(8, 1.2 + 0.5 * len(names))
    ax = axes[0, 0]
    left_pos = np.zeros(len(names))
    left_neg = np.zeros(len(names))
    for i, part in enumerate(parts):
        values = np.array([breakdowns[n].get(part, 0.0) for n in names])
        left = np.where(values >= 0, left_pos, left_neg)
        ax.barh(names, values, left=left, label=part, color=COLOURS[i % len(COLOURS)])
        left_pos += np.maximum(values, 0)
        left_neg += np.minimum(values, 0)
    for i, total in enumerate(left_pos + left_neg):
        ax.text(left_pos[i], i, f" {total:.2f}", va="center", fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("average cost per period")
    ax.axvline(0, color="black", lw=0.8)
    ax.legend(loc="lower right", fontsize="small", ncols=min(len(parts), 4))
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


# === Policies ===

_AXIS_NAMES = {0: "on-hand stock $x_0$", 1: "order arriving next period $x_1$"}


def _default_range(config: Any, policy: Any, dim: int) -> tuple[float, float]:
    """0 to the observation bound; for exact lookup tables, the states the table covers."""
    high = float(config.observation_space().high[dim])
    params = getattr(policy, "params", {}) or {}
    lead = int(getattr(config, "lead_time", 1))
    if dim > 0 and "order_bound" in params:
        high = min(high, float(params["order_bound"]))
    if dim == 0 and "position_bound" in params:
        high = min(high, float(params["position_bound"]))
    if not math.isfinite(high):
        demand = getattr(config, "demand", None)
        mean = float(demand.mean) if demand is not None else 5.0
        high = math.ceil(2.0 * (lead + 1) * mean)
    return 0.0, high


def _grid_orders(policy: Any, config: Any, dims: Sequence[int], ranges: Sequence[tuple[float, float]],
                 fixed: np.ndarray, resolution: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    discrete = config.action_type == "discrete"
    axes = []
    for lo, hi in ranges:
        if discrete and resolution is None:  # every integer state: a lookup table is drawn cell by cell
            axes.append(np.arange(math.floor(lo), math.floor(hi) + 1, dtype=np.float64))
        else:
            axes.append(np.linspace(lo, hi, resolution or 41))
    xx, yy = np.meshgrid(axes[0], axes[1])
    grid = np.tile(fixed, (xx.size, 1))
    grid[:, dims[0]] = xx.ravel()
    grid[:, dims[1]] = yy.ravel()
    torch = sys.modules.get("torch")  # a torch module was built, so torch is already imported
    if torch is not None and isinstance(policy, torch.nn.Module):
        module = policy

        def policy(obs: np.ndarray) -> np.ndarray:  # clipped and rounded as invgym.agents.TrainedPolicy does
            with torch.no_grad():
                raw = module(torch.as_tensor(obs, dtype=torch.float32)).cpu().numpy().astype(np.float64)
            raw = np.clip(raw.reshape(len(obs), -1), config.action_low, config.action_high)
            return np.round(raw) if config.action_type == "discrete" else raw
    act = policy.predict if not callable(policy) and hasattr(policy, "predict") else policy
    raw = act(grid.astype(np.float32)) if act is not policy else act(grid)
    if isinstance(raw, tuple):  # SB3's predict returns (actions, state)
        raw = raw[0]
    if hasattr(raw, "detach"):
        raw = raw.detach().cpu().numpy()
    q = np.asarray(raw, dtype=np.float64).reshape(len(grid), -1)[:, 0].reshape(xx.shape)
    return axes[0], axes[1], q


def _setup(policy_or_env: Any, env: Any, dims: Sequence[int], env_kwargs: dict) -> tuple[Any, list[int], int]:
    from invgym.envs.common import config_of

    config = config_of(env, **env_kwargs)
    obs_dim = int(config.observation_space().shape[0])
    dims = list(dims)
    if len(dims) != 2 or len(set(dims)) != 2 or not all(isinstance(d, int) and 0 <= d < obs_dim for d in dims):
        raise ValueError(f"The 'dims' parameter must be two distinct ints in the range [0, {obs_dim - 1}] "
                         f"(this env's observation has {obs_dim} entries). Got {dims!r} instead.")
    return config, dims, obs_dim


def _draw_map(ax: Any, xs: np.ndarray, ys: np.ndarray, q: np.ndarray, vmin: float, vmax: float,
              cmap: str = "viridis") -> Any:
    mesh = ax.pcolormesh(xs, ys, q, shading="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
    levels = np.unique(np.round(q))
    if 1 < len(levels) <= 40 and len(xs) > 1 and len(ys) > 1:
        lines = ax.contour(xs, ys, q, levels=levels[:-1] + 0.5, colors="white", linewidths=0.6)
        ax.clabel(lines, fmt=lambda v: f"{v + 0.5:g}", fontsize=7)
    return mesh


def policy_contour(policy: Any, env: Any, dims: Sequence[int] = (0, 1), *,
                   ranges: Sequence[tuple[float, float]] | None = None, fixed: Sequence[float] | None = None,
                   resolution: int | None = None, title: str = "", **env_kwargs: Any) -> Any:
    """Draw the order ``policy(obs)`` over two observation coordinates (default: on-hand x arriving next).

    This is the picture of the Amazon paper's Figure 1: the order quantity over on-hand stock and the order that
    arrives next period, with contour lines between order levels.

    Args:
        policy: a fitted baseline, exact solution's ``.policy``, trained agent, callable, SB3 model or torch
            module (observations to orders; its orders are clipped and rounded as ``invgym.agents.TrainedPolicy`` does).
        env: env, config or id (with ``env_kwargs``).
        dims: the two observation indices on the x and y axes.
        ranges: ``(low, high)`` per dim; default 0 to the observation bound, clipped to the states an exact
            lookup table covers (so ``solve_exact(...).policy`` draws without a KeyError-like refusal).
        fixed: the other observation coordinates (default 0).
        resolution: grid points per axis; default every integer state for discrete envs, else 41.
        title: axes title (default the policy's class name).
        **env_kwargs: scenario parameters, with an id only.
    """
    config, dims, obs_dim = _setup(policy, env, dims, env_kwargs)
    ranges = [_default_range(config, policy, d) for d in dims] if ranges is None else [tuple(map(float, r))
                                                                                        for r in ranges]
    base = np.zeros(obs_dim) if fixed is None else np.asarray(fixed, dtype=np.float64).reshape(obs_dim)
    xs, ys, q = _grid_orders(policy, config, dims, ranges, base, resolution)
    fig, axes = _figure(6, 4.8)
    ax = axes[0, 0]
    mesh = _draw_map(ax, xs, ys, q, float(q.min()), float(q.max()))
    fig.colorbar(mesh, ax=ax, label="order quantity")
    ax.set_xlabel(_AXIS_NAMES.get(dims[0], f"obs[{dims[0]}]"))
    ax.set_ylabel(_AXIS_NAMES.get(dims[1], f"obs[{dims[1]}]"))
    ax.set_title(title or type(policy).__name__)
    return fig


def policy_maps(policies: Mapping[str, Any], env: Any, dims: Sequence[int] = (0, 1), *,
                ranges: Sequence[tuple[float, float]] | None = None, fixed: Sequence[float] | None = None,
                resolution: int | None = None, **env_kwargs: Any) -> Any:
    """Several policies' order maps side by side on one colour scale, then each one's difference to the first.

    Pass the exact optimum first (``{"optimal": solve_exact(...).policy, "base-stock": ...}``) to see where
    and by how much a heuristic departs from it. The default range is the one the first policy covers.
    """
    if len(policies) < 1:
        raise ValueError("The 'policies' parameter of policy_maps must hold at least one policy.")
    first = next(iter(policies.values()))
    config, dims, obs_dim = _setup(first, env, dims, env_kwargs)
    if ranges is None:
        ranges = [_default_range(config, first, d) for d in dims]
    base = np.zeros(obs_dim) if fixed is None else np.asarray(fixed, dtype=np.float64).reshape(obs_dim)
    maps = {name: _grid_orders(p, config, dims, ranges, base, resolution) for name, p in policies.items()}
    names = list(maps)
    rows = 2 if len(names) > 1 else 1
    fig, axes = _figure(4.2 * len(names), 3.6 * rows, ncols=len(names), nrows=rows)
    vmin = min(float(m[2].min()) for m in maps.values())
    vmax = max(float(m[2].max()) for m in maps.values())
    ref = maps[names[0]][2]
    span = max(float(np.abs(m[2] - ref).max()) for m in maps.values()) or 1.0
    for c, name in enumerate(names):
        xs, ys, q = maps[name]
        mesh = _draw_map(axes[0, c], xs, ys, q, vmin, vmax)
        axes[0, c].set_title(name)
        axes[0, c].set_xlabel(_AXIS_NAMES.get(dims[0], f"obs[{dims[0]}]"))
        axes[0, c].set_ylabel(_AXIS_NAMES.get(dims[1], f"obs[{dims[1]}]"))
        if rows == 2:
            ax = axes[1, c]
            if c == 0:
                ax.axis("off")
                ax.text(0.5, 0.5, f"below: order minus\n{names[0]}'s order", ha="center", va="center",
                        transform=ax.transAxes)
                continue
            diff = ax.pcolormesh(xs, ys, q - ref, shading="nearest", cmap="RdBu_r", vmin=-span, vmax=span)
            ax.set_title(f"{name} - {names[0]}")
            ax.set_xlabel(_AXIS_NAMES.get(dims[0], f"obs[{dims[0]}]"))
            ax.set_ylabel(_AXIS_NAMES.get(dims[1], f"obs[{dims[1]}]"))
    fig.colorbar(mesh, ax=list(axes[0]), label="order quantity")
    if rows == 2:
        fig.colorbar(diff, ax=list(axes[1]), label="difference (units)")
    return fig


# === Leaderboard ===


def _nice_limit(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (a round axis end)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def gap_by_track(gaps: Mapping[str, Mapping[str, float]], learned: Sequence[str] = (), title: str = "",
                 cap: float = 25.0) -> Any:
    """Grouped bars: each entry's mean gap to the reference (%) on every track (a row of bars per track).

    Args:
        gaps: track -> entry -> mean gap in percent (entries missing on a track are left out there).
        learned: entry names that are learned agents (hatched bars, so they stand out from OR baselines).
        title: the figure's title.
        cap: gaps beyond this (%) are drawn to the edge and marked with an arrow, so that one poor entry does
            not squash every other bar.
    """
    tracks = list(gaps)
    if not tracks:
        raise ValueError("The 'gaps' parameter of gap_by_track must hold at least one track.")
    names = sorted({n for g in gaps.values() for n in g})
    fig, axes = _figure(9, 0.9 + 0.32 * sum(max(len(g), 1) for g in gaps.values()) + 0.4 * len(tracks))
    ax = axes[0, 0]
    y, ticks, labels = 0.0, [], []
    for track in tracks:
        entries = sorted(gaps[track].items(), key=lambda kv: kv[1])
        start = y
        for name, gap in entries:
            shown = min(max(gap, 0.0), cap)
            ax.barh(y, shown, color=colour_for(name), hatch="//" if name in learned else None,
                    edgecolor="black" if name in learned else colour_for(name), height=0.8)
            clipped = gap > cap
            ax.text(shown if not clipped else cap * 0.98, y, f" {name} {gap:+.1f} %" + (" ▶" if clipped else ""),
                    va="center", ha="right" if clipped else "left", fontsize=7,
                    color="white" if clipped else "black")
            y += 1
        if not entries:
            ax.text(0, y, " no entry", va="center", fontsize=7)
            y += 1
        ticks.append((start + y - 1) / 2)
        labels.append(track)
        y += 0.8
        ax.axhline(y - 0.9, color="#dddddd", lw=0.6)
    top = min(max([g for t in gaps.values() for g in t.values()] + [0.0]), cap)
    ax.set_xlim(0, _nice_limit(top * 1.35) if top < cap else cap)
    ax.set_yticks(ticks, labels)
    ax.invert_yaxis()
    ax.set_xlabel("mean gap to the reference cost (%)  —  0 % is the exact optimum or best OR baseline")
    ax.grid(axis="x", alpha=0.3)
    del names
    if title:
        ax.set_title(title)
    return fig


def cost_vs_reference(points: Sequence[Mapping[str, Any]], learned: Sequence[str] = (), title: str = "") -> Any:
    """One panel per track: each instance's cost against its reference cost (log-log), the diagonal marked.

    Args:
        points: dicts with ``track``, ``name``, ``reference`` and ``cost`` (one per entry and instance).
        learned: entry names drawn with hollow markers (learned agents).
        title: the figure's title.
    """
    tracks = list(dict.fromkeys(p["track"] for p in points))
    if not tracks:
        raise ValueError("The 'points' parameter of cost_vs_reference must hold at least one point.")
    ncols = min(3, len(tracks))
    nrows = math.ceil(len(tracks) / ncols)
    fig, axes = _figure(4 * ncols, 3.4 * nrows, ncols=ncols, nrows=nrows)
    for k, track in enumerate(tracks):
        ax = axes[k // ncols, k % ncols]
        mine = [p for p in points if p["track"] == track]
        for name in sorted({p["name"] for p in mine}):
            xs = [p["reference"] for p in mine if p["name"] == name]
            ys = [p["cost"] for p in mine if p["name"] == name]
            hollow = name in learned
            ax.scatter(xs, ys, s=22, label=name, marker="D" if hollow else "o",
                       facecolors="none" if hollow else colour_for(name), edgecolors=colour_for(name))
        values = [p["reference"] for p in mine] + [p["cost"] for p in mine]
        lo, hi = min(values) * 0.9, max(values) * 1.1
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--")
        if lo > 0 and hi / lo > 20:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(track)
        ax.set_xlabel("reference cost per period")
        ax.set_ylabel("entry's cost per period")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left")
    for k in range(len(tracks), nrows * ncols):
        axes[k // ncols, k % ncols].axis("off")
    if title:
        fig.suptitle(title)
    return fig

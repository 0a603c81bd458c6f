"""Torch policies for the learning agents: an MLP, a sales-history encoder and an optional base-stock head.

Every policy maps a batch of observations ``(B, obs_dim)`` to non-negative continuous orders ``(B, action_dim)``
and is differentiable, so DirectBackprop can push the twin's total cost back into its weights and
:class:`~invgym.agents.structure.StructurePenalty` can take its Jacobian with ``torch.func``.

Observations are split as the lost-sales env lays them out: the first ``state_dim`` columns are inventory
(on-hand, then outstanding orders oldest first), the last ``history`` columns are past sales, oldest first.
Envs with other features (the retail env's promotions, holidays and calendar after the sales) say where each
group sits in their config's ``slices``; :func:`build_policy` reads them, and those feature columns enter the
MLP as they are. Inventory and sales are divided by ``scale`` (mean demand) and orders multiplied by it, so one
set of initial weights works for any demand level.

The history encoder follows the structure of Madeka et al. (2022), "Deep inventory management": a causal,
dilated 1-D convolution over recent observed sales (a WaveNet-style stack, so the receptive field doubles per
layer) summarises the demand the agent has seen; a small ELU MLP combines that summary with the inventory state.
With ``quantiles > 0`` the encoder also hands the MLP order statistics of the window (the sorted sales at evenly
spaced ranks), their mean and standard deviation: for stationary demand the sorted sample is a sufficient
statistic, and a quantile-shaped policy such as the newsvendor reads its level almost directly off it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["CappedBaseStockPolicy", "DualIndexPolicy", "ForecastLevelPolicy", "HistoryEncoder", "OrderPolicy",
           "build_policy", "draw_weights", "dual_index_levels", "schedule_levels"]

POLICY_KINDS = ("mlp", "history")


def _mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ELU) -> nn.Sequential:
    # skip_init: the layers are built without drawing weights (torch's global RNG is never touched);
    # draw_weights fills them from the policy's own generator.
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.utils.skip_init(nn.Linear, sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def draw_weights(module: nn.Module, seed: int | torch.Generator) -> nn.Module:
    """Draw every linear and convolution layer's weights of ``module`` from a local generator; return it.

    The draws are torch's default initialisation (``kaiming_uniform_(a=sqrt(5))`` weights, uniform biases in
    ``+-1/sqrt(fan_in)``), layer by layer in ``module.modules()`` order, from ``torch.Generator`` seeded with
    ``seed``: a policy's initial weights are a function of its arguments alone, whatever else has used torch's
    global RNG in the process (which this never reads or moves). With the same seed they equal what
    ``torch.manual_seed(seed)`` followed by building the layers in that order gives.
    """
    if isinstance(seed, torch.Generator):
        generator = seed
    else:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**63:
            raise ValueError(f"The 'seed' parameter of draw_weights must be an int in the range [0, 2**63). "
                             f"Got {seed!r} instead.")
        generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear | nn.Conv1d):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


class HistoryEncoder(nn.Module):
    """Causal dilated convolutions over the last ``window`` sales, pooled to an ``embedding``-sized summary.

    Args:
        window: how many recent periods are read (at most the env's ``history``); e.g. 32.
        channels: channels of each convolution.
        embedding: size of the learned summary vector.
        seed: seeds the initial weights (a local ``torch.Generator``; see :func:`draw_weights`).
        quantiles: also return this many order statistics of the window (the sorted sales at ranks evenly spaced
            from the smallest to the largest), then the window's mean and standard deviation (0: none). They
            add no weights, so the convolutions' initial weights are the same for every ``quantiles``.
    """

    def __init__(self, window: int, channels: int = 16, embedding: int = 16, seed: int = 0,
                 quantiles: int = 0) -> None:
        super().__init__()
        self.window = int(window)
        if isinstance(quantiles, bool) or not isinstance(quantiles, int) or not 0 <= quantiles <= self.window:
            raise ValueError(f"The 'quantiles' parameter of HistoryEncoder must be an int in the range "
                             f"[0, {self.window}] (the window). Got {quantiles!r} instead.")
        self.quantiles = int(quantiles)
        if self.quantiles:  # registered only then, so a plain encoder's state dict is what it always was
            ranks = np.linspace(0, self.window - 1, self.quantiles).round().astype(np.int64)
            self.register_buffer("ranks", torch.as_tensor(ranks, dtype=torch.int64))
        layers, dilation, receptive = [], 1, 1
        in_channels = 1
        # Dilations 1, 2, 4, ... until the receptive field covers the window (kernel size 2 per layer).
        while receptive < self.window:
            layers.append(nn.utils.skip_init(nn.Conv1d, in_channels, channels, kernel_size=2, dilation=dilation))
            in_channels = channels
            receptive += dilation
            dilation *= 2
        self.convs = nn.ModuleList(layers)
        self.project = nn.utils.skip_init(nn.Linear, in_channels, embedding)
        self.embedding = embedding + (self.quantiles + 2 if self.quantiles else 0)
        draw_weights(self, seed)

    def forward(self, sales: torch.Tensor) -> torch.Tensor:
        """Summarise ``sales`` (B, window), oldest first, as (B, embedding)."""
        h = sales[:, None, :]
        for conv in self.convs:
            # Left padding keeps the convolution causal: output t sees only periods <= t.
            h = nn.functional.elu(conv(nn.functional.pad(h, (conv.dilation[0], 0))))
        summary = self.project(h[:, :, -1])  # the last (most recent) position has seen the whole window
        if not self.quantiles:
            return summary
        ordered = torch.sort(sales, dim=1).values[:, self.ranks]
        spread = sales.std(dim=1, keepdim=True) if self.window > 1 else torch.zeros_like(sales[:, :1])
        return torch.cat([summary, ordered, sales.mean(dim=1, keepdim=True), spread], dim=1)


class OrderPolicy(nn.Module):
    """Observations to orders (non-negative, or signed order/remove actions); optionally through a level head.

    With ``base_stock_head=True`` (single action only) the network outputs a state-dependent order-up-to level
    and the order is ``q = relu(S(x) - position)``, position = sum of the inventory columns; any order rule can
    be written that way, but a constant ``S`` (the network's bias at initialisation, set to ``initial_level``) is
    already a good base-stock policy, so training starts close to a sensible policy.

    With ``signed=True`` the action may be negative: a removal request, as in procurement-removal (Maggiar &
    Sadighian), where ``u > 0`` orders ``u`` and ``u < 0`` removes ``-u``. The level head then becomes an
    *interval* head: two state-dependent levels ``a(x) <= b(x) = a(x) + gap(x)`` and
    ``u = relu(a(x) - position) - relu(position - b(x))`` (order up to a below it, remove down to b above it,
    nothing in between: the structure of the optimal policy); without a head the output is unconstrained.
    With ``phases=S`` the observation's ``phase_column`` holds the phase ``t mod S`` of a demand schedule; it
    enters the MLP as ``phase / S`` and picks a learned per-phase offset of the levels (a table started at
    ``initial_level``, one entry per phase), so a per-phase interval policy is the starting point.

    Args:
        obs_dim: observation length.
        action_dim: number of order quantities.
        state_dim: leading inventory columns (the state the structure properties talk about).
        history: trailing past-sales columns (0: none).
        kind: "mlp" (all features into one MLP) or "history" (convolutional encoder for the sales history).
        hidden: hidden layer sizes of the MLP.
        base_stock_head: order up to a learned level instead of outputting the order directly.
        scale: typical demand per period; inputs are divided by it and orders multiplied by it.
        initial_level: order-up-to level the head starts from (default ``2 * scale``).
        window: periods of sales history the encoder reads (``kind="history"``), at most ``history``.
        leak: gradient slope of the base-stock head below zero (0: the exact relu gradient; see
            :func:`_leaky_relu_gradient`).
        history_start: first sales column (default: the last ``history`` columns); every column that is neither
            inventory nor sales is a feature passed unscaled (e.g. promotion flags, calendar).
        seed: seeds the initial weights (a local ``torch.Generator``, never torch's global RNG; see
            :func:`draw_weights`).
        signed: allow negative actions (removals); see above.
        initial_gap: ``b - a`` the interval head starts from (``signed`` with the head; default ``scale``).
        phases: number of schedule phases S shown in ``phase_column`` (0: none). ``initial_level`` may then be a
            sequence of S levels, one per phase.
        phase_column: observation column of the phase (default: the last).
        quantiles: order statistics of the sales window the encoder adds to its summary (``kind="history"``;
            see :class:`HistoryEncoder`; 0: none).
    """

    def __init__(self, obs_dim: int, action_dim: int = 1, *, state_dim: int | None = None, history: int = 0,
                 kind: str = "mlp", hidden: Sequence[int] = (64, 64), base_stock_head: bool = False,
                 scale: float = 1.0, initial_level: float | Sequence[float] | None = None, window: int = 32,
                 leak: float = 0.01, history_start: int | None = None, seed: int = 0, signed: bool = False,
                 initial_gap: float | None = None, phases: int = 0, phase_column: int | None = None,
                 quantiles: int = 0) -> None:
        super().__init__()
        if kind not in POLICY_KINDS:
            raise ValueError(f"The 'kind' parameter of OrderPolicy must be one of {list(POLICY_KINDS)}. "
                             f"Got {kind!r} instead.")
        if base_stock_head and action_dim != 1:
            raise ValueError(f"The 'base_stock_head' parameter of OrderPolicy needs a single order (action_dim=1). "
                             f"Got action_dim={action_dim} instead.")
        if kind == "history" and history < 1:
            raise ValueError("The 'kind' parameter of OrderPolicy is 'history' but the env has no sales history: "
                             "make the env with history > 0 (e.g. history=32).")
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        self.state_dim = self.obs_dim - history if state_dim is None else int(state_dim)
        self.history, self.kind, self.base_stock_head = int(history), kind, bool(base_stock_head)
        self.signed, self.phases = bool(signed), int(phases)
        if self.phases < 0:
            raise ValueError(f"The 'phases' parameter of OrderPolicy must be an int >= 0. Got {phases!r} instead.")
        self.phase_column = (self.obs_dim - 1 if phase_column is None else int(phase_column)) if self.phases else -1
        self.history_start = self.obs_dim - self.history if history_start is None else int(history_start)
        self.leak = float(leak)
        self.register_buffer("scale", torch.tensor(float(scale)))
        units = set(range(self.state_dim)) | set(range(self.history_start, self.history_start + self.history))
        others = [i for i in range(self.obs_dim) if i not in units]
        # Per-column divisor: mean demand for quantities, 1 for features (without features: obs / scale as ever).
        self.register_buffer("divisor", torch.tensor([
            float(max(self.phases, 1)) if i == self.phase_column else 1.0 if i in others else float(scale)
            for i in range(self.obs_dim)]))
        self.register_buffer("others", torch.tensor(others, dtype=torch.int64))
        if kind == "history":
            self.encoder: HistoryEncoder | None = HistoryEncoder(min(window, self.history), quantiles=quantiles)
            features = self.state_dim + self.encoder.embedding + len(others)
        else:
            self.encoder = None
            features = self.obs_dim
        interval = self.signed and self.base_stock_head
        self.body = _mlp([features, *hidden, 2 if interval else action_dim])
        draw_weights(self, seed)  # the encoder's layers first, then the MLP's
        last = self.body[-1]
        levels = np.atleast_1d(np.asarray(2.0 * float(scale) if initial_level is None else initial_level,
                                          dtype=np.float64)) / float(scale)
        if levels.shape not in ((1,), (max(self.phases, 1),)) or not np.isfinite(levels).all():
            raise ValueError(f"The 'initial_level' parameter of OrderPolicy must be a finite level or one per phase "
                             f"({self.phases}). Got {initial_level!r} instead.")
        gap = 1.0 if initial_gap is None else float(initial_gap) / float(scale)
        start = [float(levels[0]), math.log(math.expm1(max(gap, 1e-3)))] if interval else (
            [float(levels[0])] if base_stock_head else [0.0 if self.signed else math.log(math.expm1(1.0))])
        with torch.no_grad():
            # Start from a flat policy: small output weights, bias at the initial level (or one period's demand).
            last.weight.mul_(0.1)
            if self.phases:
                # Per-phase offsets of the head's outputs, started at each phase's level; the bias starts at 0.
                table = torch.tensor(start).repeat(self.phases, 1)
                if base_stock_head:
                    table[:, 0] = torch.as_tensor(np.broadcast_to(levels, (self.phases,)).copy())
                last.bias.zero_()
            else:
                table = None
                last.bias.copy_(torch.tensor(start).expand_as(last.bias))
        # Registered only with phases, so the state dict of every other policy is what it always was.
        self.phase_table = nn.Parameter(table) if self.phases else None

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """Scaled inputs of the MLP: inventory, the encoded sales (``kind="history"``) and the other features."""
        x = obs / self.divisor
        if self.encoder is None:
            return x
        sales = x[:, self.history_start : self.history_start + self.history][:, -self.encoder.window :]
        return torch.cat([x[:, : self.state_dim], self.encoder(sales), x[:, self.others]], dim=1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return orders (B, action_dim) for observations (B, obs_dim): >= 0, or signed with ``signed=True``."""
        out = self.body(self.features(obs))
        if self.phases:
            phase = obs[:, self.phase_column].round().long().clamp(0, self.phases - 1)
            out = out + self.phase_table[phase]
        if self.base_stock_head:
            position = obs[:, : self.state_dim].sum(dim=1, keepdim=True)
            order = _leaky_relu_gradient(out[:, :1] * self.scale - position, self.leak)
            if not self.signed:
                return order
            # Interval head: remove down to b = a + gap above it (gap >= 0, so ordering and removing never mix).
            upper = (out[:, :1] + nn.functional.softplus(out[:, 1:2])) * self.scale
            return order - _leaky_relu_gradient(position - upper, self.leak)
        if self.signed:
            return out * self.scale
        return nn.functional.softplus(out) * self.scale


class ForecastLevelPolicy(nn.Module):
    """A base-stock head on a given forecast level, corrected by an MLP: end-to-end learning from a forecaster's start.

    ``q = relu(F(x) * (1 + tanh(m_1(x))) + scale * m_2(x) + offset - position)``, where ``F`` is a fixed, non-learned
    order-up-to level computed from the observation (e.g. :meth:`invgym.baselines.PredictThenOptimize.level`:
    the forecast quantile of protection-period demand) and ``m`` an MLP whose output layer starts at zero, so
    the untrained policy orders exactly ``relu(F + offset - position)``. DirectBackprop then trains ``m`` on the
    twin's cost: the forecaster's level is the starting point, the correction is learned end to end. ``F`` is a
    numpy function of the (detached) observation, so no gradient flows through it; ``offset`` 0.5 turns the
    rounding to the nearest integer of a discrete action space into the forecaster's rounding up.

    Args:
        level: ``obs (B, obs_dim) numpy -> level (B,)``, the fixed order-up-to level.
        obs_dim: observation length.
        state_dim: leading inventory columns (their sum is the position).
        history: past-sales columns (divided by ``scale`` on entry, as the inventory columns).
        history_start: first sales column.
        hidden: hidden layer sizes of the correction MLP.
        scale: typical demand per period (inputs divided by it, the additive correction multiplied by it).
        offset: constant added to the level.
        leak: gradient slope of the head below zero (see :func:`_leaky_relu_gradient`).
        seed: seeds the correction's initial weights (a local generator, see :func:`draw_weights`).
    """

    def __init__(self, level: Callable[[np.ndarray], np.ndarray], obs_dim: int, *, state_dim: int, history: int,
                 history_start: int, hidden: Sequence[int] = (64, 64), scale: float = 1.0, offset: float = 0.5,
                 leak: float = 0.01, seed: int = 0) -> None:
        super().__init__()
        if not callable(level):
            raise TypeError(f"The 'level' parameter of ForecastLevelPolicy must be callable (obs -> level). "
                            f"Got {level!r} instead.")
        self.level_fn = level
        self.state_dim, self.leak, self.offset = int(state_dim), float(leak), float(offset)
        self.correction = OrderPolicy(obs_dim, 2, state_dim=state_dim, history=history, history_start=history_start,
                                      kind="mlp", hidden=hidden, scale=scale, signed=True, seed=seed)
        with torch.no_grad():
            self.correction.body[-1].weight.zero_()  # the untrained policy is the forecaster's
            self.correction.body[-1].bias.zero_()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return orders (B, 1) for observations (B, obs_dim)."""
        level = torch.as_tensor(np.asarray(self.level_fn(obs.detach().cpu().numpy()), dtype=np.float64),
                                dtype=obs.dtype).reshape(-1, 1)
        m = self.correction(obs) / self.correction.scale  # the raw MLP outputs
        # The factor 1 + tanh(m_1) stays in (0, 2): an exp factor overflowed in training (nan cost at epoch 26).
        target = level * (1.0 + torch.tanh(m[:, :1])) + self.correction.scale * m[:, 1:2] + self.offset
        position = obs[:, : self.state_dim].sum(dim=1, keepdim=True)
        return _leaky_relu_gradient(target - position, self.leak)


def _leaky_relu_gradient(z: torch.Tensor, slope: float = 0.01) -> torch.Tensor:
    """``relu(z)`` in value, with a small gradient where ``z < 0``.

    A plain relu head that falls below the inventory position everywhere stops ordering and gets no gradient
    ever again (a dead unit); the small slope lets the level recover while the orders stay exactly relu(z).
    """
    leak = slope * (z - z.detach()) * (z < 0)
    return torch.relu(z) + leak


def build_policy(kind: str, config: object, *, hidden: Sequence[int] = (64, 64), base_stock_head: bool = False,
                 window: int = 32, leak: float = 0.01, seed: int = 0, quantiles: int = 0) -> OrderPolicy:
    """Return an :class:`OrderPolicy` sized for a scenario config (its observation and action layout)."""
    obs_dim = int(config.observation_space().shape[0])
    action_dim = int(len(config.action_low))
    history = int(getattr(config, "history", 0))
    slices = getattr(config, "slices", None)
    layout = {}
    if isinstance(slices, dict) and "inventory" in slices and "sales" in slices:  # features besides the sales
        layout = {"state_dim": slices["inventory"].stop, "history_start": slices["sales"].start}
    demand, panel = getattr(config, "demand", None), getattr(config, "panel", None)
    if demand is not None:
        scale = max(float(demand.mean), 1e-3)
    elif panel is not None:  # recorded demand: the mean daily demand of the env's products
        scale = max(float(np.asarray(panel.demand)[list(config.products)].mean()), 1e-3)
    else:
        scale = 1.0
    if base_stock_head and kind == "mlp" and action_dim == 2 and hasattr(config, "regular_lead_time"):
        # Dual sourcing: the level head of two orders is the dual-index head, started at newsvendor levels.
        s_e, s_r = dual_index_levels(config)
        return DualIndexPolicy(config.regular_lead_time, config.expedited_lead_time, s_e, s_r, hidden=hidden,
                               scale=scale, max_expedited=float(config.max_order[1]), leak=leak, seed=seed)
    lead_time = int(getattr(config, "lead_time", 0))
    # Start near Morton's level: demand over the lead time plus one period, scaled (Zipkin 2008, Sec. 5).
    initial_level: float | list[float] | None = (lead_time + 1) * scale if base_stock_head else None
    signed = bool(np.asarray(config.action_low, dtype=np.float64).min() < 0)  # order/remove actions
    schedule = getattr(config, "demand_schedule", None)
    phases, extra = 0, {}
    if schedule:
        phases = len(schedule)
        scale = max(float(np.mean([m.mean for m in schedule])), 1e-3)
        levels = schedule_levels(config)
        initial_level = levels if base_stock_head else None
        extra = {"phases": phases, "initial_gap": scale}
    return OrderPolicy(obs_dim, action_dim, **{"state_dim": obs_dim - history - (1 if phases else 0), **layout},
                       history=history, kind=kind, hidden=hidden, base_stock_head=base_stock_head, scale=scale,
                       initial_level=initial_level, window=window, leak=leak, seed=seed, signed=signed,
                       quantiles=quantiles, **extra)


def dual_index_levels(config: object) -> tuple[float, float]:
    """Dual-index levels (S_e, S_r) from quantiles alone, no simulation: the quick estimate the default head starts at.

    S_e is the critical-fractile ``b / (b + h)`` quantile of demand over the ``l_e + 1`` periods an expedited
    order covers; S_r adds the mean demand over the ``l_r - l_e`` periods between the two lead times.
    """
    shortage = float(config.backorder_cost)
    fractile = shortage / (shortage + float(config.holding_cost))
    s_e = float(config.demand.quantile(fractile, config.expedited_lead_time + 1))
    return s_e, s_e + float(config.demand.mean) * (config.regular_lead_time - config.expedited_lead_time)


def schedule_levels(config: object) -> list[float]:
    """Per-phase order-up-to levels of a demand schedule: mean plus ``z`` sd of demand over the L + 1 periods ahead.

    The quick newsvendor estimate an interval head starts from (the agent computes it; nothing is fitted):
    ``z`` is the normal quantile of the critical fractile ``p / (p + h)``, clipped to [0, 2.5]; phases wrap
    cyclically as the env's schedule does, except that an episode no longer than the schedule stops at its end.
    """
    from statistics import NormalDist

    schedule = list(config.demand_schedule)
    phases, lead_time = len(schedule), int(config.lead_time)
    shortage, holding = float(config.shortage_cost), float(config.holding_cost)
    z = min(max(NormalDist().inv_cdf(min(max(shortage / (shortage + holding), 1e-6), 1 - 1e-6)), 0.0), 2.5)
    wrap = int(getattr(config, "horizon", phases)) > phases
    levels = []
    for t in range(phases):
        ahead = [schedule[(t + k) % phases] for k in range(lead_time + 1) if wrap or t + k < phases]
        mean, var = sum(m.mean for m in ahead), sum(m.variance for m in ahead)
        levels.append(mean + z * math.sqrt(var))
    return levels


# === Heads shaped like an OR heuristic (start exactly at it; DirectBackprop then refines the levels by state) ===


class _LevelCorrection(nn.Module):
    """MLP of the scaled observation to corrections of ``len(levels)`` levels, zero at initialisation.

    The last layer starts at zero, so before training the corrections vanish and the policy is exactly the
    heuristic with the given levels; training moves the levels as functions of the state.
    """

    def __init__(self, obs_dim: int, levels: Sequence[float], hidden: Sequence[int], scale: float,
                 seed: int = 0, gain: float = 1.0) -> None:
        super().__init__()
        if isinstance(gain, bool) or not isinstance(gain, int | float) or not 0.0 < float(gain) <= 1000.0:
            raise ValueError(f"The 'gain' parameter of {type(self).__name__} must be a float in the range (0, 1000]. "
                             f"Got {gain!r} instead.")
        # Corrections are ``gain * scale`` units per unit of the MLP's output: Adam moves each weight by about the
        # learning rate per step, so the gain sets how far the levels can travel in a training run.
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.gain = float(gain)  # a plain attribute: the state dict stays what it always was
        self.register_buffer("levels", torch.as_tensor([float(v) for v in levels]))
        self.body = _mlp([obs_dim, *hidden, len(levels)])
        draw_weights(self.body, seed)
        with torch.no_grad():
            self.body[-1].weight.zero_()
            self.body[-1].bias.zero_()

    def level(self, obs: torch.Tensor) -> torch.Tensor:
        """The state-dependent levels, shape (B, len(levels))."""
        return self.levels + self.body(obs / self.scale) * (self.scale * self.gain)


class CappedBaseStockPolicy(_LevelCorrection):
    """Lost sales: ``q = min((S(x) - position)^+, r(x))``, starting at the capped base-stock policy (S, r).

    Xin (2021) shows the capped base-stock policy is near-optimal for long lead times; this head starts there
    (e.g. at ``invgym.baselines.CappedBaseStock.fit``'s levels) and lets DirectBackprop make S and r depend on
    the pipeline. The observation's first ``state_dim`` columns are the inventory (on-hand, then pipeline).

    Args:
        obs_dim: observation length.
        level: the starting order-up-to level S.
        cap: the starting cap r.
        state_dim: leading inventory columns summed into the position (default: all).
        hidden: hidden sizes of the correction MLP.
        scale: typical demand per period (inputs divided by it, corrections multiplied by it).
        leak: gradient slope below zero of the relu (see :func:`_leaky_relu_gradient`).
        seed: seeds the correction MLP's hidden weights (a local ``torch.Generator``; see :func:`draw_weights`).
    """

    def __init__(self, obs_dim: int, level: float, cap: float, *, state_dim: int | None = None,
                 hidden: Sequence[int] = (32, 32), scale: float = 1.0, leak: float = 0.01, seed: int = 0) -> None:
        super().__init__(obs_dim, (level, cap), hidden, scale, seed)
        self.obs_dim, self.action_dim = int(obs_dim), 1
        self.state_dim = self.obs_dim if state_dim is None else int(state_dim)
        self.leak = float(leak)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return orders (B, 1) >= 0."""
        s = self.level(obs)
        position = obs[:, : self.state_dim].sum(dim=1, keepdim=True)
        return _leaky_relu_gradient(torch.minimum(s[:, :1] - position, s[:, 1:]), self.leak)


class DualIndexPolicy(_LevelCorrection):
    """Dual sourcing: ``q_e = (S_e(x) - IPe)^+``, ``q_r = (S_r(x) - IP - q_e)^+`` (Veeraraghavan & Scheller-Wolf 2008).

    Starts at the dual-index policy with levels (S_e, S_r) (e.g. ``invgym.baselines.DualIndex.fit``'s) and lets
    DirectBackprop make both levels depend on the state. With ``cap`` the regular order is also capped,
    ``q_r = min((S_r(x) - IP - q_e)^+, r(x))``: the capped dual index of Sun & Van Mieghem (2019), near-optimal
    when the regular lead time is long, with a third state-dependent level r(x) started at ``cap``. Positions
    are summed as ``baselines.dual_index.positions`` does: the observation is net inventory, the regular
    pipeline (``l_r - 1`` columns, oldest first), then the expedited pipeline; IPe counts what arrives within
    ``l_e`` periods, IP everything. Orders are (q_r, q_e).

    Args:
        regular_lead_time: l_r.
        expedited_lead_time: l_e.
        expedited_level: the starting S_e.
        regular_level: the starting S_r.
        hidden: hidden sizes of the correction MLP.
        scale: typical demand per period.
        max_expedited: the largest expedited order (the env's ``max_order[1]``); q_e is capped at it before q_r
            is computed, as the heuristic does (None: no cap).
        leak: gradient slope below zero of the relus.
        seed: seeds the correction MLP's hidden weights (a local ``torch.Generator``; see :func:`draw_weights`).
        cap: the starting cap r of the regular order (None: no cap, the plain dual index).
        gain: the levels' corrections are ``gain * scale`` units per unit of the correction MLP's output (1: as
            before; larger lets training move the levels further from their start).
    """

    def __init__(self, regular_lead_time: int, expedited_lead_time: int, expedited_level: float,
                 regular_level: float, *, hidden: Sequence[int] = (32, 32), scale: float = 1.0,
                 max_expedited: float | None = None, leak: float = 0.01, seed: int = 0, cap: float | None = None,
                 gain: float = 1.0) -> None:
        lr, le = int(regular_lead_time), int(expedited_lead_time)
        obs_dim = lr + max(le - 1, 0)
        levels = (expedited_level, regular_level) + (() if cap is None else (cap,))
        super().__init__(obs_dim, levels, hidden, scale, seed, gain)
        self.capped = cap is not None
        self.obs_dim, self.action_dim, self.state_dim = obs_dim, 2, obs_dim
        self.regular_lead_time, self.expedited_lead_time = lr, le
        self.max_expedited = None if max_expedited is None else float(max_expedited)
        self.leak = float(leak)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return orders (B, 2) = (q_r, q_e) >= 0."""
        lr, le = self.regular_lead_time, self.expedited_lead_time
        ipe = obs[:, :1] + obs[:, lr:].sum(dim=1, keepdim=True) + obs[:, 1 : 1 + le].sum(dim=1, keepdim=True)
        ip = ipe + obs[:, 1 + le : lr].sum(dim=1, keepdim=True)
        s = self.level(obs)
        q_e = _leaky_relu_gradient(s[:, :1] - ipe, self.leak)
        if self.max_expedited is not None:
            q_e = torch.clamp(q_e, max=self.max_expedited)
        q_r = s[:, 1:2] - ip - q_e
        if self.capped:
            q_r = torch.minimum(q_r, s[:, 2:3])
        return torch.cat([_leaky_relu_gradient(q_r, self.leak), q_e], dim=1)

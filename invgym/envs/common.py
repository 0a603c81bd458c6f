"""Shared plumbing for every scenario: the config protocol, the single env and the native vector env.

A scenario declares a :class:`ScenarioConfig` subclass (its parameter table, spaces, kernel factory) and two thin
classes, ``<Name>Env(KernelEnv)`` and ``<Name>VectorEnv(KernelVectorEnv)``, that name it as ``config_class``;
their ``__init__`` and Arguments table are derived from the table. The single env is a view on a batch kernel of
one env, so the dynamics exist once, in the kernel. The scenario's parts are listed in :mod:`invgym.scenarios`.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from invgym.core._kernel import STEP_SLOW_ANSWER as _STEP_SLOW
from invgym.parameters import Computed, Param, arguments_table, validation_order
from invgym.scenarios import scenario_of
from invgym.validation import check_choice, check_int

try:  # Gymnasium >= 1.1 names the autoreset modes; 1.0 only has next-step autoreset.
    from gymnasium.vector import AutoresetMode
except ImportError:  # pragma: no cover - exercised on gymnasium 1.0 only
    AutoresetMode = None

__all__ = ["RENDER_MODES", "BoundKernel", "KernelEnv", "KernelVectorEnv", "ScenarioConfig", "config_for", "config_of",
           "env_action_space", "family_of", "stock_view"]

ACTION_TYPES = ("discrete", "continuous")
RENDER_MODES = ("ansi", "rgb_array")
RENDER_WINDOW = 40  # periods kept for render(): the recent history a frame or a table shows


def stock_view(config: ScenarioConfig, obs: np.ndarray) -> tuple[float, float]:
    """Return (on-hand, units in the pipeline) read from one observation of any scenario, for pictures.

    Dual sourcing reports net inventory (negative with backorders) as on-hand; replenishment's pipeline is its
    observed units on order; the others add their outstanding orders.
    """
    name = type(config).__name__
    if name == "PerishableConfig":
        k = config.on_hand_width
        return float(obs[:k].sum()), float(obs[k : config.width].sum())
    if name == "DualSourcingConfig":
        width = max(config.regular_lead_time, 1)
        pipeline = obs[1:width].sum() + obs[width : width + max(config.expedited_lead_time - 1, 0)].sum()
        return float(obs[0]), float(pipeline)
    if name == "ReplenishmentConfig":
        return float(obs[0]), float(obs[1])
    width = max(int(getattr(config, "lead_time", 1)), 1)
    return float(obs[0]), float(obs[1:width].sum())


def env_action_space(config: ScenarioConfig) -> tuple[spaces.Space, np.ndarray | None]:
    """Return the Gymnasium-facing action space and the offset the env adds to decode an action.

    Discrete and MultiDiscrete spaces always start at 0, as SB3, RLlib and CleanRL assume: a scenario whose
    orders start elsewhere (ProcurementRemoval's signed order, negative for removals) is shown as indices
    ``a = u - low`` and decoded inside the env as ``u = a + low``. Continuous (Box) spaces are shown as they are.
    The offset is None when there is nothing to decode.
    """
    space = config.action_space()
    if config.action_type != "discrete" or not np.any(config.action_low != 0):
        return space, None
    low = config.action_low.astype(np.int64)
    if isinstance(space, spaces.Discrete):
        return spaces.Discrete(int(space.n)), low
    return spaces.MultiDiscrete(space.nvec), low


def _check_render_mode(render_mode: Any, owner: str) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"The 'render_mode' parameter of {owner} must be one of [None, 'ansi', 'rgb_array']. "
                         f"Got {render_mode!r} instead.")
    return render_mode


class _History:
    """The last ``RENDER_WINDOW`` periods of one env (on-hand, pipeline and the info parts), for ``render``.

    Kept only when a render mode is set, so stepping without one does no extra work.
    """

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.rows: collections.deque = collections.deque(maxlen=RENDER_WINDOW)
        self.period = 0
        self.obs: np.ndarray | None = None

    def clear(self, obs: np.ndarray) -> None:
        self.rows.clear()
        self.period = 0
        self.obs = np.array(obs, copy=True)

    def add(self, obs: np.ndarray, parts: dict[str, float]) -> None:
        on_hand, pipeline = stock_view(self.config, self.obs)  # the state the decision was taken in
        self.rows.append({"period": self.period, "on_hand": on_hand, "pipeline": pipeline, **parts})
        self.period += 1
        self.obs = np.array(obs, copy=True)

    def ansi(self) -> str:
        """A state table: the current state, then the last periods' events (newest last)."""
        on_hand, pipeline = stock_view(self.config, self.obs)
        head = (f"{self.config.owner}  period {self.period}  on-hand {on_hand:g}  pipeline {pipeline:g}  "
                f"obs {np.array2string(self.obs, precision=2, max_line_width=10**6)}")
        keys = [k for k in ("order", "demand", "sales", "lost", "cost") if self.rows and k in self.rows[-1]]
        lines = [head, "  ".join(f"{k:>8s}" for k in ("period", "on_hand", "pipeline", *keys))]
        for row in list(self.rows)[-8:]:
            lines.append("  ".join(f"{row[k]:8.4g}" for k in ("period", "on_hand", "pipeline", *keys)))
        return "\n".join(lines)

    def frame(self) -> np.ndarray:
        from invgym.plot import render_frame  # matplotlib, only when a frame is asked for

        return render_frame(list(self.rows), title=self.config.owner)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScenarioConfig:
    """Validated parameters of one scenario and what every generic piece needs to run it.

    A subclass declares its parameter table, ``parameters`` (a tuple of :class:`~invgym.parameters.Param`), and
    optionally ``computed`` fields; the class becomes a frozen, keyword-only dataclass with one field per row,
    validated on every construction (``Config(...)``, ``dataclasses.replace``, :meth:`replace`): a config that
    exists is valid. It implements ``make_kernel``, ``obs_low``/``obs_high`` and the action bounds. ``parts``
    names the per-period columns the kernel reports in ``info``; ``owner`` is the name error messages give
    (the env class that built the config, else the config class).
    """

    parts: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[tuple[Param, ...]] = ()
    computed: ClassVar[tuple[Computed, ...]] = ()
    _order: ClassVar[tuple[Param, ...]] = ()
    owner: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "parameters" not in cls.__dict__:
            return
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        for p in cls.parameters:
            annotations[p.name] = p.type
            setattr(cls, p.name, dataclasses.field(default=p.default, repr=p.repr))
        for c in cls.computed:
            annotations[c.name] = c.type
            setattr(cls, c.name, dataclasses.field(init=False))
        cls.__annotations__ = annotations
        cls._order = validation_order(cls.parameters)
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)

    def __post_init__(self) -> None:
        if self.owner is None:
            object.__setattr__(self, "owner", type(self).__name__)
        elif not isinstance(self.owner, str):
            raise TypeError(f"The 'owner' parameter of {type(self).__name__} must be a str. Got {self.owner!r}.")
        for p in self._order:
            value = getattr(self, p.name)
            if value is None:
                value = p.default if p.derive is None else p.derive(self)
                if p.derive is None and value is not None:
                    value = p.allowed.check(value, p.name, self.owner, self)
            else:
                value = p.allowed.check(value, p.name, self.owner, self)
            object.__setattr__(self, p.name, value)
        for c in self.computed:
            object.__setattr__(self, c.name, c.function(self))

    @classmethod
    def validate(cls, owner: str, **kwargs: Any) -> ScenarioConfig:
        """Return ``cls(owner=owner, **kwargs)``: the checked config (None for a parameter means its default)."""
        return cls(owner=owner, **kwargs)

    def replace(self, **changes: Any) -> ScenarioConfig:
        """Return a validated copy with some parameters changed (e.g. a longer horizon for evaluation).

        Unlike ``dataclasses.replace`` (which also validates), a parameter declared ``follows`` that still holds
        the value it derives, and is not among ``changes``, is derived again from the new parameters.
        """
        values = {p.name: getattr(self, p.name) for p in self.parameters}
        for p in self.parameters:
            if p.follows and p.name not in changes and p.derive is not None and values[p.name] == p.derive(self):
                values[p.name] = None
        values.update(changes)
        return type(self)(owner=self.owner, **values)

    def make_kernel(self, num_envs: int) -> Any:
        """Return a compiled batch kernel of ``num_envs`` envs with these parameters, with no buffers bound.

        Each scenario implements this; everything else calls :meth:`bind`, which also allocates the buffers.
        """
        raise NotImplementedError

    def bind(self, num_envs: int, *, same_step: bool = False, by_key: bool = False) -> BoundKernel:
        """Return a kernel of ``num_envs`` envs with these parameters, bound to freshly allocated buffers.

        Args:
            num_envs: envs in the batch.
            same_step: allocate ``final_obs``/``finished`` and switch the kernel to same-step autoreset (an env
                restarts in the step that ended it); otherwise the step after an episode ends resets it.
            by_key: also allocate ``parts_t``, the parts by key, which every step then fills (a vector env's
                ``info``); off by default, since it costs a second pass over the parts each step.
        """
        return BoundKernel(self, num_envs, same_step=same_step, by_key=by_key)

    @property
    def action_type(self) -> str:
        """Return "discrete" or "continuous"."""
        raise NotImplementedError

    @property
    def action_low(self) -> np.ndarray:
        """Return the lower bound of each action component (float64 vector).

        The default is the common case, one order in ``[0, max_order]``; scenarios with other actions (two orders,
        a signed order) override both bounds.
        """
        return np.zeros(1)

    @property
    def action_high(self) -> np.ndarray:
        """Return the upper bound of each action component (float64 vector): ``[max_order]`` by default."""
        return np.array([self.max_order])

    @property
    def obs_low(self) -> np.ndarray:
        """Return the lower bound of each observation component (float32 vector)."""
        raise NotImplementedError

    @property
    def obs_high(self) -> np.ndarray:
        """Return the upper bound of each observation component (float32 vector)."""
        raise NotImplementedError

    def observation_space(self) -> spaces.Box:
        """Return the single env's observation space."""
        return spaces.Box(self.obs_low, self.obs_high, dtype=np.float32)

    def action_space(self) -> spaces.Space:
        """Return the single env's action space: Discrete/MultiDiscrete for integer orders, else a Box."""
        low, high = self.action_low, self.action_high
        if self.action_type == "continuous":
            return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        if len(low) == 1:
            return spaces.Discrete(int(high[0] - low[0]) + 1, start=int(low[0]))
        return spaces.MultiDiscrete((high - low + 1).astype(np.int64), start=low.astype(np.int64))


def config_for(env_id: str, **kwargs: Any) -> ScenarioConfig:
    """Return the validated config of a registered invgym id with ``kwargs`` applied over its defaults."""
    from gymnasium.envs.registration import load_env_creator

    spec = gym.spec(env_id)
    creator = load_env_creator(spec.entry_point)
    if not (isinstance(creator, type) and issubclass(creator, KernelEnv)):
        raise ValueError(f"{env_id!r} is not an invgym kernel environment.")
    return creator(**{**spec.kwargs, **kwargs}).config


def config_of(env: Any, **kwargs: Any) -> ScenarioConfig:
    """Return the scenario config of an env, a vector env, a config, or a registered id (with ``kwargs``)."""
    if isinstance(env, str):
        return config_for(env, **kwargs)
    if kwargs:
        raise TypeError("keyword arguments are only accepted with an environment id.")
    if isinstance(env, ScenarioConfig):
        return env
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    if not isinstance(config, ScenarioConfig):
        raise TypeError(f"expected an invgym env, vector env, config or id. Got {env!r} instead.")
    return config


def family_of(env: Any) -> str:
    """Return the scenario family ("lost_sales", "dual_sourcing", ...) of an env, config or id.

    The family is the scenario's name in :data:`invgym.scenarios.SCENARIOS`; a config of no registered scenario
    raises ValueError.
    """
    return scenario_of(config_of(env)).name


class BoundKernel:
    """A compiled batch kernel of ``num_envs`` envs bound to the buffers it reads and writes (from ``config.bind``).

    The buffers are allocated once and written in place by every ``reset``/``step``/``rollout`` of the kernel;
    read them after a call (copy them to keep them). The kernel reads its actions from ``actions``. A bound kernel
    pickles and deep-copies: the copy binds its own kernel to its own buffers.

    Example:
        >>> import numpy as np
        >>> from invgym.envs import LostSalesConfig
        >>> bound = LostSalesConfig.validate("demo", lead_time=2).bind(4).reset(seed=0)  # env i seeded 0 + i
        >>> bound.actions[:] = 5.0
        >>> bound.step()  # index of the first env with an action outside the space, -1 if none
        -1
        >>> bound.obs.shape, bound.rewards.shape, bound.parts.shape[0]
        ((4, 2), (4,), 4)

    Attributes:
        config: the scenario config the kernel was built from.
        kernel: the compiled batch kernel (``reset``, ``step``, ``rollout``, ``rollout_table``, ...).
        num_envs: envs in the batch.
        obs: float32 (num_envs, obs_dim), the observations.
        rewards: float64 (num_envs,), the last step's rewards.
        terminated: bool (num_envs,).
        truncated: bool (num_envs,).
        parts: float64 (num_envs, len(config.parts)), the last step's per-period parts (``cost``, ...).
        actions: float64 (num_envs, act_dim), the actions ``step`` applies.
        final_obs: float32 like ``obs`` with same-step autoreset (the last observation of an ended episode), else
            None.
        finished: bool (num_envs,) flagging envs whose episode ended this step with same-step autoreset, else None.
        parts_t: float64 (len(config.parts), num_envs), ``parts`` by key (one contiguous row per part), written
            by ``step``, one contiguous row per part; None unless bound with ``by_key=True``.
    """

    def __init__(self, config: ScenarioConfig, num_envs: int, *, same_step: bool = False,
                 by_key: bool = False) -> None:
        self.config = config
        self.kernel = kernel = config.make_kernel(num_envs)
        n = self.num_envs = kernel.num_envs
        self.obs = np.zeros((n, kernel.obs_dim), dtype=np.float32)
        self.rewards = np.zeros(n, dtype=np.float64)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.parts = np.zeros((n, kernel.num_parts), dtype=np.float64)
        self.actions = np.zeros((n, kernel.act_dim), dtype=np.float64)
        self.final_obs = np.zeros_like(self.obs) if same_step else None
        self.finished = np.zeros(n, dtype=np.bool_) if same_step else None
        # The parts by key, as a vector env's info hands them out (only where asked for: filling them is a pass).
        self.parts_t = np.zeros((kernel.num_parts, n), dtype=np.float64) if by_key else None
        self._bind()

    def _bind(self) -> None:
        self.kernel.bind(self.obs, self.rewards, self.terminated, self.truncated, self.parts, self.actions,
                         self.final_obs, self.finished, self.parts_t)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind()  # binding is not pickled: the copy binds its kernel to its own buffers

    def reset(self, seed: int | np.ndarray | None = None) -> BoundKernel:
        """Reset every env and return this bound kernel (so ``config.bind(n).reset(seed)`` reads as one line).

        Args:
            seed: an int seeds env i with ``seed + i`` (as the vector env does); an array gives each env its own
                seed (uint64, shape ``(num_envs,)``); None continues each env's random stream.
        """
        if isinstance(seed, int | np.integer):
            _check_seed(seed, "BoundKernel.reset", self.num_envs)
            seed = np.uint64(seed) + np.arange(self.num_envs, dtype=np.uint64)
        self.kernel.reset(seed)
        return self

    def step(self) -> int:
        """Apply ``actions`` to every env; return the index of the first env whose action is invalid, else -1."""
        return self.kernel.step()


class _Rebinds:
    """Pickling support: an unpickled or deep-copied env views its own (rebound) buffers again."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_obs_row" in state:  # a view does not survive pickling as a view
            self._obs_row = self._buf.obs[0]
        if "_info_views" in state:
            self._bind_views()


def _demand_path_option(options: dict | None, kernel: Any, owner: str) -> None:
    """Apply ``options={"demand_path": ...}`` (replay) or return the kernel to sampling."""
    options = options or {}
    unknown = set(options) - {"demand_path"}
    if unknown:
        raise ValueError(f"{owner}.reset got unknown options {sorted(unknown)}; the only option is 'demand_path'.")
    path = options.get("demand_path")
    if path is not None:
        path = np.asarray(path, dtype=np.float64)
        path = path.reshape(1, -1) if path.ndim == 1 and kernel.num_envs == 1 else path
    kernel.set_demand_path(path)


def _check_seed(seed: Any, owner: str, num_envs: int) -> None:
    """Seeds are uint64 and env i gets ``seed + i``: the last one must not wrap around 2^64."""
    top = 2**64 - num_envs
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= top:
        span = "" if num_envs == 1 else f" (env i is seeded seed + i, for {num_envs} envs)"
        raise ValueError(f"The 'seed' parameter of {owner} must be an int in the range [0, 2**64 - {num_envs}]"
                         f"{span}. Got {seed!r} instead.")


def _action_error(owner: str, space: spaces.Space, action: Any, hint: str = "") -> ValueError:
    return ValueError(f"Invalid action for {owner}: {action!r} is outside the action space {space}.{hint}")


def _declared_init(cls: type, base: type, config_class: type, leading: list[inspect.Parameter],
                   trailing: list[inspect.Parameter], keyword_only: bool) -> None:
    """Give ``cls`` an ``__init__`` taking the config's public parameters (real defaults) and the env's keywords.

    The config's parameter table also goes into the docstring's ``{arguments}`` slot.
    """
    kind = inspect.Parameter.KEYWORD_ONLY if keyword_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
    public = [p for p in config_class.parameters if p.public]
    params = [inspect.Parameter(p.name, kind, default=p.default, annotation=_annotation(p)) for p in public]
    own = [p.name for p in leading + trailing]
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *leading, *params, *trailing],
        return_annotation=None,
    )

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - the generated constructor
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}: {err}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self")
        env_args = {name: values.pop(name) for name in own}
        base.__init__(self, config_class(owner=type(self).__name__, **values), **env_args)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    __init__.__doc__ = f"Build the env from {config_class.__name__}'s parameters (see the class docstring)."
    cls.__init__ = __init__
    if cls.__doc__ and "{arguments}" in cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("{arguments}", _indent_like(cls.__doc__, arguments_table(public)))


def _annotation(param: Param) -> str:
    """The signature's annotation: the declared type, "| None" added where None means a derived default."""
    return param.type if param.default is not None or "None" in param.type else f"{param.type} | None"


def _indent_like(doc: str, text: str) -> str:
    """Indent every line but the first of ``text`` as the ``{arguments}`` slot is indented in ``doc``."""
    line = next(line for line in doc.splitlines() if "{arguments}" in line)
    pad = line[: len(line) - len(line.lstrip())]
    return text.replace("\n", "\n" + pad)


class KernelEnv(_Rebinds, gym.Env):
    """A single environment that is a view on a compiled batch kernel of one env.

    A subclass names its ``config_class``; its ``__init__`` (the config's public parameters, then
    ``render_mode``) and the docstring's ``{arguments}`` table are derived from the config's parameter table.
    Spaces, seeding, stepping and ``info`` come from here.
    """

    metadata: ClassVar[dict] = {"render_modes": list(RENDER_MODES), "render_fps": 4}
    config_class: ClassVar[type[ScenarioConfig] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__ and "__init__" not in cls.__dict__:
            render = inspect.Parameter("render_mode", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                       annotation="str | None")
            _declared_init(cls, KernelEnv, cls.config_class, [], [render], keyword_only=False)

    def __init__(self, config: ScenarioConfig, render_mode: str | None = None) -> None:
        self.render_mode = _check_render_mode(render_mode, config.owner)
        self.config = config
        self._history = None if render_mode is None else _History(config)
        self.observation_space = config.observation_space()
        self.action_space, self._offset = env_action_space(config)
        self._buf = config.bind(1)
        self.kernel = self._buf.kernel
        self._obs_row = self._buf.obs[0]
        self._discrete = config.action_type == "discrete"
        self._scalar_action = self._discrete and len(config.action_low) == 1
        self._keys = type(config).parts
        self._seeded = False
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode; ``seed`` seeds env's demand stream (the same seed replays the same episode).

        ``options={"demand_path": d}`` replays the demand sequence ``d`` (at least ``horizon`` periods) this episode.
        """
        if seed is not None:
            _check_seed(seed, f"{type(self).__name__}.reset", 1)
        super().reset(seed=seed)
        if seed is not None:
            kernel_seed = [seed]
        elif not self._seeded:  # first reset without a seed: draw one from the entropy-seeded np_random
            kernel_seed = self.np_random.integers(0, 2**63, size=1, dtype=np.uint64)
        else:
            kernel_seed = None  # continue the stream, as Gymnasium does
        self._seeded = True
        _demand_path_option(options, self.kernel, self.config.owner)
        self.kernel.reset(kernel_seed)
        self._needs_reset = False
        if self._history is not None:
            self._history.clear(self._obs_row)
        return self._obs_row.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Advance one period; see the class docstring for the event order and ``info`` keys."""
        if self._needs_reset:
            raise ResetNeeded(f"{self.config.owner}: the episode has ended (or not begun); call reset() first.")
        given = action
        if self._scalar_action:
            if type(action) is not int and not isinstance(action, np.integer) and not (
                isinstance(action, np.ndarray) and action.size == 1 and action.dtype.kind in "iu"
            ):
                raise _action_error(
                    self.config.owner, self.action_space, action,
                    " Discrete actions must be ints: did you pass the policy's logits,"
                    " or mean action_type='continuous'?",
                )
            if self._offset is not None:  # decode the index into the scenario's signed order
                action = int(action) + int(self._offset[0])
            result = self.kernel.step_one(action, self._keys)
        else:
            arr = action if type(action) is np.ndarray else np.asarray(action)
            if self._discrete and arr.dtype.kind not in "iu":
                raise _action_error(self.config.owner, self.action_space, action)
            if arr.dtype.kind not in "iuf" or arr.shape != self.action_space.shape:  # True, or shape (1, 1)
                raise _action_error(self.config.owner, self.action_space, action,
                                    f" Actions must be numbers of shape {self.action_space.shape}; got "
                                    f"{arr.dtype} of shape {arr.shape}.")
            if self._offset is not None:
                arr = arr.reshape(-1) + self._offset
            result = self.kernel.step_one_list((arr if arr.ndim == 1 else arr.reshape(-1)).tolist(), self._keys)
        if result is None:
            raise _action_error(self.config.owner, self.action_space, given)
        reward, terminated, truncated, info = result
        self._needs_reset = terminated or truncated
        if self._history is not None:
            self._history.add(self._obs_row, info)
        return self._obs_row.copy(), reward, terminated, truncated, info

    def render(self) -> str | np.ndarray | None:
        """Render the recent periods: ``"ansi"`` a state table (str), ``"rgb_array"`` a matplotlib frame.

        The frame (uint8, height x width x 3) plots on-hand, pipeline, demand and sales over the last
        ``RENDER_WINDOW`` periods; it needs the ``plot`` extra (matplotlib). Without a render mode: None.
        """
        if self._history is None:
            return None
        if self._history.obs is None:
            raise ResetNeeded(f"{self.config.owner}: call reset() before render().")
        return self._history.ansi() if self.render_mode == "ansi" else self._history.frame()


class _PartsInfo(dict):
    """A vector env's ``info``: each part's array is filled from the kernel's parts only when ``info`` is read.

    The kernel writes the parts env by env (``(num_envs, num_parts)``); ``info`` hands them out by key (one
    contiguous row per part). Transposing them every step cost a pass over the parts that a training loop
    which never reads ``info`` paid for nothing, so the rows are filled (all at once, exact copies) on the first
    read after a step. Every way of reading a dict goes through ``_fill`` first: item access, iteration,
    ``keys``/``values``/``items``, ``get``, ``copy``, comparison, ``repr`` and pickling, so the contents are
    those of a plain dict of the rows.
    """

    __slots__ = ("_rows", "_src", "_stale")

    def __init__(self, keys: tuple[str, ...], rows: np.ndarray, src: np.ndarray, masks: dict) -> None:
        super().__init__(zip(keys, rows, strict=True))
        self.update(masks)
        self._rows, self._src, self._stale = rows, src, True

    def _fill(self) -> None:
        if self._stale:
            np.copyto(self._rows, self._src.T)
            self._stale = False

    def __reduce__(self) -> tuple:
        self._fill()
        return dict, (dict(super().items()),)  # a copy or an unpickled info is a plain dict of the rows


def _reading(name: str) -> Any:
    method = getattr(dict, name)

    def read(self: _PartsInfo, *args: Any) -> Any:
        self._fill()
        return method(self, *args)

    read.__name__ = name
    read.__doc__ = method.__doc__
    return read


for _name in ("__getitem__", "get", "__iter__", "keys", "values", "items", "copy", "__eq__", "__ne__", "__repr__",
              "pop", "popitem", "setdefault", "__or__", "__ror__"):
    setattr(_PartsInfo, _name, _reading(_name))
del _name


class KernelVectorEnv(_Rebinds, VectorEnv):
    """A native Gymnasium vector env: ``num_envs`` copies stepped by one compiled call.

    Autoreset follows Gymnasium 1.x: with ``autoreset_mode="next_step"`` (the default) the step after an episode
    ends resets that env, ignores its action and returns reward 0; with ``"same_step"`` the env restarts in the
    step that ended it, and ``info["final_obs"]`` (masked by ``info["_final_obs"]``) holds its last observation.
    ``info`` holds each per-period part (e.g. ``cost``) as an array with its ``_``-prefixed mask.
    Env i of a vector env reset with ``seed=s`` replays exactly the single env reset with ``seed=s + i``.
    A subclass names its ``config_class``; its ``__init__`` (``num_envs``, ``autoreset_mode``, ``render_mode``,
    then the config's public parameters as keywords, then ``copy``) is derived from the config's parameter table.
    ``copy=True`` (the default, as Gymnasium's ``SyncVectorEnv``) returns fresh arrays from every step;
    ``copy=False`` returns the env's own buffers and one ``info`` dict refreshed in place, allocating nothing per
    step (what a step returned is overwritten by the next). ``info``'s part arrays are filled from the kernel's
    parts on the first read after a step, so a loop that never reads them pays no pass over them.
    ``info_parts=False`` leaves the parts out of ``info`` (it is then empty but for same-step autoreset's
    ``final_obs``); with ``copy=True`` it also saves the per-step copy of the parts.
    """

    metadata: ClassVar[dict] = {"render_modes": list(RENDER_MODES), "render_fps": 4}
    render_envs: ClassVar[int] = 4  # render() shows the first few envs
    config_class: ClassVar[type[ScenarioConfig] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__ and "__init__" not in cls.__dict__:
            positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
            leading = [inspect.Parameter("num_envs", positional, default=1, annotation="int"),
                       inspect.Parameter("autoreset_mode", positional, default="next_step", annotation="str"),
                       inspect.Parameter("render_mode", positional, default=None, annotation="str | None")]
            copy = [inspect.Parameter("copy", inspect.Parameter.KEYWORD_ONLY, default=True, annotation="bool"),
                    inspect.Parameter("info_parts", inspect.Parameter.KEYWORD_ONLY, default=True,
                                      annotation="bool")]
            _declared_init(cls, KernelVectorEnv, cls.config_class, leading, copy, keyword_only=True)

    def __init__(self, config: ScenarioConfig, num_envs: int = 1, autoreset_mode: Any = "next_step",
                 render_mode: str | None = None, copy: bool = True, info_parts: bool = True) -> None:
        name = type(self).__name__
        self.render_mode = _check_render_mode(render_mode, name)
        self.num_envs = check_int(num_envs, "num_envs", name, 1, 10_000_000)
        mode = getattr(autoreset_mode, "value", autoreset_mode)
        mode = {"NextStep": "next_step", "SameStep": "same_step"}.get(mode, mode)
        self.autoreset_mode = check_choice(mode, "autoreset_mode", name, ("next_step", "same_step"))
        if not isinstance(copy, bool | np.bool_):
            raise TypeError(f"The 'copy' parameter of {name} must be a bool. Got {copy!r} instead.")
        self.copy = bool(copy)
        if not isinstance(info_parts, bool | np.bool_):
            raise TypeError(f"The 'info_parts' parameter of {name} must be a bool. Got {info_parts!r} instead.")
        self.info_parts = bool(info_parts)
        self.metadata = dict(self.metadata)
        if AutoresetMode is not None:
            self.metadata["autoreset_mode"] = (
                AutoresetMode.NEXT_STEP if self.autoreset_mode == "next_step" else AutoresetMode.SAME_STEP
            )
        self.config = config
        self.single_observation_space = config.observation_space()
        self.single_action_space, self._offset = env_action_space(config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        # The parts by key are not bound: ``info`` (a _PartsInfo) transposes them only when it is read.
        self._buf = config.bind(self.num_envs, same_step=self.autoreset_mode == "same_step")
        self.kernel = self._buf.kernel
        self._discrete = config.action_type == "discrete"
        self._kinds = "iu" if self._discrete else "iuf"
        self._fast = self._offset is None  # the compiled fast path of step() adds no offset
        self._floats = not self._discrete
        self._keys = type(config).parts if self.info_parts else ()
        self._all = np.ones(self.num_envs, dtype=np.bool_)
        self._all.flags.writeable = False
        self._masks = {"_" + key: self._all for key in self._keys}
        self._bind_views()
        self._seeded = False
        self._histories = None if render_mode is None else [
            _History(config) for _ in range(min(self.num_envs, self.render_envs))]

    def _bind_views(self) -> None:
        # Views on the bound buffers, made once: the action buffer in the shape actions arrive in, and the info
        # dict of copy=False, whose arrays are the kernel's parts rows (refreshed in place by every step).
        buf = self._buf
        self._act_shape = self.action_space.shape
        self._act_view = buf.actions.reshape(self._act_shape)
        if self.info_parts:
            rows = np.zeros((len(self._keys), self.num_envs), dtype=np.float64)
            self._info_views = _PartsInfo(self._keys, rows, buf.parts, self._masks)
        else:
            self._info_views = dict(self._masks)
        self._returned = (buf.obs, buf.rewards, buf.terminated, buf.truncated, self._info_views)  # copy=False

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Reset every env; an int ``seed`` gives env i the seed ``seed + i``, a list gives each its own."""
        if seed is None:
            seeds = None if self._seeded else np.random.SeedSequence().generate_state(self.num_envs, np.uint64)
        elif isinstance(seed, int | np.integer):
            _check_seed(seed, f"{type(self).__name__}.reset", self.num_envs)
            super().reset(seed=int(seed))
            seeds = np.uint64(seed) + np.arange(self.num_envs, dtype=np.uint64)
        else:
            seeds = np.asarray(seed)
            if seeds.shape != (self.num_envs,) or seeds.dtype.kind not in "iu" or np.any(seeds < 0):
                raise ValueError(
                    f"seed must be None, an int or {self.num_envs} non-negative ints. Got {seed!r} instead."
                )
        self._seeded = True
        _demand_path_option(options, self.kernel, self.config.owner)
        self.kernel.reset(seeds)
        if self._histories is not None:
            for i, history in enumerate(self._histories):
                history.clear(self._buf.obs[i])
        return self._buf.obs.copy(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Step every env with its action (shape ``(num_envs,)`` or ``(num_envs, action_dim)``).

        With ``copy=False`` the arrays returned (and ``info``'s) are the env's own buffers, overwritten by the
        next step: nothing is allocated per step. With ``copy=True`` (the default) they are fresh copies.
        """
        # Fast path: an int64 (or, continuous, float64) array of the right size, no offset to add, copied and
        # stepped in one compiled call; anything else (other dtypes, lists, a wrong size) takes the general path.
        bad = self.kernel.step_actions(actions, self._floats) if self._fast else _STEP_SLOW
        if bad == _STEP_SLOW:
            arr = actions if type(actions) is np.ndarray else np.asarray(actions)
            if arr.shape != self._act_shape or arr.dtype.kind not in self._kinds:
                arr = self._checked_actions(arr)
            np.copyto(self._act_view, arr, casting="unsafe")
            if self._offset is not None:  # indices from 0 -> the scenario's signed orders
                self._buf.actions += self._offset
            bad = self.kernel.step()
        if bad >= 0:
            arr = np.asarray(actions).reshape(self._act_shape)
            raise ValueError(
                f"Invalid action for env {bad} of {type(self).__name__}: {arr[bad]!r} is outside "
                f"{self.single_action_space}."
            )
        if self._histories is not None:
            self._record()
        if not self.copy:
            if self.info_parts:
                self._info_views._stale = True
            if self.kernel.num_finished:
                buf = self._buf
                return buf.obs, buf.rewards, buf.terminated, buf.truncated, self._final_info(dict(self._info_views))
            return self._returned
        buf = self._buf
        # One copy of the parts; the rows by key are filled from it when info is first read.
        if self.info_parts:
            info = _PartsInfo(self._keys, np.empty((len(self._keys), self.num_envs)), buf.parts.copy(), self._masks)
        else:
            info = dict(self._masks)
        if self.kernel.num_finished:
            self._final_info(info)
        return buf.obs.copy(), buf.rewards.copy(), buf.terminated.copy(), buf.truncated.copy(), info

    def _checked_actions(self, arr: np.ndarray) -> np.ndarray:
        """The actions in the action buffer's shape, or a ValueError naming what is wrong with them."""
        if arr.size != self._act_view.size or (self._discrete and arr.dtype.kind not in "iu"):
            raise ValueError(
                f"actions of {type(self).__name__} must be {'int' if self._discrete else 'float'}s of shape "
                f"{self.action_space.shape}; got {arr.dtype} {arr.shape}"
                + (": did you pass the policy's logits?" if self._discrete and arr.dtype.kind == "f" else ".")
            )
        return arr.reshape(self._act_shape)

    def _record(self) -> None:
        for i, history in enumerate(self._histories):
            parts = dict(zip(type(self.config).parts, self._buf.parts[i].tolist(), strict=True))
            history.add(self._buf.obs[i], parts)

    def render(self) -> tuple | None:
        """Render the first ``render_envs`` envs (a tuple: one state table or one frame each, as SyncVectorEnv).

        See :meth:`KernelEnv.render`; None without a render mode.
        """
        if self._histories is None:
            return None
        if self._histories[0].obs is None:
            raise ResetNeeded(f"{type(self).__name__}: call reset() before render().")
        return tuple(h.ansi() if self.render_mode == "ansi" else h.frame() for h in self._histories)

    def _final_info(self, info: dict) -> dict:
        """Add same-step autoreset's ``final_obs`` (object array, set where ``_final_obs``) to ``info``."""
        buf = self._buf
        mask = buf.finished.copy()
        final = np.empty(self.num_envs, dtype=object)
        for i in np.flatnonzero(mask):
            final[i] = buf.final_obs[i].copy()
        info["final_obs"], info["_final_obs"] = final, mask
        return info

"""A Stable-Baselines3 ``VecEnv`` over any invgym batch kernel (imports stable-baselines3; not loaded by ``invgym``).

Example:
    >>> import invgym
    >>> from invgym.sb3 import make_sb3_vec_env
    >>> from stable_baselines3 import PPO
    >>> venv = make_sb3_vec_env("invgym/LostSales-v0", n_envs=64, lead_time=2, seed=0)
    >>> model = PPO("MlpPolicy", venv, n_steps=32).learn(2048)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from invgym.envs.common import ScenarioConfig, config_for

__all__ = ["InvgymVecEnv", "make_sb3_vec_env"]


class InvgymVecEnv(VecEnv):
    """SB3 ``VecEnv`` whose ``step_wait`` is one compiled kernel call over all ``n_envs`` envs.

    The conversion mirrors SB3's ``DummyVecEnv.step_wait``:

    - ``dones[i] = terminated[i] or truncated[i]``;
    - same-step reset: when env i's episode ends, the returned ``obs[i]`` is already the first observation of
      the next episode and ``infos[i]["terminal_observation"]`` holds the last one;
    - ``infos[i]["TimeLimit.truncated"] = truncated[i] and not terminated[i]`` (set on every step);
    - a Discrete/MultiDiscrete space that does not start at 0 is shown to SB3 as indices from 0 and shifted
      back before the kernel sees them (SB3's policies sample indices);
    - ``seed(s)`` makes env i use seed ``s + i`` at the next ``reset()``, exactly as the Gymnasium vector env does,
      so the SB3 and Gymnasium views of the same seed see the same demand.

    The per-period cost parts are in ``infos[i]`` under the scenario's part names when ``info_parts=True``
    (off by default: building them costs a dict update per env per step).
    """

    def __init__(self, config: ScenarioConfig, n_envs: int = 8, info_parts: bool = False) -> None:
        self.config = config
        self._buf = config.bind(n_envs, same_step=True)
        self.kernel = self._buf.kernel
        self._discrete = config.action_type == "discrete"
        self._info_parts = info_parts
        self._keys = type(config).parts
        self._actions: np.ndarray | None = None
        self.render_mode = None
        # SB3 samples Discrete/MultiDiscrete actions as indices from 0; a space that starts elsewhere (e.g. a
        # signed order/removal) is shown to SB3 from 0 and shifted back in step_wait.
        space = config.action_space()
        self._action_offset = np.zeros(1)
        if isinstance(space, spaces.Discrete):
            self._action_offset = np.array([float(space.start)])
            space = spaces.Discrete(int(space.n))
        elif isinstance(space, spaces.MultiDiscrete):
            self._action_offset = space.start.astype(np.float64)
            space = spaces.MultiDiscrete(space.nvec)
        super().__init__(n_envs, config.observation_space(), space)

    # === VecEnv API ===

    def reset(self) -> np.ndarray:
        """Reset every env with the seeds set by ``seed()`` (or continue the streams when none were set)."""
        seeds = None
        if any(s is not None for s in self._seeds):
            if any(s is None for s in self._seeds):
                raise ValueError("either every env or no env must have a seed at reset.")
            seeds = np.asarray(self._seeds, dtype=np.uint64)
        elif not getattr(self, "_seeded", False):
            seeds = np.random.SeedSequence().generate_state(self.num_envs, np.uint64)
        self._seeded = True
        self.kernel.set_demand_path(None)
        self.kernel.reset(seeds)
        self._reset_seeds()
        self._reset_options()
        return self._buf.obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for ``step_wait``."""
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Step every env once and convert to SB3's (obs, rewards, dones, infos)."""
        buf = self._buf
        arr = np.asarray(self._actions)
        if arr.size != buf.actions.size or (self._discrete and arr.dtype.kind not in "iu"):
            raise ValueError(
                f"actions must be {'int' if self._discrete else 'float'}s of {self.num_envs} envs; "
                f"got {arr.dtype} {arr.shape}."
            )
        np.copyto(buf.actions, arr.reshape(buf.actions.shape), casting="unsafe")
        if self._action_offset.any():
            buf.actions += self._action_offset
        bad = self.kernel.step()
        if bad >= 0:
            raise ValueError(f"Invalid action for env {bad}: {arr[bad]!r} is outside {self.action_space}.")
        dones = buf.terminated | buf.truncated
        truncated = buf.truncated & ~buf.terminated
        infos: list[dict[str, Any]] = [{"TimeLimit.truncated": bool(t)} for t in truncated]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = buf.final_obs[i].copy()
        if self._info_parts:
            rows = buf.parts.tolist()
            for i in range(self.num_envs):
                infos[i].update(zip(self._keys, rows[i], strict=True))
        return buf.obs.copy(), buf.rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Nothing to release: the kernel's memory is freed with it."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """Return ``attr_name`` of the (shared) config for each selected env."""
        return [getattr(self.config, attr_name) if attr_name != "render_mode" else None
                for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Refuse: a config is immutable; build a new vec env with other parameters."""
        raise AttributeError(f"cannot set {attr_name!r}: invgym configs are immutable; make a new vec env instead.")

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Refuse: the envs live inside one compiled kernel and have no per-env Python objects."""
        raise AttributeError(f"InvgymVecEnv has no per-env objects to call {method_name!r} on.")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No env is wrapped by Gymnasium wrappers."""
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No images: the environments have no visual rendering."""
        return [None for _ in range(self.num_envs)]

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)


def make_sb3_vec_env(env_id: str, n_envs: int = 8, seed: int | None = None, info_parts: bool = False,
                     **kwargs: Any) -> InvgymVecEnv:
    """Build an :class:`InvgymVecEnv` for a registered invgym id with keyword arguments as ``gym.make`` takes."""
    venv = InvgymVecEnv(config_for(env_id, **kwargs), n_envs=n_envs, info_parts=info_parts)
    if seed is not None:
        venv.seed(seed)
    return venv

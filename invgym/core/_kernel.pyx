# SPDX-License-Identifier: MIT
# Batch-kernel base: buffers, seeding, demand tables, autoreset and the one batch-step loop every scenario shares.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t
from libc.math cimport INFINITY, isfinite

from invgym.core._rng cimport rng_below, rng_seed

cimport numpy as cnp
import numpy as np

cnp.import_array()

STEP_SLOW_ANSWER = STEP_SLOW  # step_actions's answer for actions its fast path does not take, for Python callers


# === Types and constants ===

def _rebuild(cls, args, state):
    """Recreate a pickled kernel from its constructor arguments and state arrays."""
    kernel = cls(*args)
    kernel.set_state(state)
    return kernel


cdef class BatchKernel:
    """State of ``num_envs`` copies of one scenario, stepped together by one compiled loop.

    A scenario kernel subclasses this, allocates its state arrays with ``_own`` and implements three hooks:
    ``reset_env`` (the starting state of env i), ``step_env`` (one period of env i, writing ``rewards[i]``,
    ``parts[i, :]`` and ``terminated[i]``) and ``write_obs`` (env i's observation). Everything else — seeding,
    demand sampling or replay, truncation at the horizon, autoreset, action checks — lives here once.
    """

    def __init__(self, Py_ssize_t num_envs, Py_ssize_t obs_dim, Py_ssize_t act_dim, Py_ssize_t num_parts,
                 int64_t horizon, act_low, act_high, alias_prob, alias_idx, support, tuple init_args):
        if type(self) is BatchKernel:
            raise TypeError("BatchKernel is abstract: instantiate a scenario kernel.")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1. Got {num_envs} instead.")
        self.num_envs = num_envs
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.num_parts = num_parts
        self.horizon = horizon
        self.init_args = init_args
        self._arrays = {}
        self.rng = self._own("rng", np.zeros((num_envs, 4), dtype=np.uint64))
        self.t = self._own("t", np.zeros(num_envs, dtype=np.int64))
        self.needs_reset = self._own("needs_reset", np.ones(num_envs, dtype=np.uint8))
        self.product = self._own("product", np.zeros(num_envs, dtype=np.int64))
        self.alias_prob = np.ascontiguousarray(alias_prob, dtype=np.float64)
        self.alias_idx = np.ascontiguousarray(alias_idx, dtype=np.int32)
        self.support = np.ascontiguousarray(support, dtype=np.int64)
        self.act_low = np.ascontiguousarray(act_low, dtype=np.float64)
        self.act_high = np.ascontiguousarray(act_high, dtype=np.float64)
        self.demand_path = np.zeros((1, 1), dtype=np.float64)
        self.replay = False
        self.bound = False
        # Seed every stream deterministically so a kernel is usable before its first seeded reset.
        self.seed(np.arange(num_envs, dtype=np.uint64))

    def _own(self, str name, array):
        """Register a state array so that pickling and ``get_state``/``set_state`` carry it."""
        self._arrays[name] = array
        return array

    def __reduce__(self):
        return _rebuild, (type(self), self.init_args, self.get_state())

    def get_state(self):
        """Return a copy of every state array (streams, clocks, products, scenario state)."""
        state = {name: array.copy() for name, array in self._arrays.items()}
        if self.replay:
            state["demand_path"] = np.asarray(self.demand_path).copy()
        return state

    def set_state(self, dict state):
        """Restore arrays returned by ``get_state`` (shapes must match)."""
        for name, array in self._arrays.items():
            np.copyto(array, state[name])
        self.set_demand_path(state.get("demand_path"))

    # === Binding ===

    def bind(self, obs, rewards, terminated, truncated, parts, actions, final_obs=None, finished=None,
             parts_t=None):
        """Bind caller-owned buffers, once; ``final_obs``/``finished`` switch on same-step autoreset.

        Args:
            obs: float32 array (num_envs, obs_dim) that receives observations.
            rewards: float64 array (num_envs,).
            terminated: bool array (num_envs,).
            truncated: bool array (num_envs,).
            parts: float64 array (num_envs, num_parts) with the period's cost parts (see the scenario).
            actions: float64 array (num_envs, act_dim) that ``step()`` reads the actions from.
            final_obs: float32 array like ``obs`` for same-step autoreset; None selects next-step autoreset.
            finished: bool array (num_envs,) flagging envs whose episode ended this step (same-step only).
            parts_t: float64 array (num_parts, num_envs) that ``step()`` also fills with ``parts`` transposed
                (one contiguous row per part, as a vector env's ``info`` hands them out); None: not filled.
        """
        self.obs = obs
        self.rewards = rewards
        self.terminated = terminated.view(np.uint8)
        self.truncated = truncated.view(np.uint8)
        self.parts = parts
        self.actions = actions
        self.same_step = final_obs is not None
        if self.same_step:
            if finished is None:
                raise ValueError("same-step autoreset needs both final_obs and finished buffers.")
            self.final_obs = final_obs
            self.finished = finished.view(np.uint8)
        self.has_parts_t = parts_t is not None
        if self.has_parts_t:
            self.parts_t = parts_t
        self.bound = True

    # === Seeding and demand ===

    def seed(self, seeds):
        """Seed env i's stream from ``seeds[i]`` (any uint64); env i of a batch replays alone from its seed."""
        cdef uint64_t[::1] s = np.ascontiguousarray(seeds, dtype=np.uint64)
        cdef Py_ssize_t i
        if s.shape[0] != self.num_envs:
            raise ValueError(f"seeds must have length num_envs={self.num_envs}. Got {s.shape[0]} instead.")
        for i in range(self.num_envs):
            rng_seed(&self.rng[i, 0], s[i])

    def set_demand_path(self, path):
        """Replay ``path[i, t]`` as env i's demand in period t of each episode; None returns to sampling."""
        if path is None:
            self.replay = False
            self.demand_path = np.zeros((1, 1), dtype=np.float64)
            return
        arr = np.ascontiguousarray(path, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != self.num_envs:
            raise ValueError(f"demand path must have shape (num_envs={self.num_envs}, periods). "
                             f"Got {arr.shape} instead.")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("demand path must be finite and non-negative.")
        if arr.shape[1] < self.horizon:
            raise ValueError(f"demand path has {arr.shape[1]} periods, fewer than the horizon {self.horizon}.")
        self.demand_path = arr
        self.replay = True

    @property
    def demand_periods(self):
        """Number of periods in the replayed demand path (0 when sampling)."""
        return self.demand_path.shape[1] if self.replay else 0

    @cython.final
    cdef void start_episode(self, Py_ssize_t i) noexcept nogil:
        # A new episode: clock to 0, draw the product (a mixture's per-episode draw), then the scenario's state.
        self.t[i] = 0
        self.needs_reset[i] = 0
        if self.alias_prob.shape[0] > 1:
            self.product[i] = rng_below(&self.rng[i, 0], self.alias_prob.shape[0])
        self.reset_env(i)

    @cython.final
    cdef void restart_env(self, Py_ssize_t i) noexcept nogil:
        # A new episode in env i as a reset or a next-step autoreset leaves it: observed, reward, flags and
        # parts zero.
        cdef Py_ssize_t j
        self.start_episode(i)
        self.write_obs(i, &self.obs[i, 0])
        self.rewards[i] = 0.0
        self.terminated[i] = 0
        self.truncated[i] = 0
        for j in range(self.num_parts):
            self.parts[i, j] = 0.0
            if self.has_parts_t:
                self.parts_t[j, i] = 0.0

    # === Scenario hooks (the base class refuses to be instantiated, so these are never run) ===

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        pass

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        pass

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        pass

    cdef Py_ssize_t table_rollout(self, const double* flat, const int16_t* small, const int64_t* offs,
                                  const int64_t* dims, const int64_t* strides, Py_ssize_t nd,
                                  double position_bound, double discount, int64_t periods, int64_t warmup,
                                  double* totals, int64_t* state, int* reason) noexcept nogil:
        return TABLE_UNSUPPORTED

    cdef Py_ssize_t step_envs(self) noexcept nogil:
        return STEP_UNSUPPORTED

    # === Reset ===

    def reset(self, seeds=None):
        """Start a new episode in every env (re-seeding first when ``seeds`` is given) and write observations."""
        cdef Py_ssize_t i
        self._check_ready(self.horizon)
        if seeds is not None:
            self.seed(seeds)
        for i in range(self.num_envs):
            self.restart_env(i)

    def _check_ready(self, int64_t periods):
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        if self.replay and self.demand_path.shape[1] < periods:
            raise ValueError(f"the demand path has {self.demand_path.shape[1]} periods but {periods} are needed.")

    # === Step ===

    def step(self):
        """Advance every env by one period with the bound actions; return -1, or the first invalid env's index.

        Nothing moves when an action is invalid, so the caller can raise without corrupting state. After a step,
        ``num_finished`` counts the envs whose episode ended in it (same-step autoreset).
        """
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        return _advance(self, False)

    def step_generic(self):
        """``step`` through the generic loop of hooks even where the scenario has its own (``step_envs``): the
        reference its own loop is tested against."""
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        return _advance(self, True)

    def step_actions(self, actions, bint allow_float):
        """Copy ``actions`` into the bound action buffer and step: the vector env's fast path.

        Takes an aligned, C-contiguous, native-order ndarray of ``num_envs * act_dim`` int64 values (or float64
        ones with ``allow_float``), converted as numpy's unsafe cast converts them; anything else returns
        STEP_SLOW (-3) with nothing copied or moved, for the caller's general path. Otherwise returns what
        ``step`` returns.
        """
        cdef cnp.ndarray arr
        cdef Py_ssize_t i, size = self.num_envs * self.act_dim
        cdef int kind
        cdef double* out
        cdef const int64_t* ints
        cdef const double* floats
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        if not cnp.PyArray_CheckExact(actions):
            return STEP_SLOW
        arr = <cnp.ndarray>actions
        kind = cnp.PyArray_TYPE(arr)
        if (cnp.PyArray_SIZE(arr) != size or not cnp.PyArray_ISCARRAY_RO(arr)
                or not (kind == cnp.NPY_INT64 or (allow_float and kind == cnp.NPY_FLOAT64))):
            return STEP_SLOW
        out = &self.actions[0, 0]
        if kind == cnp.NPY_INT64:
            ints = <const int64_t*>cnp.PyArray_DATA(arr)
            for i in range(size):
                out[i] = <double>ints[i]
        else:
            floats = <const double*>cnp.PyArray_DATA(arr)
            for i in range(size):
                out[i] = floats[i]
        return _advance(self, False)

    def step_one(self, double action, tuple keys):
        """Single-env fast path: env 0 takes the scalar ``action``; return (reward, terminated, truncated, info).

        Returns None, with nothing moved, when the action is invalid. ``keys`` names the parts for ``info``.
        """
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        self.actions[0, 0] = action
        return self.step_one_bound(keys)

    def step_one_list(self, list action, tuple keys):
        """Like ``step_one`` for an action of several parts given as a list (e.g. ``array.tolist()``)."""
        cdef Py_ssize_t j
        if len(action) != self.act_dim:
            return None
        for j in range(self.act_dim):
            self.actions[0, j] = action[j]
        return self.step_one_bound(keys)

    def step_one_bound(self, tuple keys):
        """Like ``step_one`` for actions already written to row 0 of the bound action buffer."""
        cdef Py_ssize_t k
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        if _advance(self, False) >= 0:
            return None
        info = {}
        for k in range(self.num_parts):
            info[keys[k]] = self.parts[0, k]
        return self.rewards[0], self.terminated[0] != 0, self.truncated[0] != 0, info

    # === Table-policy rollout (in invgym.core._rollout_table) ===

    def rollout_table(self, table, offsets, int64_t periods, int64_t warmup=0, double position_bound=INFINITY,
                      double discount=1.0, obs_dim=None, cutoffs=None, bint integral=False, fallback=None,
                      projection=None, bint clip=False, compact=None):
        """Run a lookup-table policy in every env; see ``invgym.core._rollout_table.rollout_table``."""
        from invgym.core._rollout_table import rollout_table

        return rollout_table(self, table, offsets, periods, warmup=warmup, position_bound=position_bound,
                             discount=discount, obs_dim=obs_dim, cutoffs=cutoffs, integral=integral,
                             fallback=fallback, projection=projection, clip=clip, compact=compact)


cdef Py_ssize_t _advance(BatchKernel self, bint generic):
    # The one batch-step loop (a module function, so the class layout stays as declared in _kernel.pxd): the
    # scenario's own (``step_envs``) unless ``generic``, else the generic loop of hooks.
    # The per-env flags and clocks are reached through local pointers: a store through a flag (a char) may alias
    # anything, so fields read through ``self`` would be reloaded after every one of them.
    cdef Py_ssize_t i, j, n = self.num_envs, m = self.act_dim, bad = -1, done = 0
    cdef Py_ssize_t obs_dim = self.obs_dim, num_parts = self.num_parts
    cdef double a, lo, hi
    cdef bint ok = True
    cdef double* actions = &self.actions[0, 0]
    cdef const double* low = &self.act_low[0]
    cdef const double* high = &self.act_high[0]
    cdef unsigned char* terminated = &self.terminated[0]
    cdef unsigned char* truncated = &self.truncated[0]
    cdef unsigned char* needs_reset = &self.needs_reset[0]
    cdef unsigned char* finished = NULL
    cdef int64_t* t = &self.t[0]
    cdef int64_t horizon = self.horizon
    cdef float* obs = &self.obs[0, 0]
    cdef float* final_obs = NULL
    cdef double* parts = &self.parts[0, 0]
    cdef double* parts_t = &self.parts_t[0, 0] if self.has_parts_t else NULL
    cdef bint same_step = self.same_step
    if same_step:
        finished = &self.finished[0]
        final_obs = &self.final_obs[0, 0]
    with nogil:
        # One pass without a branch (it vectorises): every action finite and within its bounds. Only when one
        # is not does a second pass look for the first such env.
        if m == 1:
            lo = low[0]
            hi = high[0]
            for i in range(n):
                a = actions[i]
                ok &= (a - a == 0.0) & (a >= lo) & (a <= hi)  # a - a is NaN for NaN and +-inf
        else:
            for i in range(n):
                for j in range(m):
                    a = actions[i * m + j]
                    ok &= (a - a == 0.0) & (a >= low[j]) & (a <= high[j])
        if not ok:
            for i in range(n):
                for j in range(m):
                    a = actions[i * m + j]
                    if not (isfinite(a) and a >= low[j] and a <= high[j]):
                        bad = i
                if bad >= 0:
                    break
    if bad >= 0:
        return bad
    if not generic:
        with nogil:
            done = self.step_envs()
    else:
        done = STEP_UNSUPPORTED
    if done != STEP_UNSUPPORTED:
        self.num_finished = done
        return -1
    done = 0
    with nogil:
        for i in range(n):
            if needs_reset[i]:
                # Next-step autoreset (Gymnasium 1.x default): the action is ignored, the episode restarts.
                self.restart_env(i)
                continue
            terminated[i] = 0
            self.step_env(i, &actions[i * m])
            t[i] += 1
            truncated[i] = t[i] >= horizon and not terminated[i]
            self.write_obs(i, &obs[i * obs_dim])
            if parts_t != NULL:
                for j in range(num_parts):
                    parts_t[j * n + i] = parts[i * num_parts + j]
            if terminated[i] or truncated[i]:
                if same_step:
                    # Same-step autoreset (SB3's convention): keep the final observation, restart now.
                    for j in range(obs_dim):
                        final_obs[i * obs_dim + j] = obs[i * obs_dim + j]
                    finished[i] = 1
                    done += 1
                    self.start_episode(i)
                    self.write_obs(i, &obs[i * obs_dim])
                else:
                    needs_reset[i] = 1
            elif same_step:
                finished[i] = 0
    self.num_finished = done
    return -1

# SPDX-License-Identifier: MIT
# Batch-kernel base: buffers, seeding, demand tables, autoreset and the one batch-step loop every scenario shares.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.math cimport INFINITY, isfinite, llrint

from invgym.core._demand cimport sample_alias
from invgym.core._rng cimport rng_below, rng_seed

import numpy as np


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

    def bind(self, obs, rewards, terminated, truncated, parts, actions, final_obs=None, finished=None):
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
    cdef double draw_demand(self, Py_ssize_t i, int64_t period) noexcept nogil:
        # Replay when a path is set (the caller has checked its length), else one alias draw from env i's product.
        cdef int64_t p
        if self.replay:
            return self.demand_path[i, period]
        p = self.product[i]
        return sample_alias(&self.rng[i, 0], &self.alias_prob[p, 0], &self.alias_idx[p, 0], self.support[p])

    @cython.final
    cdef void start_episode(self, Py_ssize_t i) noexcept nogil:
        # A new episode: clock to 0, draw the product (a mixture's per-episode draw), then the scenario's state.
        self.t[i] = 0
        self.needs_reset[i] = 0
        if self.alias_prob.shape[0] > 1:
            self.product[i] = rng_below(&self.rng[i, 0], self.alias_prob.shape[0])
        self.reset_env(i)

    # === Scenario hooks (the base class refuses to be instantiated, so these are never run) ===

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        pass

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        pass

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        pass

    # === Reset ===

    def reset(self, seeds=None):
        """Start a new episode in every env (re-seeding first when ``seeds`` is given) and write observations."""
        cdef Py_ssize_t i, j
        self._check_ready(self.horizon)
        if seeds is not None:
            self.seed(seeds)
        for i in range(self.num_envs):
            self.start_episode(i)
            self.write_obs(i, &self.obs[i, 0])
            self.rewards[i] = 0.0
            self.terminated[i] = 0
            self.truncated[i] = 0
            for j in range(self.num_parts):
                self.parts[i, j] = 0.0

    def _check_ready(self, int64_t periods):
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        if self.replay and self.demand_path.shape[1] < periods:
            raise ValueError(f"the demand path has {self.demand_path.shape[1]} periods but {periods} are needed.")

    # === Step ===

    def step(self):
        """Advance every env by one period with the bound actions; return -1, or the first invalid env's index.

        Nothing moves when an action is invalid, so the caller can raise without corrupting state.
        """
        if not self.bound:
            raise RuntimeError("kernel buffers are not bound: call bind(...) before reset/step.")
        return _advance(self)

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
        if _advance(self) >= 0:
            return None
        info = {}
        for k in range(self.num_parts):
            info[keys[k]] = self.parts[0, k]
        return self.rewards[0], self.terminated[0] != 0, self.truncated[0] != 0, info

    # === Table-policy rollout (any scenario whose state is its first observation columns) ===

    def rollout_table(self, table, offsets, int64_t periods, int64_t warmup=0, double position_bound=INFINITY,
                      double discount=1.0, obs_dim=None, cutoffs=None, bint integral=False, fallback=None,
                      projection=None, bint clip=False):
        """Run a lookup-table policy in every env for ``warmup + periods`` periods without leaving compiled code.

        Env i's state is read as its first ``len(offsets)`` observation columns (or, with ``projection``, as
        ``projection @ obs``) rounded to the nearest integers, as the table policies' ``act`` rounds them; the
        action is ``table[x - offsets]``. The action is 0 when
        those columns sum to ``position_bound`` or more (a lost-sales table's Morton bound, Zipkin 2008) or when
        a column reaches its ``cutoffs`` entry (the myopic policy's bounds). A state outside the table goes to
        ``fallback`` when one is given (the only step that re-enters Python), else it is an error. The run
        continues from the current state (call ``reset`` first) and ignores the horizon.

        Args:
            table: float64 array of shape ``dims + (act_dim,)``; NaN marks a state the table holds no decision
                for.
            offsets: int64 array ``(len(dims),)``, the value of each state column at table index 0.
            periods: periods counted in the totals.
            warmup: periods run first and not counted.
            position_bound: the action is 0 from this inventory position up (inf: never).
            discount: counted period s (from 0) is weighted by ``discount ** s`` (1: plain sums).
            obs_dim: the observation width the table was solved for (None: any width from ``len(offsets)``).
            cutoffs: float64 ``(len(dims),)``: the action is 0 once state column k reaches ``cutoffs[k]``
                (None: never).
            integral: refuse a state column that is not an integer instead of rounding it.
            fallback: ``fallback(state tuple) -> action`` for states outside the table (None: an error).
            projection: float64 ``(len(dims), obs_dim)``: state k is ``projection[k] @ obs`` (a reduced state,
                e.g. dual sourcing's expedited inventory position); None: the first columns as they are.
            clip: a state outside the table uses the nearest state of the table's box instead.

        Returns:
            float64 array (num_envs, num_parts): each part's (discounted) total over the counted periods.

        Raises:
            ValueError: naming the state, when an env reaches a state outside the table (without a fallback) or
                one without a decision, a fractional state (with ``integral``), or when the table's or the
                fallback's action lies outside the action space. Nothing is returned then; an exception raised
                by ``fallback`` propagates as it is.
        """
        offsets_arr = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
        table_arr = np.ascontiguousarray(table, dtype=np.float64)
        cdef Py_ssize_t nd = offsets_arr.shape[0], m = self.act_dim
        if table_arr.ndim != nd + 1 or table_arr.shape[nd] != m:
            raise ValueError(f"table must have shape dims + ({m},) with len(dims) = len(offsets) = {nd}. "
                             f"Got shape {table_arr.shape} instead.")
        if nd > self.obs_dim or (obs_dim is not None and obs_dim != self.obs_dim):
            raise ValueError(f"observations must have {nd if obs_dim is None else obs_dim} columns for this "
                             f"table. Got {self.obs_dim} instead.")
        if periods < 0 or warmup < 0:
            raise ValueError(f"periods and warmup must be >= 0. Got {periods} and {warmup} instead.")
        if not 0.0 < discount <= 1.0:
            raise ValueError(f"discount must be in (0, 1]. Got {discount} instead.")
        cutoffs_arr = np.full(max(nd, 1), np.inf)
        if cutoffs is not None:
            cutoffs_arr[:nd] = np.asarray(cutoffs, dtype=np.float64).reshape(nd)
        cdef const double[::1] cut = cutoffs_arr
        cdef bint has_fallback = fallback is not None
        cdef bint has_projection = projection is not None
        projection_arr = np.zeros((max(nd, 1), self.obs_dim))
        if has_projection:
            given = np.asarray(projection, dtype=np.float64)
            if given.shape != (nd, self.obs_dim):
                raise ValueError(f"projection must have shape ({nd}, {self.obs_dim}). Got {given.shape} instead.")
            projection_arr[:nd] = given
        cdef const double[:, ::1] proj = projection_arr
        if has_fallback and not callable(fallback):
            raise TypeError(f"fallback must be callable (state tuple -> action). Got {fallback!r} instead.")
        self._check_ready(0)
        needed = int(np.max(np.asarray(self.t))) + periods + warmup
        if self.replay and self.demand_path.shape[1] < needed:
            raise ValueError(f"the demand path has {self.demand_path.shape[1]} periods; {needed} are needed.")
        cdef const double[::1] flat = table_arr.reshape(-1)
        cdef const int64_t[::1] offs = offsets_arr
        dims_arr = np.array(table_arr.shape[:nd], dtype=np.int64)
        cdef const int64_t[::1] dims = dims_arr
        strides_arr = np.ones(max(nd, 1), dtype=np.int64)  # C order, in table rows
        for k in range(nd - 2, -1, -1):
            strides_arr[k] = strides_arr[k + 1] * dims_arr[k + 1]
        cdef const int64_t[::1] strides = strides_arr
        state_arr = np.zeros(max(nd, 1), dtype=np.int64)
        cdef int64_t[::1] state = state_arr
        totals_arr = np.zeros((self.num_envs, self.num_parts), dtype=np.float64)
        cdef double[:, ::1] totals = totals_arr
        obs_arr = np.zeros(self.obs_dim, dtype=np.float32)
        cdef float[::1] ob = obs_arr
        action_arr = np.zeros(m, dtype=np.float64)
        cdef double[::1] action = action_arr
        cdef Py_ssize_t i, j, k2, bad = -1
        cdef int reason = 0  # 1: outside the table or no decision, 2: an action outside the action space,
        # 3: a state column that is not an integer (with integral=True)
        cdef int64_t s, v, position, index
        cdef bint inside, beyond
        cdef double weight, a, value
        with nogil:
            for i in range(self.num_envs):
                weight = 1.0
                for s in range(warmup + periods):
                    self.write_obs(i, &ob[0])
                    position = 0
                    index = 0
                    inside = True
                    beyond = False
                    for k2 in range(nd):
                        if has_projection:
                            value = 0.0
                            for j in range(self.obs_dim):
                                value += proj[k2, j] * ob[j]
                        else:
                            value = ob[k2]
                        v = llrint(value)  # the policies' np.rint: nearest, ties to even
                        state[k2] = v
                        if integral and <double>v != value:
                            bad, reason = i, 3
                        position += v
                        if v >= cut[k2]:
                            beyond = True
                        v -= offs[k2]
                        if clip:
                            v = 0 if v < 0 else (dims[k2] - 1 if v >= dims[k2] else v)
                        if v < 0 or v >= dims[k2]:
                            inside = False
                        else:
                            index += v * strides[k2]
                    if bad >= 0:
                        pass
                    elif position >= position_bound or beyond:
                        for j in range(m):
                            action[j] = 0.0
                    elif not inside:
                        if has_fallback:
                            with gil:
                                action_arr[:] = np.asarray(fallback(tuple(state_arr[:nd].tolist())),
                                                           dtype=np.float64).reshape(m)
                            for j in range(m):
                                a = action[j]
                                if not (isfinite(a) and a >= self.act_low[j] and a <= self.act_high[j]):
                                    bad, reason = i, 2
                        else:
                            bad, reason = i, 1
                    else:
                        for j in range(m):
                            a = flat[index * m + j]
                            action[j] = a
                            if not isfinite(a):
                                bad, reason = i, 1
                            elif a < self.act_low[j] or a > self.act_high[j]:
                                bad, reason = i, 2
                    if bad >= 0:
                        break
                    self.step_env(i, &action[0])
                    self.t[i] += 1
                    if s >= warmup:
                        for j in range(self.num_parts):
                            totals[i, j] += weight * self.parts[i, j]
                        weight *= discount
                if bad >= 0:
                    break
        if reason == 1:
            raise ValueError(f"env {bad} reached the state {state_arr[:nd].tolist()}, outside the policy's table "
                             f"(dims {dims_arr.tolist()}, offsets {offsets_arr.tolist()}) or without a decision "
                             "in it: the table holds no decision for it.")
        if reason == 3:
            raise ValueError(f"the table policy needs integer states; env {bad} reached "
                             f"{np.asarray(ob[:nd]).tolist()}.")
        if reason == 2:
            raise ValueError(f"the table's action {action_arr.tolist()} at state {state_arr[:nd].tolist()} lies "
                             f"outside the action space [{np.asarray(self.act_low).tolist()}, "
                             f"{np.asarray(self.act_high).tolist()}].")
        return totals_arr


cdef Py_ssize_t _advance(BatchKernel self):
    # The one batch-step loop (a module function, so the class layout stays as declared in _kernel.pxd).
    cdef Py_ssize_t i, j, n = self.num_envs, m = self.act_dim, bad = -1
    cdef double a
    cdef double[:, ::1] actions = self.actions
    with nogil:
        for i in range(n):
            for j in range(m):
                a = actions[i, j]
                if bad < 0 and not (isfinite(a) and a >= self.act_low[j] and a <= self.act_high[j]):
                    bad = i
    if bad >= 0:
        return bad
    with nogil:
        for i in range(n):
            if self.needs_reset[i]:
                # Next-step autoreset (Gymnasium 1.x default): the action is ignored, the episode restarts.
                self.start_episode(i)
                self.write_obs(i, &self.obs[i, 0])
                self.rewards[i] = 0.0
                self.terminated[i] = 0
                self.truncated[i] = 0
                for j in range(self.num_parts):
                    self.parts[i, j] = 0.0
                continue
            self.terminated[i] = 0
            self.step_env(i, &actions[i, 0])
            self.t[i] += 1
            self.truncated[i] = self.t[i] >= self.horizon and not self.terminated[i]
            self.write_obs(i, &self.obs[i, 0])
            if self.terminated[i] or self.truncated[i]:
                if self.same_step:
                    # Same-step autoreset (SB3's convention): keep the final observation, restart now.
                    for j in range(self.obs_dim):
                        self.final_obs[i, j] = self.obs[i, j]
                    self.finished[i] = 1
                    self.start_episode(i)
                    self.write_obs(i, &self.obs[i, 0])
                else:
                    self.needs_reset[i] = 1
            elif self.same_step:
                self.finished[i] = 0
    return -1

"""What a submission can be, how it is hashed, and how the agent's sandbox process turns it into a policy.

The sha256 of the artifact's bytes (of every file, for a folder) goes into the result file so that ``verify``
can tell when the agent it re-runs is not the one that produced the claims:

- ``module:factory`` or ``path/to/file.py:factory`` (kind "python") — ``factory(env)`` (or ``factory()``)
  returns a policy: any callable mapping a batch of observations ``(num_envs, obs_dim)`` to actions, or an
  object with SB3's ``predict``. ``env`` is ``gymnasium.make(instance.env, **instance.kwargs)``, to read the
  spaces and ``env.unwrapped.config``; a factory with an ``instance`` parameter also receives the suite
  instance id, to choose a model per instance. The hash is that of the module's source file.
- ``model.zip`` with ``--algo PPO`` (kind "sb3", any Stable-Baselines3 algorithm class name).
- a folder of SB3 models with ``--algo`` (kind "sb3-folder"): ``<track>__<cell>.zip`` per instance (the
  instance id with ``/`` written ``__``, e.g. ``lost-sales__L2-p9.zip``), else ``<track>.zip``, else
  ``default.zip``; an instance with none of them fails with the names looked for.
- a TorchScript file (kind "torchscript": ``.pt``/``.ts``, from ``torch.jit.save``) whose module maps a float32
  batch of observations to a batch of actions.
- an RLlib checkpoint folder (kind "rllib": one holding ``rllib_checkpoint.json`` from ``Algorithm.save``, or an
  ``RLModule.save_to_path`` folder): its single-agent module acts greedily (:func:`rllib_greedy_actions`: the
  argmax of the logits, per component for MultiDiscrete, decoded by the space's low end; or the mean of a
  Gaussian). Needs ``pip install 'invgym[ray]'`` where it runs.

A model whose observation or action space does not fit an instance fails that instance, with a message naming
both shapes. Built-in baselines are one more kind ("baseline"), hashed by their source file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import io
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from invgym.leaderboard._io import sha256_file

__all__ = ["AgentSpec", "build_policy", "parse_agent", "read_artifact", "recorded_agent", "rllib_greedy_actions"]

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript")


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """A resolved agent: its kind, how it was named, its algorithm (SB3), artifact path and sha256."""

    kind: str  # "python" | "sb3" | "torchscript" | "baseline"
    spec: str
    sha256: str
    path: str = ""
    algo: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the spec as stored in a result file (the local path is not stored: it differs per machine)."""
        return {"kind": self.kind, "spec": self.spec, "algo": self.algo, "sha256": self.sha256}


def _module_file(module: str) -> Path:
    """Return the source file of ``module`` without importing anything (no agent code runs in this process).

    ``verify`` resolves the agent in the process that has read the maintainer secret, so even the agent's parent
    packages must not be executed here: the file is looked up on the current directory and ``sys.path``.
    """
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        raise ValueError(f"The 'agent' parameter names the module {module!r}, which is not a dotted module name.")
    for base in [str(Path.cwd()), *sys.path]:
        stem = Path(base or ".", *parts)
        for candidate in (stem.parent / f"{stem.name}.py", stem / "__init__.py"):
            if candidate.is_file():
                return candidate.resolve()
    if parts[0] == "invgym":  # our own (trusted) packages may be mapped elsewhere by an editable install
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            return Path(spec.origin).resolve()
    raise ValueError(f"The 'agent' parameter names the module {module!r}, which cannot be found in the current "
                     "directory or on sys.path (run from its directory, or pass path/to/file.py:factory).")


def sha256_artifact(path: str | Path) -> str:
    """sha256 of a file's bytes, or of a folder: every file's relative path and sha256, in sorted order."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    lines = [f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n" for p in sorted(path.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _hash_of_files(files: dict[str, bytes]) -> str:
    """:func:`sha256_artifact` of a folder, from its files' bytes (relative POSIX path -> bytes, sorted)."""
    lines = [f"{name}\0{hashlib.sha256(data).hexdigest()}\n" for name, data in sorted(files.items())]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def read_artifact(path: str | Path, sha256: str) -> bytes | dict[str, bytes]:
    """The artifact's bytes (a folder: every hashed file's), read once and checked against ``sha256``.

    What is loaded is then these bytes, never the path again: a file swapped on disk between its hash and its
    import (or ``torch.jit.load``, or the SB3 ``load``) cannot change what runs.

    Raises:
        RuntimeError: when the bytes read do not have the recorded sha256 (the artifact changed since it was
            hashed).
    """
    path = Path(path)
    if path.is_dir():
        data: bytes | dict[str, bytes] = {
            p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}
        digest = _hash_of_files(data)
    else:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"the agent artifact {path} changed since it was hashed.")
    return data


def _is_rllib_checkpoint(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in ("rllib_checkpoint.json",
                                                                        "class_and_ctor_args.pkl"))


def _check_algo(algo: str | None, what: str) -> str:
    if not algo or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", algo):
        raise ValueError(f"{what} needs its algorithm: pass --algo with the class name from stable_baselines3 "
                         f"(e.g. --algo PPO). Got {algo!r} instead.")
    return algo


def parse_agent(agent: str, algo: str | None = None) -> AgentSpec:
    """Resolve ``--agent`` (and ``--algo``) into an :class:`AgentSpec`, hashing the artifact.

    Raises:
        ValueError: with the expected forms, when the agent cannot be resolved.
    """
    if not isinstance(agent, str) or not agent:
        raise TypeError(f"The 'agent' parameter must be a non-empty string. Got {agent!r} instead.")
    path = Path(agent)
    if _is_rllib_checkpoint(path):
        return AgentSpec("rllib", agent, sha256_artifact(path), str(path.resolve()))
    if path.is_dir():
        if not any(path.glob("*.zip")):
            raise ValueError(f"The 'agent' parameter names the folder {agent!r}, which holds neither SB3 models "
                             "(*.zip) nor an RLlib checkpoint (rllib_checkpoint.json).")
        return AgentSpec("sb3-folder", agent, sha256_artifact(path), str(path.resolve()),
                         _check_algo(algo, "A folder of SB3 models"))
    if agent.endswith(".zip"):
        if not path.is_file():
            raise ValueError(f"The 'agent' parameter names the SB3 model {agent!r}, which does not exist.")
        return AgentSpec("sb3", agent, sha256_file(path), str(path.resolve()), _check_algo(algo, "An SB3 .zip agent"))
    if path.suffix in TORCHSCRIPT_SUFFIXES:
        if not path.is_file():
            raise ValueError(f"The 'agent' parameter names the TorchScript file {agent!r}, which does not exist.")
        return AgentSpec("torchscript", agent, sha256_file(path), str(path.resolve()))
    module, sep, factory = agent.rpartition(":")
    if not sep or not module or not factory.isidentifier():
        raise ValueError("The 'agent' parameter must be 'module:factory', 'path/to/file.py:factory', an SB3 "
                         f"model .zip (with --algo) or a TorchScript file ({', '.join(TORCHSCRIPT_SUFFIXES)}). "
                         f"Got {agent!r} instead.")
    if module.endswith(".py"):
        file = Path(module)
        if not file.is_file():
            raise ValueError(f"The 'agent' parameter names the file {module!r}, which does not exist.")
        return AgentSpec("python", agent, sha256_file(file), str(file.resolve()))
    file = _module_file(module)
    return AgentSpec("python", agent, sha256_file(file), str(file))


def recorded_agent(recorded: dict[str, Any], board: str | Path | None = None) -> AgentSpec:
    """Resolve the agent a result file records (its ``agent`` block), to re-run it.

    A relative path in the recorded spec (a ``file.py``, a model, a folder) is looked up in the ``board`` folder
    first, the one holding ``results/`` (``python -m invgym.agents.board`` records its entries as
    ``learned/<entry>/agent.py:make_agent``, relative to it), then in the current directory (a submission named
    from where it was submitted). The returned spec keeps the recorded name; its ``path`` is the file found.

    Args:
        recorded: the result file's ``agent`` block (``kind``, ``spec``, ``algo``).
        board: the leaderboard folder the result file belongs to.

    Raises:
        ValueError: when the agent cannot be found or resolved (see :func:`parse_agent`).
    """
    if recorded["kind"] == "baseline":
        return baseline_spec(recorded["spec"])
    name, algo = recorded["spec"], recorded.get("algo")
    target, sep, factory = name.rpartition(":") if recorded["kind"] == "python" else (name, "", "")
    if board is not None and target and not Path(target).is_absolute() and (recorded["kind"] != "python"
                                                                           or target.endswith(".py")):
        candidate = Path(board) / target
        if candidate.exists():
            return dataclasses.replace(parse_agent(f"{candidate}{sep}{factory}", algo), spec=name)
    return parse_agent(name, algo)


def baseline_spec(name: str) -> AgentSpec:
    """Return the spec of a built-in baseline, hashed by the source file of its class."""
    from invgym.leaderboard.baselines import BASELINES

    for baseline in BASELINES:
        if baseline.name == name:
            file = inspect.getsourcefile(baseline.load())
            return AgentSpec("baseline", name, sha256_file(file), str(file))
    raise ValueError(f"unknown baseline {name!r}.")


def _exec_source(module_spec: Any, name: str, source: bytes, path: str) -> Any:
    """Create the module of ``module_spec`` and run ``source`` (the hashed bytes) in it, as an import would."""
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 (the agent's code)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module


def _load_python(spec: dict[str, Any]) -> Any:
    """Import the factory of a python agent (by file path or module name) from the bytes that were hashed.

    The module file is read once (:func:`read_artifact`), checked against the recorded sha256 and those bytes
    executed, so a file swapped between the hash and the import cannot run. Files the module imports in turn
    are not hashed (docs/leaderboard.md, Threat model).
    """
    target, _, factory = spec["spec"].rpartition(":")
    path = spec.get("path", "")
    if target.endswith(".py"):
        source = read_artifact(path, spec["sha256"])
        unique = f"_invgym_agent_{spec['sha256'][:16]}"
        module = _exec_source(importlib.util.spec_from_file_location(unique, path), unique, source, path)
    else:
        # The sandbox's working directory is empty: import from where the hashed file was found.
        parts, file = target.split("."), Path(path)
        base = file.parents[len(parts) if file.name == "__init__.py" else len(parts) - 1] if path else Path.cwd()
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        module = sys.modules.get(target)
        if module is None:
            module_spec = importlib.util.find_spec(target)  # imports the parent packages (not hashed)
            if module_spec is None or module_spec.origin is None:
                raise RuntimeError(f"{target!r} cannot be found from {base}.")
            origin = module_spec.origin
            if path and Path(origin).resolve() != Path(path).resolve():
                raise RuntimeError(f"{target!r} imports from {origin}, not from the hashed file {path}.")
            source = read_artifact(origin, spec["sha256"]) if path else Path(origin).read_bytes()
            module = _exec_source(module_spec, target, source, origin)
        elif path and Path(module.__file__ or "").resolve() != Path(path).resolve():
            raise RuntimeError(f"{target!r} imports from {module.__file__}, not from the hashed file {path}.")
    fn = getattr(module, factory, None)
    if not callable(fn):
        raise TypeError(f"{spec['spec']}: {factory!r} is not a callable of {target!r}.")
    return fn


def _takes_argument(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def _takes_keyword(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params and params[name].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                    inspect.Parameter.KEYWORD_ONLY)


def _sb3_class(algo: str) -> Any:
    import stable_baselines3

    cls = getattr(stable_baselines3, algo, None)
    if cls is None:
        import sb3_contrib  # the contrib algorithms (RecurrentPPO, ...) when installed

        cls = getattr(sb3_contrib, algo)
    return cls


def _model_for(folder: Path, instance: str) -> Path:
    """The model of an instance in a folder of SB3 models (see the module docstring for the names)."""
    names = [f"{instance.replace('/', '__')}.zip", f"{instance.split('/')[0]}.zip", "default.zip"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"the folder of SB3 models {folder} has no model for {instance}: looked for "
                     f"{', '.join(names)}.")


def _shape(space: Any) -> tuple[int, ...]:
    shape = getattr(space, "shape", None)
    return tuple(shape) if shape else ()


def _check_spaces(what: str, obs_space: Any, act_space: Any, config: Any, where: str) -> None:
    """A model must fit the instance: same observation shape, same kind and shape of actions."""
    obs_env, act_env = config.observation_space(), config.action_space()
    if _shape(obs_space) != _shape(obs_env):
        raise ValueError(f"the {what} expects observations of shape {_shape(obs_space)}, but {where} has "
                         f"observations of shape {_shape(obs_env)}: it does not fit this instance.")
    if type(act_space).__name__ != type(act_env).__name__ or _shape(act_space) != _shape(act_env):
        raise ValueError(f"the {what} acts in {act_space} (shape {_shape(act_space)}), but {where} has the action "
                         f"space {act_env} (shape {_shape(act_env)}): it does not fit this instance.")


def _rllib_policy(path: Path, config: Any, where: str) -> Any:
    """Greedy actions of an RLlib checkpoint's single-agent module."""
    import torch

    try:
        from ray.rllib.core.rl_module.rl_module import RLModule
    except ImportError as exc:
        raise RuntimeError("an RLlib checkpoint needs Ray RLlib where it is evaluated: pip install "
                           "'invgym[ray]'.") from exc
    if (path / "rllib_checkpoint.json").is_file() and not (path / "class_and_ctor_args.pkl").is_file():
        found = sorted(path.glob("learner_group/learner/rl_module/*/class_and_ctor_args.pkl"))
        if len(found) != 1:
            raise ValueError(f"the RLlib checkpoint {path} must hold exactly one module; found {len(found)}.")
        path = found[0].parent
    module = RLModule.from_checkpoint(str(path))
    _check_spaces("RLlib module", module.observation_space, module.action_space, config, where)

    def policy(obs: Any) -> Any:
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.as_tensor(obs, dtype=torch.float32)})
        return rllib_greedy_actions(out["action_dist_inputs"].cpu().numpy(), config)

    return policy


def rllib_greedy_actions(logits: Any, config: Any) -> np.ndarray:
    """An RLlib module's greedy actions, in the scenario's units, from its action-distribution inputs.

    Discrete: the argmax of the logits; MultiDiscrete: the argmax of each component's slice of the concatenated
    logits (the component sizes are the space's ``nvec``). Both are indices from 0 (RLlib samples its
    Categorical from 0; the env shows such spaces from 0, ``invgym.envs.common.env_action_space``), so the
    scenario's order is the index plus the space's low end (ProcurementRemoval's signed order starts below 0).
    Box: the Gaussian's mean, the first half of the inputs (the log-std half follows it), as it is.

    Args:
        logits: ``(num_envs, width)`` action-distribution inputs.
        config: the instance's scenario config (its ``action_space()`` and ``action_low``).
    """
    from gymnasium import spaces

    logits = np.asarray(logits)
    space = config.action_space()
    if isinstance(space, spaces.Box):
        return logits[:, :int(np.prod(space.shape))]
    low = np.asarray(config.action_low, dtype=np.int64).reshape(-1)
    if isinstance(space, spaces.Discrete):
        return logits.argmax(axis=1) + low[0]
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        if logits.shape[1] != int(nvec.sum()):
            raise ValueError(f"the RLlib module gives {logits.shape[1]} logits per env, but the action space {space} "
                             f"needs {int(nvec.sum())} (one per value of each component).")
        pieces = np.split(logits, np.cumsum(nvec)[:-1], axis=1)
        return np.stack([piece.argmax(axis=1) for piece in pieces], axis=1) + low
    raise ValueError(f"an RLlib module cannot act in the action space {space}.")


def build_policy(spec: dict[str, Any], env_id: str, env_kwargs: dict[str, Any], quick: bool = False,
                 instance: str = "") -> Any:
    """Return the policy of an agent for one instance (a submission's runs in its sandbox process).

    The artifact is re-hashed first, so a file changed between submission and evaluation is refused.
    ``instance`` is the suite instance id, passed to a factory that takes an ``instance`` keyword.
    """
    kind = spec["kind"]
    if kind == "baseline":
        from invgym.baselines.common import config_of
        from invgym.leaderboard.baselines import fit_baseline

        return fit_baseline(spec["spec"], config_of(env_id, **env_kwargs), quick=quick)
    if kind == "python":  # _load_python reads, checks and runs the module's bytes
        import gymnasium as gym

        factory = _load_python(spec)
        extra = {"instance": instance} if _takes_keyword(factory, "instance") else {}
        if not _takes_argument(factory):
            return factory(**extra)
        env = gym.make(env_id, **env_kwargs)
        try:
            return factory(env, **extra)
        finally:
            env.close()
    import torch

    torch.set_num_threads(1)  # one thread per agent process: evaluations run in parallel
    from invgym.baselines.common import config_of

    config = config_of(env_id, **env_kwargs)
    where = f"{instance or env_id} ({env_id})"
    # Read once and checked: the model is loaded from these bytes, not from the path again (an RLlib checkpoint,
    # loaded by RLlib from its folder, is the exception: it is checked, then read again).
    data = read_artifact(spec["path"], spec["sha256"])
    if kind in ("sb3", "sb3-folder"):
        if kind == "sb3":
            raw = data
        else:
            folder = Path(spec["path"])
            raw = data[_model_for(folder, instance).relative_to(folder).as_posix()]
        model = _sb3_class(spec["algo"]).load(io.BytesIO(raw), device="cpu")
        _check_spaces("SB3 model", model.observation_space, model.action_space, config, where)
        return model
    if kind == "torchscript":
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        module.eval()
        obs_dim = int(config.observation_space().shape[0])
        try:
            with torch.no_grad():
                module(torch.zeros((2, obs_dim), dtype=torch.float32))
        except Exception as exc:
            raise ValueError(f"the TorchScript module does not accept observations of shape (num_envs, {obs_dim}) "
                             f"of {where}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}") from None

        def policy(obs: Any) -> Any:
            with torch.no_grad():
                return module(torch.as_tensor(obs, dtype=torch.float32)).cpu().numpy()

        return policy
    if kind == "rllib":
        return _rllib_policy(Path(spec["path"]), config, where)
    raise ValueError(f"unknown agent kind {kind!r}.")

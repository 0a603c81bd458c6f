"""What a submission can be, how it is hashed, and how a worker process turns it into a policy.

Three kinds of artifact are accepted, and the sha256 of the artifact's bytes goes into the result file so that
``verify`` can tell when the agent it re-runs is not the one that produced the claims:

- ``module:factory`` or ``path/to/file.py:factory`` — ``factory(env)`` (or ``factory()``) returns a policy: a
  callable mapping a batch of observations ``(num_envs, obs_dim)`` to actions, or an object with SB3's
  ``predict``. ``env`` is ``gymnasium.make(instance.env, **instance.kwargs)``, to read the spaces and
  ``env.unwrapped.config``. The hash is that of the module's source file.
- ``model.zip`` with ``--algo PPO`` (any Stable-Baselines3 algorithm class name): ``PPO.load(model.zip)``.
- a TorchScript file (``.pt``/``.ts``, from ``torch.jit.save``) whose module maps a float32 batch of
  observations to a batch of actions.

Built-in baselines are a fourth kind ("baseline"), hashed by their source file.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from invgym.leaderboard._io import sha256_file

__all__ = ["AgentSpec", "build_policy", "parse_agent"]

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


def parse_agent(agent: str, algo: str | None = None) -> AgentSpec:
    """Resolve ``--agent`` (and ``--algo``) into an :class:`AgentSpec`, hashing the artifact.

    Raises:
        ValueError: with the expected forms, when the agent cannot be resolved.
    """
    if not isinstance(agent, str) or not agent:
        raise TypeError(f"The 'agent' parameter must be a non-empty string. Got {agent!r} instead.")
    path = Path(agent)
    if agent.endswith(".zip"):
        if not path.is_file():
            raise ValueError(f"The 'agent' parameter names the SB3 model {agent!r}, which does not exist.")
        if not algo or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", algo):
            raise ValueError("An SB3 .zip agent needs its algorithm: pass --algo with the class name from "
                             f"stable_baselines3 (e.g. --algo PPO). Got {algo!r} instead.")
        return AgentSpec("sb3", agent, sha256_file(path), str(path.resolve()), algo)
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


def baseline_spec(name: str) -> AgentSpec:
    """Return the spec of a built-in baseline, hashed by the source file of its class."""
    from invgym.leaderboard.baselines import BASELINES

    for baseline in BASELINES:
        if baseline.name == name:
            file = inspect.getsourcefile(baseline.load())
            return AgentSpec("baseline", name, sha256_file(file), str(file))
    raise ValueError(f"unknown baseline {name!r}.")


def _load_python(spec: dict[str, Any]) -> Any:
    """Import the factory of a python agent (by file path or module name)."""
    target, _, factory = spec["spec"].rpartition(":")
    path = spec.get("path", "")
    if target.endswith(".py"):
        unique = f"_invgym_agent_{spec['sha256'][:16]}"
        module_spec = importlib.util.spec_from_file_location(unique, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[unique] = module
        module_spec.loader.exec_module(module)
    else:
        # The sandbox's working directory is empty: import from where the hashed file was found.
        parts, file = target.split("."), Path(path)
        base = file.parents[len(parts) if file.name == "__init__.py" else len(parts) - 1] if path else Path.cwd()
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        module = importlib.import_module(target)
        if path and Path(module.__file__ or "").resolve() != Path(path).resolve():
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
    if sha256_file(spec["path"]) != spec["sha256"]:
        raise RuntimeError(f"the agent artifact {spec['path']} changed since it was hashed.")
    if kind == "python":
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
    if kind in ("sb3", "torchscript"):
        import torch

        torch.set_num_threads(1)  # workers run in parallel: see engine.execute
    if kind == "sb3":
        import stable_baselines3

        cls = getattr(stable_baselines3, spec["algo"], None)
        if cls is None:
            import sb3_contrib  # the contrib algorithms (RecurrentPPO, ...) when installed

            cls = getattr(sb3_contrib, spec["algo"])
        return cls.load(spec["path"], device="cpu")
    if kind == "torchscript":
        import torch

        module = torch.jit.load(spec["path"], map_location="cpu")
        module.eval()

        def policy(obs: Any) -> Any:
            with torch.no_grad():
                return module(torch.as_tensor(obs, dtype=torch.float32)).cpu().numpy()

        return policy
    raise ValueError(f"unknown agent kind {kind!r}.")

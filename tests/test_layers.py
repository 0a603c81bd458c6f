"""The import graph runs one way: envs/core/demand, then evaluate/twins/sb3, then baselines, then agents/leaderboard.

Every ``import``/``from ... import`` in the installed source tree (module level and inside functions alike) is
read with ``ast``; an import of a module on a higher layer than the importer fails, naming both, and so does an
import of another module's private (underscored) name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The user's layout installs these top-level folders under invgym (pyproject.toml's package-dir).
PACKAGES = {"invgym": ROOT / "invgym", "invgym.baselines": ROOT / "baselines", "invgym.agents": ROOT / "agents",
            "invgym.leaderboard": ROOT / "leaderboard"}

# Layer of a module: the layer of its longest listed prefix. A module may import its own layer and those below.
LAYERS = {
    # 0: scenario declarations, compiled kernels, demand models, validation, formulas.
    "invgym.core": 0, "invgym.envs": 0, "invgym.demand": 0, "invgym.panels": 0, "invgym.loaders": 0,
    "invgym.validation": 0, "invgym.typing": 0, "invgym.metrics": 0, "invgym.registration": 0,
    "invgym.scenarios": 0, "invgym.parameters": 0,  # the registry loads its entry points lazily, by string
    # Drawing (an env's rgb_array frame) and atomic file writes are utilities the bottom layer may use.
    "invgym.plot": 0, "invgym.atomic": 0,
    # 1: generic machinery over any scenario. The package root imports invgym.evaluate, so it lives here.
    "invgym": 1, "invgym.evaluate": 1, "invgym.twins": 1, "invgym.sb3": 1, "invgym.analysis": 1,
    # 2: OR baselines.
    "invgym.baselines": 2,
    # 3: learning agents and the leaderboard (which runs agents' submissions).
    "invgym.agents": 3, "invgym.leaderboard": 3,
    # 4: applications over everything: the command line and the course kit (grading against baselines).
    "invgym.__main__": 4, "invgym.cli": 4, "invgym.course": 4,
}
NAMES = {0: "envs/core/demand", 1: "evaluate/twins/sb3", 2: "baselines", 3: "agents/leaderboard", 4: "cli/course"}


def layer_of(module: str) -> int | None:
    """Return the layer of an invgym module, or None for a module outside invgym (numpy, torch, ...)."""
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return None


def source_modules() -> dict[str, Path]:
    """Map every installed module name to its file."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if name in found or any(name.startswith(other + ".") or name == other
                                    for other in PACKAGES if other != package and other.startswith(package + ".")):
                continue  # e.g. invgym/baselines would shadow the real baselines/ folder
            found[name] = path
    return found


def imports_of(name: str, path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute name), with its line, wherever the import statement is."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from invgym import baselines`` imports the subpackage invgym.baselines, a layer above invgym.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names
                      if layer_of(f"{module}.{alias.name}") != layer_of(module)]
    return found


MODULES = source_modules()


def test_every_installed_module_has_a_layer():
    assert len(MODULES) > 50
    assert [name for name in MODULES if layer_of(name) is None] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_runs_up_a_layer(name):
    mine = layer_of(name)
    upward = [f"line {line}: {module} ({NAMES[layer_of(module)]})" for line, module in imports_of(name, MODULES[name])
              if layer_of(module) is not None and layer_of(module) > mine]
    assert upward == [], f"{name} ({NAMES[mine]}) imports from a higher layer: {upward}"


def private_imports(path: Path) -> list[str]:
    """Every ``from invgym... import _name`` in ``path``: a private name taken from another module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"line {node.lineno}: {node.module}.{alias.name}" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("invgym")
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_another_modules_private_names(name):
    assert private_imports(MODULES[name]) == [], f"{name} imports private names; make them public or move them"


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from invgym.baselines import BaseStock\n\n\nfrom .. import agents\n")
    found = sorted(module for _, module in imports_of("invgym.envs.mod", path))
    assert found == ["invgym", "invgym.agents", "invgym.baselines"]
    assert layer_of("invgym.baselines.base_stock") == 2 and layer_of("invgym.envs.lost_sales") == 0
    path.write_text("def f():\n    from invgym.baselines.base_stock import _steepest_descent\n")
    assert private_imports(path) == ["line 2: invgym.baselines.base_stock._steepest_descent"]

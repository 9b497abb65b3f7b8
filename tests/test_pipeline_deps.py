"""dvc.yaml must list, as deps of each stage, every hsm_lib module its notebook runs: otherwise
a change to that module would leave the stage's outputs stale while `dvc repro` says all is well."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


def _imported_modules(source: str, package: str = "", module_level_only: bool = False) -> set[str]:
    """hsm_lib module names imported by ``source`` (relative imports resolved against ``package``).
    ``module_level_only`` skips imports inside functions (a package's lazy ``__getattr__``)."""
    names: set[str] = set()
    tree = ast.parse(source)
    nodes = ast.iter_child_nodes(tree) if module_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.split(".")[0] == "hsm_lib"}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([mod] if mod else []))
            if mod.split(".")[0] != "hsm_lib":
                continue
            names.add(mod)
            # `from hsm_lib.x import y` may import the submodule y
            names |= {f"{mod}.{a.name}" for a in node.names if _module_file(f"{mod}.{a.name}")}
    return names


def _closure(roots: set[str]) -> set[Path]:
    files: set[Path] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        # importing a.b.c runs a/__init__, a/b/__init__ too
        for i in range(1, len(parts) + 1):
            f = _module_file(".".join(parts[:i]))
            if f is not None and f not in files:
                files.add(f)
                pkg = ".".join(parts[:i]) if f.name == "__init__.py" else ".".join(parts[: i - 1])
                todo.extend(_imported_modules(f.read_text(), pkg, module_level_only=f.name == "__init__.py"))
    return files


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_the_code_it_runs(stage):
    spec = STAGES[stage]
    notebooks = [d for d in spec["deps"] if d.startswith("notebooks/")]
    assert len(notebooks) == 1, f"{stage}: one notebook dep expected, got {notebooks}"
    nb = json.loads((ROOT / notebooks[0]).read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    roots = _imported_modules(code) | {"hsm_lib.stage"}
    deps = [ROOT / d for d in spec["deps"]]
    missing = sorted(str(f.relative_to(ROOT)) for f in _closure(roots)
                     if f.name != "__init__.py" and not any(f == d or d in f.parents for d in deps))
    assert not missing, f"stage {stage}: dvc.yaml deps lack {missing}"

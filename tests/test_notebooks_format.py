"""The notebooks are thin and committed in canonical form; the stage logic lives in hsm_lib/stages/."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CODE_LINES = 15


def _formatter():
    spec = importlib.util.spec_from_file_location("format_notebooks", ROOT / "scripts" / "format_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_notebooks():
    assert len(NOTEBOOKS) == 17


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_normalised(path):
    """Running scripts/format_notebooks.py would change no byte (no outputs, stable ids, our kernel)."""
    assert _formatter().formatted(path) == path.read_text(), f"run: python scripts/format_notebooks.py notebooks/{path.name}"
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "hsm-tss"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin(path):
    cells = json.loads(path.read_text())["cells"]
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1, "exactly one papermill parameters cell"
    assert "profile = " in "".join(params[0]["source"]) and "params = None" in "".join(params[0]["source"])
    stage = path.stem.split("_", 1)[1]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    for src in code:
        assert len(src.splitlines()) <= MAX_CODE_LINES, f"a code cell of {len(src.splitlines())} lines:\n{src}"
    assert any(f"{stage}.run(profile, params)" in src for src in code), f"no cell calls {stage}.run(profile, params)"


def _triple_quoted_code(path: Path) -> list[str]:
    """String literals in ``path`` (not docstrings) spanning lines that parse as Python statements."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and node.value.count("\n") >= 2:
            try:
                body = ast.parse(node.value.strip()).body
            except SyntaxError:
                continue
            if any(not isinstance(s, ast.Expr) for s in body):
                found.append(node.value)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "hsm_lib" / "stages").glob("*.py")), ids=lambda p: p.stem)
def test_stage_modules_hold_no_code_in_strings(path):
    assert not _triple_quoted_code(path)


def test_notebook_generator_is_gone():
    """The notebooks were once generated from string literals in scripts/make_notebooks.py."""
    old = ROOT / "scripts" / "make_notebooks.py"
    assert not old.exists() or len(old.read_text().splitlines()) < 200
    assert len((ROOT / "scripts" / "format_notebooks.py").read_text().splitlines()) < 100

"""The library's shape, as a newcomer reads it: layers that only import downwards, no import
cycles, no private names borrowed across modules, one sample rate, one model registry."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "hsm_lib"

# Bottom to top: a module may import its own layer or one below, never one above.
LAYERS = [
    {"audio", "audio_files", "io", "paths"},
    {"config", "checkpoint", "checkpoint_location", "reporting"},
    {"data", "text", "models"},
    {"features", "registry"},
    {"train"},
    {"eval"},
    {"figures"},          # drawn from what eval and the stages saved; only the figures stage imports it
    {"pipeline"},
    {"stages"},
    {"stage", "cli", "separate_command", "launch"},
]
LAYER = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in LIB.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported hsm_lib module, names taken from it) for every import in the file, lazy ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "hsm_lib" and not node.level:
            names = [a.name for a in node.names]
            subs = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in MODULES]
            found.append((node.module, [n for n in names if f"{node.module}.{n}" not in MODULES]))
            found += [(s, []) for s in subs]
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "hsm_lib"]
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hsm_lib"


def test_every_module_sits_in_a_layer():
    parts = {_part(m) for m in MODULES} - {"hsm_lib"}
    assert parts <= set(LAYER), f"modules outside every layer: {sorted(parts - set(LAYER))}"


def test_no_module_imports_a_layer_above_it():
    upward = []
    for module, path in MODULES.items():
        if module == "hsm_lib":
            continue  # the package's lazy convenience re-export
        for target, _ in _imports(path):
            src, dst = _part(module), _part(target)
            if dst != "hsm_lib" and LAYER[dst] > LAYER[src]:
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_eval_does_not_import_train():
    offenders = [f"{m} -> {t}" for m, p in MODULES.items() if _part(m) == "eval"
                 for t, _ in _imports(p) if _part(t) == "train"]
    assert not offenders, offenders


def test_no_import_cycles():
    graph = defaultdict(set)
    for module, path in MODULES.items():
        graph[module] |= {t for t, _ in _imports(path) if t in MODULES and t != module}
    graph.pop("hsm_lib", None)
    done, stack = set(), []

    def visit(node: str) -> None:
        if node in stack:
            pytest.fail("import cycle: " + " -> ".join(stack[stack.index(node):] + [node]))
        if node in done:
            return
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt != "hsm_lib":
                visit(nxt)
        stack.pop()
        done.add(node)

    for module in sorted(graph):
        visit(module)


def test_no_private_names_imported_across_modules():
    borrowed = [f"{m} imports {t}.{n}" for m, p in MODULES.items() for t, names in _imports(p)
                for n in names if n.startswith("_")]
    assert not borrowed, borrowed


def test_one_place_defines_the_sample_rate():
    literal = re.compile(r"\b16_?000\b")
    places = [f"{p.relative_to(ROOT)}:{i}" for p in LIB.rglob("*.py")
              for i, line in enumerate(p.read_text().splitlines(), 1) if literal.search(line)]
    assert len(places) == 1 and places[0].startswith("hsm_lib/audio.py:"), places


def test_registry_rebuilds_any_checkpoint_without_a_kind(tmp_path):
    import torch

    from hsm_lib.checkpoint import CheckpointError, save_checkpoint
    from hsm_lib.models.nar import NARConfig, SeparationTransformer
    from hsm_lib.registry import KINDS, load_model

    torch.manual_seed(0)
    model = SeparationTransformer(NARConfig(audio_dim=8, text_dim=8, task_dim=8, dim=16, layers=1, heads=2))
    save_checkpoint(tmp_path / "h2", model, "h2", model.cfg.to_dict())
    back = load_model(tmp_path / "h2")
    assert type(back) is SeparationTransformer and not back.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    assert not any(p.requires_grad for p in back.parameters())
    assert {"audiomae", "qaudio", "codec", "acoustic_lm", "h1", "h2", "single", "resunet_film", "eval_clap",
            "clap_baseline"} <= set(KINDS)
    save_checkpoint(tmp_path / "odd", model, "mystery", model.cfg.to_dict())
    with pytest.raises(CheckpointError, match="mystery"):
        load_model(tmp_path / "odd")
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(tmp_path / "nothing")

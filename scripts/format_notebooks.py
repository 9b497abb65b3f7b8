"""Normalise the pipeline notebooks in place, so that they are committed in one canonical form.

    python scripts/format_notebooks.py           # rewrite notebooks/*.ipynb
    python scripts/format_notebooks.py --check   # exit 1 (and name them) if any would change

Strips outputs and execution counts, keeps only the ``tags`` of a cell's metadata, numbers the
cells ``cell-00``, ``cell-01``... and sets the kernelspec to the project's kernel ``hsm-tss``
(scripts/setup.sh installs it). The stage logic lives in hsm_lib/stages/, not here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
KERNELSPEC = {"name": "hsm-tss", "display_name": "Python (hsm-tss)", "language": "python"}


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The canonical form of ``nb`` (modified in place and returned)."""
    nb.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC)})
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = nbformat.from_dict({"tags": list(tags)} if tags else {})
        cell.pop("attachments", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def formatted(path: Path) -> str:
    """The text ``path`` has once normalised."""
    nb = nbformat.read(path, as_version=4)
    nb.nbformat, nb.nbformat_minor = 4, 5
    text = nbformat.writes(normalise(nb))
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not normalised")
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = ap.parse_args(argv)
    stale = []
    for path in args.notebooks or sorted(NB_DIR.glob("*.ipynb")):
        text = formatted(path)
        if path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.write_text(text)
    for path in stale:
        print(f"{'not normalised' if args.check else 'normalised'}: {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

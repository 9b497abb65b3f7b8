"""Writing a figure as PNG and PDF, atomically and reproducibly."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from hsm_lib.io import atomic_path

# No creation dates or tool versions in the files: the same figure gives the same bytes.
METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}


def save_png_pdf(fig: Figure, folder: Path, name: str, dpi: int = 150) -> list[Path]:
    """``<folder>/<name>.png`` and ``.pdf``, each written atomically; the figure is closed."""
    written = []
    for fmt in ("png", "pdf"):
        path = folder / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt, metadata=METADATA[fmt])
        written.append(path)
    plt.close(fig)
    return written

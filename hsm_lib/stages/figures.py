"""Stage ``figures``: the figures drawn from saved arrays (Fig. 7 and the training curves).

Reads the examples the ``evaluate`` stage kept (data/<profile>/examples) and the training
curves the ``report`` stage wrote (reports/curves), and draws, in PNG and PDF:

* ``fig7_examples``: the paper's Fig. 7 analog, log-mel spectrograms of separated examples;
* ``training_curves``: every trained model's loss curves.

Restyling one of these reruns this stage only: the plotting code lives in
:mod:`hsm_lib.figures`, which no training or evaluation stage imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.config import ConfigError, check_keys, profile_section
from hsm_lib.eval.examples_store import examples_dir, load_example_sets
from hsm_lib.figures import fig7_examples, training_curves
from hsm_lib.figures.output import save_png_pdf


@dataclass
class FiguresResult:
    """What the figures notebook shows."""

    fig7: Figure
    curves: Figure
    written: list[Path]


def run(profile: str, params: dict | None = None, progress: bool = True) -> FiguresResult:
    """Draw and save every figure of this stage; ``params``: the profile's ``figures`` section."""
    P = params if params is not None else profile_section("figures", profile)
    check_keys(P, {"fig7_set", "fig7_rows"}, "figures")
    sets = {s.name: s for s in load_example_sets(examples_dir(profile))}
    if P["fig7_set"] not in sets:
        raise ConfigError(f"params.yaml figures.fig7_set is {P['fig7_set']!r}, but the evaluate stage kept examples "
                          f"of {', '.join(sorted(sets)) or 'no test set'} (in {examples_dir(profile)})")
    out = paths.figures_dir()
    fig7 = fig7_examples.draw(sets[P["fig7_set"]], P["fig7_rows"])
    written = save_png_pdf(fig7, out, "fig7_examples")
    curves = training_curves.draw(paths.reports_dir() / "curves")
    written += save_png_pdf(curves, out, "training_curves")
    return FiguresResult(fig7, curves, written)

"""The figures stage's drawings: from saved arrays only, PNG and PDF, the same bytes each time."""

from __future__ import annotations

import numpy as np
import pytest

from hsm_lib.eval.dvc_metrics import write_curves
from hsm_lib.eval.examples_store import load_example_sets
from hsm_lib.figures import fig7_examples, training_curves
from hsm_lib.figures.output import save_png_pdf
from test_demo_page import _kept


def test_fig7_draws_one_row_per_kept_example_and_writes_png_and_pdf_reproducibly(tmp_path):
    _kept(tmp_path / "ex", n=3)
    (examples,) = load_example_sets(tmp_path / "ex")
    fig = fig7_examples.draw(examples, rows=3)
    assert len(fig.axes) == 2 * len(fig7_examples.PANELS)          # 2 kept examples, 4 panels each
    assert fig.axes[2].get_title() == "extract a tone <hums> & more"
    first = [p.read_bytes() for p in save_png_pdf(fig, tmp_path / "a", "fig7")]
    second = [p.read_bytes() for p in save_png_pdf(fig7_examples.draw(examples, rows=3), tmp_path / "b", "fig7")]
    assert first == second and first[0][:4] == b"\x89PNG" and first[1][:4] == b"%PDF"


def test_training_curves_draw_a_panel_per_model_with_validation_points(tmp_path):
    import json

    for name, history in {"mae": {"step": list(range(1, 101)), "loss": list(np.linspace(1, 0.1, 100)),
                                  "val_step": [50, 100], "val_loss": [0.5, 0.2]},
                          "codec": {"step": [1, 2, 3], "spectral": [2.0, 1.5, 1.2], "adv": [0.0, 0.0, 0.0]}}.items():
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "config.json").write_text(json.dumps({"history": history}))
    write_curves(tmp_path / "models", tmp_path, ("mae", "codec"))
    fig = training_curves.draw(tmp_path / "curves")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["codec", "mae"]
    assert [line.get_label() for line in panels[0].get_lines()] == ["spectral"]     # the all-zero column is left out
    assert [line.get_label() for line in panels[1].get_lines()] == ["loss", "val_loss"]


def test_no_curves_is_a_clear_error(tmp_path):
    (tmp_path / "curves").mkdir()
    with pytest.raises(FileNotFoundError, match="report stage"):
        training_curves.draw(tmp_path / "curves")

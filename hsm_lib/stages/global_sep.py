"""Stage ``global_sep``: the global-semantic separation H1 (paper Sec. III-C, Eq. 2, 5-7, Fig. 5).

Trains H1 (G_mix, T_task, T_cap -> Ĝ) and saves it to data/<profile>/models/h1, then writes
``global_sep`` and the Fig. 5 t-SNE. (The instruction parser has its own stage, ``parser``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.eval.separation_reports import tsne_figure, write_global_table
from hsm_lib.models.nar import NARConfig, SeparationTransformer, predict_global
from hsm_lib.stages.common import loss_figure, n_parameters, saved
from hsm_lib.stages.separation_common import SeparationSetup, load_setup
from hsm_lib.train.separation import fit_global, score

@dataclass
class GlobalSepResult:
    """What the global separation notebook shows."""

    h1: SeparationTransformer
    history: dict[str, list[float]]
    table: str                         # global_sep, Markdown
    loss_figure: Figure
    tsne_figure: Figure


def run(profile: str, params: dict | None = None, progress: bool = True) -> GlobalSepResult:
    """Train H1 on frozen features, save it, and write its table and figures."""
    P = params if params is not None else profile_section("global_sep", profile)
    setup = load_setup(profile, P, progress)
    h1, history = train_h1(setup, P, progress, paths.resumable_state_dir(profile, "global_sep", "h1"))
    save_checkpoint(setup.models_dir / "h1", h1, "h1", h1.cfg.to_dict(),
                    {"train": setup.train_cfg.to_dict(), "history": history})
    loss_fig = saved(loss_figure(history, "(1 - cos) + L1", "H1 training loss (mean of {k} steps)"), "global_sep_loss")
    write_global_table(score(setup.test, h1=h1), profile, len(setup.test.records))
    table = (paths.reports_dir() / "global_sep.md").read_text()
    tsne_fig = saved(plot_tsne(h1, setup), "fig5_global_tsne")
    return GlobalSepResult(h1, history, table, loss_fig, tsne_fig)


def train_h1(setup: SeparationSetup, P: dict, progress: bool = True,
             state_dir: Path | None = None) -> tuple[SeparationTransformer, dict[str, list[float]]]:
    """Build H1 over [G_mix ; T_task ; T_cap] (audio_len 1) and train it (resuming from ``state_dir``
    if a killed run left a state there); returns it and its history."""
    qaudio, backbone = setup.qaudio, setup.backbone
    h1_cfg = NARConfig(audio_dim=qaudio.cfg.dim, text_dim=qaudio.cfg.dim, task_dim=backbone.dim, audio_len=1,
                       max_text=backbone.max_tokens + 1, **P["model"])
    torch.manual_seed(setup.train_cfg.seed)
    h1 = SeparationTransformer(h1_cfg)
    print(f"H1: {n_parameters(h1) / 1e6:.2f} M parameters")
    return h1, fit_global(h1, setup.train, setup.train_cfg, progress=progress, state_dir=state_dir)


def plot_tsne(h1: SeparationTransformer, setup: SeparationSetup) -> Figure:
    """Fig. 5 analog: t-SNE of G_tgt and Ĝ [N, C_g] over the whole mixed test set, by target tag."""
    test = setup.test
    with torch.no_grad():
        b = test.batch(np.arange(len(test)))
        g_true, g_pred = b.g_tgt.cpu().numpy(), predict_global(h1, b).cpu().numpy()
    labels = [test.records[t]["target_tags"][0] for t in test.triplet]
    return tsne_figure(g_true, g_pred, labels, seed=setup.train_cfg.seed)

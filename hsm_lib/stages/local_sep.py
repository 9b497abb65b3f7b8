"""Stage ``local_sep``: the local-semantic separation H2 and Ours_single (paper Sec. III-D, Eq. 8,
Fig. 6).

Trains H2 (S_mix conditioned on [G_tgt ; T_task ; T_cap] -> Ŝ) and Ours_single (the same
transformer on the text backbone's caption tokens, no global stage) with the same budget, saves
them to data/<profile>/models/{h2,single}, and writes ``local_sep`` and Fig. 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval.separation_reports import attention_figure, write_local_table
from hsm_lib.features import fbanks
from hsm_lib.models.nar import Conditioning, NARConfig, SeparationTransformer, predict_global
from hsm_lib.registry import load_model
from hsm_lib.stages.common import n_parameters, plot_smoothed, saved, window
from hsm_lib.stages.separation_common import SeparationSetup, load_setup
from hsm_lib.train.separation import fit_local, score


@dataclass
class LocalSepResult:
    """What the local separation notebook shows."""

    h2: SeparationTransformer
    single: SeparationTransformer
    h2_history: dict[str, list[float]]
    single_history: dict[str, list[float]]
    table: str                         # local_sep, Markdown
    loss_figure: Figure
    attention_figure: Figure


def run(profile: str, params: dict | None = None, progress: bool = True) -> LocalSepResult:
    """Train H2 and Ours_single, save them, and write the L1 table and Figs. (loss, attention)."""
    P = params if params is not None else profile_section("local_sep", profile)
    setup = load_setup(profile, P, progress)
    h1 = load_model(setup.models_dir / "h1", setup.device)
    h2, single = build_models(setup, P["model"])
    train = setup.train_cfg.to_dict()
    h2_hist = fit_local(h2, setup.train, setup.train_cfg, progress=progress,
                        state_dir=paths.resumable_state_dir(profile, "local_sep", "h2"))
    save_checkpoint(setup.models_dir / "h2", h2, "h2", h2.cfg.to_dict(), {"train": train, "history": h2_hist})
    single_hist = fit_local(single, setup.train, setup.train_cfg, single=True, progress=progress,
                            state_dir=paths.resumable_state_dir(profile, "local_sep", "single"))
    save_checkpoint(setup.models_dir / "single", single, "single", single.cfg.to_dict(), {"train": train, "history": single_hist})
    loss_fig = saved(plot_loss(h2_hist, single_hist), "local_sep_loss")
    write_local_table(score(setup.test, h1=h1, h2=h2, single=single), profile, len(setup.test.records))
    table = (paths.reports_dir() / "local_sep.md").read_text()
    att_fig = saved(plot_attention(h1, h2, setup), "fig6_attention")
    return LocalSepResult(h2, single, h2_hist, single_hist, table, loss_fig, att_fig)


def build_models(setup: SeparationSetup, model: dict[str, Any]) -> tuple[SeparationTransformer, SeparationTransformer]:
    """H2 (Q-Audio caption features and a global token) and Ours_single (backbone caption tokens,
    no global token), each initialised from the training seed."""
    mae, qaudio, backbone = setup.mae, setup.qaudio, setup.backbone
    h2_cfg = NARConfig(audio_dim=mae.cfg.dim, text_dim=qaudio.cfg.dim, task_dim=backbone.dim, global_dim=qaudio.cfg.dim,
                       audio_len=mae.cfg.n_patches, max_text=backbone.max_tokens + 1, **model)
    single_cfg = NARConfig(audio_dim=mae.cfg.dim, text_dim=backbone.dim, task_dim=backbone.dim, global_dim=None,
                           audio_len=mae.cfg.n_patches, max_text=backbone.max_tokens, **model)
    torch.manual_seed(setup.train_cfg.seed)
    h2 = SeparationTransformer(h2_cfg)
    torch.manual_seed(setup.train_cfg.seed)
    single = SeparationTransformer(single_cfg)
    print(f"H2: {n_parameters(h2) / 1e6:.2f} M parameters; Ours_single: {n_parameters(single) / 1e6:.2f} M")
    return h2, single


def plot_loss(h2_hist: dict[str, list[float]], single_hist: dict[str, list[float]]) -> Figure:
    """Training L1 of H2 and of Ours_single (smoothed)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    k = window(len(h2_hist["step"]), 40)
    for name, h in (("H2 (with G_tgt)", h2_hist), ("Ours_single", single_hist)):
        plot_smoothed(ax, h, "loss", k, label=name)
    ax.set_xlabel("step"); ax.set_ylabel("L1"); ax.legend(); ax.set_title(f"training loss (mean of {k} steps)")
    return fig


def plot_attention(h1: SeparationTransformer, h2: SeparationTransformer, setup: SeparationSetup) -> Figure:
    """Fig. 6 analog: where H2's global token looks over the patches, with G_tgt and with H1's Ĝ,
    for extraction examples of the first test triplets."""
    test, mae = setup.test, setup.mae
    pick = np.arange(0, min(len(test), 6), 2)[:3]  # extraction examples of the first test triplets
    b = test.batch(pick)
    with torch.no_grad():
        with_g = lambda g: Conditioning(b.cond.task, b.cond.task_mask, b.cond.text, b.cond.text_mask, g)  # noqa: E731
        h2(b.s_mix, with_g(b.g_tgt), keep_last_attention=True)
        att_true = h2.audio_attention_of_global().cpu().numpy()
        h2(b.s_mix, with_g(predict_global(h1, b)), keep_last_attention=True)
        att_pred = h2.audio_attention_of_global().cpu().numpy()
    mixed = TripletSet(setup.corpus / "testsets", "mixed")
    panels = []
    for j, i in enumerate(pick):
        item = mixed[test.triplet[i]]
        fb = fbanks(np.stack([item["mixture"], item["target"]]), mae.cfg.n_frames, setup.mean, setup.std, torch.float32).numpy()
        panels.append({"mix_fbank": fb[0], "tgt_fbank": fb[1], "att_true": att_true[j], "att_pred": att_pred[j],
                       "title": test.instructions[i]})
    return attention_figure(panels, mae.cfg.grid)

"""Stage ``joint_ft``: joint fine-tuning of H1 and H2, and the separator checkpoint (paper
Sec. III-D).

Fine-tunes both NAR transformers end to end (everything else frozen), saves them to
data/<profile>/models/{h1_joint,h2_joint}, writes ``joint_ft`` and ``separator.json`` (which
makes the models folder a checkpoint ``Separator.from_pretrained`` loads), and tries it once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.models.nar import SeparationTransformer
from hsm_lib.pipeline import Separator, write_manifest
from hsm_lib.registry import load_model
from hsm_lib.reporting import write_table
from hsm_lib.stages.separation_common import SeparationSetup, load_setup
from hsm_lib.train.separation import fit_joint, score

COMPONENTS = {"audiomae": "audiomae", "qaudio": "qaudio", "h1": "h1_joint", "h2": "h2_joint",
              "acoustic_lm": "acoustic_lm", "codec": "codec"}


@dataclass
class JointFTResult:
    """What the joint fine-tuning notebook shows."""

    h1: SeparationTransformer
    h2: SeparationTransformer
    history: dict[str, list[float]]
    table: str                         # joint_ft, Markdown
    separator: Separator
    example: dict[str, np.ndarray]     # instruction -> the separator's output [L] for the first mixed test triplet
    mixture: np.ndarray                # that triplet's mixture [L]


def run(profile: str, params: dict | None = None, progress: bool = True) -> JointFTResult:
    """Fine-tune H1 and H2 jointly, save them, write the before/after table and separator.json."""
    P = params if params is not None else profile_section("joint_ft", profile)
    setup = load_setup(profile, P, progress)
    h1 = load_model(setup.models_dir / "h1", setup.device)
    h2 = load_model(setup.models_dir / "h2", setup.device)
    before = score(setup.test, h1=h1, h2=h2)
    for m in (h1, h2):
        for p in m.parameters():
            p.requires_grad_(True)
    history = fit_joint(h1, h2, setup.train, setup.train_cfg, progress=progress,
                        state_dir=paths.resumable_state_dir(profile, "joint_ft", "joint"))
    extra = {"train": setup.train_cfg.to_dict(), "history": history}
    save_checkpoint(setup.models_dir / "h1_joint", h1, "h1", h1.cfg.to_dict(), extra)
    save_checkpoint(setup.models_dir / "h2_joint", h2, "h2", h2.cfg.to_dict(), extra)
    after = score(setup.test, h1=h1, h2=h2)
    table = write_joint_table({"before": before, "after": after}, history, setup, profile)
    separator = write_separator(setup, profile)
    item = TripletSet(setup.corpus / "testsets", "mixed")[0]
    return JointFTResult(h1, h2, history, table, separator, try_separator(separator, item), item["mixture"])


def write_joint_table(rows: dict[str, dict[str, np.ndarray]], history: dict[str, list[float]],
                      setup: SeparationSetup, profile: str) -> str:
    """``joint_ft``: cos(Ĝ, G_tgt) and L1(Ŝ, S_tgt) before and after; returned as Markdown."""
    cfg = setup.train_cfg
    write_table("joint_ft", f"Joint fine-tuning on the mixed test set ({profile} profile)",
                ["", "cos(Ĝ, G_tgt) (higher)", "L1(Ŝ, S_tgt), H2 on Ĝ (lower)", "L1(Ŝ, S_tgt), H2 on G_tgt (lower)"],
                [[f"{name} joint fine-tuning", float(s["cos_h1"].mean()), float(s["l1_h2"].mean()), float(s["l1_h2_oracle"].mean())]
                 for name, s in rows.items()], digits=4,
                notes=[f"{cfg.steps} steps of batch {cfg.batch_size}; P_gt = {cfg.p_gt}; "
                       f"loss {cfg.global_weight} L_global + {cfg.local_weight} L_local.",
                       f"{len(setup.test.records)} test triplets, each with its extraction and its removal instruction."],
                data={"history": history})
    return (paths.reports_dir() / "joint_ft.md").read_text()


def write_separator(setup: SeparationSetup, profile: str) -> Separator:
    """Write separator.json into the models folder and load the separator it describes."""
    lm_sampling = profile_section("acoustic_lm", profile)["sampling"]
    clip_samples = int(round(profile_section("data", profile)["clip_seconds"] * SAMPLE_RATE))
    write_manifest(setup.models_dir, COMPONENTS, setup.mean, setup.std, clip_samples, setup.backbone.name, lm_sampling)
    return Separator.from_pretrained(setup.models_dir, device=str(setup.device))


def try_separator(sep: Separator, item: dict) -> dict[str, np.ndarray]:
    """Separate ``item``'s mixture with its extraction and its removal instruction: instruction -> output [L]."""
    outputs = {}
    for kind in ("extraction", "removal"):
        text = item["instructions"][kind]["text"]
        out = sep.separate(item["mixture"], SAMPLE_RATE, text)
        print(f"{text!r} -> {out.shape[0] / SAMPLE_RATE:.2f} s of audio, rms {float(np.sqrt(np.mean(out ** 2))):.4f}")
        outputs[text] = out
    return outputs

"""A real pipeline stage resumes its training after a crash, and ends where an uninterrupted run ends.

The loop's own kill tests (tests/test_train_loop.py) use a small worker; this one checks the
wiring: a stage run inside the pipeline (``HSM_PIPELINE_STAGE`` set) keeps its trainer's state
under data/<profile>/train_state/<stage>/, and a rerun continues from it. A notebook run by
hand (no ``HSM_PIPELINE_STAGE``) keeps no state and always trains afresh.
"""

from __future__ import annotations

import copy

import pytest
import torch

from hsm_lib import paths
from hsm_lib.config import profile_section
from hsm_lib.train import loop
from hsm_lib.train.state import load_state


@pytest.fixture
def smoke_stage_env(smoke_corpus, tmp_path, monkeypatch):
    """HSM_DATA_ROOT with the session's smoke corpus in place, reports in a temp folder."""
    data_root = tmp_path / "data"
    (data_root / "smoke").mkdir(parents=True)
    (data_root / "smoke" / "corpus").symlink_to(smoke_corpus[0])
    monkeypatch.setenv("HSM_DATA_ROOT", str(data_root))
    monkeypatch.setenv("HSM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv(paths.PIPELINE_STAGE_ENV, raising=False)
    return monkeypatch


def _weights(result) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in result.model.state_dict().items()}


@pytest.mark.slow
def test_a_crashed_stage_resumes_from_its_state_and_matches_an_uninterrupted_run(smoke_stage_env):
    from hsm_lib.stages import baselines

    P = copy.deepcopy(profile_section("baselines", "smoke"))
    P["train"].update(steps=6, checkpoint_every=2)
    state = paths.train_state_dir("smoke", "baselines", "resunet_film")

    reference = baselines.run("smoke", P, progress=False)   # by hand: no state kept
    assert not state.exists()

    smoke_stage_env.setenv(paths.PIPELINE_STAGE_ENV, "baselines")
    real_fit = loop.Trainer.fit

    def crash_at_step_4(self, step_fn, on_step=None):
        def step(i, idx):
            if i == 4:
                raise KeyboardInterrupt("killed at step 4")
            return step_fn(i, idx)
        return real_fit(self, step, on_step)

    smoke_stage_env.setattr(loop.Trainer, "fit", crash_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        baselines.run("smoke", P, progress=False)
    assert load_state(state)["step"] == 2    # the last state saved before the crash

    smoke_stage_env.setattr(loop.Trainer, "fit", real_fit)
    resumed = baselines.run("smoke", P, progress=False)
    assert resumed.history == reference.history
    a, b = _weights(reference), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

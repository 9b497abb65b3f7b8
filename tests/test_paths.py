"""Where reports go: HSM_REPORTS_DIR, else reports/ inside a pipeline stage, else scratch/reports/."""

from __future__ import annotations

import pytest

from hsm_lib import paths


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("HSM_REPORTS_DIR", raising=False)
    monkeypatch.delenv(paths.PIPELINE_STAGE_ENV, raising=False)
    return monkeypatch


def test_a_notebook_run_by_hand_writes_scratch_reports(clean_env):
    assert paths.reports_dir() == paths.ROOT / "scratch" / "reports"
    assert paths.figures_dir() == paths.ROOT / "scratch" / "reports" / "figures"
    assert paths.FIGURES == paths.figures_dir()


def test_a_pipeline_stage_writes_the_committed_reports(clean_env):
    clean_env.setenv(paths.PIPELINE_STAGE_ENV, "data")
    assert paths.reports_dir("smoke") == paths.REPORTS == paths.ROOT / "reports"
    assert paths.FIGURES == paths.REPORTS / "figures"


def test_hsm_reports_dir_wins(clean_env, tmp_path):
    clean_env.setenv(paths.PIPELINE_STAGE_ENV, "data")
    clean_env.setenv("HSM_REPORTS_DIR", str(tmp_path))
    assert paths.reports_dir() == tmp_path
    assert paths.figures_dir() == tmp_path / "figures"


def test_figures_follow_reports_dir(clean_env, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hsm_lib.reporting import save_figure

    clean_env.setenv("HSM_REPORTS_DIR", str(tmp_path))
    fig, _ = plt.subplots()
    try:
        assert save_figure(fig, "x") == tmp_path / "figures" / "x.png"
    finally:
        plt.close(fig)
    assert (tmp_path / "figures" / "x.png").is_file()


def test_stage_runner_marks_the_kernel_as_a_pipeline_stage():
    import inspect

    from hsm_lib import stage

    src = inspect.getsource(stage.run_stage) + inspect.getsource(stage._execute)   # run_stage calls _execute
    assert src.index("PIPELINE_STAGE_ENV") < src.index("execute_notebook")
    assert src.index("train_state_dir") > src.index("execute_notebook")

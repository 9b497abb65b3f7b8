"""The flat metrics files and curves DVC reads are the tables' and the histories' own numbers."""

from __future__ import annotations

import json

import pytest

from hsm_lib.eval import dvc_metrics as dm


def _table(path, rows, **extra):
    path.write_text(json.dumps({"title": "t", "rows": rows, **extra}))


def test_slug_drops_directions_and_punctuation():
    assert dm.slug("KL (lower)") == "kl"
    assert dm.slug("SI-SDRi dB (higher)") == "si_sdri_db"
    assert dm.slug("R@1") == "r_1"
    assert dm.slug("Ours (extraction)") == "ours_extraction"


def test_metrics_files_hold_the_tables_means_per_system_and_nothing_else(tmp_path):
    row = {"test set": "mixed", "n": 100, "system": "Ours (extraction)", "KL (lower)": 5.4, "KL (lower) CI95": [4.8, 6.1],
           "LSD (lower)": 1.67, "LSD (lower) CI95": [1.5, 1.8]}
    other_set = {**row, "test set": "drums", "KL (lower)": 3.6}
    _table(tmp_path / "table2_objective.json", [row, other_set])
    _table(tmp_path / "table5_retrieval.json", [{"model": "Q-Audio (ours, ITC + ITM + ITG)", "R@1": 8.4, "R@5": 26.8, "R@10": 37.2}])
    _table(tmp_path / "table6_captioning.json", [{"feature": "Q-Audio G (ours)", "METEOR": 0.31, "METEOR CI95": [0.3, 0.32],
                                                  "CIDEr-D": 1.2, "CIDEr-D CI95": [1.1, 1.3]}])
    _table(tmp_path / "parser_accuracy.json", [{"set": "fresh held-out (issue 17, written blind)", "instructions": 160,
                                               "parser": "hybrid (used)", "task %": 97.5, "task % CI95": [95.0, 99.4],
                                               "caption % (F1 >= 0.75)": 93.75, "exact %": 80.0, "decided by learned": 40}])
    (tmp_path / "table7_linear_probe.json").write_text(json.dumps({"rows": [], "accuracy": {"AudioMAE, pretrained (ours)": {"sound_class": 51.0}}}))
    written = dm.write_metrics(tmp_path)
    assert set(written) == set(dm.AREAS) and all(p.is_file() for p in written.values())
    sep = json.loads(written["separation"].read_text())
    assert sep == {"table2_mixed": {"ours_extraction": {"kl": 5.4, "lsd": 1.67}}}   # the mixed set only; no CIs, no n
    assert json.loads(written["retrieval"].read_text())["table5"]["q_audio_ours_itc_itm_itg"] == {"r_1": 8.4, "r_5": 26.8, "r_10": 37.2}
    assert json.loads(written["retrieval"].read_text())["table6"] == {"q_audio_g": {"meteor": 0.31, "cider_d": 1.2}}
    assert json.loads(written["parser"].read_text())["parser"]["fresh_held_out"]["hybrid"] == \
        {"task": 97.5, "caption_f1_0_75": 93.75, "exact": 80.0}
    assert json.loads(written["probes"].read_text()) == {"table7": {"audiomae_pretrained_ours": {"sound_class": 51.0}}}
    assert json.loads(written["codec"].read_text()) == {}       # its tables absent: the file exists, empty


def test_curves_are_the_checkpoint_history_step_first_with_validation_apart(tmp_path):
    models = tmp_path / "models"
    (models / "mae").mkdir(parents=True)
    history = {"step": [1, 2, 3], "loss": [0.5, 0.25, 0.125], "val_step": [3], "val_loss": [0.2]}
    (models / "mae" / "config.json").write_text(json.dumps({"kind": "audiomae", "history": history}))
    written = dm.write_curves(models, tmp_path, ("mae", "not_trained"))
    assert [p.name for p in written] == ["mae.tsv", "mae_val.tsv"]
    assert written[0].read_text() == "step\tloss\n1\t0.5\n2\t0.25\n3\t0.125\n"
    assert written[1].read_text() == "step\tval_loss\n3\t0.2\n"


def test_dvc_yaml_declares_the_metrics_and_a_plot_per_trained_model():
    import yaml

    from hsm_lib import paths
    from hsm_lib.stages.report import CURVE_MODELS

    spec = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())
    report = spec["stages"]["report"]
    declared = {next(iter(m)) for m in report["metrics"]}
    assert {f"reports/metrics/{area}.json" for area in dm.AREAS} <= declared
    assert any(next(iter(o)) == "reports/curves" for o in report["outs"] if isinstance(o, dict))
    plots = {next(iter(p)): p[next(iter(p))] for p in spec["plots"]}
    for model in CURVE_MODELS:
        assert plots[model]["x"] == "step" and list(plots[model]["y"]) == [f"reports/curves/{model}.tsv"]
        assert f"data/${{profile}}/models/{model}/config.json" in report["deps"]

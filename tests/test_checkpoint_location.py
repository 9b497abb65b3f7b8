"""Where ``hsm-tss separate`` finds its checkpoint when none is named: the variable, the user's
folder, the checkout; and an error that lists every place it looked."""

from __future__ import annotations

import pytest

from hsm_lib import checkpoint_location as loc
from hsm_lib.checkpoint import CheckpointError


def _ckpt(folder):
    folder.mkdir(parents=True)
    (folder / loc.MANIFEST).write_text("{}")
    return folder


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    monkeypatch.delenv(loc.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(loc, "checkout_checkpoint_dir", lambda: tmp_path / "checkout" / "data" / "cpu" / "models")
    return tmp_path


def test_explicit_wins(clean_env):
    assert loc.resolve_checkpoint(clean_env / "mine") == clean_env / "mine"


def test_environment_variable_before_user_folder_before_checkout(clean_env, monkeypatch):
    checkout = _ckpt(clean_env / "checkout" / "data" / "cpu" / "models")
    assert loc.resolve_checkpoint() == checkout
    user = _ckpt(clean_env / "xdg" / "hsm-tss" / "models")
    assert loc.resolve_checkpoint() == user
    env = _ckpt(clean_env / "env")
    monkeypatch.setenv(loc.ENV_VAR, str(env))
    assert loc.resolve_checkpoint() == env


def test_a_wrong_variable_is_an_error_not_skipped(clean_env, monkeypatch):
    _ckpt(clean_env / "xdg" / "hsm-tss" / "models")
    monkeypatch.setenv(loc.ENV_VAR, str(clean_env / "typo"))
    with pytest.raises(CheckpointError, match="HSM_TSS_CHECKPOINT names .*typo"):
        loc.resolve_checkpoint()


def test_the_error_lists_every_place_looked(clean_env):
    with pytest.raises(CheckpointError) as info:
        loc.resolve_checkpoint()
    msg = str(info.value)
    assert "user default" in msg and str(clean_env / "xdg" / "hsm-tss" / "models") in msg
    assert "checkout" in msg and "--checkpoint" in msg


def test_outside_a_checkout_there_is_no_checkout_candidate(tmp_path, monkeypatch):
    monkeypatch.setattr(loc.paths, "PARAMS", tmp_path / "no_params.yaml")
    assert loc.checkout_checkpoint_dir() is None

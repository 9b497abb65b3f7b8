#!/usr/bin/env bash
# The two things people do: run the pipeline, or run the tests. Sets up first (idempotent).
#   bash scripts/run.sh repro [dvc repro args]   -> dvc repro on the profile in params.yaml (cpu by default)
#   bash scripts/run.sh test  [pytest args]      -> the test suite (unit tests, smoke pipeline, notebooks)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${HSM_VENV:-$(pwd)/.venv}"
export PATH="$VENV/bin:$PATH"
# Everything runs offline: never let a library reach for a model hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
cmd="${1:-}"; shift || true
case "$cmd" in
  repro) exec dvc repro "$@" ;;
  test)  exec python -m pytest "$@" ;;
  *) echo "usage: bash scripts/run.sh {repro|test} [args]" >&2; exit 2 ;;
esac

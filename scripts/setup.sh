#!/usr/bin/env bash
# Set up everything the project needs, idempotently: Debian sound packages and tools,
# a virtual environment with the Python packages, and the DVC repository.
# A second run only checks, so it takes seconds.
#   HSM_VENV   where the virtual environment lives (default: .venv in the checkout)
#   HSM_SKIP_APT=1  do not try apt-get (the corpus is then built from what is available)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="${HSM_VENV:-$ROOT/.venv}"

# Real recordings and tools from DATA.md. Each line: package  what it gives the corpus.
DEBIAN_PACKAGES=(
  hydrogen-drumkits            # real drum hits (14 kits)
  gcompris-qt-data             # instruments, animals, effects (inside .rcc archives)
  wesnoth-1.16-data            # game sound effects
  lmms-common                  # LMMS samples
  asterisk-core-sounds-en-wav  # real speech prompts
  tuxpaint-stamps-default      # Tux Paint's stamp sounds: the out-of-domain test set only
  espeak-ng                    # synthetic male and female speech
  fluid-soundfont-gm           # General MIDI soundfont for MUSIC-synth (zero-shot only)
  libfluidsynth3               # renders the soundfont (pyfluidsynth)
  libsndfile1                  # soundfile's library
  opus-tools                   # Opus, the real codec beside ours (Table VIII)
  ffmpeg
  sox
  chromium                     # headless browser: the demo page's check and screenshot (stage demo, tests)
  openjdk-17-jre-headless      # Java: pycocoevalcap's PTB tokenizer and METEOR (Table VI, stage captioning)
  git
)
# A bare Debian has python3 but not venv/ensurepip (package python3-venv).
if ! "${PYTHON:-python3}" -c "import venv, ensurepip" >/dev/null 2>&1; then DEBIAN_PACKAGES+=(python3 python3-venv); fi

missing_debian() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "${HSM_SKIP_APT:-0}" != 1 ]; then
  MISSING="$(missing_debian)"
  if [ -n "$MISSING" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "[setup] installing Debian packages: $MISSING"
    $SUDO apt-get update -qq || echo "[setup] warning: apt-get update failed"
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $MISSING >/dev/null; then
      # One unavailable package must not stop the rest: try them one by one and name failures.
      for p in $MISSING; do
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 \
          || echo "[setup] warning: could not install Debian package '$p'; the corpus is built without it"
      done
    fi
  else
    echo "[setup] Debian packages: all present"
  fi
else
  echo "[setup] apt-get not available (or HSM_SKIP_APT=1): the real-sound sources that come from Debian"
  echo "        packages may be missing (listed below); the corpus is built from what is available and"
  echo "        reports/table1_test_sets.md says which sources each run used."
fi

# Python environment. A stamp keyed by the dependency files makes the second run instant.
PY="${PYTHON:-python3}"
STAMP="$VENV/.hsm-setup-stamp"
WANT="$(cat pyproject.toml constraints.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment at $VENV"
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  echo "[setup] installing Python packages (first time: a few minutes, ~6 GB)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if ! "$VENV/bin/python" -m pip install -q -c constraints.txt -e . 2>&1 | { grep -v "is ignored: it is neither" || true; }; then
    echo "[setup] error: pip install failed (see above)" >&2; exit 1
  fi
  if ! "$VENV/bin/python" -m pip install -q --no-deps -r requirements-nodeps.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }; then
    echo "[setup] error: pip install --no-deps -r requirements-nodeps.txt failed (see above)" >&2; exit 1
  fi
  # Only a working environment earns the stamp.
  "$VENV/bin/python" -c "import hsm_lib, torch, torchaudio, transformers, papermill, dvc, nbval, sklearn, matplotlib, soundfile, safetensors, aisfx"
  echo "$WANT" > "$STAMP"
else
  echo "[setup] Python packages: up to date"
fi

# The notebooks' Jupyter kernel "hsm-tss" (their kernelspec; nbval and papermill start it),
# installed into the virtual environment itself so that it runs the venv's Python.
if ! "$VENV/bin/python" -c "import ipykernel" >/dev/null 2>&1; then
  echo "[setup] warning: ipykernel is not installed in $VENV: cannot install the notebooks' kernel 'hsm-tss'"
elif ! { "$VENV/bin/jupyter" kernelspec list 2>/dev/null || true; } | grep "^ *hsm-tss " >/dev/null; then
  echo "[setup] installing the Jupyter kernel 'hsm-tss' (Python (hsm-tss)) into $VENV"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name hsm-tss --display-name "Python (hsm-tss)" >/dev/null
else
  echo "[setup] Jupyter kernel 'hsm-tss': installed"
fi

# Say which real-sound sources the corpus can use on this machine.
"$VENV/bin/python" -m hsm_lib.data.sources | sed 's/^/[setup] /'

# DVC needs a git repository; a tarball checkout gets one.
if [ ! -d .git ]; then git init -q; fi
echo "[setup] done"

#!/usr/bin/env bash
# The GPU checks in one go (about 5 minutes on one GPU): the CuPy tests (the `gpu` marker),
# then the CuPy-vs-PyTorch-CUDA training benchmark for both architectures.
#   MINIS2S_DATA=/path/to/multi30k benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH=${PYTHONPATH:-$PWD}
timeout 240 "$PY" -m pytest -q -p no:xdist -m gpu tests
timeout 120 "$PY" benchmarks/gpu.py --arch recurrent --steps 40 --json
timeout 120 "$PY" benchmarks/gpu.py --arch transformer --steps 40 --json

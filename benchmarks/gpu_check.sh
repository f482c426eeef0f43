#!/usr/bin/env bash
# The GPU checks in one go (104 s on one H200, 2026-11-30): the CuPy tests (the `gpu` marker),
# then the CuPy-vs-PyTorch-CUDA training benchmark for both architectures.
#   MINIS2S_DATA=/path/to/multi30k benchmarks/gpu_check.sh [LOGDIR]
# Each part's output also goes to LOGDIR (default: no logs), so a part that fails or runs out of
# time still leaves what it printed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
LOG=${1:-}
export PYTHONPATH=${PYTHONPATH:-$PWD} PYTHONUNBUFFERED=1 MINIS2S_FAST=${MINIS2S_FAST:-1}
status=0
part() {  # part NAME SECONDS COMMAND...: run, tee to LOG/NAME.log, remember a failure
    local name=$1 limit=$2; shift 2
    echo "== $name: $*"
    if [ -n "$LOG" ]; then timeout "$limit" "$@" 2>&1 | tee "$LOG/$name.log"; else timeout "$limit" "$@"; fi
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=1
}
# one worker per GPU-sized slice of the CPU cores: the tests are many small kernels, host-bound
workers=$("$PY" -c "import os; print(max(1, min(8, (os.cpu_count() or 2) // 2)))")
xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n "$workers")
part tests 240 "$PY" -m pytest -q -rfE "${xdist[@]}" -m gpu tests
part recurrent 120 "$PY" benchmarks/gpu.py --arch recurrent --steps 40 --json
part transformer 120 "$PY" benchmarks/gpu.py --arch transformer --steps 40 --json
exit $status

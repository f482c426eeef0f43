#!/usr/bin/env bash
# Download Multi30k task 1 (tokenized, lower-cased; de/en/fr) with SHA-256 checks.
# Usage: datasets/download_multi30k.sh [DIR]   (default: $MINIS2S_DATA, then ~/.cache/minis2s/multi30k)
set -euo pipefail
dir="${1:-${MINIS2S_DATA:-$HOME/.cache/minis2s/multi30k}}"
python="${PYTHON:-python}"
exec "$python" -m minis2s data multi30k --data-dir "$dir"

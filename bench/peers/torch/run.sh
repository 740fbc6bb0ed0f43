#!/usr/bin/env bash
# PyTorch CPU eager peer of the trainer's Llama model: installs Debian's python3-torch when it is
# missing (as root, or with non-interactive sudo), then runs llama_peer.py with the given arguments.
#   bench/peers/torch/run.sh --size small --threads 1,2        # benchmark, JSON lines
#   bench/peers/torch/run.sh --checkpoint DIR --logits 1,2,3   # logits for token ids, JSON
#   bench/peers/torch/run.sh --install-only                    # only make sure torch is there
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's python3-torch is for the system interpreter; a python3 earlier on PATH (pyenv, venv) may lack it
has_torch() { "$1" -c 'import torch' >/dev/null 2>&1; }
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3 /usr/bin/python3; do
    if has_torch "$candidate"; then python=$candidate; break; fi
  done
fi
if [ -z "$python" ]; then
  python=/usr/bin/python3
  if [ "$(id -u)" -eq 0 ]; then
    run=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
  else
    echo "torch peer: python3-torch is not installed and this user cannot install it (not root, no passwordless sudo)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! "${run[@]}" apt-get install -y -q --no-install-recommends python3-torch >"$log" 2>&1; then
    "${run[@]}" apt-get update -q >>"$log" 2>&1 || true
    if ! "${run[@]}" apt-get install -y -q --no-install-recommends python3-torch >>"$log" 2>&1; then
      echo "torch peer: apt-get install python3-torch failed:" >&2
      tail -n 5 "$log" >&2
      rm -f "$log"
      exit 2
    fi
  fi
  rm -f "$log"
  echo "torch peer: installed python3-torch" >&2
fi
if ! has_torch "$python"; then
  echo "torch peer: $python cannot import torch (set PYTHON to an interpreter that can)" >&2
  exit 2
fi
if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi
exec "$python" "$here/llama_peer.py" "$@"

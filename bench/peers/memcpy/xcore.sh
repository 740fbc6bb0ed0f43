#!/usr/bin/env bash
# The cross-core copy rate (xcorebench.c): one core writes a buffer, another copies it out, in windows. The shm
# collectives move every byte between cores this way; memcpy/run.sh's floor does not (each thread copies its own
# buffers). Run back to back, it shows how much the machine's own cross-core rate moves between runs.
# Usage: bench/peers/memcpy/xcore.sh [size_MiB] [windows] [rounds] [cpuA] [cpuB]   (defaults 1 10 500 0 1)
# Needs gcc (installed through apt with build-essential if missing); at least two CPUs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common/build-dir.sh"
need_pkgs gcc build-essential
if [ ! -x "$PEERS_BUILD/xcorebench" ] || [ "$here/xcorebench.c" -nt "$PEERS_BUILD/xcorebench" ]; then
  gcc -O2 -Wall -pthread -o "$PEERS_BUILD/xcorebench" "$here/xcorebench.c"
fi
exec "$PEERS_BUILD/xcorebench" "$@"

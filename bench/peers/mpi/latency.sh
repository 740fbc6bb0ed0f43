#!/usr/bin/env bash
# One Open MPI 8-byte all-reduce latency point: latency.sh NP [collbench args...]; builds collbench first if needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common/build-dir.sh"
np=${1:?usage: latency.sh NP [collbench args]}; shift
need_pkgs mpicc openmpi-bin libopenmpi-dev
[ -x "$PEERS_BUILD/collbench" ] || mpicc -O2 -march=native -Wall -Wno-maybe-uninitialized \
  -o "$PEERS_BUILD/collbench" "$here/collbench.c"
root_flag=""; [ "$(id -u)" -eq 0 ] && root_flag=--allow-run-as-root
exec mpirun $root_flag --oversubscribe -np "$np" "$PEERS_BUILD/collbench" -o ar -b 8 -e 8 -f 2 -t 0.5 "$@"

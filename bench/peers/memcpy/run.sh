#!/usr/bin/env bash
# The physical copy ceiling on this machine (the floor the collectives are measured against): glibc memcpy with 1
# and 2 threads, buffers 1 MiB .. 1 GiB per thread, RUNS times (default 2) to show the noise. Each run's "others"
# load (CPU share of other processes) is printed. Needs gcc (installed through apt with build-essential if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common/build-dir.sh"
source "$here/../common/track.sh"
RUNS=${RUNS:-2}
need_pkgs gcc build-essential
gcc -O2 -Wall -pthread -o "$PEERS_BUILD/memcpybench" "$here/memcpybench.c"
loader=$(ls /lib64/ld-linux-x86-64.so.2 2>/dev/null || true)
threshold=$([ -n "$loader" ] && "$loader" --list-tunables 2>/dev/null \
  | sed -n 's/glibc.cpu.x86_non_temporal_threshold: \([^ ]*\).*/\1/p' || true)
echo "# glibc $(ldd --version | head -1 | awk '{print $NF}'); non-temporal threshold ${threshold:-unknown} bytes"
for r in $(seq "$RUNS"); do
  for t in 1 2; do
    "$here/../common/quiet.sh" 85 30
    tracked "memcpy run$r threads=$t" "$PEERS_BUILD/memcpybench" "$t"
  done
done

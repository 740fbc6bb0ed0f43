#!/usr/bin/env bash
# Open MPI host-collective baseline (the peer of `yatt bench collectives --backend shm`): builds collbench.c with
# mpicc (installing openmpi-bin and libopenmpi-dev through apt when mpicc is missing) and runs it.
#   NPS="2 4 8"       rank counts for the full sweep (4 KiB .. 256 MiB, x4)
#   REPEAT_NPS="2 4"  rank counts whose key sizes (1M, 16M, 256M) get a second run
#   TARGET=0.2        seconds of timed iterations per point
#   EXTRA="..."       extra mpirun args, e.g. "--mca btl_vader_single_copy_mechanism none"
#   OUT=dir           raw output (default bench/target/peers/mpi-<time>); the last line says where
# Sizes follow nccl-tests: size = full buffer (AG recv, RS send, AR, BC); busbw = algbw * (n-1)/n (AG, RS),
# 2(n-1)/n (AR), 1 (BC); GB/s = 1e9 B/s. "others" in the load lines (whole run) and the oth% column (per point) =
# CPU share used by other processes; values marked * (>10%) are depressed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common/build-dir.sh"
source "$here/../common/track.sh"
NPS=${NPS:-"2 4 8"}; REPEAT_NPS=${REPEAT_NPS:-"2 4"}; TARGET=${TARGET:-0.2}; EXTRA=${EXTRA:-}
need_pkgs mpicc openmpi-bin libopenmpi-dev
mpicc -O2 -march=native -Wall -Wno-maybe-uninitialized -o "$PEERS_BUILD/collbench" "$here/collbench.c"
out=${OUT:-$PEERS_ROOT/bench/target/peers/mpi-$(date +%Y%m%d-%H%M%S)}; mkdir -p "$out"
root_flag=""; [ "$(id -u)" -eq 0 ] && root_flag=--allow-run-as-root
MPIRUN="mpirun $root_flag --oversubscribe $EXTRA"
{ echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; $(mpirun --version | head -1)"
  echo "# date: $(date -Is)"; } | tee "$out/meta.txt"
start=$(date +%s)
go() {  # label np collbench-args...
  local label=$1 np=$2; shift 2
  "$here/../common/quiet.sh" 85 30 2>&1 | tee -a "$out/meta.txt"
  echo "# $label: $MPIRUN -np $np collbench $*" | tee -a "$out/meta.txt"
  { tracked "$label np=$np" $MPIRUN -np "$np" "$PEERS_BUILD/collbench" "$@" | sed "s/^  /$label /" \
      > "$out/np$np.$label.txt"; } 2>&1 | tee -a "$out/meta.txt"
}
for np in $NPS; do go run1 "$np" -b 4K -e 256M -f 4 -t "$TARGET"; done
for np in $REPEAT_NPS; do go run2 "$np" -b 1M -e 256M -f 16 -t "$TARGET"; done
echo "# total seconds: $(( $(date +%s) - start ))" | tee -a "$out/meta.txt"
cat "$out"/np*.run*.txt | grep -E "^run[12] " > "$out/all.txt"
"$here/../common/tables.sh" "$out/all.txt"
echo; grep "^# load" "$out/meta.txt"
echo "(raw: $out)"

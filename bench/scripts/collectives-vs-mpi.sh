#!/usr/bin/env bash
# Yatt shm collectives vs Open MPI vs the memcpy floor, side by side in one run.
#
#   bench/scripts/collectives-vs-mpi.sh     # ./yatt builds bench/target/benchmarks.jar when it is missing or stale
#
#   NPS="2 4"      rank counts
#   REPEAT=3       sweeps of ours per rank count (medians are reported); Open MPI gets run1 + run2 of its run.sh
#   LAT_REPEAT=5   interleaved 8-byte all-reduce pairs (ours np=2, Open MPI np=2)
#   LAT_ITERS=20000  timed calls of ours per 8-byte point (collbench caps its own at 20000: same window)
#   OUT=dir        raw output (default bench/target/collectives-vs-mpi/<time>)
#
# The peers are the repository's own (bench/peers/): mpi/run.sh builds collbench.c with mpicc (installing
# openmpi-bin and libopenmpi-dev through apt when mpicc is missing), memcpy/run.sh the memcpy floor. Ours runs
# through ./yatt (which finds a JDK >= 25).
# Order: ours (every np), Open MPI (NPS, 4K..256M x4, plus run2 of 1M/16M/256M), ours again, ... (REPEAT sweeps of
# ours, split around the Open MPI run so both sides see the same hour of a shared machine); then the latency
# pairs; then the memcpy floor (RUNS=1). Each of ours is preceded by peers/common/quiet.sh, as the Open MPI run
# does for its points. Ours: f32 sum, buffers in the shm arena, ranks pinned one per core when np <= CPUs (the
# sweep's default --bind), nccl-tests timing (mean of 5 batches, slowest rank).
# Prints the markdown table of docs/collectives.md; raw output stays in $OUT.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=$ROOT/bench/peers
NPS=${NPS:-"2 4"}; REPEAT=${REPEAT:-3}; LAT_REPEAT=${LAT_REPEAT:-5}; LAT_ITERS=${LAT_ITERS:-20000}
OUT=${OUT:-$ROOT/bench/target/collectives-vs-mpi/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
{ echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; $(uptime)"
  echo "# yatt: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "# date: $(date -Is)"; } | tee "$OUT/meta.txt"

ours() {  # label np extra-args...
  local label=$1 np=$2; shift 2
  "$PEERS/common/quiet.sh" 85 30 2>>"$OUT/meta.txt"
  echo "# $label np=$np: $*" >> "$OUT/meta.txt"
  "$ROOT/yatt" bench collectives --backend shm --np "$np" --json "$@" | sed "s/^/$label np=$np /" >> "$OUT/ours.txt"
}
sweep() { ours "$1" "$2" --op all_gather,reduce_scatter,all_reduce,broadcast --min 1M --max 256M -f 16; }

half=$(( (REPEAT + 1) / 2 ))
for r in $(seq 1 "$half"); do for np in $NPS; do sweep "sweep$r" "$np"; done; done
OUT="$OUT/mpi" NPS="$NPS" REPEAT_NPS="$NPS" TARGET=0.2 "$PEERS/mpi/run.sh" > "$OUT/mpi-run.txt" 2>&1
cp "$OUT/mpi/all.txt" "$OUT/mpi.txt"
for r in $(seq $((half + 1)) "$REPEAT"); do for np in $NPS; do sweep "sweep$r" "$np"; done; done

: > "$OUT/mpi-lat.txt"  # exists even with LAT_REPEAT=0 (the table then prints nan latencies)
for r in $(seq 1 "$LAT_REPEAT"); do
  ours "lat$r" 2 --op all_reduce --min 8 --max 8 --iters "$LAT_ITERS"
  "$PEERS/common/quiet.sh" 85 30 2>>"$OUT/meta.txt"
  "$PEERS/mpi/latency.sh" 2 | grep -v '^#' | sed "s/^ */lat$r /" >> "$OUT/mpi-lat.txt"
done
RUNS=1 "$PEERS/memcpy/run.sh" > "$OUT/memcpy.txt" 2>&1

python3 - "$OUT" <<'EOF'
import json, re, statistics as st, sys
out = sys.argv[1]
med = lambda v: st.median(v) if v else float('nan')
ours = {}  # (op, np, size, inPlace) -> [busbw]
lat = {False: [], True: []}
for line in open(f"{out}/ours.txt"):
    m = re.match(r"(\S+) np=(\d+) (\{.*\})", line)
    if not m:
        continue
    label, np, j = m.group(1), int(m.group(2)), json.loads(m.group(3))
    if j["wrong"] != 0:
        print(f"!! wrong results: {line.strip()}")
    if label.startswith("lat"):
        lat[j["inPlace"]].append(j["timeUs"])
    else:
        ours.setdefault((j["op"], np, j["size"], j["inPlace"]), []).append(j["busbw"])
mpi, moth = {}, {}
names = {"allgather": "all_gather", "reducescatter": "reduce_scatter", "allreduce": "all_reduce", "bcast": "broadcast"}
for line in open(f"{out}/mpi.txt"):
    f = line.split()
    key = (names[f[1]], int(f[2]), int(f[3]))
    mpi.setdefault(key, []).append(float(f[9]))
    moth.setdefault(key, []).append(float(f[12]))
mlat = [float(l.split()[6]) for l in open(f"{out}/mpi-lat.txt") if l.strip()]
b2 = {}
threads = None
for line in open(f"{out}/memcpy.txt"):
    if line.startswith("# threads="):
        threads = int(line.split("=")[1].split()[0])
    elif threads == 2 and re.match(r"\s+\d+\s", line):
        f = line.split()
        b2[int(f[0]) << 20] = float(f[2])
floor = {"all_gather": lambda b, n: b * (n - 1) / n ** 2, "reduce_scatter": lambda b, n: 2 * b * (n - 1) / (n * (n + 1)),
         "all_reduce": lambda b, n: 4 * b * (n - 1) / (n * (3 * n - 1)), "broadcast": lambda b, n: b / n}
fmt = lambda s: f"{s >> 20}M"
print(f"B2 (2-thread memcpy copy GB/s, best): " + ", ".join(f"{fmt(k)} {v:.1f}" for k, v in sorted(b2.items())))
print("| op | np | size | ours oop | ours in-place | Open MPI | MPI oth% | ours/MPI (oop) | floor oop | ours/floor (oop) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for op in ["all_gather", "reduce_scatter", "all_reduce", "broadcast"]:
    for np in sorted({k[1] for k in ours}):
        for size in (1 << 20, 16 << 20, 256 << 20):
            oop, ip = ours.get((op, np, size, False), []), ours.get((op, np, size, True), [])
            # ours rounds the size down to a multiple of np * 4 bytes; match MPI by the nominal size
            if not oop:
                cand = [k for k in ours if k[0] == op and k[1] == np and not k[3] and abs(k[2] - size) < 64]
                oop = ours.get(cand[0], []) if cand else []
                ip = ours.get((op, np, cand[0][2], True), []) if cand else []
            m = mpi.get((op, np, size), [])
            fl = floor[op](b2.get(size, float('nan')), np)
            o, i, mm = med(oop), med(ip), med(m)
            print(f"| {op} | {np} | {fmt(size)} | {o:.2f} | {i:.2f} | {mm:.2f} | {max(moth.get((op, np, size), [0])):.0f} "
                  f"| {o / mm:.2f}x | {fl:.2f} | {100 * o / fl:.0f}% |")
print(f"\n8-byte all-reduce np=2, median of {len(mlat)} (us): ours oop {med(lat[False]):.2f} "
      f"(runs {', '.join(f'{v:.1f}' for v in lat[False])}), ours in-place {med(lat[True]):.2f} "
      f"(runs {', '.join(f'{v:.1f}' for v in lat[True])}), Open MPI {med(mlat):.2f} (runs {', '.join(f'{v:.1f}' for v in mlat)})")
print(f"(ours: {len(next(iter(ours.values()), []))} sweeps per point, median; Open MPI: run1 + run2 of run.sh, median)")
EOF
echo "(raw: $OUT)"

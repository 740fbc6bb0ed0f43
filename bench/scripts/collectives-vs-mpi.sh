#!/usr/bin/env bash
# Issue 7 item 6 in one command: Yatt's shm collectives against Open MPI (medians of alternating runs) and the
# stability of our sweep (back-to-back runs), with the memcpy floor; prints both tables and every target's pass/fail.
#
#   bench/scripts/collectives-vs-mpi.sh     # ./yatt builds bench/target/benchmarks.jar when it is missing or stale
#
#   NPS="2 4 8"        rank counts compared with Open MPI
#   RUNS=3             alternating runs per rank count: ours, Open MPI, ours, Open MPI, ours, Open MPI
#   OPS="all_gather,reduce_scatter,all_reduce"   ops compared (both sides; the stability sweeps add broadcast)
#   RATIO=1.25         target: ours (out of place) / Open MPI at every compared point
#   STAB_NPS="2 4"     rank counts of the stability sweeps
#   STAB_RUNS=5        back-to-back sweeps of ours per rank count
#   STAB_PCT=20        target: every point (out of place and in place) within +-STAB_PCT % of its median
#   MIN=1M MAX=256M FACTOR=16   sizes (full buffer, nccl-tests convention) of every run
#   PHASES="compare stability floor"   parts to run; add "latency" for the 8-byte all-reduce pairs (LAT_REPEAT=5)
#   BIND=1             pin our ranks one per core when np <= CPUs (the sweep's --bind, as mpirun binds); 0: --no-bind
#   SPIN_US=           ours: the sweep's --spin-us (how long a waiting rank spins; it sleeps after max(spin, 1 ms));
#                      empty: the sweep's default
#   OUT=dir            raw output (default bench/target/collectives-vs-mpi/<time>)
#
# Order: for each of the RUNS rounds and each np in NPS, our sweep then collbench (both timing the same ops and
# sizes), so both sides see the same minutes of a shared machine; then STAB_RUNS rounds of our sweep at every np in
# STAB_NPS, each preceded by the cross-core copy probe (peers/memcpy/xcore.sh: the machine's own rate of moving a
# buffer between two cores, printed per run, since it moves between runs on a VM); then the memcpy floor. Every
# run is preceded by peers/common/quiet.sh (waits up to 30 s for 85 % idle) and wrapped in peers/common/track.sh
# (the CPU share other processes took: "others" in meta.txt and the table).
# Both sides: f32 sum, size = full buffer, iteration count from a trial doubling until 20 ms, 5 timed batches of
# about 0.04 s each, each batch's time the slowest rank's, the point's time the median batch (nccl-tests times one
# window of -n iterations averaged over ranks; a median of batches keeps one preempted batch from moving a point).
# Ours: buffers in the shm arena, ranks pinned one per core when np <= CPUs (the sweep's default --bind).
# oth% (both sides, per point): the share of all CPUs other processes took during the timed batches; > 10 % is a
# disturbed point.
# Open MPI: peers/mpi/collbench.sh (collbench.c built with mpicc; apt installs Open MPI when mpicc is missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=$ROOT/bench/peers
NPS=${NPS:-"2 4 8"}; RUNS=${RUNS:-3}; OPS=${OPS:-all_gather,reduce_scatter,all_reduce}; RATIO=${RATIO:-1.25}
STAB_NPS=${STAB_NPS:-"2 4"}; STAB_RUNS=${STAB_RUNS:-5}; STAB_PCT=${STAB_PCT:-20}
MIN=${MIN:-1M}; MAX=${MAX:-256M}; FACTOR=${FACTOR:-16}
PHASES=${PHASES:-"compare stability floor"}; BIND=${BIND:-1}; SPIN_US=${SPIN_US:-}; LAT_REPEAT=${LAT_REPEAT:-5}; LAT_ITERS=${LAT_ITERS:-20000}
OUT=${OUT:-$ROOT/bench/target/collectives-vs-mpi/$(date +%Y%m%d-%H%M%S)}
source "$PEERS/common/track.sh"
mkdir -p "$OUT"
: > "$OUT/ours.txt"; : > "$OUT/mpi.txt"; : > "$OUT/mpi-lat.txt"; : > "$OUT/memcpy.txt"
{ echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; $(uptime)"
  echo "# yatt: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "# date: $(date -Is)"
  echo "# NPS=$NPS RUNS=$RUNS OPS=$OPS STAB_NPS=$STAB_NPS STAB_RUNS=$STAB_RUNS MIN=$MIN MAX=$MAX FACTOR=$FACTOR PHASES=$PHASES BIND=$BIND SPIN_US=$SPIN_US"
} | tee "$OUT/meta.txt"
has() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

before() {  # label: wait for a quiet machine, note the time and load average
  "$PEERS/common/quiet.sh" 85 30 2>>"$OUT/meta.txt"
  echo "# run $1 at $(date +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/meta.txt"
}
ours() {  # label np extra-args...
  local label=$1 np=$2; shift 2
  [ "$BIND" = 1 ] || set -- "$@" --no-bind
  [ -z "$SPIN_US" ] || set -- "$@" --spin-us "$SPIN_US"
  before "$label np=$np"
  echo "# $label np=$np: yatt bench collectives --backend shm --np $np --json $*" >> "$OUT/meta.txt"
  tracked "$label np=$np" "$ROOT/yatt" bench collectives --backend shm --np "$np" --json "$@" 2>>"$OUT/meta.txt" \
    | sed "s/^/$label np=$np /" >> "$OUT/ours.txt"
}
mpi() {  # label np: collbench over the compared ops and sizes
  local label=$1 np=$2 o=${OPS//all_gather/ag}
  o=${o//reduce_scatter/rs}; o=${o//all_reduce/ar}; o=${o//broadcast/bc}
  before "$label np=$np"
  echo "# $label np=$np: collbench.sh $np -o $o -b $MIN -e $MAX -f $FACTOR -t 0.2" >> "$OUT/meta.txt"
  tracked "$label np=$np" "$PEERS/mpi/collbench.sh" "$np" -o "$o" -b "$MIN" -e "$MAX" -f "$FACTOR" -t 0.2 \
    2>>"$OUT/meta.txt" | grep -v '^#' | sed "s/^ */$label /" >> "$OUT/mpi.txt"
}

if has compare; then
  for r in $(seq 1 "$RUNS"); do
    for np in $NPS; do
      ours "ours$r" "$np" --op "$OPS" --min "$MIN" --max "$MAX" -f "$FACTOR"
      mpi "mpi$r" "$np"
    done
  done
fi
if has stability; then
  for r in $(seq 1 "$STAB_RUNS"); do
    for np in $STAB_NPS; do
      # the machine's own cross-core copy rate just before the run: when it moved, the run moves with it
      echo "# xcore stab$r np=$np: $("$PEERS/memcpy/xcore.sh" 1 5 500 | tail -n 1)" >> "$OUT/meta.txt"
      ours "stab$r" "$np" --op "$OPS,broadcast" --min "$MIN" --max "$MAX" -f "$FACTOR"
    done
  done
fi
if has latency; then
  for r in $(seq 1 "$LAT_REPEAT"); do
    ours "lat$r" 2 --op all_reduce --min 8 --max 8 --iters "$LAT_ITERS"
    before "mpilat$r np=2"
    "$PEERS/mpi/latency.sh" 2 | grep -v '^#' | sed "s/^ */lat$r /" >> "$OUT/mpi-lat.txt"
  done
fi
if has floor; then
  RUNS=1 "$PEERS/memcpy/run.sh" > "$OUT/memcpy.txt" 2>&1
fi

python3 - "$OUT" "$RATIO" "$STAB_PCT" <<'EOF'
import json, re, statistics as st, sys
out, ratio_target, pct = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
nan = float('nan')
med = lambda v: st.median(v) if v else nan
fmt = lambda s: f"{s >> 20}M" if s >= 1 << 20 else f"{s >> 10}K" if s >= 1 << 10 else f"{s}"
runs = lambda v: "/".join(f"{x:.2f}" for x in v)
ours, batches, oth, lat, wrong = {}, {}, {}, {False: [], True: []}, []
pmax = lambda v: f"{max(v):.0f}" if v else "-"
for line in open(f"{out}/ours.txt"):
    m = re.match(r"(\D+)(\d+) np=(\d+) (\{.*\})", line)
    if not m:
        continue
    kind, run, np, j = m.group(1), int(m.group(2)), int(m.group(3)), json.loads(m.group(4))
    if j["wrong"] not in (0, -1):
        wrong.append(line.strip())
    if kind == "lat":
        lat[j["inPlace"]].append(j["timeUs"])
        continue
    key = (kind, j["op"], np, j["size"], j["inPlace"])
    ours.setdefault(key, []).append(j["busbw"])
    if j.get("othersPct") is not None:
        oth.setdefault(key, []).append(j["othersPct"])
    batches[key + (len(ours[key]),)] = (j["timeUs"], j.get("batchUs", []))
names = {"allgather": "all_gather", "reducescatter": "reduce_scatter", "allreduce": "all_reduce", "bcast": "broadcast"}
mpi, moth = {}, {}
for line in open(f"{out}/mpi.txt"):
    f = line.split()
    if len(f) < 13:
        continue
    key = (names[f[1]], int(f[2]), int(f[3]))
    mpi.setdefault(key, []).append(float(f[9]))
    moth.setdefault(key, []).append(float(f[12]))
    if f[11] != "0":
        wrong.append("Open MPI: " + line.strip())
b2, threads = {}, None
for line in open(f"{out}/memcpy.txt"):
    if line.startswith("# threads="):
        threads = int(line.split("=")[1].split()[0])
    elif threads == 2 and re.match(r"\s+\d+\s", line):
        f = line.split()
        b2[int(f[0]) << 20] = float(f[2])
floor = {"all_gather": lambda b, n: b * (n - 1) / n ** 2, "reduce_scatter": lambda b, n: 2 * b * (n - 1) / (n * (n + 1)),
         "all_reduce": lambda b, n: 4 * b * (n - 1) / (n * (3 * n - 1)), "broadcast": lambda b, n: b / n}
others = {}  # run label -> others% from track.sh
xcore = {}  # stability run label -> the cross-core copy probe's median GB/s just before it
for line in open(f"{out}/meta.txt"):
    m = re.match(r"# load (\S+ np=\d+): .* others=(\d+)%", line)
    if m:
        others[m.group(1)] = int(m.group(2))
    m = re.match(r"# xcore (\S+ np=\d+): median (\S+) GB/s", line)
    if m:
        xcore[m.group(1)] = float(m.group(2))
order = ["all_gather", "reduce_scatter", "all_reduce", "broadcast"]
verdicts = []

cmp_keys = sorted({k[1:4] for k in ours if k[0] == "ours"}, key=lambda k: (order.index(k[0]), k[1], k[2]))
if cmp_keys:
    print("\n## Against Open MPI: busbw GB/s, median of the alternating runs (ours, Open MPI, ours, ...)")
    if b2:
        print("B2 (2-thread memcpy copy GB/s, best): " + ", ".join(f"{fmt(k)} {v:.1f}" for k, v in sorted(b2.items())))
    print(f"\n| op | np | size | ours oop | ours runs | ours oth% | ours in-place | Open MPI | MPI runs | MPI oth% | ours/MPI "
          f"| >= {ratio_target}x | floor oop | ours/floor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    misses, met = [], 0
    for op, np, size in cmp_keys:
        oop, ip = ours.get(("ours", op, np, size, False), []), ours.get(("ours", op, np, size, True), [])
        m = mpi.get((op, np, size), [])
        o, mm = med(oop), med(m)
        r = o / mm if m else nan
        ok = r >= ratio_target
        met += ok
        if not ok:
            misses.append(f"{op} {fmt(size)} np={np} {r:.2f}x")
        fl = floor[op](b2[size], np) if size in b2 else nan
        fls = f"{fl:.2f} | {100 * o / fl:.0f}%" if size in b2 else "- | -"
        print(f"| {op} | {np} | {fmt(size)} | {o:.2f} | {runs(oop)} | {pmax(oth.get(('ours', op, np, size, False)))} "
              f"| {med(ip):.2f} | {mm:.2f} | {runs(m)} | {pmax(moth.get((op, np, size)))} | {r:.2f}x | {'yes' if ok else '**no**'} | {fls} |")
    verdicts.append(f">= {ratio_target}x Open MPI at every point: " + ("PASS" if not misses else "FAIL")
                    + f" ({met} of {len(cmp_keys)} points)" + ("" if not misses else "; missed: " + ", ".join(misses)))
    red = [(op, np, size) for op, np, size in cmp_keys if op in ("reduce_scatter", "all_reduce") and size >= 16 << 20
           and np in (2, 4) and size in b2]
    if red:
        low = [f"{op} {fmt(s)} np={n} {100 * med(ours[('ours', op, n, s, False)]) / floor[op](b2[s], n):.0f}%"
               for op, n, s in red if med(ours[("ours", op, n, s, False)]) < 0.8 * floor[op](b2[s], n)]
        verdicts.append("reductions >= 80% of the floor at 16M/256M, np 2 and 4 (item 5): " + ("PASS" if not low else "FAIL")
                        + f" ({len(red) - len(low)} of {len(red)})" + ("" if not low else "; missed: " + ", ".join(low)))

stab_keys = sorted({k[1:] for k in ours if k[0] == "stab"}, key=lambda k: (order.index(k[0]), k[1], k[2], k[3]))
if stab_keys:
    print(f"\n## Stability: our sweep run back to back, busbw GB/s; target every point within +-{pct:.0f} % of its median")
    print("\n| op | np | size | mode | runs | median | max dev from median | within | oth% max | "
          "batches of the farthest run (us) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    misses, mean_within = [], 0
    for key in stab_keys:
        op, np, size, ip = key
        v = ours[("stab",) + key]
        mdn = med(v)
        devs = [abs(x - mdn) / mdn for x in v]
        # the same runs under the old statistic (mean over the batches instead of the median batch)
        runs_b = [batches.get(("stab",) + key + (i + 1,), (nan, [])) for i in range(len(v))]
        old = [x * t / st.mean(b) for x, (t, b) in zip(v, runs_b) if b]
        if len(old) == len(v):
            mean_within += max(abs(x - med(old)) / med(old) for x in old) <= pct / 100
        far = max(range(len(v)), key=lambda i: devs[i])
        ok = max(devs) <= pct / 100
        if not ok:
            misses.append(f"{op} {fmt(size)} np={np} {'in-place' if ip else 'oop'} {100 * max(devs):.0f}%")
        b = runs_b[far][1]
        print(f"| {op} | {np} | {fmt(size)} | {'in-place' if ip else 'oop'} | {', '.join(f'{x:.2f}' for x in v)} "
              f"| {mdn:.2f} | {100 * max(devs):.0f}% | {'yes' if ok else '**no**'} | {pmax(oth.get(('stab',) + key))} "
              f"| run {far + 1}: "
              f"{', '.join(f'{x:.0f}' for x in b)} |")
    verdicts.append(f"stability (+-{pct:.0f} % of the median, {len(v)} runs): " + ("PASS" if not misses else "FAIL")
                    + f" ({len(stab_keys) - len(misses)} of {len(stab_keys)} points)"
                    + ("" if not misses else "; missed: " + ", ".join(misses)))
    print(f"\nThe same runs with the old statistic (mean over the batches): {mean_within} of {len(stab_keys)} points "
          f"within +-{pct:.0f} %.")

if lat[False]:
    mlat = [float(l.split()[6]) for l in open(f"{out}/mpi-lat.txt") if l.strip()]
    print(f"\n8-byte all-reduce np=2, median of {len(mlat)} (us): ours oop {med(lat[False]):.2f} ({runs(lat[False])}), "
          f"ours in-place {med(lat[True]):.2f} ({runs(lat[True])}), Open MPI {med(mlat):.2f} ({runs(mlat)})")
if others:
    print("\nOther processes' CPU share per run (track.sh): " + ", ".join(f"{k} {v}%" for k, v in others.items()))
if xcore:
    print("\nCross-core copy rate of the machine just before each stability run (memcpy/xcore.sh, 1 MiB, median of 5"
          " windows, GB/s): " + ", ".join(f"{k} {v:.1f}" for k, v in xcore.items()))
verdicts.append("every result correct (#wrong 0): " + ("PASS" if not wrong else "FAIL"))
for w in wrong:
    print("!! wrong: " + w)
print()
for v in verdicts:
    print("TARGET " + v)
EOF
echo "(raw: $OUT)"

#!/usr/bin/env bash
# quiet.sh [min_idle_pct=85] [max_wait_s=120]
# The machine may be shared with other work (builds, tests).  Wait
# until the CPUs have been at least MIN% idle over a 2 s window (or give up
# after MAX s) and print one line "# quiet: idle=NN% waited=Ns" to stderr.
min=${1:-85}; max=${2:-120}; waited=0
idle_pct() {
  read -r _ u n s i w q sq st _ < /proc/stat; t1=$((u+n+s+i+w+q+sq+st)); i1=$((i+w))
  sleep 2
  read -r _ u n s i w q sq st _ < /proc/stat; t2=$((u+n+s+i+w+q+sq+st)); i2=$((i+w))
  echo $(( 100 * (i2 - i1) / (t2 - t1 > 0 ? t2 - t1 : 1) ))
}
while :; do
  p=$(idle_pct)
  if [ "$p" -ge "$min" ] || [ "$waited" -ge "$max" ]; then break; fi
  waited=$((waited + 2))
done
flag=""; [ "$p" -lt "$min" ] && flag=" (BUSY: other load present, numbers may be low)"
echo "# quiet: idle=${p}% waited=${waited}s$flag" >&2

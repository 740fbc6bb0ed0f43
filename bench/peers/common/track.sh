# source me.  tracked LABEL CMD... : runs CMD (stdout kept), then prints to
# stderr "# load LABEL: wall=Ns ours=X% others=Y%" where the percentages are of
# the whole machine (all CPUs) over the run: "ours" = CPU time of finished
# children of this shell (the benchmark), "others" = the rest of the busy time
# (other sessions' builds etc.).  others > ~10% means the numbers are suspect.
_cpu_snap() { awk '/^cpu /{print $2+$3+$4+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
_self_children() { awk '{print $16+$17}' /proc/$1/stat; }
tracked() {
  local label=$1; shift
  local me=$BASHPID b0 a0 b1 a1 c0 c1 t0 t1
  read -r b0 a0 < <(_cpu_snap); c0=$(_self_children $me); t0=$(date +%s.%N)
  "$@"
  local rc=$?
  read -r b1 a1 < <(_cpu_snap); c1=$(_self_children $me); t1=$(date +%s.%N)
  awk -v l="$label" -v b=$((b1-b0)) -v a=$((a1-a0)) -v c=$((c1-c0)) -v t0="$t0" -v t1="$t1" \
    'BEGIN { w=t1-t0; if (a<1) a=1; o=b-c; if (o<0) o=0; printf "# load %s: wall=%.1fs ours=%.0f%% others=%.0f%%\n", l, w, 100*c/a, 100*o/a }' >&2
  return $rc
}

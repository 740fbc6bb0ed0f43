#!/usr/bin/env bash
# Makes OpenBLAS (Debian's libopenblas0) available for the BLAS tests and the fast matrix multiply:
# does nothing when the loader already knows libopenblas.so.0; installs it with apt-get as root, or
# with non-interactive sudo; otherwise says that the BLAS tests will skip. Quiet and idempotent.
set -uo pipefail
have_openblas() {
  local ldconfig
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  [ -x "$ldconfig" ] && "$ldconfig" -p 2>/dev/null | grep -q 'libopenblas\.so\.0 '
}
if have_openblas; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "ensure-openblas: libopenblas.so.0 not installed and not root (no passwordless sudo): BLAS tests will skip"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-openblas: libopenblas.so.0 not installed and no apt-get: BLAS tests will skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! "${run[@]}" apt-get install -y -q --no-install-recommends libopenblas0 >"$log" 2>&1; then
  "${run[@]}" apt-get update -q >>"$log" 2>&1
  "${run[@]}" apt-get install -y -q --no-install-recommends libopenblas0 >>"$log" 2>&1
fi
if have_openblas; then
  echo "ensure-openblas: installed libopenblas0"
else
  echo "ensure-openblas: could not install libopenblas0 (BLAS tests will skip); apt-get said:"
  tail -n 5 "$log"
fi
rm -f "$log"
exit 0

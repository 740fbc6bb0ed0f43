#!/usr/bin/env bash
# collbench.sh NP [collbench args...]: one Open MPI run of collbench.c on NP ranks. Builds it with mpicc when the
# binary (bench/target/peers/bin/collbench) is missing or older than the source, installing openmpi-bin and
# libopenmpi-dev through apt when mpicc is missing. mpirun gets --oversubscribe (NP may exceed the CPUs) and keeps
# Open MPI's default binding (mpirun(1): cores at np <= 2, sockets above, none when oversubscribed);
# MPIRUN_EXTRA adds mpirun options, e.g. "--mca btl_vader_single_copy_mechanism none".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common/build-dir.sh"
np=${1:?usage: collbench.sh NP [collbench args]}; shift
need_pkgs mpicc openmpi-bin libopenmpi-dev
bin=$PEERS_BUILD/collbench
if [ ! -x "$bin" ] || [ "$here/collbench.c" -nt "$bin" ]; then
  mpicc -O2 -march=native -Wall -Wno-maybe-uninitialized -o "$bin" "$here/collbench.c"
fi
root_flag=""; [ "$(id -u)" -eq 0 ] && root_flag=--allow-run-as-root
# shellcheck disable=SC2086
exec mpirun $root_flag --oversubscribe ${MPIRUN_EXTRA:-} -np "$np" "$bin" "$@"

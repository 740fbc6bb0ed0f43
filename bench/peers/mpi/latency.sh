#!/usr/bin/env bash
# One Open MPI 8-byte all-reduce latency point: latency.sh NP [collbench args...] (collbench.sh builds it if needed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
np=${1:?usage: latency.sh NP [collbench args]}; shift
exec "$here/collbench.sh" "$np" -o ar -b 8 -e 8 -f 2 -t 0.5 "$@"

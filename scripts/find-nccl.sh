#!/usr/bin/env bash
# Makes NCCL discoverable for Yatt's tests and CLI.
#
# Usage: eval "$(scripts/find-nccl.sh)"
#
# Prints nothing when NCCL is already discoverable (YATT_NCCL_LIBRARY points at a file, or a
# Python site-packages folder holds nvidia/nccl/lib/libnccl.so.2). Otherwise it looks for an NCCL
# wheel (nvidia_nccl_cu1*-*.whl) in pip's find-links and file:// index folders, ~/.cache and /opt,
# unpacks its lib/ and include/ folders into <repo>/.build/nccl (a wheel is a zip), and prints
# `export YATT_NCCL_LIBRARY=<absolute path to libnccl.so.2>`. Diagnostics go to stderr; the exit
# status is 0 even when nothing is found, so a wrapper can go on and let discovery explain.
set -u

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${repo_root}/.build/nccl"

note() { printf 'find-nccl: %s\n' "$*" >&2; }

# 1. Already pointed at a library.
if [ -n "${YATT_NCCL_LIBRARY:-}" ]; then
  if [ -f "${YATT_NCCL_LIBRARY}" ]; then
    exit 0
  fi
  note "YATT_NCCL_LIBRARY=${YATT_NCCL_LIBRARY} is not a file; looking for a wheel instead"
fi

# 2. Already installed by pip in a site-packages folder that discovery scans.
shopt -s nullglob
site_dirs=(
  /usr/lib/python3*/site-packages /usr/lib/python3*/dist-packages
  /usr/local/lib/python3*/site-packages /usr/local/lib/python3*/dist-packages
  "${HOME}"/.local/lib/python3*/site-packages
  "${HOME}"/.pyenv/versions/*/lib/python3*/site-packages
)
if [ -n "${VIRTUAL_ENV:-}" ]; then site_dirs+=("${VIRTUAL_ENV}"/lib/python3*/site-packages); fi
if [ -n "${CONDA_PREFIX:-}" ]; then site_dirs+=("${CONDA_PREFIX}"/lib/python3*/site-packages); fi
for dir in "${site_dirs[@]}"; do
  if [ -f "${dir}/nvidia/nccl/lib/libnccl.so.2" ]; then
    exit 0
  fi
done

# 3. Already unpacked by an earlier run.
if [ -f "${target_dir}/nvidia/nccl/lib/libnccl.so.2" ]; then
  printf 'export YATT_NCCL_LIBRARY=%q\n' "${target_dir}/nvidia/nccl/lib/libnccl.so.2"
  exit 0
fi

# 4. Find a wheel: pip's find-links and file:// index URLs first, then ~/.cache and /opt.
search_dirs=()
if command -v pip >/dev/null 2>&1; then
  while IFS= read -r line; do
    value="${line#*=}"
    value="${value#\'}"
    value="${value%\'}"
    for entry in ${value}; do
      entry="${entry#file://}"
      case "${entry}" in
        /*) search_dirs+=("${entry}") ;;
      esac
    done
  done < <(pip config list 2>/dev/null | grep -E '(find-links|index-url|extra-index-url)=')
fi
search_dirs+=("${HOME}/.cache" /opt)

wheel=""
for dir in "${search_dirs[@]}"; do
  [ -d "${dir}" ] || continue
  # Index folders (PEP 503) keep wheels in per-project sub-folders or next to them: search a few levels.
  found="$(find "${dir}" -maxdepth 4 -name 'nvidia_nccl_cu1*-*.whl' -type f 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "${found}" ]; then
    wheel="${found}"
    break
  fi
done

if [ -z "${wheel}" ]; then
  note "no NCCL wheel (nvidia_nccl_cu1*-*.whl) found in: ${search_dirs[*]}"
  exit 0
fi

note "unpacking ${wheel} into ${target_dir}"
mkdir -p "${target_dir}"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "${wheel}" 'nvidia/nccl/lib/*' 'nvidia/nccl/include/*' -d "${target_dir}" >&2 || {
    note "unzip failed for ${wheel}"
    exit 0
  }
else
  python3 - "${wheel}" "${target_dir}" <<'PY' >&2 || { note "python3 zipfile failed for ${wheel}"; exit 0; }
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.startswith(("nvidia/nccl/lib/", "nvidia/nccl/include/"))]
    z.extractall(target, members)
PY
fi

library="${target_dir}/nvidia/nccl/lib/libnccl.so.2"
if [ ! -f "${library}" ]; then
  note "${wheel} holds no nvidia/nccl/lib/libnccl.so.2"
  exit 0
fi
printf 'export YATT_NCCL_LIBRARY=%q\n' "${library}"

# source me.  Sets PEERS_ROOT (the repository root) and PEERS_BUILD (where the peers' binaries go:
# bench/target/peers/bin, a build output that git ignores), and defines need_pkgs CMD PKG...: when CMD is not on
# PATH, installs the Debian/Ubuntu packages through apt-get (as root, or through sudo when it is there).
PEERS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PEERS_BUILD=${PEERS_BUILD:-$PEERS_ROOT/bench/target/peers/bin}
mkdir -p "$PEERS_BUILD"
need_pkgs() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "peers: $cmd is missing; install $* (apt-get needs root)" >&2; return 1; }
    sudo=sudo
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "peers: $cmd is missing and there is no apt-get; install $*" >&2; return 1; }
  echo "peers: installing $* (for $cmd)" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

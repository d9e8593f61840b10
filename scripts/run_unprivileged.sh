#!/usr/bin/env bash
# Run a command as an unprivileged user (default uid/gid 65534), as a service-user node would run:
#   sudo scripts/run_unprivileged.sh .venv/bin/python -m pytest -q test/security
# Needs root to start (setpriv). The interpreter and the repo must be readable by that user: where
# one of their ancestors is closed to others (e.g. pyenv under /root, mode 0700), it is bound, in
# a private mount namespace of this command only, beneath a world-traversable tmpfs at the same
# path. Nothing on the host changes. Writable: a fresh $HOME/$TMPDIR; the escape suite's outcome
# files are copied back to build/security (or $SPATIALCLAW_SECURITY_OUT).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_UID=${RUN_UID:-65534}
OUT=${SPATIALCLAW_SECURITY_OUT:-$ROOT/build/security}
PY=${PY:-$ROOT/.venv/bin/python}
[ "$(id -u)" = 0 ] || { echo "run_unprivileged.sh: start it as root (it drops to uid $RUN_UID)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/spatialclaw-unpriv-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home" "$WORK/out" "$WORK/keep"
chown -R "$RUN_UID:$RUN_UID" "$WORK/home" "$WORK/out"
chmod 0755 "$WORK"
BASE=$("$PY" -c 'import os, sys; print(os.path.realpath(sys.base_prefix))')
export ROOT WORK BASE RUN_UID
rc=0
unshare --mount --propagation private -- bash -euo pipefail -c '
  closed_ancestor() {   # the top-most ancestor of $1 that others cannot traverse, if any
    local p="$1" top=""
    while [ "$p" != "/" ]; do p=$(dirname "$p"); [ "$p" = "/" ] && break
      if [ "$(( 0$(stat -c %a "$p") & 1 ))" = 0 ]; then top="$p"; fi; done
    echo "$top"
  }
  # first keep every source, then hide each closed ancestor under a 0755 tmpfs, then put them back
  srcs=("$BASE" "$ROOT"); tops=(); i=0
  for src in "${srcs[@]}"; do
    i=$((i + 1)); tops[$i]=$(closed_ancestor "$src")
    if [ -n "${tops[$i]}" ]; then mkdir -p "$WORK/keep/$i"; mount --bind "$src" "$WORK/keep/$i"; fi
  done
  i=0
  for src in "${srcs[@]}"; do
    i=$((i + 1)); d=${tops[$i]}
    [ -n "$d" ] || continue
    if [ "$(stat -f -c %T "$d")" != tmpfs ] || [ "$(stat -c %a "$d")" != 755 ]; then
      mount -t tmpfs -o mode=0755 tmpfs "$d"
    fi
  done
  i=0
  for src in "${srcs[@]}"; do
    i=$((i + 1))
    [ -n "${tops[$i]}" ] || continue
    mkdir -p "$src"; mount --bind "$WORK/keep/$i" "$src"
  done
  cd "$ROOT"
  exec setpriv --reuid "$RUN_UID" --regid "$RUN_UID" --clear-groups --reset-env -- env \
    PATH=/usr/bin:/bin HOME="$WORK/home" TMPDIR="$WORK/home" PYTHONDONTWRITEBYTECODE=1 \
    SPATIALCLAW_SECURITY_OUT="$WORK/out" SPATIALCLAW_SIMULATED_HOST="${SPATIALCLAW_SIMULATED_HOST:-}" \
    "$@"
' bash "$@" || rc=$?

mkdir -p "$OUT"
cp "$WORK"/out/* "$OUT"/ 2>/dev/null || true
exit $rc

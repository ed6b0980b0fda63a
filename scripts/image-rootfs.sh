#!/usr/bin/env bash
# Collects what the image carries besides /theater, so `kubectl exec` can run the tools
# the guide uses (sh, wget, curl). The Containerfile's `build` stage runs it; CI runs it
# on the host and hands the folder to `podman build --build-context build=DIR`.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/image-rootfs.sh OUT [THEATER_BINARY]

Writes OUT/rootfs/, copied as is to / of the image:
  /bin/busybox         Debian's busybox-static, with links sh, wget, cat, ls, env, sleep, seq
  /usr/bin/curl        Debian's curl, and every shared library ldd resolves for it (the
                       dynamic loader too), each at the path ldd prints
  /etc/nsswitch.conf   hosts: files dns: /etc/hosts before DNS (without the file glibc
                       asks DNS first and takes its "no such name" for localhost)
With THEATER_BINARY, also copies it to OUT/theater.
Installs busybox-static and curl with apt-get if they are missing.
TXT
}

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") usage_error "give the output folder" ;;
  -*) usage_error "unknown option $1" ;;
esac
[ $# -le 2 ] || usage_error "at most two arguments"
out=$1 theater=${2:-}
[ -z "$theater" ] || [ -f "$theater" ] || die "no binary at $theater"
apt_install busybox-static curl

# sh and wget for the guide; cat, ls and env to look at a pod's files and settings;
# seq and sleep for request loops (`for i in $(seq 20); do curl …; sleep 0.5; done`).
# Links cost nothing (the 2 MB busybox binary is the price whatever the list), and
# `busybox APPLET` reaches every other applet: the list only says what we rely on.
applets=(sh wget cat ls env sleep seq)
# No CA bundle: in-cluster calls are plain http to the sidecar (Istio adds mTLS), the
# Kubernetes API's CA comes with the ServiceAccount mount, and a copied trust store would
# go stale in the image. https elsewhere needs --cacert FILE (or -k).

umask 022
rootfs=$out/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc"

install -m 0755 /bin/busybox "$rootfs/bin/busybox"
available=$(/bin/busybox --list)
for applet in "${applets[@]}"; do
  grep -qx "$applet" <<<"$available" || die "Debian's busybox has no $applet applet"
  ln -s busybox "$rootfs/bin/$applet"
done

libraries=$(install_with_libraries "$rootfs" /usr/bin/curl)
mapfile -t copied <<<"$libraries"

echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"

if [ -n "$theater" ]; then
  install -D -m 0755 "$theater" "$out/theater"
fi

# The closure is complete only if curl runs with nothing but these files (root only).
if [ "$(id -u)" -eq 0 ]; then
  chroot "$rootfs" /usr/bin/curl --version >/dev/null || die "curl does not run inside $rootfs"
  [ "$(chroot "$rootfs" /bin/sh -c 'echo ok')" = ok ] || die "sh does not run inside $rootfs"
fi

size() { du -cb "$@" | awk 'END {printf "%.1f MiB", $1 / 1048576}'; }
echo "image-rootfs: busybox $(size "$rootfs/bin/busybox"), curl and ${#copied[@]} libraries $(size "$rootfs/usr/bin/curl" "${copied[@]}")" >&2

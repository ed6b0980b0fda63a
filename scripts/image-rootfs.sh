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
  /usr/bin/curl        curl built from Debian's source package (apt-get source curl),
                       linked statically, for plain http only (see curl_configure below)
  /etc/nsswitch.conf   hosts: files dns: /etc/hosts before DNS (without the file glibc
                       asks DNS first and takes its "no such name" for localhost)
With THEATER_BINARY, also copies it to OUT/theater.
Installs busybox-static and the few packages the curl build needs with apt-get if
they are missing, and adds a deb-src entry for the mirror apt already uses. The built
curl is cached in ~/.cache/theater-msa/curl-VERSION-FLAGS/ (VERSION: the Debian source
version apt-get source fetches; FLAGS: a hash of the configure arguments), so a second
run does not rebuild it.
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
apt_install busybox-static

# sh and wget for the guide; cat, ls and env to look at a pod's files and settings;
# seq and sleep for request loops (`for i in $(seq 20); do curl …; sleep 0.5; done`).
# Links cost nothing (the 2 MB busybox binary is the price whatever the list), and
# `busybox APPLET` reaches every other applet: the list only says what we rely on.
applets=(sh wget cat ls env sleep seq)

# curl for plain http inside the cluster, and nothing else. No TLS, so no CA bundle:
# in-cluster calls are plain http to the sidecar (Istio adds mTLS); `curl https://…` says
# 'Protocol "https" not supported'. No other protocol, no compression, IDN, HTTP/2, form
# uploads (-F) or built-in manual (-M). Kept: http through proxies (-x and the *_proxy
# variables), IPv6, the threaded resolver, cookies, basic auth, and the options of the
# guide's in-pod commands (-s -S -f -i -I -o -D -H -X -d/--data -w -v).
curl_configure=(
  --disable-dependency-tracking --disable-shared --enable-static
  --enable-http --enable-proxy --enable-ipv6 --enable-threaded-resolver --enable-verbose
  --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp
  --disable-gopher --disable-mqtt --disable-manual --disable-libcurl-option --disable-ntlm
  --disable-ntlm-wb --disable-tls-srp --disable-unix-sockets --disable-doh --disable-mime
  --disable-alt-svc --disable-hsts --disable-websockets --disable-netrc --disable-dnsshuffle
  --disable-get-easy-options
  --without-ssl --without-zlib --without-brotli --without-zstd --without-libpsl
  --without-libidn2 --without-nghttp2 --without-libssh2 --without-libssh --without-librtmp
  --without-ca-bundle --without-ca-path --without-hyper --without-ngtcp2 --without-nghttp3
  --without-quiche --without-msh3 --without-zsh-functions-dir --without-fish-functions-dir
  CFLAGS=-Os LDFLAGS=-static
)

# Adds deb-src entries for the mirror(s) apt's deb entries name, once; runs `apt-get update`
# when apt has no source list yet.
curl_sources() {
  local list=/etc/apt/sources.list.d/theater-msa-src.sources
  if ! apt-get source --print-uris -qq curl 2>/dev/null | grep -q '\.dsc'; then
    if [ ! -e "$list" ]; then
      if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # deb822 (Debian 12's images): the same stanzas as source entries.
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | as_root tee "$list" >/dev/null
      else
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | as_root tee "${list%.sources}.list" >/dev/null
      fi
    fi
    echo "==> apt-get update (deb-src for curl)" >&2
    as_root apt-get update -qq
  fi
}

# Builds curl from Debian's source package (Debian's patches applied by dpkg-source; the
# upstream configure script, so the build needs no autotools) unless the cache has it;
# sets curl_cache, the folder of the binary (curl) and its Debian version (version).
static_curl() {
  curl_sources
  local dsc version flags build
  dsc=$(apt-get source --print-uris -qq curl | awk '$2 ~ /\.dsc$/ {print $2; exit}')
  [ -n "$dsc" ] || die "apt-get source finds no curl source package"
  version=${dsc#curl_} version=${version%.dsc}
  flags=$(printf '%s\n' "${curl_configure[@]}" | sha256sum | cut -c1-12)
  curl_cache="${XDG_CACHE_HOME:-$HOME/.cache}/theater-msa/curl-$version-$flags"
  # The marker is written last: a build cut short (^C, a killed run) is redone.
  if [ ! -e "$curl_cache/.built" ]; then
    apt_install dpkg-dev gcc make libc6-dev binutils
    echo "==> building curl $version from Debian's source (static, http only) into $curl_cache" >&2
    build=$(mktemp -d)
    (
      cd "$build"
      apt-get source -qq curl >"$build/source.log" 2>&1 || { cat "$build/source.log" >&2; exit 1; }
      cd curl-*/
      ./configure -q "${curl_configure[@]}" >"$build/configure.log" 2>&1 || { tail -30 "$build/configure.log" >&2; exit 1; }
      # -all-static: libtool's word for a fully static executable.
      make -s -j "$(nproc)" LDFLAGS=-all-static >"$build/make.log" 2>&1 || { tail -30 "$build/make.log" >&2; exit 1; }
      rm -rf "$curl_cache"
      mkdir -p "$curl_cache"
      strip -o "$curl_cache/curl" src/curl
      echo "$version" >"$curl_cache/version"
    ) || { remove_dirs "$build"; die "building curl $version failed"; }
    remove_dirs "$build"
    if ldd "$curl_cache/curl" >/dev/null 2>&1; then die "the curl built is not static"; fi
    touch "$curl_cache/.built"
  fi
}

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

static_curl
install -D -m 0755 "$curl_cache/curl" "$rootfs/usr/bin/curl"

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
echo "image-rootfs: busybox $(size "$rootfs/bin/busybox"), curl $(size "$rootfs/usr/bin/curl") (static, $(tr -d '\n' <"$curl_cache/version"))" >&2

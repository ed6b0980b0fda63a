#!/usr/bin/env bash
# Builds, caches and finds the real Kubernetes binaries (control plane and node:
# kubelet, kube-proxy, containerd, CoreDNS, a registry, metrics-server), Istio's
# (istioctl, pilot-discovery for istiod, pilot-agent) and the observability pair
# (Prometheus, Jaeger) that the lab runs, from the Go modules pinned under tools/.
set -euo pipefail
shopt -s inherit_errexit

usage() {
  cat <<'TXT'
Usage: scripts/k8s-tools.sh COMMAND [--from DIR]

  path       build what is missing, then print ONE directory (and nothing else on
             stdout) holding istioctl, pilot-discovery, pilot-agent,
             kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
             kube-proxy, etcd, containerd, containerd-shim-runc-v2, ctr, coredns,
             registry, metrics-server, prometheus and jaeger
  build      build what is missing; print nothing on stdout
  versions   each binary's version, size and origin; the pinned modules
  prune      delete cached builds that the current tools/ pins no longer name, and
             the folders of symlinks (the next `path` remakes its own)
  -h, --help this text

  --from DIR   use the binaries found in DIR instead of building them (env
               THEATER_K8S_TOOLS_DIR); whatever DIR lacks is still built

Where the binaries come from (tools/, one Go module per component, pins in go.mod,
checksums in go.sum):
  tools/istio           istio.io/istio                          -> istioctl,
                          pilot-discovery, pilot-agent
  tools/kubernetes      k8s.io/kubernetes                       -> kube-apiserver,
                          kube-controller-manager, kube-scheduler, kubelet, kube-proxy
  tools/etcd            go.etcd.io/etcd/server/v3               -> etcd
  tools/containerd      github.com/containerd/containerd/v2     -> containerd,
                          containerd-shim-runc-v2, ctr
  tools/coredns         github.com/coredns/coredns              -> coredns
  tools/registry        github.com/distribution/distribution/v3 -> registry
  tools/metrics-server  sigs.k8s.io/metrics-server              -> metrics-server
  tools/prometheus      github.com/prometheus/prometheus        -> prometheus
  tools/jaeger          github.com/jaegertracing/jaeger         -> jaeger
Everything comes through the Go module proxy (`go build`); nothing is downloaded
from anywhere else. A cold build takes long (see tools/README.md for measured times);
progress and how long each binary took go to stderr.

Cache: $THEATER_CACHE_DIR/k8s-tools (default ~/.cache/theater-msa/k8s-tools), one
folder per component named after a hash of its go.mod, go.sum, its binaries and
their packages, and its part of this script's build recipe, so another clone on the same machine reuses them and a warm `path`
runs no Go command at all. The printed directory holds symlinks to the cached (or
given) binaries.

Environment:
  THEATER_CACHE_DIR      the cache root (default ~/.cache/theater-msa)
  THEATER_K8S_TOOLS_DIR  same as --from
  KUBEBUILDER_ASSETS     a setup-envtest folder: its kube-apiserver and etcd are used
                         (it has none of the others: they are built)
TXT
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

BINARIES=(istioctl pilot-discovery pilot-agent kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy
  etcd containerd containerd-shim-runc-v2 ctr coredns registry metrics-server prometheus jaeger)

# One row per binary: the Go module of ours under tools/ that builds it and the
# package that is its main.
component_of() {
  case $1 in
    istioctl | pilot-discovery | pilot-agent) echo istio ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) echo kubernetes ;;
    etcd) echo etcd ;;
    containerd | containerd-shim-runc-v2 | ctr) echo containerd ;;
    coredns) echo coredns ;;
    registry) echo registry ;;
    metrics-server) echo metrics-server ;;
    prometheus) echo prometheus ;;
    jaeger) echo jaeger ;;
  esac
}
package_of() {
  case $1 in
    istioctl) echo istio.io/istio/istioctl/cmd/istioctl ;;
    pilot-discovery | pilot-agent) echo "istio.io/istio/pilot/cmd/$1" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) echo "k8s.io/kubernetes/cmd/$1" ;;
    etcd) echo go.etcd.io/etcd/server/v3 ;; # the module's root package is etcd's main
    containerd | containerd-shim-runc-v2 | ctr) echo "github.com/containerd/containerd/v2/cmd/$1" ;;
    coredns) echo github.com/coredns/coredns ;; # the root package is CoreDNS's main
    registry) echo github.com/distribution/distribution/v3/cmd/registry ;;
    metrics-server) echo sigs.k8s.io/metrics-server/cmd/metrics-server ;;
    prometheus) echo github.com/prometheus/prometheus/cmd/prometheus ;;
    jaeger) echo github.com/jaegertracing/jaeger/cmd/jaeger ;; # Jaeger v2, one binary
  esac
}
binaries_of() {
  local bin
  for bin in "${BINARIES[@]}"; do
    [ "$(component_of "$bin")" = "$1" ] && echo "$bin"
  done
  return 0
}
COMPONENTS=(istio kubernetes etcd containerd coredns registry metrics-server prometheus jaeger)

# The upstream module each component pins (its version is the one `versions` shows).
module_of() {
  case $1 in
    istio) echo istio.io/istio ;;
    kubernetes) echo k8s.io/kubernetes ;;
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    containerd) echo github.com/containerd/containerd/v2 ;;
    coredns) echo github.com/coredns/coredns ;;
    registry) echo github.com/distribution/distribution/v3 ;;
    metrics-server) echo sigs.k8s.io/metrics-server ;;
    prometheus) echo github.com/prometheus/prometheus ;;
    jaeger) echo github.com/jaegertracing/jaeger ;;
  esac
}

log() { echo "k8s-tools: $*" >&2; }

partial=""
trap '[ -z "$partial" ] || rm -rf "$partial"' EXIT
export GOWORK=off CGO_ENABLED=0

cache_root() { echo "${THEATER_CACHE_DIR:-$HOME/.cache/theater-msa}/k8s-tools"; }

sha() { sha256sum | cut -c1-16; }

# The cache key of a component: its go.mod and go.sum, its binaries and their
# packages (so adding a binary rebuilds the component rather than finding an old
# folder without it), its own part of the build recipe below (its branch of
# ldflags_of, its build tags, build_component; so a change of its flags rebuilds it
# and a new component rebuilds no other) and the machine architecture.
component_hash() {
  local dir=$root/tools/$1 bin
  {
    cat "$dir/go.mod" "$dir/go.sum"
    for bin in $(binaries_of "$1"); do echo "binary $bin $(package_of "$bin")"; done
    awk -v branch="    $1)" '
      /^ldflags_of\(\) \{/ { inside = 1 }
      inside && /^}/ { inside = 0 }
      inside && index($0, branch) == 1 { own = 1 }
      inside && (own || /local flags=/) { print }
      own && /;;[[:space:]]*$/ { own = 0 }' "${BASH_SOURCE[0]}"
    echo "tags $(tags_of "$1")"
    sed -n '/^build_component() {/,/^}/p' "${BASH_SOURCE[0]}"
    uname -m
  } | sha
}

# Each component's cache folder, hashed once per run in this shell (hash_components);
# hashing it again for every binary made a warm `path` take seconds.
declare -A component_dirs=()
hash_components() {
  local component
  for component in "${COMPONENTS[@]}"; do
    component_dirs[$component]="$(cache_root)/$component-$(component_hash "$component")"
  done
}
component_dir() { echo "${component_dirs[$1]:-$(cache_root)/$1-$(component_hash "$1")}"; }

# The -X flags that make each binary report its real version (the upstream builds
# set them from git; here they come from the pinned module versions).
ldflags_of() {
  local flags="-s -w"
  case $1 in
    kubernetes)
      local version date major minor pkg
      version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
      date=$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
      major=${version#v}; major=${major%%.*}
      minor=${version#v*.}; minor=${minor%%.*}
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$date"
      done
      ;;
    istio)
      # Istio serves pseudo-versions only; its VERSION file names the release line
      # (istio's Makefile appends -dev), the pseudo-version names the commit.
      local version dir
      version=$(go list -m -f '{{.Version}}' istio.io/istio)
      go mod download istio.io/istio
      dir=$(go list -m -f '{{.Dir}}' istio.io/istio)
      flags+=" -X istio.io/istio/pkg/version.buildVersion=$(tr -d '[:space:]' <"$dir/VERSION")-dev"
      flags+=" -X istio.io/istio/pkg/version.buildGitRevision=${version##*-}"
      flags+=" -X istio.io/istio/pkg/version.buildTag=$version"
      flags+=" -X istio.io/istio/pkg/version.buildStatus=Clean"
      flags+=" -X istio.io/istio/pkg/version.buildOS=$(go env GOOS)"
      flags+=" -X istio.io/istio/pkg/version.buildArch=$(go env GOARCH)"
      ;;
    containerd)
      # As containerd's Makefile (VERSION is `git describe`, v2.4.2 at the tag).
      # Revision (the git commit) stays empty: the proxy serves no commit for a tag.
      local pkg=github.com/containerd/containerd/v2
      flags+=" -X $pkg/version.Version=$(go list -m -f '{{.Version}}' $pkg)"
      flags+=" -X $pkg/version.Package=$pkg"
      ;;
    coredns)
      # As CoreDNS's Makefile: GitCommit is `git describe --dirty --always`, which at
      # the tag is the tag. The version itself is a constant in coremain.
      flags+=" -X github.com/coredns/coredns/coremain.GitCommit=$(go list -m -f '{{.Version}}' github.com/coredns/coredns)"
      ;;
    registry)
      # As distribution's Makefile (VERSION is `git describe`); revision stays empty.
      local pkg=github.com/distribution/distribution/v3
      flags+=" -X $pkg/version.version=$(go list -m -f '{{.Version}}' $pkg)"
      flags+=" -X $pkg/version.mainpkg=$pkg"
      ;;
    metrics-server)
      # As metrics-server's Makefile: client-go's version package, the tag and date.
      local pkg=k8s.io/client-go/pkg/version version date
      version=$(go list -m -f '{{.Version}}' sigs.k8s.io/metrics-server)
      date=$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' sigs.k8s.io/metrics-server)
      flags+=" -X $pkg.gitVersion=$version -X $pkg.gitTreeState=archive -X $pkg.buildDate=$date"
      ;;
    prometheus)
      # As Prometheus's .promu.yml: the release is its VERSION file (the module
      # v0.316.0 is Prometheus 3.16.0); Revision (a git commit) stays empty.
      local pkg=github.com/prometheus/common/version dir date
      go mod download github.com/prometheus/prometheus
      dir=$(go list -m -f '{{.Dir}}' github.com/prometheus/prometheus)
      date=$(go list -m -f '{{.Time.UTC.Format "20060102-15:04:05"}}' github.com/prometheus/prometheus)
      flags+=" -X $pkg.Version=$(tr -d '[:space:]' <"$dir/VERSION") -X $pkg.Branch=HEAD -X $pkg.BuildDate=$date"
      ;;
    jaeger)
      # As Jaeger's BuildInfo.mk: latestVersion and date (commitSHA stays empty).
      local pkg=github.com/jaegertracing/jaeger/internal/version version date
      version=$(go list -m -f '{{.Version}}' github.com/jaegertracing/jaeger)
      date=$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' github.com/jaegertracing/jaeger)
      flags+=" -X $pkg.latestVersion=$version -X $pkg.date=$date"
      ;;
  esac
  echo "$flags"
}

# Go build tags per component. Prometheus: of its service discoveries only
# Kubernetes' (its plugins/ files honour these tags), which keeps out the cloud SDKs.
tags_of() {
  case $1 in
    prometheus) echo remove_all_sd,enable_kubernetes_sd ;;
  esac
  return 0
}

# Builds every binary of a component into $2. The binaries go to a .partial folder
# first (removed by the EXIT trap if anything fails), renamed when all are built, so
# a half-built folder is never taken for a cached one.
build_component() {
  local component=$1 dest=$2 bin started seconds ldflags tags
  partial=$(mktemp -d "$dest.partial.XXXXXX")
  chmod 755 "$partial"
  cd "$root/tools/$component"
  ldflags=$(ldflags_of "$component")
  tags=$(tags_of "$component")
  for bin in $(binaries_of "$component"); do
    log "building $bin ($(package_of "$bin"))"
    started=$(date +%s)
    go build -mod=readonly -trimpath -tags="$tags" -ldflags="$ldflags" -o "$partial/$bin" "$(package_of "$bin")"
    seconds=$(($(date +%s) - started))
    log "built $bin in ${seconds}s ($(du -m "$partial/$bin" | cut -f1) MiB)"
    echo "$bin ${seconds}s $(go version)" >>"$partial/BUILD-TIMES"
  done
  go list -m "$(module_of "$component")" >"$partial/PINS"
  cd "$root"
  rm -rf "$dest"
  mv "$partial" "$dest"
  partial=""
}

# Prints where BINARY comes from: the --from folder, KUBEBUILDER_ASSETS, or the cache
# (empty when it still has to be built).
source_of() {
  local bin=$1
  if [ -n "$from" ] && [ -x "$from/$bin" ]; then
    echo "$from/$bin"
  elif [ -n "${KUBEBUILDER_ASSETS:-}" ] && [[ $bin == kube-apiserver || $bin == etcd ]] && [ -x "$KUBEBUILDER_ASSETS/$bin" ]; then
    echo "$KUBEBUILDER_ASSETS/$bin"
  elif [ -x "$(component_dir "$(component_of "$bin")")/$bin" ]; then
    echo "$(component_dir "$(component_of "$bin")")/$bin"
  fi
}

# Builds the components that still miss a binary nobody else provides.
ensure_built() {
  local component bin needed
  for component in "${COMPONENTS[@]}"; do
    needed=0
    for bin in $(binaries_of "$component"); do
      [ -n "$(source_of "$bin")" ] || needed=1
    done
    [ "$needed" -eq 1 ] || continue
    command -v go >/dev/null || die "go is not installed; it builds $component (or give --from DIR)"
    mkdir -p "$(cache_root)"
    # One build at a time per machine: a second caller waits, then finds the result.
    exec 9>"$(cache_root)/.lock"
    flock 9
    if [ ! -d "$(component_dir "$component")" ]; then
      log "building $component into $(component_dir "$component") (tens of minutes when Go's caches are cold)"
      build_component "$component" "$(component_dir "$component")"
    fi
    exec 9>&-
  done
}

# Prints the one folder holding all the binaries: --from itself when it has them
# all, else a folder of symlinks named after the sources it points to.
tools_dir() {
  local bin sources="" src
  if [ -n "$from" ]; then
    local complete=1
    for bin in "${BINARIES[@]}"; do [ -x "$from/$bin" ] || complete=0; done
    [ "$complete" -eq 1 ] && { echo "$from"; return; }
  fi
  for bin in "${BINARIES[@]}"; do
    src=$(source_of "$bin")
    [ -n "$src" ] || die "no $bin after the build"
    sources+="$bin=$src"$'\n'
  done
  local dir
  dir="$(cache_root)/bin-$(printf '%s' "$sources" | sha)"
  if [ ! -d "$dir" ]; then
    local tmp
    tmp=$(mktemp -d "$dir.partial.XXXXXX")
    chmod 755 "$tmp"
    while IFS='=' read -r bin src; do
      [ -n "$bin" ] && ln -s "$src" "$tmp/$bin"
    done <<<"$sources"
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another caller made it first
  fi
  echo "$dir"
}

version_of() {
  case $1 in
    istioctl) "$2" version --remote=false 2>/dev/null | head -1 ;;
    pilot-discovery | pilot-agent) echo "$1 $("$2" version -s 2>/dev/null)" ;;
    etcd) "$2" --version | head -1 ;;
    # "containerd github.com/containerd/containerd/v2 v2.4.2", "/path/to/registry
    # github.com/distribution/distribution/v3 v3.1.2": the name and the version
    containerd | ctr | registry) echo "$1 $("$2" --version | awk '{print $NF; exit}')" ;;
    containerd-shim-runc-v2) echo "$1 $("$2" -v | awk '$1 == "Version:" {print $2}')" ;;
    coredns) "$2" -version | head -1 ;;
    # "prometheus, version 3.16.0 (branch: HEAD, revision: )"
    prometheus) "$2" --version | awk 'NR == 1 {sub(",", "", $1); print $1, $3}' ;;
    jaeger) echo "jaeger $("$2" version 2>/dev/null | sed -n 's/.*"gitVersion":"\([^"]*\)".*/\1/p')" ;;
    *) "$2" --version 2>&1 | head -1 ;;
  esac
}

versions() {
  local dir bin component module
  dir=$(tools_dir)
  for bin in "${BINARIES[@]}"; do
    printf '%-24s %-31s %4s MiB  %s\n' "$bin" "$(version_of "$bin" "$dir/$bin")" \
      "$(du -mL "$dir/$bin" | cut -f1)" "$(readlink -f "$dir/$bin")"
  done
  echo "pins (tools/*/go.mod):"
  for component in "${COMPONENTS[@]}"; do
    module=$(module_of "$component")
    grep -hE "^\s*(require )?${module//./\\.} v" "$root/tools/$component/go.mod" |
      sed -E "s#^\s*(require )?#  $(printf '%-22s' "tools/$component")#; s#\s*// indirect##"
  done
}

prune() {
  local keep=() component entry
  for component in "${COMPONENTS[@]}"; do keep+=("$(component_dir "$component")"); done
  [ -d "$(cache_root)" ] || return 0
  for entry in "$(cache_root)"/*; do
    [ -e "$entry" ] || continue
    if [[ " ${keep[*]} " != *" $entry "* ]]; then
      log "removing $entry"
      rm -rf "$entry"
    fi
  done
}

command=""
from=${THEATER_K8S_TOOLS_DIR:-}
while [ $# -gt 0 ]; do
  case "$1" in
    path | build | versions | prune)
      [ -z "$command" ] || usage_error "one command at a time"
      command=$1
      shift
      ;;
    --from) from=${2:?--from needs a folder}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
[ -n "$command" ] || usage_error "give a command: path, build, versions or prune"
if [ -n "$from" ]; then
  [ -d "$from" ] || usage_error "--from $from is not a folder"
  from=$(cd "$from" && pwd)
fi

hash_components
case "$command" in
  path) ensure_built; tools_dir ;;
  build) ensure_built ;;
  versions) ensure_built; versions ;;
  prune) prune ;;
esac

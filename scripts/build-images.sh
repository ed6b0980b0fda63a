#!/usr/bin/env bash
# Builds the one image of every role from the Containerfile and pushes it to
# harbor.$DOMAIN/theater-msa/theater:<tag>, with docker (if its daemon answers) or podman.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/build-images.sh [DOMAIN] [options]
       scripts/build-images.sh --registry REGISTRY/PROJECT [options]

Builds the one image of every role (theater) from the Containerfile and pushes
  harbor.DOMAIN/theater-msa/theater:<tag>   (or REGISTRY/PROJECT/theater:<tag>)

  DOMAIN               the class domain, as the guide runs it (e.g. 10.0.0.5.nip.io);
                       or env DOMAIN
Options:
  --domain DOMAIN      the same, as a flag
  --registry PATH      registry and project instead of harbor.DOMAIN/theater-msa
  --tag TAG            image tag                          (default: git short sha)
  --platform LIST      e.g. linux/amd64,linux/arm64: a multi-arch manifest
  --engine NAME        docker or podman                   (default: detected)
  --no-push            build only
  --binary PATH        use this static theater binary (cargo build --release with
                       crt-static, see docs/lab.md): the Containerfile's compile stage is
                       replaced by scripts/image-rootfs.sh output, so no base image is
                       pulled (podman only); or env THEATER_IMAGE_BINARY
  --push-to HOST:PORT  push over plain http to this address instead of the image
                       name's registry (the name stays harbor.DOMAIN/...): the mesh lab's
                       registry as the host reaches it; or env THEATER_PUSH_TO
  --set-image          afterwards point every Deployment at it
                       (scripts/update-deployment-images.sh)
  -h, --help           this text

A registry with a private CA (Harbor on nip.io): see docs/cluster.md, "3. Build and push
the image".
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh

domain=${DOMAIN:-} registry="" tag="" platform="" engine="" push=1 set_image=0
binary=${THEATER_IMAGE_BINARY:-} push_to=${THEATER_PUSH_TO:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:?--domain needs a value}; shift 2 ;;
    --registry) registry=${2:?--registry needs a value}; shift 2 ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --platform) platform=${2:?--platform needs a value}; shift 2 ;;
    --engine) engine=${2:?--engine needs a value}; shift 2 ;;
    --no-push) push=0; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --push-to) push_to=${2:?--push-to needs HOST:PORT}; shift 2 ;;
    --set-image) set_image=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown argument $1" ;;
    *) domain=$(class_domain "$1"); shift ;;
  esac
done
image=$(class_image "$domain" "$registry" "$tag")

if [ -z "$engine" ]; then
  # The docker CLI may be installed without a daemon: ask the daemon, not the PATH.
  if docker info >/dev/null 2>&1; then engine=docker
  elif command -v podman >/dev/null; then engine=podman
  else die "neither a running docker daemon nor podman found"
  fi
fi
case "$engine" in docker | podman) ;; *) usage_error "--engine must be docker or podman" ;; esac
context=()
if [ -n "$binary" ]; then
  [ "$engine" = podman ] || usage_error "--binary needs podman (its --build-context replaces the compile stage)"
  [ -z "$platform" ] || usage_error "--binary is one architecture's binary: no --platform"
  [ -x "$binary" ] || die "--binary $binary is not an executable file"
  file "$binary" | grep -Eq "static(ally|-pie) linked" || die "$binary is not statically linked (see --help)"
  stage=$(mktemp -d)
  trap 'exit_after remove_dirs "$stage"' EXIT
  bash scripts/image-rootfs.sh "$stage/out" "$binary"
  context=(--pull=never --build-context "build=$stage")
fi
[ -z "$push_to" ] || [[ $push_to =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || usage_error "--push-to takes HOST:PORT, not '$push_to'"
[ -z "$push_to" ] || [ "$engine" = podman ] || usage_error "--push-to needs podman"

echo "==> $engine: building $image${platform:+ for $platform}"
if [ "$engine" = docker ]; then
  args=(buildx build -f Containerfile -t "$image")
  [ -n "$platform" ] && args+=(--platform "$platform")
  if [ "$push" -eq 1 ]; then args+=(--push); else args+=(--load); fi
  docker "${args[@]}" .
else
  if [ -n "$platform" ]; then
    podman manifest rm "$image" >/dev/null 2>&1 || true
    podman build -f Containerfile --platform "$platform" --manifest "$image" .
    [ "$push" -eq 1 ] && podman manifest push --all "$image" "docker://$image"
  else
    podman build "${context[@]}" -f Containerfile -t "$image" .
    if [ "$push" -eq 1 ] && [ -n "$push_to" ]; then
      podman push --tls-verify=false "$image" "docker://$push_to/${image#*/}"
    elif [ "$push" -eq 1 ]; then
      podman push "$image"
    fi
  fi
fi
[ "$push" -eq 1 ] && echo "==> pushed $image${push_to:+ (to $push_to)}"
[ "$set_image" -eq 1 ] && scripts/update-deployment-images.sh --image "$image"
exit 0

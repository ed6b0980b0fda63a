#!/usr/bin/env bash
# Points every Deployment of both clusters at the one image, through kustomize
# `images:` in manifests/components/image, keeping a backup to restore; then renders
# the guide's folders (manifests/guide, scripts/guide-files.sh) with that image.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/update-deployment-images.sh [DOMAIN] [options]
       scripts/update-deployment-images.sh --restore
       scripts/update-deployment-images.sh --show

Points every Deployment of ctx1 and ctx2 at harbor.DOMAIN/theater-msa/theater:TAG,
the image scripts/build-images.sh DOMAIN pushes (same default tag).

  DOMAIN            the class domain, as the guide runs it; or env DOMAIN
  --domain DOMAIN   the same, as a flag
  --registry PATH   registry and project instead of harbor.DOMAIN/theater-msa
  --tag TAG         image tag                        (default: git short sha)
  --image NAME:TAG  exactly this image instead
  --restore         put back the file as it was before the last change
  --show            print the image the manifests use now
  -h, --help        this text

Edits manifests/components/image/kustomization.yaml (both cluster overlays use it);
the previous version is kept as kustomization.yaml.bak. Then renders the guide's
folders manifests/guide/ctx1 and ctx2 again (scripts/guide-files.sh), with the new
image and, given a DOMAIN, the external host theater.DOMAIN; the previous folders are
kept as manifests/guide/ctx1.bak and ctx2.bak. --restore puts all of them back.
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh
file=manifests/components/image/kustomization.yaml
guide=manifests/guide

domain=${DOMAIN:-} registry="" tag="" image="" action=set
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:?--domain needs a value}; shift 2 ;;
    --registry) registry=${2:?--registry needs a value}; shift 2 ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --image) image=${2:?--image needs a value}; shift 2 ;;
    --restore) action=restore; shift ;;
    --show) action=show; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) domain=$(class_domain "$1"); shift ;;
  esac
done

case "$action" in
  show) manifests_image ;;
  restore)
    [ -f "$file.bak" ] || die "no backup ($file.bak) to restore"
    mv "$file.bak" "$file"
    if [ -d "$guide/ctx1.bak" ] && [ -d "$guide/ctx2.bak" ]; then
      for cluster in ctx1 ctx2; do
        rm -rf "${guide:?}/$cluster"
        mv "$guide/$cluster.bak" "$guide/$cluster"
      done
    else
      # A backup from before the folders were kept: render them from the restored file.
      rm -rf "${guide:?}/ctx1.bak" "${guide:?}/ctx2.bak"
      scripts/guide-files.sh >/dev/null
    fi
    echo "restored: $(manifests_image)"
    ;;
  set)
    [ -n "$image" ] || image=$(class_image "$domain" "$registry" "$tag")
    check_image "$image" --image
    cp "$file" "$file.bak"
    sed -i -e "s|^\(\s*newName:\).*|\1 ${image%:*}|" -e "s|^\(\s*newTag:\).*|\1 ${image##*:}|" "$file"
    for cluster in ctx1 ctx2; do
      rm -rf "${guide:?}/$cluster.bak"
      cp -a "$guide/$cluster" "$guide/$cluster.bak"
    done
    scripts/guide-files.sh ${domain:+--domain "$domain"} >/dev/null
    echo "every Deployment of ctx1 and ctx2 now uses $image (backup: $file.bak; undo with --restore)"
    echo "apply with: scripts/deploy.sh --domain ${domain:-DOMAIN}"
    echo "or as the guide does: cd $guide/ctx1 (then $guide/ctx2), kubectl apply -f NAME.yaml or -k ."
    ;;
esac

#!/usr/bin/env bash
# Points every Deployment at one image through kustomize `images:` (in
# manifests/components/image), keeping a backup to restore.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/set-image.sh IMAGE:TAG     e.g. harbor.10.0.0.5.nip.io/theater-msa/theater:3f2a9c1
       scripts/set-image.sh --restore     put back the file as it was before the last change
       scripts/set-image.sh --show        print the image the manifests use now

Edits manifests/components/image/kustomization.yaml (both cluster overlays use it);
the previous version is kept as kustomization.yaml.bak.
TXT
}

cd "$(dirname "$0")/.."
source scripts/lib.sh
file=manifests/components/image/kustomization.yaml

[ $# -eq 1 ] || usage_error "expected one argument"
case "$1" in
  -h | --help) usage; exit 0 ;;
  --show)
    awk '/newName:/ {n=$2} /newTag:/ {t=$2} END {print n ":" t}' "$file"
    ;;
  --restore)
    [ -f "$file.bak" ] || die "no backup ($file.bak) to restore"
    mv "$file.bak" "$file"
    echo "restored: $(awk '/newName:/ {n=$2} /newTag:/ {t=$2} END {print n ":" t}' "$file")"
    ;;
  -*) usage_error "unknown option $1" ;;
  *)
    image=$1
    [[ "$image" =~ ^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ ]] ||
      usage_error "'$image' is not NAME:TAG (e.g. harbor.example.com/theater-msa/theater:v1)"
    name=${image%:*}
    tag=${image##*:}
    cp "$file" "$file.bak"
    sed -i -e "s|^\(\s*newName:\).*|\1 $name|" -e "s|^\(\s*newTag:\).*|\1 $tag|" "$file"
    echo "manifests now use $name:$tag (backup: $file.bak; undo with --restore)"
    ;;
esac

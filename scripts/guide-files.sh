#!/usr/bin/env bash
# Writes manifests/guide/ctx1 and manifests/guide/ctx2: each cluster's rendering
# (render_cluster, the objects scripts/deploy.sh applies) split into the files the
# guide's section 3 applies by name, plus a kustomization.yaml listing them, so the
# guide's `kubectl apply -f NAME.yaml` and `kubectl apply -k .` work as written.
# tests/ops/manifests.test.mjs fails when the committed folders differ from a fresh render.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/guide-files.sh [--domain DOMAIN] [--redis-image NAME:TAG] [--out DIR]

Renders the guide's per-cluster folders from manifests/ (never edit them by hand):
manifests/guide/ctx1 (namespace.yaml, rbac.yaml, ui-configmap.yaml, redis.yaml, the
three *-service-multicloud.yaml, api-gateway.yaml, istio-destinationrules.yaml,
istio-virtualservices.yaml, istio-virtualservice.yaml, kustomization.yaml) and
manifests/guide/ctx2 (namespace.yaml, redis.yaml, the three *-service-multicloud.yaml,
istio-destinationrules.yaml, istio-virtualservices.yaml, kustomization.yaml).

  --domain DOMAIN         external host theater.DOMAIN (a :PORT is dropped), instead
                          of the overlay's theater.example.com
  --redis-image NAME:TAG  Redis from this image instead of redis:7.4-alpine
  --out DIR               write DIR/ctx1 and DIR/ctx2 instead (the drift test's copy)
  -h, --help              this text

The app's image is the one the manifests name (manifests/components/image);
scripts/update-deployment-images.sh changes it and runs this script. The committed
folders are rendered with no option: the default image and theater.example.com.
TXT
}

caller=$PWD
cd "$(dirname "$0")/.."
source scripts/lib.sh

domain="" out=manifests/guide images=() options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --domain)
      domain=$(class_domain "${2:?--domain needs a value}"); domain=${domain%:*}
      options+=(--domain "$domain"); shift 2 ;;
    --redis-image)
      check_image "${2:?--redis-image needs a value}" --redis-image
      images+=("redis=$2"); options+=(--redis-image "$2"); shift 2 ;;
    --out) out=${2:?--out needs a value}; [[ $out == /* ]] || out=$caller/$out; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
command -v kubectl >/dev/null || die "kubectl is not installed"

rendered=$(mktemp -d)
trap 'exit_after remove_dirs "$rendered"' EXIT
for cluster in ctx1 ctx2; do
  render_cluster "$cluster" "$domain" "${images[@]}" >"$rendered/$cluster.yaml"
  mkdir -p "$out/$cluster"
  python3 - "$rendered/$cluster.yaml" "$out/$cluster" "$cluster" "scripts/guide-files.sh${options[*]:+ ${options[*]}}" <<'PY'
import pathlib, sys

# Which guide file each object goes to. The guide's names are the contract (its
# section 3 applies them in this order); what each holds is ours. An object no rule
# places stops the render, so a new kind in the manifests gets a deliberate home.
rendering, folder, cluster, command = sys.argv[1:]
FILES = {
    "ctx1": ["namespace.yaml", "rbac.yaml", "ui-configmap.yaml", "redis.yaml",
             "user-service-multicloud.yaml", "movie-service-multicloud.yaml",
             "booking-service-multicloud.yaml", "api-gateway.yaml",
             "istio-destinationrules.yaml", "istio-virtualservices.yaml",
             "istio-virtualservice.yaml"],
    "ctx2": ["namespace.yaml", "redis.yaml",
             "user-service-multicloud.yaml", "movie-service-multicloud.yaml",
             "booking-service-multicloud.yaml",
             "istio-destinationrules.yaml", "istio-virtualservices.yaml"],
}[cluster]
WHAT = {
    "namespace.yaml": "the namespace theater-msa (istio-injection=enabled)",
    "rbac.yaml": "the gateway's ServiceAccount and its read-only Role and RoleBinding",
    "ui-configmap.yaml": "the page's ConfigMap api-gateway-ui (scripts/ui-configmap.sh)",
    "redis.yaml": "Redis: its ServiceAccount, Service and Deployment (one Redis, in ctx1)",
    "api-gateway.yaml": "the gateway's Service and Deployment",
    "istio-destinationrules.yaml": "the DestinationRules <service>-dr (subsets ctx1, ctx2)",
    "istio-virtualservices.yaml": "the mesh-internal VirtualServices <service>-vs (the splits)",
    "istio-virtualservice.yaml": "the external VirtualService: theater.DOMAIN through istio-system/cp-gateway",
}
if cluster == "ctx2":
    WHAT["namespace.yaml"] += ", and the gateway's ServiceAccount (every role has its identity in both clusters)"
    WHAT["redis.yaml"] = "Redis's ServiceAccount and Service only: the one Redis runs in ctx1, the Service makes its name resolve here"
BACKENDS = ("user-service", "movie-service", "booking-service")


def metadata(doc):
    """kind, name, namespace and labels.app of one document of kustomize's output."""
    kind = name = namespace = app = None
    inside = labels = False
    for line in doc.splitlines():
        if not line.startswith(" "):
            inside = line == "metadata:"
            kind = line[len("kind: "):] if line.startswith("kind: ") else kind
            continue
        if not inside:
            continue
        labels = line == "  labels:" or (labels and line.startswith("    "))
        if line.startswith("  name: "):
            name = line[len("  name: "):]
        elif line.startswith("  namespace: "):
            namespace = line[len("  namespace: "):]
        elif labels and line.startswith("    app: "):
            app = line[len("    app: "):]
    return kind, name, namespace, app or name


def file_of(kind, name, namespace, app):
    if kind == "Namespace":
        return "namespace.yaml"
    if kind == "VirtualService":
        return "istio-virtualservice.yaml" if namespace == "istio-system" else "istio-virtualservices.yaml"
    if kind == "DestinationRule":
        return "istio-destinationrules.yaml"
    if kind == "ConfigMap" and name == "api-gateway-ui":
        return "ui-configmap.yaml"
    if kind in ("Role", "RoleBinding"):
        return "rbac.yaml"
    if kind == "ServiceAccount" and app == "api-gateway":
        return "rbac.yaml" if "rbac.yaml" in FILES else "namespace.yaml"
    if kind in ("ServiceAccount", "Service", "Deployment"):
        if app in BACKENDS:
            return f"{app}-multicloud.yaml"
        if app in ("redis", "api-gateway"):
            return f"{app}.yaml"
    return None


text = pathlib.Path(rendering).read_text(encoding="utf-8")
docs = [d if d.endswith("\n") else d + "\n" for d in text.split("\n---\n") if d.strip()]
placed = {f: [] for f in FILES}
for doc in docs:
    meta = metadata(doc)
    target = file_of(*meta)
    if target not in placed:
        sys.exit(f"{cluster}: no guide file for {meta[0]}/{meta[1]} (namespace {meta[2]}): "
                 "give it one in scripts/guide-files.sh")
    placed[target].append(doc)

out = pathlib.Path(folder)
for stale in out.glob("*.yaml"):
    stale.unlink()
header = [
    f"# Generated by {command} from manifests/clusters/{cluster}:",
    "# do not edit; edit manifests/ and run the script (update-deployment-images.sh runs it).",
]
for name in FILES:
    if not placed[name]:
        sys.exit(f"{cluster}: {name} would be empty (kubectl apply -f would refuse it)")
    lines = header + [f"# {name} ({cluster}): {WHAT.get(name, name[:-len('-multicloud.yaml')] + ': its ServiceAccount, Service and Deployment')}."]
    (out / name).write_text("\n".join(lines) + "\n" + "---\n".join(placed[name]), encoding="utf-8")
kustomization = header + [
    f"# kubectl config use-context {cluster} && kubectl apply -k .  (the same objects as the files one by one)",
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    "resources:",
] + [f"  - {name}" for name in FILES]
(out / "kustomization.yaml").write_text("\n".join(kustomization) + "\n", encoding="utf-8")
print(f"wrote {folder} ({len(FILES) + 1} files, {len(docs)} objects)")
PY
done

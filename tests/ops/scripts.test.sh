#!/usr/bin/env bash
# The operator scripts against a fake kubectl on PATH: --help and argument errors,
# the prerequisite checks, and the real kubectl calls in their order.
# The conditions given to expect_calls() are strings it evaluates after each run:
# shellcheck disable=SC2016,SC2034
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/lib.sh

REAL_KUBECTL=$(command -v kubectl)
export REAL_KUBECTL
work=$(mktemp -d)
image_file=manifests/components/image/kustomization.yaml
cp "$image_file" "$work/image-backup.yaml"
guide=manifests/guide
cp -a "$guide" "$work/guide-backup"
cleanup() {
  cp "$work/image-backup.yaml" "$image_file"
  rm -f "$image_file.bak"
  rm -rf "${guide:?}" && cp -a "$work/guide-backup" "$guide"
  stop_app
  remove_dirs "$work"
}
trap 'exit_after cleanup' EXIT
export PATH="$PWD/tests/ops/fake-bin:$PATH"

source tests/checks.sh
# Each run starts with a fresh fake kubectl log.
before_run() {
  export FAKE_KUBECTL_LOG="$work/kubectl.log"
  rm -f "$FAKE_KUBECTL_LOG" "$FAKE_KUBECTL_LOG".applied.*
  touch "$FAKE_KUBECTL_LOG"
}
# The fake kubectl calls, without the kustomize ones.
calls() { grep -v '^kustomize' "$work/kubectl.log" || true; }
# expect_calls NAME CONDITION: expect, showing the kubectl calls when it fails.
expect_calls() { expect "$1" "$2" "$(calls)"; }

for script in build-images update-deployment-images deploy verify scenario cleanup traffic bench test mesh-lab ui-configmap guide-files; do
  run "$script.sh --help" 0 "scripts/$script.sh" --help
  expect_calls "$script.sh --help prints usage" 'grep -q "^Usage:" <<<"$out"'
done
for script in build-images update-deployment-images deploy verify cleanup traffic bench test mesh-lab ui-configmap guide-files; do
  run "$script.sh rejects an unknown argument with 64" 64 "scripts/$script.sh" --bogus
done
run "scenario.sh rejects an unknown option" 64 scripts/scenario.sh --bogus
run "bench.sh rejects a count of 0 requests for --instructions" 64 scripts/bench.sh --instructions 0
run "bench.sh rejects a count of 0 requests for --with-instructions" 64 scripts/bench.sh --with-instructions 0
run "bench.sh rejects --instructions with --with-instructions" 64 scripts/bench.sh --instructions 5 --with-instructions 5
run "bench.sh rejects --phases without --instructions" 64 scripts/bench.sh --phases
run "mesh-lab.sh rejects an unknown option of up" 64 scripts/mesh-lab.sh up --bogus
MESH_LAB_DIR=$work/no-lab run "mesh-lab.sh apply needs a running lab" 1 scripts/mesh-lab.sh apply manifests/rules
run "update-deployment-images.sh rejects an image without a tag" 64 scripts/update-deployment-images.sh --image harbor.example.com/theater
run "update-deployment-images.sh rejects an image name where the domain goes" 64 scripts/update-deployment-images.sh harbor.example.com/theater:v1
expect_calls "update-deployment-images: says to use --image" 'grep -q -- "--image" <<<"$out"'
run "guide-files.sh rejects a Redis image without a tag" 64 scripts/guide-files.sh --redis-image redis --out "$work/guide-bad"
run "guide-files.sh rejects an image name where the domain goes" 64 scripts/guide-files.sh --domain harbor.example.com/theater:v1 --out "$work/guide-bad"
run "build-images.sh needs a domain or a registry" 64 env -u DOMAIN scripts/build-images.sh --no-push
run "build-images.sh rejects a bad domain" 64 scripts/build-images.sh 'bad domain' --no-push
run "deploy.sh needs a domain" 64 env -u DOMAIN scripts/deploy.sh
run "deploy.sh rejects a bad domain" 64 scripts/deploy.sh --domain 'bad domain'

run "deploy.sh --dry-run renders both clusters" 0 scripts/deploy.sh --dry-run --domain demo.example.org
expect_calls "dry run: the external host carries the domain" 'grep -q "theater.demo.example.org" <<<"$out"'
expect_calls "dry run: both clusters" 'grep -q "^# ---- cluster ctx1" <<<"$out" && grep -q "^# ---- cluster ctx2" <<<"$out"'
expect_calls "dry run: touches no cluster" '[ -z "$(calls)" ]'

run "deploy.sh applies when every prerequisite holds" 0 scripts/deploy.sh --domain demo.example.org
expected_calls="config get-contexts -o name
--context ctx1 get nodes -l cluster-name=ctx1 -o name
--context ctx1 get nodes -l cluster-name=ctx1 -o jsonpath={range .items[*]}{.metadata.labels.topology\\.kubernetes\\.io/region}{\"\\n\"}{end}
--context ctx1 get crd virtualservices.networking.istio.io
--context ctx2 get nodes -l cluster-name=ctx2 -o name
--context ctx2 get nodes -l cluster-name=ctx2 -o jsonpath={range .items[*]}{.metadata.labels.topology\\.kubernetes\\.io/region}{\"\\n\"}{end}
--context ctx2 get crd virtualservices.networking.istio.io
--context ctx1 -n istio-system get gateways.networking.istio.io cp-gateway
--context ctx1 apply -f -
--context ctx2 apply -f -"
expect_calls "deploy: checks first, then applies ctx1, then ctx2" '[ "$(calls | grep -v "auth can-i")" = "$expected_calls" ] && [ "$(calls | grep -n "auth can-i" | tail -1 | cut -d: -f1)" -lt "$(calls | grep -n "apply -f -" | head -1 | cut -d: -f1)" ]'
expect_calls "deploy: asks may I get, create and patch each kind it applies, in its namespace" 'calls | grep -qx -- "--context ctx1 auth can-i create deployment.apps -n theater-msa" && calls | grep -qx -- "--context ctx1 auth can-i patch virtualservice.networking.istio.io -n istio-system" && calls | grep -qx -- "--context ctx2 auth can-i create namespace" && calls | grep -qx -- "--context ctx1 auth can-i get configmap -n theater-msa" && ! calls | grep -q -- "--context ctx2 .*can-i .* configmap"'
expect_calls "deploy: ctx1 gets the gateway, Redis and the external host" 'grep -q "name: api-gateway" "$work/kubectl.log.applied.ctx1" && grep -q "image: redis:" "$work/kubectl.log.applied.ctx1" && grep -q "theater.demo.example.org" "$work/kubectl.log.applied.ctx1"'
expect_calls "deploy: ctx2 gets the backends but no gateway or Redis" 'grep -q "name: user-service$" "$work/kubectl.log.applied.ctx2" && grep -q "name: user-service-vs" "$work/kubectl.log.applied.ctx2" && ! grep -q "image: redis:" "$work/kubectl.log.applied.ctx2" && ! grep -q "kind: Role$" "$work/kubectl.log.applied.ctx2"'

# The prerequisite failures (context, labels, Istio, cp-gateway, permissions) are
# tested against real API servers in tests/k8s/app.test.sh.

run "cleanup.sh cleans the current context" 0 scripts/cleanup.sh
expect_calls "cleanup: external VirtualService and namespace of ctx1 only" '[ "$(calls)" = "config current-context
--context ctx1 -n istio-system delete virtualservice theater-msa --ignore-not-found
--context ctx1 delete namespace theater-msa --ignore-not-found" ]'
run "cleanup.sh --all cleans both clusters" 0 scripts/cleanup.sh --all
expect_calls "cleanup --all: ctx1 then ctx2" '[ "$(calls | grep -c delete)" = 4 ] && calls | tail -1 | grep -q "context ctx2 delete namespace"'

run "scenario.sh list names every scenario" 0 scripts/scenario.sh list
expect_calls "scenario list: one line per scenario folder" '[ "$(wc -l <<<"$out")" = "$(find manifests/scenarios -mindepth 1 -maxdepth 1 -type d | wc -l)" ] && [ "$(wc -l <<<"$out")" -ge 13 ] && grep -q "^delay-fault " <<<"$out"'
run "scenario.sh delay-fault applies to both clusters" 0 scripts/scenario.sh delay-fault
expect_calls "scenario: ctx1 then ctx2, with the delay" '[ "$(calls)" = "--context ctx1 apply -f -
--context ctx2 apply -f -" ] && grep -q "fixedDelay: 3s" "$work/kubectl.log.applied.ctx2"'
run "scenario.sh reset restores the base rules" 0 scripts/scenario.sh reset
expect_calls "reset: base rules applied, scenario policies deleted" 'grep -c "apply -f -" <<<"$(calls)" | grep -qx 2 && calls | grep -q "delete peerauthentication,authorizationpolicy -l theater-msa/scenario --ignore-not-found" && ! grep -q fixedDelay "$work/kubectl.log.applied.ctx1"'
run "scenario.sh refuses an unknown scenario" 64 scripts/scenario.sh no-such-thing
expect_calls "unknown scenario: lists the real ones" 'grep -q "circuit-breaker" <<<"$out"'

run "update-deployment-images.sh DOMAIN, as the guide runs it" 0 scripts/update-deployment-images.sh class.example.org --tag v9
expect_calls "update-deployment-images: every Deployment of both clusters gets harbor.DOMAIN/theater-msa/theater" '[ "$(kubectl kustomize manifests/clusters/ctx2 | grep -c "image: harbor.class.example.org/theater-msa/theater:v9")" = 3 ] && [ "$(kubectl kustomize manifests/clusters/ctx1 | grep -c "image: harbor.class.example.org/theater-msa/theater:v9")" = 4 ]'
# The guide's folders follow: every Deployment in them runs the new image, the external
# VirtualService answers theater.DOMAIN, and each folder is still a whole rendering.
guide_images() { grep -ho "image: .*" "$guide/$1"/*.yaml | sort | uniq -c | tr -s ' ' | sed 's/^ //'; }
expect_calls "update-deployment-images: the guide's folders carry the new image" '[ "$(guide_images ctx1)" = "4 image: harbor.class.example.org/theater-msa/theater:v9
1 image: redis:7.4-alpine" ] && [ "$(guide_images ctx2)" = "3 image: harbor.class.example.org/theater-msa/theater:v9" ]'
expect_calls "update-deployment-images: ctx1's istio-virtualservice.yaml answers theater.class.example.org" 'grep -qx "  - theater.class.example.org" "$guide/ctx1/istio-virtualservice.yaml"'
expect_calls "update-deployment-images: kubectl kustomize of each folder equals its cluster's rendering" '[ "$(kubectl kustomize "$guide/ctx1")" = "$(render_cluster ctx1 class.example.org)" ] && [ "$(kubectl kustomize "$guide/ctx2")" = "$(render_cluster ctx2)" ]'
expect_calls "update-deployment-images: its output is as before, plus where the guide's folders are" '[ "$(head -2 <<<"$out")" = "every Deployment of ctx1 and ctx2 now uses harbor.class.example.org/theater-msa/theater:v9 (backup: $image_file.bak; undo with --restore)
apply with: scripts/deploy.sh --domain class.example.org" ] && grep -q "cd manifests/guide/ctx1" <<<"$out"'
run "update-deployment-images.sh --restore puts the old file back" 0 scripts/update-deployment-images.sh --restore
expect_calls "update-deployment-images: restored byte for byte" 'cmp -s "$image_file" "$work/image-backup.yaml"'
expect_calls "update-deployment-images --restore: the guide's folders too, no backup left" 'diff -r "$guide" "$work/guide-backup" && [ ! -e "$guide/ctx1.bak" ] && [ ! -e "$guide/ctx2.bak" ]'
run "update-deployment-images.sh --image sets exactly that image" 0 scripts/update-deployment-images.sh --image registry.example.org/class/theater:v10
expect_calls "update-deployment-images --image: rendered" '[ "$(scripts/update-deployment-images.sh --show)" = registry.example.org/class/theater:v10 ]'
expect_calls "update-deployment-images --image: the guide's folders too, the host left as it was" '[ "$(guide_images ctx2)" = "3 image: registry.example.org/class/theater:v10" ] && grep -qx "  - theater.example.com" "$guide/ctx1/istio-virtualservice.yaml"'
scripts/update-deployment-images.sh --restore >/dev/null
expect_calls "update-deployment-images --restore after --image: the guide's folders as committed" 'diff -r "$guide" "$work/guide-backup"'
scripts/update-deployment-images.sh class.example.org --tag v11 >/dev/null
rm -rf "$guide/ctx1.bak" "$guide/ctx2.bak"
run "update-deployment-images.sh --restore with no backup of the folders (an older run's)" 0 scripts/update-deployment-images.sh --restore
expect_calls "update-deployment-images --restore: renders the folders from the restored file instead" 'diff -r "$guide" "$work/guide-backup"'

# verify.sh against the fake cluster and a real app whose pods all say ctx2: every
# cluster check passes, the canary checks pass, and each 70/30-style split must fail.
start_app "$(theater_binary)" "$work/app.log" --cluster ctx2
run "verify.sh reports the wrong split and nothing else" 3 scripts/verify.sh --url "http://127.0.0.1:$APP_PORT" --requests 20
expect_calls "verify: cluster checks pass" '[ "$(grep -c "^✔" <<<"$out")" -ge 30 ] && grep -q "✔ the gateway answers" <<<"$out"'
expect_calls "verify: the three splits fail, the canary routes pass" '[ "$(grep -c "^✘ .*observed split" <<<"$out")" = 3 ] && [ "$(grep -c "^✔ .*x-canary: true goes to ctx2" <<<"$out")" = 3 ]'
expect_calls "verify: a failure says what to run" 'grep -q "investigate: scripts/traffic.sh" <<<"$out"'

echo "scripts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

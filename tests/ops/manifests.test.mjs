// node --test: the rendered manifests against the schemas and the design's invariants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { render, schemaViolations, clusterViolations, ruleViolations, guideViolations } from "./check.mjs";

const ctx1 = render("clusters/ctx1");
const ctx2 = render("clusters/ctx2");
const base = render("rules");
const scenarioDir = join(dirname(fileURLToPath(import.meta.url)), "../../manifests/scenarios");
const scenarios = Object.fromEntries(readdirSync(scenarioDir).map((name) => [name, render(`scenarios/${name}`)]));
const names = (list) => list.map((v) => v.invariant);
const clone = (x) => structuredClone(x);
const byName = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);

test("every rendered object matches its Kubernetes or Istio schema", () => {
  const found = [...schemaViolations(ctx1, "ctx1"), ...schemaViolations(ctx2, "ctx2"),
    ...Object.entries(scenarios).flatMap(([name, objs]) => schemaViolations(objs, name))];
  assert.deepEqual(found, []);
});

test("ctx1 meets every invariant", () => assert.deepEqual(clusterViolations(ctx1, "ctx1", ctx2), []));
test("ctx2 meets every invariant", () => assert.deepEqual(clusterViolations(ctx2, "ctx2", ctx1), []));

test("Services and rules are identical in both clusters", () => {
  const shared = (objs) => JSON.stringify(objs.filter((o) => ["Service", "DestinationRule", "VirtualService"].includes(o.kind)
    && !["api-gateway"].includes(o.metadata.name) && o.metadata.namespace === "theater-msa"));
  assert.equal(shared(ctx1), shared(ctx2));
});

test("each scenario replaces the base rules by name and keeps them consistent", () => {
  const ruleNames = new Set(base.map((o) => `${o.kind}/${o.metadata.name}`));
  for (const [name, objs] of Object.entries(scenarios)) {
    assert.deepEqual(ruleViolations(objs, name, [...ctx1, ...ctx2], false), [], name);
    for (const o of objs) {
      const extra = !ruleNames.has(`${o.kind}/${o.metadata.name}`);
      if (extra) assert.equal(o.metadata.labels?.["theater-msa/scenario"], name, `${name}: ${o.kind}/${o.metadata.name} is not a base rule and not labelled for reset`);
    }
  }
});

const split = (objs, svc) => byName(objs, "VirtualService", `${svc}-vs`).spec.http.find((h) => !h.match);
test("each scenario changes what it says", () => {
  for (const [w1, w2] of [[90, 10], [50, 50], [0, 100]]) {
    const route = split(scenarios[`canary-shift-${w1}-${w2}`], "user-service").route.map((r) => r.weight);
    assert.deepEqual(route, [w1, w2]);
  }
  for (const svc of ["user-service", "movie-service", "booking-service"]) {
    const vs = byName(scenarios["block-cluster"], "VirtualService", `${svc}-vs`).spec.http;
    const share = Object.fromEntries(vs.flatMap((h) => h.route).filter((r) => r.weight !== 0).map((r) => [r.destination.subset, true]));
    assert.deepEqual(Object.keys(share), ["ctx1"], `${svc} still reaches ctx2`);
    const dr = byName(scenarios["circuit-breaker"], "DestinationRule", `${svc}-dr`).spec.trafficPolicy;
    assert.equal(dr.outlierDetection.consecutive5xxErrors, 3);
    assert.equal(split(scenarios["circuit-breaker"], svc).route[0].destination.subset, undefined, "the whole host, so ejection moves traffic");
  }
  const patient = split(scenarios["timeout-retry"], "user-service");
  assert.equal(patient.timeout, "1s");
  assert.deepEqual(patient.retries, { attempts: 3, perTryTimeout: "300ms", retryOn: "5xx,reset,connect-failure" });
  assert.deepEqual(patient.route.map((r) => r.weight), [70, 30], "timeout-retry keeps the split");
  const local = byName(scenarios["locality-failover"], "DestinationRule", "user-service-dr").spec.trafficPolicy;
  assert.equal(local.loadBalancer.localityLbSetting.enabled, true);
  assert.equal(local.outlierDetection.consecutive5xxErrors, 3, "Istio fails over by locality only with outlier detection");
  assert.equal(split(scenarios["locality-failover"], "user-service").route[0].destination.subset, undefined, "no cluster weights");
  const ab = byName(scenarios["ab-test"], "VirtualService", "user-service-vs").spec.http;
  assert.deepEqual(ab.map((h) => h.name), ["canary", "group-b", "group-a"]);
  assert.deepEqual(ab[1].route.map((r) => [r.destination.subset, r.weight]), [["ctx2", 100]], "group B gets variant B");
  assert.deepEqual(ab[2].route.map((r) => [r.destination.subset, r.weight]), [["ctx1", 100]], "everyone else gets A");
  const balancer = (name) => byName(scenarios[name], "DestinationRule", "user-service-dr").spec.trafficPolicy.loadBalancer;
  assert.deepEqual(balancer("consistent-hash"), { consistentHash: { httpHeaderName: "x-user-id" } });
  assert.deepEqual(balancer("least-request"), { simple: "LEAST_REQUEST" });
  for (const name of ["consistent-hash", "least-request"]) {
    assert.equal(split(scenarios[name], "user-service").route[0].destination.subset, undefined, `${name}: the whole host, both clusters' pods`);
  }
  assert.deepEqual(split(scenarios["error-fault"], "user-service").fault.abort, { httpStatus: 503, percentage: { value: 30 } });
  assert.equal(split(scenarios["delay-fault"], "movie-service").fault.delay.fixedDelay, "3s");
  const mtls = scenarios["mtls-authz"];
  assert.equal(byName(mtls, "PeerAuthentication", "default").spec.mtls.mode, "STRICT");
  assert.deepEqual(byName(mtls, "AuthorizationPolicy", "deny-by-default").spec, {});
  const principals = (n) => byName(mtls, "AuthorizationPolicy", n).spec.rules[0].from[0].source.principals.map((p) => p.split("/").pop());
  assert.deepEqual(principals("allow-to-user-service"), ["api-gateway", "booking-service"]);
  assert.deepEqual(principals("allow-to-booking-service"), ["api-gateway"]);
  assert.deepEqual(principals("allow-to-redis"), ["user-service", "movie-service", "booking-service"]);
});

// The guide's live change, quoted from it: merge-patching user-service-vs must give a
// valid 90/10 split with the canary route kept. Offline, kubectl patch takes the
// object from a file (--local), the rest of the command is the guide's.
const GUIDE_PATCH = '{"spec":{"http":[{"match":[{"headers":{"x-canary":{"exact":"true"}}}],"route":[{"destination":{"host":"user-service","subset":"ctx2"},"weight":100}]},{"route":[{"destination":{"host":"user-service","subset":"ctx1"},"weight":90},{"destination":{"host":"user-service","subset":"ctx2"},"weight":10}]}]}}';
test("the guide's kubectl patch of user-service-vs applies to the rendered rules", () => {
  const dir = mkdtempSync(join(tmpdir(), "guide-patch-"));
  const file = join(dir, "vs.yaml");
  writeFileSync(file, JSON.stringify(byName(base, "VirtualService", "user-service-vs")));
  const out = execFileSync("kubectl", ["patch", "-n", "theater-msa", "--type=merge", `-p=${GUIDE_PATCH}`, "--local", "-f", file, "-o", "json"],
    { encoding: "utf8", env: { ...process.env, KUBECONFIG: join(dir, "none") } });
  rmSync(dir, { recursive: true });
  const patched = JSON.parse(out);
  assert.equal(patched.metadata.name, "user-service-vs");
  const rules = base.map((o) => (o.kind === "VirtualService" && o.metadata.name === "user-service-vs" ? patched : o));
  assert.deepEqual(ruleViolations(rules, "guide patch", [...ctx1, ...ctx2], false), []);
  assert.deepEqual(split(rules, "user-service").route.map((r) => [r.destination.subset, r.weight]), [["ctx1", 90], ["ctx2", 10]]);
  assert.equal(patched.spec.http[0].match[0].headers["x-canary"].exact, "true");
  assert.deepEqual(schemaViolations([patched], "guide patch"), []);
});

// The checker must catch what it claims to: break a rendering, expect the invariant named.
test("the checks fail on broken renderings, naming the invariant", () => {
  const cases = [
    ["backend pods labelled app and cluster", (o) => { delete byName(o, "Deployment", "user-service").spec.template.metadata.labels.cluster; }],
    ["user-service splits 70/30", (o) => { split(o, "user-service").route[0].weight = 60; }],
    ["route weights add up to 100", (o) => { split(o, "movie-service").route[1].weight = 60; }],
    ["never two DestinationRules for one host", (o) => { const dr = clone(byName(o, "DestinationRule", "user-service-dr")); dr.metadata.name = "user-extra"; o.push(dr); }],
    ["every subset a VirtualService names exists", (o) => { split(o, "booking-service").route[1].destination.subset = "ctx3"; }],
    ["restricted pod security", (o) => { byName(o, "Deployment", "movie-service").spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; }],
    ["api-gateway only in ctx1", (o) => { o.splice(o.indexOf(byName(o, "Deployment", "api-gateway")), 1); }],
    ["one Service per backend, no cluster in its selector", (o) => { byName(o, "Service", "user-service").spec.selector.cluster = "ctx1"; }],
    ["node affinity cluster-name=<ctx>", (o) => { byName(o, "Deployment", "booking-service").spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values = ["ctx2"]; }],
    ["the role in args", (o) => { byName(o, "Deployment", "user-service").spec.template.spec.containers[0].args = ["--role", "movie"]; }],
    ["the gateway's Role reads pods, virtualservices, destinationrules only", (o) => { byName(o, "Role", "api-gateway-reader").rules[0].verbs.push("delete"); }],
    ["each container is named after its Deployment", (o) => { byName(o, "Deployment", "movie-service").spec.template.spec.containers[0].name = "theater"; }],
    ["VirtualServices named <service>-vs, as the guide names them", (o) => { byName(o, "VirtualService", "user-service-vs").metadata.name = "user-service"; }],
    ["DestinationRules named <service>-dr, as the guide names them", (o) => { byName(o, "DestinationRule", "movie-service-dr").metadata.name = "movie-service"; }],
    ["the base DestinationRules balance ROUND_ROBIN", (o) => { byName(o, "DestinationRule", "booking-service-dr").spec.trafficPolicy.loadBalancer.simple = "LEAST_REQUEST"; }],
    ["the page's ConfigMap equals src/roles/gateway/ui (run scripts/ui-configmap.sh)", (o) => { byName(o, "ConfigMap", "api-gateway-ui").data["app.js"] += "// drift\n"; }],
    ["the gateway serves the page from a ConfigMap it mounts at UI_DIR", (o) => { byName(o, "Deployment", "api-gateway").spec.template.spec.volumes = []; }],
    ["everything in theater-msa but the external VirtualService (ctx1)", (o) => { byName(o, "Service", "redis").metadata.namespace = "default"; }],
    ["a pinned image tag, never :latest", (o) => { const c = byName(o, "Deployment", "user-service").spec.template.spec.containers[0]; c.image = c.image.replace(/:[^:/]+$/, ":latest"); }],
    ["an explicit rollout that keeps a ready Pod (RollingUpdate, maxUnavailable 0)", (o) => { delete byName(o, "Deployment", "api-gateway").spec.strategy; }],
    ["requests and limits of cpu, memory and ephemeral-storage on every container", (o) => { delete byName(o, "Deployment", "redis").spec.template.spec.containers[0].resources.limits["ephemeral-storage"]; }],
    ["Redis runs as a high non-root user and group", (o) => { byName(o, "Deployment", "redis").spec.template.spec.securityContext.runAsUser = 999; }],
    ["Redis's data volume is its group's and bounded", (o) => { delete byName(o, "Deployment", "redis").spec.template.spec.securityContext.fsGroup; }],
    ["Redis rolls out Recreate (one Pod owns the AOF)", (o) => { byName(o, "Deployment", "redis").spec.strategy = { type: "RollingUpdate" }; }],
    ["the sidecars export outlier-detection stats (the dashboard's ejection panels)", (o) => { byName(o, "Deployment", "api-gateway").spec.template.metadata.annotations["proxy.istio.io/config"] = '{"holdApplicationUntilProxyStarts": true}'; }],
  ];
  for (const [invariant, breakIt] of cases) {
    const broken = clone(ctx1);
    breakIt(broken);
    assert.ok(names(clusterViolations(broken, "ctx1", ctx2)).includes(invariant), `not caught: ${invariant}`);
  }
  const wrongType = clone(ctx1);
  split(wrongType, "user-service").route[0].weight = "70";
  assert.ok(names(schemaViolations(wrongType, "ctx1")).includes("objects match their schema"), "a string weight passed the schema");
});

// The Grafana dashboard (manifests/observability): one ConfigMap for the Grafana chart's
// sidecar holding the JSON file unchanged, and the configured weights it draws beside
// the observed split equal to the base VirtualServices' (its PromQL is checked by a real
// Prometheus in tests/observability/run.sh).
test("the dashboard renders as a ConfigMap for Grafana's sidecar, its weights those of the rules", () => {
  const objs = render("observability");
  assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`), ["ConfigMap/theater-msa-dashboard"]);
  assert.deepEqual(schemaViolations(objs, "observability"), []);
  const [cm] = objs;
  assert.equal(cm.metadata.labels?.grafana_dashboard, "1", "the Grafana chart's sidecar looks for grafana_dashboard: \"1\"");
  const file = readFileSync(join(scenarioDir, "../observability/theater-msa-dashboard.json"), "utf8");
  assert.equal(cm.data["theater-msa-dashboard.json"], file);
  const dashboard = JSON.parse(file);
  const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  assert.equal(vars.datasource?.type, "datasource");
  assert.equal(vars.datasource?.query, "prometheus");
  assert.equal(vars.namespace?.current?.value, "theater-msa");
  for (const [svc, short] of [["user-service", "user"], ["movie-service", "movie"], ["booking-service", "booking"]]) {
    const route = split(base, svc).route.map((r) => [r.destination.subset, r.weight]);
    assert.deepEqual(route[0], ["ctx1", Number(vars[`${short}_ctx1_weight`].current.value)], `${svc}: the dashboard's configured ctx1 weight`);
  }
});

// The guide's section-3 folders (manifests/guide): committed as scripts/guide-files.sh
// renders them with no option, holding each cluster's objects once. Then the check on
// broken copies: a hand edit, an object moved between files, a file missing.
test("the guide's folders equal a fresh render and hold each cluster's objects once", () => {
  const root = join(scenarioDir, "../..");
  const fresh = mkdtempSync(join(tmpdir(), "guide-files-"));
  execFileSync("bash", [join(root, "scripts/guide-files.sh"), "--out", fresh], { encoding: "utf8" });
  const clusters = { ctx1, ctx2 };
  for (const ctx of ["ctx1", "ctx2"]) {
    assert.deepEqual(guideViolations(join(root, "manifests/guide", ctx), fresh, clusters[ctx], ctx), []);
  }
  const cases = [
    ["the guide's folders equal a fresh render (run scripts/guide-files.sh)", (dir) => {
      const f = join(dir, "api-gateway.yaml");
      writeFileSync(f, readFileSync(f, "utf8").replace("replicas: 1", "replicas: 2"));
    }],
    ["every object of the cluster's rendering in exactly one guide file", (dir) => {
      appendFileSync(join(dir, "namespace.yaml"), "---\n" + readFileSync(join(dir, "rbac.yaml"), "utf8"));
    }],
    ["the guide's file names, exactly", (dir) => { unlinkSync(join(dir, "istio-virtualservice.yaml")); }],
    ["kubectl apply -k . gives the cluster's objects", (dir) => {
      const f = join(dir, "kustomization.yaml");
      writeFileSync(f, readFileSync(f, "utf8").replace("  - redis.yaml\n", ""));
    }],
  ];
  for (const [invariant, breakIt] of cases) {
    const copy = mkdtempSync(join(tmpdir(), "guide-broken-"));
    cpSync(join(root, "manifests/guide/ctx1"), copy, { recursive: true });
    breakIt(copy);
    const found = guideViolations(copy, fresh, ctx1, "ctx1").map((x) => x.invariant);
    rmSync(copy, { recursive: true });
    assert.ok(found.includes(invariant), `not caught: ${invariant} (found: ${found.join("; ")})`);
  }
  rmSync(fresh, { recursive: true });
});

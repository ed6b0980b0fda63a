// node --test: the rendered manifests against the schemas and the design's invariants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { render, schemaViolations, clusterViolations, ruleViolations } from "./check.mjs";

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

const split = (objs, svc) => byName(objs, "VirtualService", svc).spec.http.find((h) => !h.match);
test("each scenario changes what it says", () => {
  for (const [w1, w2] of [[90, 10], [50, 50], [0, 100]]) {
    const route = split(scenarios[`canary-shift-${w1}-${w2}`], "user-service").route.map((r) => r.weight);
    assert.deepEqual(route, [w1, w2]);
  }
  for (const svc of ["user-service", "movie-service", "booking-service"]) {
    const vs = byName(scenarios["block-cluster"], "VirtualService", svc).spec.http;
    const share = Object.fromEntries(vs.flatMap((h) => h.route).filter((r) => r.weight !== 0).map((r) => [r.destination.subset, true]));
    assert.deepEqual(Object.keys(share), ["ctx1"], `${svc} still reaches ctx2`);
    const dr = byName(scenarios["circuit-breaker"], "DestinationRule", svc).spec.trafficPolicy;
    assert.equal(dr.outlierDetection.consecutive5xxErrors, 3);
    assert.equal(split(scenarios["circuit-breaker"], svc).route[0].destination.subset, undefined, "the whole host, so ejection moves traffic");
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

// The checker must catch what it claims to: break a rendering, expect the invariant named.
test("the checks fail on broken renderings, naming the invariant", () => {
  const cases = [
    ["backend pods labelled app and cluster", (o) => { delete byName(o, "Deployment", "user-service-ctx1").spec.template.metadata.labels.cluster; }],
    ["user-service splits 70/30", (o) => { split(o, "user-service").route[0].weight = 60; }],
    ["route weights add up to 100", (o) => { split(o, "movie-service").route[1].weight = 60; }],
    ["never two DestinationRules for one host", (o) => { const dr = clone(byName(o, "DestinationRule", "user-service")); dr.metadata.name = "user-extra"; o.push(dr); }],
    ["every subset a VirtualService names exists", (o) => { split(o, "booking-service").route[1].destination.subset = "ctx3"; }],
    ["restricted pod security", (o) => { byName(o, "Deployment", "movie-service-ctx1").spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; }],
    ["api-gateway only in ctx1", (o) => { o.splice(o.indexOf(byName(o, "Deployment", "api-gateway")), 1); }],
    ["one Service per backend, no cluster in its selector", (o) => { byName(o, "Service", "user-service").spec.selector.cluster = "ctx1"; }],
    ["node affinity cluster-name=<ctx>", (o) => { byName(o, "Deployment", "booking-service-ctx1").spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values = ["ctx2"]; }],
    ["the role in args", (o) => { byName(o, "Deployment", "user-service-ctx1").spec.template.spec.containers[0].args = ["--role", "movie"]; }],
    ["the gateway's Role reads pods, virtualservices, destinationrules only", (o) => { byName(o, "Role", "api-gateway-reader").rules[0].verbs.push("delete"); }],
    ["everything in theater-msa but the external VirtualService (ctx1)", (o) => { byName(o, "Service", "redis").metadata.namespace = "default"; }],
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

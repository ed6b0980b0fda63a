// Offline checks of the rendered manifests: every object against the real Kubernetes
// and Istio schemas (kubernetes-models, @kubernetes-models/istio), then the design's
// invariants on each cluster's rendering, then the checker itself on deliberately
// broken renderings (so a check that cannot fail is caught too).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { DestinationRule, VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1";
import { AuthorizationPolicy, PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../manifests");
const UI_SOURCE = join(ROOT, "../src/roles/gateway/ui");
const NS = "theater-msa";
// Names and roles come from the service table (tests/services.json, generated from
// src/settings/service.rs); the weights are the lesson's contract for the base rules, checked here.
const SERVICES = JSON.parse(readFileSync(join(ROOT, "../tests/services.json"), "utf8")).services;
const BACKENDS = SERVICES.filter((s) => s.prefix).map((s) => s.name);
const WEIGHTS = { "user-service": [70, 30], "movie-service": [30, 70], "booking-service": [50, 50] };
const ROLES = Object.fromEntries(SERVICES.map((s) => [s.name, s.role]));
const MODELS = {
  "v1/ConfigMap": ConfigMap, "v1/Namespace": Namespace, "v1/Service": Service, "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "rbac.authorization.k8s.io/v1/Role": Role, "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "networking.istio.io/v1/VirtualService": VirtualService, "networking.istio.io/v1/DestinationRule": DestinationRule,
  "security.istio.io/v1/AuthorizationPolicy": AuthorizationPolicy, "security.istio.io/v1/PeerAuthentication": PeerAuthentication,
};

export function render(dir) {
  const text = execFileSync("kubectl", ["kustomize", join(ROOT, dir)], { encoding: "utf8" });
  return parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean);
}

const find = (objs, kind, name, ns) => objs.find((o) => o.kind === kind && o.metadata.name === name && (!ns || o.metadata.namespace === ns));
const all = (objs, kind) => objs.filter((o) => o.kind === kind);
const short = (host) => String(host).split(".")[0];

/** Schema errors of every object: [{invariant, detail}]. */
export function schemaViolations(objs, where) {
  const out = [];
  for (const o of objs) {
    const key = `${o.apiVersion}/${o.kind}`;
    const Model = MODELS[key];
    if (!Model) { out.push({ invariant: "every object has a known schema", detail: `${where}: ${key} ${o.metadata?.name}` }); continue; }
    try { new Model(o).validate(); } catch (e) {
      out.push({ invariant: "objects match their schema", detail: `${where}: ${o.kind}/${o.metadata.name}: ${e.message.split("\n")[0]}` });
    }
  }
  return out;
}

/** The design's invariants on one cluster's rendering. */
export function clusterViolations(objs, ctx, other = []) {
  const v = [];
  const fail = (invariant, detail) => v.push({ invariant, detail: `${ctx}: ${detail}` });
  const ns = find(objs, "Namespace", NS);
  if (!ns || ns.metadata.labels?.["istio-injection"] !== "enabled") fail("namespace theater-msa with istio-injection=enabled", "missing or unlabelled");
  for (const o of objs) {
    if (o.kind === "Namespace") continue;
    const external = o.kind === "VirtualService" && o.metadata.name === "theater-msa" && o.metadata.namespace === "istio-system";
    if (o.metadata.namespace !== NS && !(external && ctx === "ctx1")) fail("everything in theater-msa but the external VirtualService (ctx1)", `${o.kind}/${o.metadata.name} in ${o.metadata.namespace}`);
  }
  const ext = find(objs, "VirtualService", "theater-msa", "istio-system");
  if (ctx === "ctx1") {
    if (!ext || !ext.spec.gateways?.includes("istio-system/cp-gateway") || !String(ext.spec.hosts?.[0]).startsWith("theater.")) fail("external VirtualService binds cp-gateway for theater.<domain>", JSON.stringify(ext?.spec ?? null));
    else if (short(ext.spec.http?.[0]?.route?.[0]?.destination?.host) !== "api-gateway") fail("external VirtualService routes to api-gateway", JSON.stringify(ext.spec.http));
  }
  const deployments = all(objs, "Deployment");
  for (const svc of BACKENDS) {
    const d = find(objs, "Deployment", svc);
    if (!d) { fail("each backend deploys in both clusters under its service's name", `${svc} missing`); continue; }
    const labels = d.spec.template.metadata.labels || {};
    if (labels.app !== svc || labels.cluster !== ctx) fail("backend pods labelled app and cluster", `${d.metadata.name}: ${JSON.stringify(labels)}`);
    const terms = d.spec.template.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms || [];
    const pinned = terms.some((t) => (t.matchExpressions || []).some((e) => e.key === "cluster-name" && e.operator === "In" && e.values?.length === 1 && e.values[0] === ctx));
    if (!pinned) fail("node affinity cluster-name=<ctx>", d.metadata.name);
    const s = find(objs, "Service", svc);
    if (!s || JSON.stringify(s.spec.selector) !== JSON.stringify({ app: svc })) fail("one Service per backend, no cluster in its selector", `${svc}: ${JSON.stringify(s?.spec?.selector)}`);
  }
  const gateway = find(objs, "Deployment", "api-gateway");
  if ((ctx === "ctx1") !== Boolean(gateway)) fail("api-gateway only in ctx1", gateway ? "present" : "absent");
  if (gateway) v.push(...pageViolations(objs, gateway, ctx));
  const redis = deployments.filter((d) => d.metadata.name === "redis");
  if (redis.length !== (ctx === "ctx1" ? 1 : 0)) fail("one Redis Deployment, in ctx1", `${redis.length} here`);
  for (const r of redis) {
    const c = r.spec.template.spec.containers[0];
    if (!/^redis:/.test(c.image) || r.spec.template.spec.initContainers) fail("stock Redis image, no init hacks", c.image);
    if (!(c.args || []).join(" ").includes("--appendonly yes")) fail("Redis keeps an append-only file", JSON.stringify(c.args));
    if (r.spec.strategy?.type !== "Recreate") fail("Redis rolls out Recreate (one Pod owns the AOF)", JSON.stringify(r.spec.strategy));
    const pod = r.spec.template.spec.securityContext || {};
    if (!(pod.runAsUser >= 10000) || !(pod.runAsGroup >= 10000) || pod.runAsNonRoot !== true) fail("Redis runs as a high non-root user and group", JSON.stringify(pod));
    const data = (r.spec.template.spec.volumes || []).find((v) => v.name === "data");
    if (pod.fsGroup !== pod.runAsGroup || !data?.emptyDir?.sizeLimit) fail("Redis's data volume is its group's and bounded", JSON.stringify({ fsGroup: pod.fsGroup, data }));
  }
  if (!find(objs, "Service", "redis")) fail("Redis Service in both clusters", "missing");
  // Every container (Redis too) says what it needs and may use, disk included.
  for (const d of deployments) {
    for (const c of [...(d.spec.template.spec.initContainers || []), ...d.spec.template.spec.containers]) {
      const { requests = {}, limits = {} } = c.resources || {};
      const missing = ["cpu", "memory", "ephemeral-storage"].filter((r) => !requests[r] || !limits[r]);
      if (missing.length) fail("requests and limits of cpu, memory and ephemeral-storage on every container", `${d.metadata.name}/${c.name}: ${missing.join(", ")}`);
    }
  }

  // One image, role in args, identity from the downward API, probes, limits, hardening.
  const images = new Set();
  for (const d of deployments.filter((d) => d.metadata.name !== "redis")) {
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    const app = d.spec.template.metadata.labels?.app;
    images.add(c.image);
    const where = d.metadata.name;
    if (c.name !== d.metadata.name) fail("each container is named after its Deployment", `${where}: ${c.name}`);
    if (c.image === "theater" || !c.image.includes(":")) fail("the image is set through kustomize images:", `${where}: ${c.image}`);
    if (/:latest$/.test(c.image)) fail("a pinned image tag, never :latest", `${where}: ${c.image}`);
    if (d.spec.strategy?.type !== "RollingUpdate" || d.spec.strategy.rollingUpdate?.maxUnavailable !== 0) fail("an explicit rollout that keeps a ready Pod (RollingUpdate, maxUnavailable 0)", where);
    if (JSON.stringify(c.args) !== JSON.stringify(["--role", ROLES[app]])) fail("the role in args", `${where}: ${JSON.stringify(c.args)}`);
    const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    const wanted = { POD_NAME: "metadata.name", NODE_NAME: "spec.nodeName", POD_NAMESPACE: "metadata.namespace", CLUSTER_NAME: "metadata.labels['cluster']" };
    for (const [name, path] of Object.entries(wanted)) if (env[name] !== path) fail("identity from the downward API", `${where}: ${name}`);
    if (!d.spec.template.metadata.labels?.version || !app) fail("app and version labels", where);
    if (!c.readinessProbe || !c.livenessProbe) fail("readiness and liveness probes", where);
    if (!(c.ports || []).every((p) => p.name === "http")) fail("named http ports", where);
    const sc = c.securityContext || {};
    const seccomp = (sc.seccompProfile || pod.securityContext?.seccompProfile)?.type;
    const nonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
    if (!nonRoot || sc.readOnlyRootFilesystem !== true || sc.allowPrivilegeEscalation !== false
      || JSON.stringify(sc.capabilities?.drop) !== '["ALL"]' || seccomp !== "RuntimeDefault") fail("restricted pod security", where);
    if (pod.serviceAccountName !== app) fail("a ServiceAccount per role", `${where}: ${pod.serviceAccountName}`);
    let proxy = {};
    try { proxy = JSON.parse(d.spec.template.metadata.annotations?.["proxy.istio.io/config"] ?? "{}"); } catch { fail("proxy.istio.io/config is JSON", where); }
    if (proxy.holdApplicationUntilProxyStarts !== true) fail("the sidecar starts before the app", where);
    const stats = proxy.proxyStatsMatcher?.inclusionRegexps ?? [];
    if (!stats.includes(".*outlier_detection.*")) fail("the sidecars export outlier-detection stats (the dashboard's ejection panels)", where);
    if (!stats.includes(".*upstream_rq_total")) fail("the sidecars export their per-subset request counts (the dashboard's Envoy split panels)", where);
  }
  if (images.size > 1) fail("one image for every Deployment", [...images].join(", "));
  for (const svc of all(objs, "Service")) for (const p of svc.spec.ports) if (!/^(http|tcp)/.test(p.name || "")) fail("named ports so Istio detects the protocol", `${svc.metadata.name}: ${p.name}`);

  // RBAC: read-only, namespaced, only what the gateway reads.
  for (const sa of SERVICES.map((s) => s.name)) if (!find(objs, "ServiceAccount", sa)) fail("a ServiceAccount per role", `${sa} missing`);
  if (objs.some((o) => o.kind.startsWith("Cluster"))) fail("nothing cluster-wide", "a Cluster* object");
  for (const role of all(objs, "Role")) {
    for (const rule of role.rules) {
      const extra = rule.verbs.filter((verb) => !["get", "list", "watch"].includes(verb));
      const resources = rule.resources.filter((r) => !["pods", "virtualservices", "destinationrules"].includes(r));
      if (extra.length || resources.length) fail("the gateway's Role reads pods, virtualservices, destinationrules only", JSON.stringify(rule));
    }
  }
  v.push(...ruleViolations(objs, ctx, [...objs, ...other], true));
  return v;
}

/** The page ships in a ConfigMap the gateway mounts and serves (UI_DIR); its files are
 * exactly those the binary embeds (src/roles/gateway/ui), so the two copies never drift. */
export function pageViolations(objs, gateway, ctx) {
  const v = [];
  const fail = (invariant, detail) => v.push({ invariant, detail: `${ctx}: ${detail}` });
  const pod = gateway.spec.template.spec;
  const c = pod.containers[0];
  const uiDir = (c.env || []).find((e) => e.name === "UI_DIR")?.value;
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === uiDir);
  const volume = (pod.volumes || []).find((vol) => vol.name === mount?.name);
  const map = volume && find(objs, "ConfigMap", volume.configMap?.name);
  if (!uiDir || !map) { fail("the gateway serves the page from a ConfigMap it mounts at UI_DIR", JSON.stringify({ uiDir, mount, volume })); return v; }
  const files = readdirSync(UI_SOURCE).sort();
  const same = JSON.stringify(Object.keys(map.data || {}).sort()) === JSON.stringify(files)
    && files.every((f) => map.data[f] === readFileSync(join(UI_SOURCE, f), "utf8"));
  if (!same) fail("the page's ConfigMap equals src/roles/gateway/ui (run scripts/ui-configmap.sh)", map.metadata.name);
  return v;
}

/** Istio rules: subsets exist and select pods, one DestinationRule per host, weights. */
export function ruleViolations(rules, where, pods = rules, base = true) {
  const v = [];
  const fail = (invariant, detail) => v.push({ invariant, detail: `${where}: ${detail}` });
  const drs = all(rules, "DestinationRule");
  const byHost = {};
  for (const dr of drs) (byHost[short(dr.spec.host)] ||= []).push(dr);
  for (const [host, list] of Object.entries(byHost)) if (list.length > 1) fail("never two DestinationRules for one host", host);
  const templates = all(pods, "Deployment").map((d) => d.spec.template.metadata.labels || {});
  for (const vs of all(rules, "VirtualService").filter((vs) => vs.metadata.namespace !== "istio-system")) {
    const host = short(vs.spec.hosts[0]);
    for (const http of vs.spec.http || []) {
      const total = (http.route || []).reduce((sum, r) => sum + (r.weight ?? (http.route.length === 1 ? 100 : 0)), 0);
      if (total !== 100) fail("route weights add up to 100", `${vs.metadata.name}/${http.name}: ${total}`);
      for (const r of http.route || []) {
        if (!r.destination.subset) continue;
        const dr = byHost[short(r.destination.host)]?.[0];
        const subset = dr?.spec.subsets?.find((s) => s.name === r.destination.subset);
        if (!subset) { fail("every subset a VirtualService names exists", `${vs.metadata.name} → ${r.destination.subset}`); continue; }
        const selects = templates.some((t) => t.app === short(r.destination.host) && Object.entries(subset.labels).every(([k, val]) => t[k] === val));
        if (!selects) fail("every subset selects pods that exist", `${host}/${subset.name} ${JSON.stringify(subset.labels)}`);
      }
    }
    if (base) {
      const canary = (vs.spec.http || []).find((h) => h.match?.some((m) => m.headers?.["x-canary"]?.exact === "true"));
      if (!canary || canary.route.length !== 1 || canary.route[0].destination.subset !== "ctx2") fail("x-canary: true goes to ctx2 100%", host);
      const split = (vs.spec.http || []).find((h) => !h.match);
      const got = (split?.route || []).map((r) => [r.destination.subset, r.weight]);
      const [w1, w2] = WEIGHTS[host] || [];
      if (JSON.stringify(got) !== JSON.stringify([["ctx1", w1], ["ctx2", w2]])) fail(`${host} splits ${w1}/${w2}`, JSON.stringify(got));
    }
  }
  if (base) for (const svc of BACKENDS) {
    const dr = byHost[svc]?.[0];
    if (!dr) fail("a DestinationRule per backend", svc);
    else if (dr.metadata.name !== `${svc}-dr`) fail("DestinationRules named <service>-dr, as the guide names them", dr.metadata.name);
    else if (dr.spec.trafficPolicy?.loadBalancer?.simple !== "ROUND_ROBIN") fail("the base DestinationRules balance ROUND_ROBIN", svc);
    const vs = all(rules, "VirtualService").find((vs) => short(vs.spec.hosts[0]) === svc);
    if (!vs) fail("a VirtualService per backend", svc);
    else if (vs.metadata.name !== `${svc}-vs`) fail("VirtualServices named <service>-vs, as the guide names them", vs.metadata.name);
  }
  return v;
}

/** The guide's section-3 folders (manifests/guide/<ctx>, scripts/guide-files.sh): the
 * guide's file names exactly, each file as a fresh render writes it (FRESH: a folder
 * holding <ctx>/), every object of the cluster's rendering in exactly one file, and
 * `kubectl apply -k .` giving those same objects. */
export const GUIDE_FILES = {
  ctx1: ["namespace.yaml", "rbac.yaml", "ui-configmap.yaml", "redis.yaml", "user-service-multicloud.yaml",
    "movie-service-multicloud.yaml", "booking-service-multicloud.yaml", "api-gateway.yaml",
    "istio-destinationrules.yaml", "istio-virtualservices.yaml", "istio-virtualservice.yaml"],
  ctx2: ["namespace.yaml", "redis.yaml", "user-service-multicloud.yaml", "movie-service-multicloud.yaml",
    "booking-service-multicloud.yaml", "istio-destinationrules.yaml", "istio-virtualservices.yaml"],
};
export function guideViolations(folder, fresh, objs, ctx) {
  const v = [];
  const fail = (invariant, detail) => v.push({ invariant, detail: `${ctx}: ${detail}` });
  const files = readdirSync(folder).sort();
  const wanted = [...GUIDE_FILES[ctx], "kustomization.yaml"].sort();
  if (JSON.stringify(files) !== JSON.stringify(wanted)) fail("the guide's file names, exactly", `${files.join(" ")}`);
  const freshFiles = readdirSync(join(fresh, ctx)).sort();
  for (const f of new Set([...files, ...freshFiles])) {
    const a = files.includes(f) ? readFileSync(join(folder, f), "utf8") : null;
    const b = freshFiles.includes(f) ? readFileSync(join(fresh, ctx, f), "utf8") : null;
    if (a !== b) fail("the guide's folders equal a fresh render (run scripts/guide-files.sh)", f);
  }
  const key = (o) => JSON.stringify(o);
  const want = objs.map(key).sort();
  const held = files.filter((f) => f !== "kustomization.yaml")
    .flatMap((f) => parseAllDocuments(readFileSync(join(folder, f), "utf8")).map((d) => d.toJS()).filter(Boolean)).map(key).sort();
  if (JSON.stringify(held) !== JSON.stringify(want)) fail("every object of the cluster's rendering in exactly one guide file", `${held.length} objects in the files, ${want.length} rendered`);
  let built = [];
  try { built = parseAllDocuments(execFileSync("kubectl", ["kustomize", folder], { encoding: "utf8", stdio: "pipe" })).map((d) => d.toJS()).filter(Boolean); } catch { /* counted below */ }
  if (JSON.stringify(built.map(key).sort()) !== JSON.stringify(want)) fail("kubectl apply -k . gives the cluster's objects", `${built.length} objects`);
  return v;
}

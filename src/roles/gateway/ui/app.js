// Theater MSA page: polls the gateway's /api endpoints and drives the demo.
// Everything user-supplied is inserted as text, never as HTML.
"use strict";

const SERVICES = [
  { name: "user-service", path: "/users/", label: "사용자 user-service" },
  { name: "movie-service", path: "/movies/", label: "영화 movie-service" },
  { name: "booking-service", path: "/bookings/", label: "예매 booking-service" },
];
let mesh = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const clusterClass = (cluster) => (cluster === "ctx1" || cluster === "ctx2" ? cluster : "other");

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  return { ok: response.ok, status: response.status, headers: response.headers, body };
}

/** The problem+json of a failed call as one line per field. */
function problemText(reply) {
  const body = reply.body || {};
  if (Array.isArray(body.errors) && body.errors.length) {
    return body.errors.map((e) => `${e.field}: ${e.message}`).join(" · ");
  }
  return `${reply.status} ${body.title || ""} ${body.detail || ""}`.trim();
}

function bar(parts) {
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  const node = el("div", { class: "bar" });
  for (const part of parts) {
    if (!part.value) continue;
    const share = (100 * part.value) / total;
    node.append(el("div", { class: clusterClass(part.cluster), style: `width:${share}%`, title: `${part.cluster} ${share.toFixed(1)}%` },
      share >= 12 ? `${part.cluster} ${Math.round(share)}%` : ""));
  }
  return node;
}

/** The rules `/api/mesh` answered for a service, from whichever source has rules. */
const rulesOf = (service) => (mesh && mesh.services ? mesh.services[service] : null);

/** Configured weight per cluster, as the gateway reduced it from the default route. */
function configuredWeights(service) {
  const weights = (rulesOf(service) || {}).weights;
  if (!weights) return null;
  return Object.entries(weights).map(([cluster, value]) => ({ cluster, value: Number(value) || 0 }));
}

/** Why a card has no configured bar, in a few words. */
function noWeightsReason(service) {
  if (!mesh) return "규칙 응답 없음 no answer from /api/mesh";
  if (mesh.source === "none") return "클러스터 없음 no cluster";
  if (mesh.source === "unavailable") return "규칙을 읽을 수 없음 rules unavailable";
  return rulesOf(service) ? "클러스터별 가중치 없음 no weights by cluster" : "규칙 없음 no rules for it";
}

function canaryRoutes(service) {
  const rules = rulesOf(service);
  if (!rules) return [];
  return (rules.headerRoutes || []).map((route) => {
    const when = route.match.map((m) => `${m.header}: ${m.value}`).join(", ");
    const to = route.destinations.map((d) => `${d.subset ?? d.host} ${d.weight ?? ""}%`).join(", ");
    return `${when} → ${to}`;
  });
}

async function refreshTraffic() {
  const [traffic, history] = await Promise.all([api("/api/traffic"), api("/api/traffic/history")]);
  const services = (traffic.body || {}).services || {};
  const root = document.getElementById("services");
  root.replaceChildren(...SERVICES.map((service) => {
    const seen = services[service.name] || { total: 0, byCluster: {}, recent: [] };
    const configured = configuredWeights(service.name);
    const card = el("div", { class: "card", "data-service": service.name }, el("h3", { text: service.label }));
    card.append(el("div", { class: "label" }, el("span", { text: "설정 Configured" }),
      el("span", { class: "muted", text: configured ? "" : noWeightsReason(service.name) })));
    card.append(configured ? bar(configured) : el("div", { class: "bar" }));
    card.append(el("div", { class: "label" }, el("span", { text: "관측 Observed" }),
      el("span", { class: "muted sample", text: `n = ${seen.total}` })));
    card.append(bar(Object.entries(seen.byCluster).map(([cluster, value]) => ({ cluster, value }))));
    if (configured && seen.total >= MIN_SAMPLE) card.append(verdict(configured, seen));
    else if (configured && seen.total > 0) card.append(el("div", { class: "verdict muted", text: `표본 부족 too few answers for a verdict (n = ${seen.total} < ${MIN_SAMPLE})` }));
    const stats = Object.entries(seen.stats || {});
    if (stats.length) card.append(clusterStats(stats));
    const dots = el("div", { class: "dots", "aria-label": "recent answers" });
    for (const o of seen.recent.slice(-60)) {
      dots.append(el("span", { class: `${clusterClass(o.cluster)}${o.status >= 500 ? " failed" : ""}`, title: `${o.pod} ${o.status}` }));
    }
    card.append(dots);
    for (const text of canaryRoutes(service.name)) card.append(el("p", { class: "canary muted", text: `카나리 canary: ${text}` }));
    return card;
  }));
  if (history.body) drawHistory(history.body);
}

/**
 * Each cluster's answers in the window side by side: count, 5xx share, p50 and p99 as
 * the gateway timed them. Under the ab-test scenario this compares variant A (ctx1)
 * with variant B (ctx2).
 */
function clusterStats(stats) {
  const ms = (value) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  return el("table", { class: "stats" },
    el("tr", {}, ...["클러스터 cluster", "응답 n", "실패 5xx", "p50", "p99"].map((h) => el("th", { text: h }))),
    ...stats.map(([cluster, s]) => el("tr", { "data-cluster": cluster },
      el("td", {}, el("span", { class: `chip ${clusterClass(cluster)}`, text: cluster })),
      el("td", { text: s.answers }), el("td", { class: s.failed ? "notok" : "", text: `${((100 * s.failed) / s.answers).toFixed(1)}%` }),
      el("td", { text: ms(s.p50Ms) }), el("td", { text: ms(s.p99Ms) }))));
}

/** Below this many answers the 95% band is too wide to say anything. */
const MIN_SAMPLE = 20;

/** Per configured cluster: is the configured share inside the observed share's 95% band? */
function verdict(configured, seen) {
  const total = configured.reduce((s, p) => s + p.value, 0) || 1;
  const checks = configured.map((part) => {
    const p = (seen.byCluster[part.cluster] || 0) / seen.total;
    const band = 1.96 * Math.sqrt(Math.max(p * (1 - p), 0.25 / seen.total) / seen.total);
    const expected = part.value / total;
    return { cluster: part.cluster, p, band, expected, inside: Math.abs(p - expected) <= band };
  });
  const allInside = checks.every((c) => c.inside);
  return el("div", { class: `verdict ${allInside ? "good" : "bad"}` },
    el("strong", { text: `${allInside ? "✔ 허용 범위 안 within band" : "✘ 범위 밖 outside band"} (n = ${seen.total}, 95%)` }),
    el("ul", {}, ...checks.map((c) => el("li", { class: c.inside ? "good" : "bad", "data-cluster": c.cluster },
      `${c.inside ? "✔" : "✘"} ${c.cluster}: ${(100 * c.p).toFixed(0)}% ± ${(100 * c.band).toFixed(0)}% (설정 ${(100 * c.expected).toFixed(0)}%)`))));
}

// ---- the split over time: an SVG per service, drawn by hand (no library, no build) ----

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 1200, height: 200, left: 56, right: 150, top: 26, bottom: 40, bin: 5 };
const CLUSTER_ORDER = ["ctx1", "ctx2"];
/** ctx1 at the bottom of a column, then ctx2, then any other (`none`: no pod answered) last. */
const byClusterOrder = (a, b) => (CLUSTER_ORDER.indexOf(a) + 1 || (a === "none" ? 99 : 9)) -
  (CLUSTER_ORDER.indexOf(b) + 1 || (b === "none" ? 99 : 9)) || a.localeCompare(b);

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

/** Sums the per-second counts into CHART.bin-second bins ending at `now`. */
function binned(seconds, now, span) {
  const count = span / CHART.bin;
  const end = Math.floor(now / CHART.bin) * CHART.bin + CHART.bin;
  const bins = Array.from({ length: count }, (_, i) => ({ at: end - span + i * CHART.bin, clusters: {}, failed: 0, total: 0 }));
  for (const second of seconds) {
    const bin = bins[Math.floor((second.at - (end - span)) / CHART.bin)];
    if (!bin) continue;
    for (const [cluster, counts] of Object.entries(second.clusters)) {
      const answers = counts.ok + counts.rejected + counts.failed;
      bin.clusters[cluster] = (bin.clusters[cluster] || 0) + answers;
      bin.failed += counts.failed;
      bin.total += answers;
    }
  }
  return bins;
}

/** This service's configured weights over time, from the rule changes the gateway noted. */
function configuredOverTime(service, rules) {
  const parts = [];
  for (const change of rules) {
    const weights = change.weights[service] || null;
    const key = JSON.stringify(weights);
    if (parts.length && parts[parts.length - 1].key === key) continue;
    const total = weights ? Object.values(weights).reduce((s, w) => s + Number(w), 0) : 0;
    parts.push({ at: change.at / 1000, key, changed: change.changed && parts.length > 0,
      share: total ? Number(weights.ctx1 || 0) / total : null,
      label: weights ? Object.entries(weights).map(([c, w]) => `${c} ${w}`).join(" / ") : "클러스터 가중치 없음 no cluster weights" });
  }
  return parts;
}

function historyChart(service, seconds, history) {
  const { width, height, left, right, top, bottom } = CHART;
  const span = history.seconds;
  const plotW = width - left - right, plotH = height - top - bottom;
  const start = Math.floor(history.now / CHART.bin) * CHART.bin + CHART.bin - span;
  const x = (at) => left + (Math.max(0, Math.min(span, at - start)) / span) * plotW;
  const y = (share) => top + (1 - share) * plotH;
  const bins = binned(seconds, history.now, span);
  const columnW = plotW / bins.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "history", role: "img", "data-service": service,
    "aria-label": `${service}: share of answers per cluster over the last ${span / 60} minutes` });
  for (const share of [0, 0.5, 1]) {
    chart.append(svg("line", { x1: left, x2: left + plotW, y1: y(share), y2: y(share), class: "grid" }),
      svg("text", { x: left - 8, y: y(share) + 5, class: "axis", "text-anchor": "end", text: `${share * 100}%` }));
  }
  for (let minutes = span / 60; minutes >= 0; minutes--) {
    chart.append(svg("text", { x: x(start + span - minutes * 60), y: height - 6, class: "axis", "text-anchor": "middle",
      text: minutes ? `-${minutes}분 min` : "지금 now" }));
  }
  for (const bin of bins) {
    const group = svg("g", { class: "bin", "data-at": bin.at, "data-total": bin.total, "data-failed": bin.failed });
    let below = 0;
    for (const cluster of Object.keys(bin.clusters).sort(byClusterOrder)) {
      const share = bin.clusters[cluster] / bin.total;
      group.setAttribute(`data-${cluster.replace(/[^a-z0-9-]/gi, "_")}`, bin.clusters[cluster]);
      group.append(svg("rect", { x: x(bin.at) + 0.5, width: columnW - 1, y: y(below + share), height: share * plotH,
        class: `share ${clusterClass(cluster)}`}, svg("title", { text: `${cluster}: ${bin.clusters[cluster]} / ${bin.total}` })));
      below += share;
    }
    if (bin.failed) {
      group.append(svg("rect", { x: x(bin.at) + 0.5, width: columnW - 1, y: top + plotH + 3, height: 8, class: "failed",
        opacity: Math.min(1, 0.35 + bin.failed / bin.total) }, svg("title", { text: `5xx: ${bin.failed} / ${bin.total}` })));
    }
    chart.append(group);
  }
  const parts = configuredOverTime(service, history.rules || []);
  let lastLabel = -Infinity;
  parts.forEach((part, i) => {
    const until = i + 1 < parts.length ? parts[i + 1].at : history.now + CHART.bin;
    if (until <= start) return;
    if (part.share !== null) {
      chart.append(svg("line", { x1: x(part.at), x2: x(until), y1: y(part.share), y2: y(part.share), class: "configured" },
        svg("title", { text: `설정 configured: ${part.label}` })));
    }
    if (part.changed && part.at > start) {
      chart.append(svg("line", { x1: x(part.at), x2: x(part.at), y1: top - 6, y2: top + plotH, class: "rule-change" },
        svg("title", { text: `규칙 변경 rules changed → ${part.label}` })));
      // Changes close together keep their lines; only the first of them is labelled.
      if (x(part.at) - lastLabel > 260) {
        // Near the right edge the label runs leftwards, off the legend.
        const leftwards = x(part.at) > left + plotW - 320;
        chart.append(svg("text", { x: x(part.at) + (leftwards ? -4 : 4), y: top - 8, class: "note",
          "text-anchor": leftwards ? "end" : "start", text: `규칙 변경 → ${part.label}` }));
        lastLabel = x(part.at);
      }
    }
  });
  const legendX = left + plotW + 16;
  const present = new Set(["ctx1", "ctx2", ...bins.flatMap((bin) => Object.keys(bin.clusters))]);
  const legend = [...present].sort(byClusterOrder).slice(0, 4).map((cluster) =>
    [`share ${clusterClass(cluster)}`, cluster === "none" ? "파드 없음 no pod" : cluster]);
  legend.push(["failed", "5xx 실패 failed"]);
  legend.forEach(([kind, label], i) => {
    chart.append(svg("rect", { x: legendX, y: top + i * 24, width: 14, height: 14, class: kind }),
      svg("text", { x: legendX + 20, y: top + i * 24 + 12, class: "legend-text", text: label }));
  });
  const lineY = top + legend.length * 24 + 7;
  chart.append(svg("line", { x1: legendX, x2: legendX + 14, y1: lineY, y2: lineY, class: "configured" }),
    svg("text", { x: legendX + 20, y: lineY + 5, class: "legend-text", text: "설정 ctx1" }));
  return chart;
}

function drawHistory(history) {
  const root = document.getElementById("history-charts");
  root.replaceChildren(...SERVICES.map((service) => el("figure", { class: "card" },
    el("figcaption", { text: service.label }), historyChart(service.name, history.services[service.name] || [], history))));
}

function extraHeaders(text) {
  const headers = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

async function sendLoad(event) {
  event.preventDefault();
  const form = event.target;
  const count = Math.max(1, Math.min(5000, Number(form.count.value) || 1));
  const rate = Math.max(0, Number(form.rate.value) || 0);
  const headers = extraHeaders(form.headers.value);
  if (form.canary.checked) headers["x-canary"] = "true";
  const targets = form.target.value === "all" ? SERVICES.map((s) => s.path) : [form.target.value];
  const status = document.getElementById("load-status");
  const button = document.getElementById("send");
  button.disabled = true;
  let done = 0, failed = 0, next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      if (rate > 0) {
        const due = started + (1000 * i) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      try {
        const response = await fetch(targets[i % targets.length], { headers });
        if (!response.ok) failed++;
        await response.arrayBuffer();
      } catch (e) {
        failed++;
      }
      done++;
      if (done % 10 === 0 || done === count) status.textContent = `${done}/${count} 보냄 sent, ${failed} 실패 failed`;
    }
  };
  await Promise.all(Array.from({ length: rate > 0 ? Math.min(count, 32) : 8 }, worker));
  status.textContent = `${done}/${count} 보냄 sent, ${failed} 실패 failed, ${((performance.now() - started) / 1000).toFixed(1)} s`;
  button.disabled = false;
  refreshTraffic();
}

function renderList(id, items, line) {
  document.getElementById(id).replaceChildren(...items.map((item) => el("li", {}, ...line(item))));
}

async function refreshData() {
  const [users, movies, bookings] = await Promise.all([api("/users/"), api("/movies/"), api("/bookings/")]);
  if (users.ok) {
    renderList("users", users.body.items, (u) => [el("span", { class: "id", text: u.id }), el("span", { text: u.name }), el("span", { class: "muted", text: u.email })]);
    document.getElementById("booking-user").replaceChildren(...users.body.items.map((u) => el("option", { value: u.id, text: `${u.id} ${u.name}` })));
  }
  if (movies.ok) {
    renderList("movies", movies.body.items, (m) => [el("span", { class: "id", text: m.id }), el("span", { text: `${m.title} (${m.year})` }),
      el("span", { class: "muted", text: `${m.availableSeats}/${m.seats}석` })]);
    document.getElementById("booking-movie").replaceChildren(...movies.body.items.map((m) => el("option", { value: m.id, text: `${m.id} ${m.title}` })));
  }
  if (bookings.ok) {
    renderList("bookings", bookings.body.items.slice(-20).reverse(), (b) => [el("span", { class: "id", text: b.id }),
      el("span", { text: `user ${b.userId} · movie ${b.movieId} · ${b.seats}석` }),
      el("span", { class: "muted", text: ["user", "movie", "booking"].map((k) => (b.route[k] ? b.route[k].cluster : "?")).join("→") })]);
  }
}

function formJson(form, fields) {
  const body = {};
  for (const [name, kind] of Object.entries(fields)) {
    const value = form[name].value.trim();
    if (value === "") continue;
    body[name] = kind === "number" ? Number(value) : value;
  }
  return body;
}

async function submitForm(form, path, fields, extra = {}) {
  const errorBox = document.querySelector(`.error[data-for="${form.id}"]`);
  errorBox.textContent = "";
  const reply = await api(path, { method: "POST", headers: { "content-type": "application/json", ...extra }, body: JSON.stringify(formJson(form, fields)) });
  if (!reply.ok) errorBox.textContent = problemText(reply);
  return reply;
}

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function book(event) {
  event.preventDefault();
  const form = event.target;
  // Tracing headers the gateway and booking-service must pass along to every hop.
  const traced = { "x-request-id": crypto.randomUUID ? crypto.randomUUID() : randomHex(16),
    traceparent: `00-${randomHex(16)}-${randomHex(8)}-01` };
  if (form.canary.checked) traced["x-canary"] = "true";
  const reply = await submitForm(form, "/bookings/", { userId: "text", movieId: "text", seats: "number" }, traced);
  const result = document.getElementById("booking-result");
  if (!reply.ok) { result.replaceChildren(); return; }
  const route = reply.body.route;
  const rows = [["user", route.user], ["movie", route.movie], ["booking", route.booking]].map(([step, by]) =>
    el("tr", {}, el("td", { text: step }), el("td", {}, by ? el("span", { class: `chip ${clusterClass(by.cluster)}`, text: by.cluster }) : "?"),
      el("td", { text: by ? by.pod : "(no identity headers)" })));
  result.replaceChildren(
    el("p", { text: `✔ 예매 #${reply.body.id} — 경로 route:` }),
    el("table", {}, el("tr", {}, el("th", { text: "단계 step" }), el("th", { text: "cluster" }), el("th", { text: "pod" })), ...rows),
    el("p", { class: "muted" }, "전달된 추적 헤더 propagated: ", ...Object.entries(traced).map(([k, v]) => el("code", { text: `${k}: ${v}` })), " · gateway ",
      el("code", { text: `${reply.headers.get("x-gateway-cluster")}/${reply.headers.get("x-gateway-pod")}` })));
  refreshData();
  refreshTraffic();
}

/** The one line shown when the gateway runs without any cluster (a laptop). */
function noCluster() {
  return el("p", { class: "muted no-cluster" }, "클러스터 없이 실행 중 — running without a cluster (e.g. ",
    el("code", { text: "--role all" }), "): there are no Istio rules or pods to read here. Deploy to the clusters, or start the mesh lab with ",
    el("code", { text: "scripts/mesh-lab.sh up" }), ", to see them.");
}

async function refreshTopology() {
  const topology = (await api("/api/topology")).body;
  if (!topology) return;
  const clusters = {};
  for (const pod of topology.pods || []) (clusters[pod.cluster || "?"] ||= { api: [], seen: [] }).api.push(pod);
  for (const pod of topology.seen || []) (clusters[pod.cluster] ||= { api: [], seen: [] }).seen.push(pod);
  const root = document.getElementById("clusters");
  const cards = Object.entries(clusters).sort().map(([name, pods]) => el("div", { class: "card", "data-cluster": name },
    el("h3", {}, el("span", { class: `chip ${clusterClass(name)}`, text: name })),
    ...pods.api.map((p) => el("div", { class: "pod" }, el("span", { text: p.name }), el("span", { class: p.ready ? "ok" : "notok", text: `${p.phase}${p.ready ? " ✔" : ""}` }))),
    ...pods.seen.map((p) => el("div", { class: "pod" }, el("span", { text: p.pod }), el("span", { class: "muted", text: `${p.service} · ${p.responses}× · ${new Date(p.lastSeen).toLocaleTimeString()}` })))));
  const notes = [];
  if (topology.source === "none") notes.push(noCluster());
  else if (topology.source === "unavailable") notes.push(el("p", { class: "muted", text: `Kubernetes API: ${topology.reason || "no reason given"}` }));
  else notes.push(el("p", { class: "muted", text: `파드 목록: ${topology.namespace}의 Kubernetes API · pods from the API, other clusters' pods as seen answering` }));
  root.replaceChildren(...cards);
  document.getElementById("clusters-note").replaceChildren(...notes);
}

const ORIGIN_KO = { kubernetes: "Kubernetes API", file: "규칙 파일 rules file" };

async function refreshMesh() {
  mesh = (await api("/api/mesh")).body;
  const root = document.getElementById("mesh");
  if (!mesh || !mesh.services) {
    if (mesh && mesh.source === "none") root.replaceChildren(noCluster());
    else root.replaceChildren(el("p", { class: "muted", text: `규칙을 읽을 수 없음 rules unavailable: ${(mesh && mesh.reason) || "no answer from /api/mesh"}` }));
    return;
  }
  const rows = [];
  const inForce = [];
  for (const [service, rules] of Object.entries(mesh.services)) {
    for (const name of rules.virtualServices || []) inForce.push(`VirtualService ${name}`);
    for (const name of rules.destinationRules || []) inForce.push(`DestinationRule ${name}`);
    for (const route of rules.routes) {
      const when = route.match.length ? route.match.map((m) => `${m.header} ${m.kind} ${m.value}`).join(", ") : "(default)";
      const to = route.destinations.map((d) => `${d.subset ?? d.host} ${d.weight ?? ""}`).join(" / ");
      const extras = [route.fault && `fault ${JSON.stringify(route.fault)}`, route.retries && `retries ${JSON.stringify(route.retries)}`,
        route.timeout && `timeout ${route.timeout}`].filter(Boolean).join(" · ");
      rows.push(el("tr", {}, el("td", { text: service }), el("td", { text: when }), el("td", { text: to }), el("td", { class: "muted", text: extras })));
    }
    if (rules.trafficPolicy) rows.push(el("tr", {}, el("td", { text: service }), el("td", { text: "trafficPolicy" }), el("td", { colspan: "2", class: "muted", text: JSON.stringify(rules.trafficPolicy) })));
  }
  root.replaceChildren(
    el("p", { class: "origin" }, `출처 ${ORIGIN_KO[mesh.source] || mesh.source} · from ${mesh.origin || mesh.source}`,
      el("span", { class: "muted", text: ` · ${mesh.apiVersion} · namespace ${mesh.namespace}` })),
    el("p", { class: "in-force muted", text: `적용 중 in force: ${[...new Set(inForce)].sort().join(" · ") || "none"}` }),
    el("table", {}, el("tr", {}, el("th", { text: "service" }), el("th", { text: "match" }), el("th", { text: "route (subset weight)" }), el("th", { text: "fault · retries · timeout" })), ...rows));
}

async function whoami() {
  const info = (await api("/info")).body;
  if (info) document.getElementById("whoami").textContent = `gateway ${info.cluster} / ${info.pod} · v${info.version}`;
}

document.getElementById("load-form").addEventListener("submit", sendLoad);
document.getElementById("reset-traffic").addEventListener("click", async () => { await api("/api/traffic", { method: "DELETE" }); refreshTraffic(); });
document.getElementById("user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ((await submitForm(event.target, "/users/", { name: "text", email: "text" })).ok) { event.target.reset(); refreshData(); }
});
document.getElementById("movie-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ((await submitForm(event.target, "/movies/", { title: "text", genre: "text", year: "number", seats: "number" })).ok) { event.target.reset(); refreshData(); }
});
document.getElementById("booking-form").addEventListener("submit", book);

whoami();
refreshMesh().then(refreshTraffic);
refreshData();
refreshTopology();
setInterval(refreshTraffic, 2000);
setInterval(refreshMesh, 5000);
setInterval(refreshTopology, 5000);

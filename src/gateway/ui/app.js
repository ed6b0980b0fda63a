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

/** Configured weight per cluster, from the default route's subsets and their labels. */
function configuredWeights(service) {
  const rules = mesh && mesh.source === "kubernetes" ? mesh.services[service] : null;
  if (!rules || !rules.defaultRoute) return null;
  const clusterOf = {};
  for (const subset of rules.subsets || []) {
    clusterOf[subset.name] = (subset.labels && subset.labels.cluster) || subset.name;
  }
  return rules.defaultRoute.map((d) => ({ cluster: clusterOf[d.subset] || d.subset || "?", value: Number(d.weight) || 0 }));
}

function canaryRoutes(service) {
  const rules = mesh && mesh.source === "kubernetes" ? mesh.services[service] : null;
  if (!rules) return [];
  return (rules.headerRoutes || []).map((route) => {
    const when = route.match.map((m) => `${m.header}: ${m.value}`).join(", ");
    const to = route.destinations.map((d) => `${d.subset} ${d.weight ?? ""}%`).join(", ");
    return `${when} → ${to}`;
  });
}

async function refreshTraffic() {
  const traffic = (await api("/api/traffic")).body || { services: {} };
  const root = document.getElementById("services");
  root.replaceChildren(...SERVICES.map((service) => {
    const seen = traffic.services[service.name] || { total: 0, byCluster: {}, recent: [] };
    const configured = configuredWeights(service.name);
    const card = el("div", { class: "card", "data-service": service.name }, el("h3", { text: service.label }));
    card.append(el("div", { class: "label" }, el("span", { text: "설정 Configured" }),
      el("span", { class: "muted", text: configured ? "" : (mesh && mesh.source === "unavailable" ? "rules unavailable" : "no route read") })));
    card.append(configured ? bar(configured) : el("div", { class: "bar" }));
    card.append(el("div", { class: "label" }, el("span", { text: "관측 Observed" }),
      el("span", { class: "muted sample", text: `n = ${seen.total}` })));
    card.append(bar(Object.entries(seen.byCluster).map(([cluster, value]) => ({ cluster, value }))));
    if (configured && seen.total > 0) card.append(verdict(configured, seen));
    const dots = el("div", { class: "dots", "aria-label": "recent answers" });
    for (const o of seen.recent.slice(-60)) {
      dots.append(el("span", { class: `${clusterClass(o.cluster)}${o.status >= 500 ? " failed" : ""}`, title: `${o.pod} ${o.status}` }));
    }
    card.append(dots);
    for (const text of canaryRoutes(service.name)) card.append(el("p", { class: "canary muted", text: `🐤 ${text}` }));
    return card;
  }));
}

/** Is each configured share inside the observed share's 95% band? */
function verdict(configured, seen) {
  const total = configured.reduce((s, p) => s + p.value, 0) || 1;
  const lines = configured.map((part) => {
    const p = (seen.byCluster[part.cluster] || 0) / seen.total;
    const band = 1.96 * Math.sqrt(Math.max(p * (1 - p), 0.25 / seen.total) / seen.total);
    const expected = part.value / total;
    const inside = Math.abs(p - expected) <= band;
    return { text: `${part.cluster}: ${(100 * p).toFixed(0)}% ± ${(100 * band).toFixed(0)}% (설정 ${(100 * expected).toFixed(0)}%)`, inside };
  });
  const allInside = lines.every((l) => l.inside);
  return el("div", { class: `verdict ${allInside ? "good" : "bad"}` },
    `${allInside ? "✔ 허용 범위 안 within band" : "✘ 범위 밖 outside band"} — ${lines.map((l) => l.text).join(" · ")}`);
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

async function refreshTopology() {
  const topology = (await api("/api/topology")).body;
  if (!topology) return;
  const clusters = {};
  for (const pod of topology.pods || []) (clusters[pod.cluster || "?"] ||= { api: [], seen: [] }).api.push(pod);
  for (const pod of topology.seen || []) (clusters[pod.cluster] ||= { api: [], seen: [] }).seen.push(pod);
  const root = document.getElementById("clusters");
  const cards = Object.entries(clusters).sort().map(([name, pods]) => el("div", { class: "card" },
    el("h3", {}, el("span", { class: `chip ${clusterClass(name)}`, text: name })),
    ...pods.api.map((p) => el("div", { class: "pod" }, el("span", { text: p.name }), el("span", { class: p.ready ? "ok" : "notok", text: `${p.phase}${p.ready ? " ✔" : ""}` }))),
    ...pods.seen.map((p) => el("div", { class: "pod" }, el("span", { text: p.pod }), el("span", { class: "muted", text: `${p.service} · ${p.responses}× · ${new Date(p.lastSeen).toLocaleTimeString()}` })))));
  if (topology.source === "unavailable") cards.push(el("div", { class: "card muted", text: `Kubernetes API: ${topology.reason}` }));
  root.replaceChildren(...cards);
}

async function refreshMesh() {
  mesh = (await api("/api/mesh")).body;
  const root = document.getElementById("mesh");
  if (!mesh || mesh.source !== "kubernetes") {
    root.replaceChildren(el("p", { class: "muted", text: `규칙을 읽을 수 없음 rules unavailable: ${mesh ? mesh.reason : "no answer"}` }));
    return;
  }
  const rows = [];
  for (const [service, rules] of Object.entries(mesh.services)) {
    for (const route of rules.routes) {
      const when = route.match.length ? route.match.map((m) => `${m.header} ${m.kind} ${m.value}`).join(", ") : "(default)";
      const to = route.destinations.map((d) => `${d.subset ?? d.host} ${d.weight ?? ""}`).join(" / ");
      const extras = [route.fault && `fault ${JSON.stringify(route.fault)}`, route.retries && `retries ${JSON.stringify(route.retries)}`,
        route.timeout && `timeout ${route.timeout}`].filter(Boolean).join(" · ");
      rows.push(el("tr", {}, el("td", { text: service }), el("td", { text: when }), el("td", { text: to }), el("td", { class: "muted", text: extras })));
    }
    if (rules.trafficPolicy) rows.push(el("tr", {}, el("td", { text: service }), el("td", { text: "trafficPolicy" }), el("td", { colspan: "2", class: "muted", text: JSON.stringify(rules.trafficPolicy) })));
  }
  root.replaceChildren(el("p", { class: "muted", text: `${mesh.apiVersion} · namespace ${mesh.namespace}` }),
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

// The Lakehouse console: a single page over the public /v1 API and nothing else.
// The token lives in sessionStorage and goes only into the Authorization header; pages are
// chosen by the URL fragment, which browsers never send to the server. Every value from the
// API is put on the page as text (textContent), never as HTML.
"use strict";

const TOKEN_KEY = "lakehouse.token";
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function text(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(`${message} (${code}, HTTP ${status})`);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const raw = await res.text();
  let data = null;
  try { data = raw ? JSON.parse(raw) : null; } catch { data = raw; }
  if (!res.ok && !(res.status === 503 && path === "/health")) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || "http_error", e.message || raw.slice(0, 200));
  }
  return data;
}

const sql = (query) => api("POST", "/sql", { sql: query });
const quote = (name) => `"${name.replaceAll('"', '""')}"`;
const enc = encodeURIComponent;

function table(columns, rows, opts = {}) {
  const numeric = new Set(opts.numeric || []);
  return el("table", { class: opts.class || "" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c.label || c.key || c)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => {
      const key = c.key || c;
      const v = c.render ? c.render(r) : text(r[key]);
      return el("td", { class: numeric.has(key) ? "num" : "" }, v);
    })))));
}

function badge(status) {
  return el("span", { class: `badge ${text(status)}` }, text(status));
}

function page(title, ...content) {
  const p = $("#page");
  p.replaceChildren(el("h1", {}, title), ...content);
  p.hidden = false;
}

function failure(e) {
  if (e instanceof ApiError && e.status === 401) { signOut("The token was refused; sign in again."); return; }
  $("#page").append(el("p", { class: "error", role: "alert" }, e.message));
}

// --- pages ---------------------------------------------------------------------------

async function datasetsPage() {
  page("Datasets", el("p", { class: "muted" }, "Loading…"));
  const list = await api("GET", "/catalog/list");
  const rows = list.manifests.map((m) => ({
    name: m.name, rows: m.row_count, columns: m.schema.length, objects: m.objects.length,
    version: m.version, updated: m.updated_at,
  }));
  page("Datasets",
    el("p", { class: "muted" }, `${list.count} dataset(s) at catalog version ${list.version}`),
    table([
      { key: "name", render: (r) => el("a", { href: `#/dataset/${enc(r.name)}` }, r.name) },
      "rows", "columns", "objects", "version", "updated",
    ], rows, { numeric: ["rows", "columns", "objects", "version"], class: "datasets" }));
}

async function datasetPage(name) {
  page(`Dataset ${name}`, el("p", { class: "muted" }, "Loading…"));
  const [m, h, preview] = await Promise.all([
    api("GET", `/catalog/manifest/${enc(name)}`),
    api("GET", `/catalog/manifest/${enc(name)}/history`),
    sql(`SELECT * FROM ${quote(name)} LIMIT 20`),
  ]);
  page(`Dataset ${name}`,
    el("p", { class: "muted" }, `${m.row_count} rows in ${m.objects.length} object(s), version ${m.version}, catalog version ${m.catalog_version}`),
    el("h2", {}, "Schema"),
    table(["name", "type", "nullable"], m.schema, { class: "schema" }),
    el("h2", {}, "History"),
    table(["version", "op", "time", "row_count", "object_count", "exists"], h.snapshots,
      { numeric: ["version", "row_count", "object_count"], class: "history" }),
    el("h2", {}, "Preview"),
    resultTable(preview, "preview"));
}

function resultTable(res, cls) {
  const cols = res.columns.map((c) => c.name);
  return table(cols, res.rows, { class: cls });
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL)/;

function chart(res, column) {
  const label = res.columns.find((c) => !NUMERIC.test(c.type) && c.name !== column);
  const rows = res.rows.slice(0, 40);
  const values = rows.map((r) => Number(r[column]) || 0);
  const max = Math.max(1e-9, ...values.map(Math.abs));
  const w = 720, h = 220, pad = 24, bw = (w - pad) / Math.max(rows.length, 1);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h + 40}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${column} by row`);
  rows.forEach((r, i) => {
    const bh = (Math.abs(values[i]) / max) * h;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(pad + i * bw + 1));
    rect.setAttribute("y", String(h - bh));
    rect.setAttribute("width", String(Math.max(bw - 2, 1)));
    rect.setAttribute("height", String(bh));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${label ? text(r[label.name]) + ": " : ""}${values[i]}`;
    rect.append(title);
    svg.append(rect);
    if (label && rows.length <= 20) {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", String(pad + i * bw + bw / 2));
      t.setAttribute("y", String(h + 14));
      t.setAttribute("text-anchor", "middle");
      t.textContent = text(r[label.name]).slice(0, 10);
      svg.append(t);
    }
  });
  const axis = document.createElementNS(ns, "text");
  axis.setAttribute("x", "0");
  axis.setAttribute("y", "12");
  axis.textContent = String(max);
  svg.append(axis);
  return svg;
}

function sqlPage() {
  const editor = el("textarea", { id: "sql-text", spellcheck: "false" },
    sessionStorage.getItem("lakehouse.sql") || "SELECT 1 AS one");
  const out = el("div", { id: "sql-result" });
  const run = async () => {
    sessionStorage.setItem("lakehouse.sql", editor.value);
    out.replaceChildren(el("p", { class: "muted" }, "Running…"));
    try {
      const res = await sql(editor.value);
      const numeric = res.columns.filter((c) => NUMERIC.test(c.type)).map((c) => c.name);
      const area = el("div", { id: "chart-area" });
      const pick = el("select", { id: "chart-column" },
        el("option", { value: "" }, "no chart"), numeric.map((n) => el("option", { value: n }, n)));
      pick.addEventListener("change", () => area.replaceChildren(pick.value ? chart(res, pick.value) : ""));
      out.replaceChildren(
        el("p", { class: "muted", id: "sql-summary" },
          `${res.row_count} row(s)${res.truncated ? " (truncated)" : ""} in ${res.elapsed_ms} ms at catalog version ${res.catalog_version}`),
        resultTable(res, "result"),
        numeric.length ? el("div", { class: "row" }, el("label", { for: "chart-column" }, "Chart a numeric column"), pick) : "",
        area);
    } catch (e) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
    }
  };
  editor.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
  page("SQL", editor, el("div", { class: "row" },
    el("button", { id: "sql-run", type: "button", onclick: run }, "Run (Ctrl+Enter)")), out);
}

async function vectorsPage() {
  page("Vector indexes", el("p", { class: "muted" }, "Loading…"));
  const list = await api("GET", "/vectors/index");
  const infos = await Promise.all(list.names.map((n) => api("GET", `/vectors/index/${enc(n)}`)));
  const rows = infos.map((i) => ({ name: i.name, ...i.params, length: i.length, tombstones: i.tombstones, version: i.version }));
  const name = el("select", { id: "search-index" }, list.names.map((n) => el("option", { value: n }, n)));
  const vector = el("input", { id: "search-vector", size: "60", placeholder: "[0.1, 0.2, …]" });
  const k = el("input", { id: "search-k", type: "number", value: "5", min: "1", max: "1000" });
  const out = el("div", { id: "search-result" });
  const search = async () => {
    try {
      const body = { vector: JSON.parse(vector.value), k: Number(k.value) };
      const res = await api("POST", `/vectors/index/${enc(name.value)}/search`, body);
      out.replaceChildren(table([
        { key: "rank", render: (r) => String(res.results.indexOf(r) + 1) }, "id", "distance",
        { key: "metadata", render: (r) => text(r.metadata) },
      ], res.results, { class: "hits" }));
    } catch (e) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
    }
  };
  page("Vector indexes",
    table(["name", "dimension", "distance", "m", "ef_construction", "ef_search", "length", "tombstones", "version"], rows,
      { numeric: ["dimension", "m", "ef_construction", "ef_search", "length", "tombstones", "version"], class: "indexes" }),
    el("h2", {}, "Test search"),
    list.names.length ? el("div", { class: "row" },
      el("div", {}, el("label", { for: "search-index" }, "Index"), name),
      el("div", {}, el("label", { for: "search-vector" }, "Vector (JSON)"), vector),
      el("div", {}, el("label", { for: "search-k" }, "k"), k),
      el("button", { id: "search-run", type: "button", onclick: search }, "Search")) : el("p", { class: "muted" }, "No index yet."),
    out);
}

const RECEIPTS = "_receipts/materializer/";

async function jobsPage() {
  page("Jobs", el("p", { class: "muted" }, "Loading…"));
  const listing = await api("GET", `/storage/list?prefix=${enc(RECEIPTS)}&limit=1000`);
  const runIds = listing.objects.map((o) => o.key.slice(RECEIPTS.length).replace(/\.json$/, "")).sort().reverse().slice(0, 50);
  let runs = [];
  try {
    runs = (await sql("SELECT run_id, min(ts) AS started, count(*) AS tasks, " +
      "count(*) FILTER (WHERE verdict = 'pass') AS pass, count(*) FILTER (WHERE verdict = 'fail') AS fail, " +
      "count(*) FILTER (WHERE verdict = 'error') AS error FROM replay_runs GROUP BY run_id ORDER BY started DESC LIMIT 50")).rows;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 400)) throw e; // no replay run stored yet
  }
  page("Jobs",
    el("h2", {}, "Materializer runs"),
    runIds.length ? table([{ key: "run", label: "run", render: (r) => el("a", { href: `#/receipt/${enc(r.run)}` }, r.run) }],
      runIds.map((run) => ({ run })), { class: "receipts" }) : el("p", { class: "muted" }, "No materializer run yet."),
    el("h2", {}, "Replay runs"),
    runs.length ? table(["run_id", "started", "tasks",
      { key: "pass", render: (r) => el("span", {}, badge("pass"), ` ${r.pass}`) },
      { key: "fail", render: (r) => el("span", {}, badge("fail"), ` ${r.fail}`) },
      { key: "error", render: (r) => el("span", {}, badge("error"), ` ${r.error}`) }], runs, { class: "replays" })
      : el("p", { class: "muted" }, "No replay run yet."));
}

async function receiptPage(run) {
  page(`Materializer run ${run}`, el("p", { class: "muted" }, "Loading…"));
  const r = await api("GET", `/storage/objects/${RECEIPTS.split("/").map(enc).join("/")}${enc(run)}.json`);
  const kinds = Object.entries(r.kinds || {}).map(([kind, k]) => ({
    kind, read: k.read, materialized: k.materialized, duplicate: k.duplicate,
    rejected: Object.values(k.rejected || {}).reduce((a, b) => a + b, 0),
  }));
  page(`Materializer run ${run}`,
    el("p", {}, "Status ", badge(r.status), ` · started ${r.started_at} · finished ${r.finished_at} · input ${r.input}`),
    r.error ? el("p", { class: "error" }, r.error) : "",
    el("h2", {}, "By kind"),
    table(["kind", "read", "materialized", "duplicate", "rejected"], kinds, { numeric: ["read", "materialized", "duplicate", "rejected"], class: "kinds" }),
    el("h2", {}, "Inputs"),
    table(["source", "kind", "lines", "materialized", "duplicate", "rejected", "error"], r.inputs || [], { class: "inputs" }),
    el("h2", {}, "Outputs"),
    table(["key", "day", "rows", "bytes"], r.outputs || [], { class: "outputs" }),
    el("p", { class: "muted" }, `dataset ${text(r.dataset && r.dataset.name)} version ${text(r.dataset && r.dataset.version)} · index ${text(r.index && r.index.name)} · ${text(r.timings_ms && r.timings_ms.total)} ms`));
}

async function healthPage() {
  page("Service health", el("p", { class: "muted" }, "Loading…"));
  const h = await api("GET", "/health");
  page("Service health",
    el("p", {}, "Fleet ", badge(h.status)),
    table([{ key: "service" }, { key: "status", render: (r) => badge(r.status) }, "version", "latency_ms",
      { key: "reasons", render: (r) => (r.reasons || []).join("; ") }], h.services, { class: "health" }));
}

// --- routing and sign-in ---------------------------------------------------------------

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) { showSignIn(); return; }
  $("#signin").hidden = true;
  $("#nav").hidden = false;
  const [, name, arg] = (location.hash || "#/datasets").split("/");
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.page === name || (a.dataset.page === "datasets" && name === "dataset") || (a.dataset.page === "jobs" && name === "receipt"));
  }
  const arg0 = arg === undefined ? "" : decodeURIComponent(arg);
  const pages = { datasets: datasetsPage, dataset: () => datasetPage(arg0), sql: sqlPage, vectors: vectorsPage, jobs: jobsPage, receipt: () => receiptPage(arg0), health: healthPage };
  try {
    await (pages[name] || datasetsPage)();
  } catch (e) {
    failure(e);
  }
}

function showSignIn(message = "") {
  $("#nav").hidden = true;
  $("#page").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#token").value = "";
  $("#token").focus();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem("lakehouse.sql");
  showSignIn(message);
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $("#token").value.trim();
  if (!token) { $("#signin-error").textContent = "Enter a token."; return; }
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api("GET", "/health");
  } catch (e) {
    signOut(e instanceof ApiError && e.status === 401 ? "That token was refused." : e.message);
    return;
  }
  $("#token").value = "";
  if (!location.hash) location.hash = "#/datasets"; else route();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  route();
});

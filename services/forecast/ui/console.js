// ServiceLens planner console. Talks only to the service that served it; the API key lives in
// sessionStorage (this tab only) and travels in the X-API-Key header, never in a URL.
"use strict";

const KEY = "servicelens.apiKey";
const $ = (id) => document.getElementById(id);
const state = { queues: [], modelInterval: 15, plan: null, whatif: null, endpoints: new Set() };

// ---------------------------------------------------------------- helpers
function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function num(value, digits = 1) {
  return value === null || value === undefined || !Number.isFinite(value) ? "–"
    : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function pct(value, digits = 1) {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : `${(100 * value).toFixed(digits)}%`;
}
function table(columns, rows, attrs = "") {
  const head = columns.map((c) => `<th>${esc(c)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("");
  return `<div class="wide-table"><table ${attrs}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}
// "2026-03-02T08:00:00-05:00" -> "2026-03-02 08:00": the queue's wall clock as the API answers it
function wall(iso) { return iso.slice(0, 10) + " " + iso.slice(11, 16); }
function addMinutes(wallTime, minutes) {
  const t = new Date(wallTime.replace(" ", "T") + ":00Z").getTime() + minutes * 60000;
  const s = new Date(t).toISOString();
  return s.slice(0, 10) + " " + s.slice(11, 16);
}
function status(message, isError = false) {
  const el = $("status");
  el.hidden = !message;
  el.textContent = message || "";
  el.className = "status" + (isError ? " error" : "");
}
function csvCell(value) {
  const s = value === null || value === undefined ? "" : String(value);
  // a cell a spreadsheet would run as a formula is quoted with a leading apostrophe
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?[0-9.]+(e-?[0-9]+)?$/i.test(s) ? "'" + s : s;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
function downloadCsv(filename, columns, rows) {
  const text = [columns, ...rows].map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
function numbers(text, scale, field) {
  const values = String(text).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const out = values.map(Number);
  if (!out.length || out.some((v) => !Number.isFinite(v))) throw new Error(`${field}: give numbers separated by commas`);
  return out.map((v) => v * scale);
}
function optional(value, scale = 1) { return value === "" ? null : Number(value) * scale; }

// ---------------------------------------------------------------- API
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const errors = (data && data.errors) || [];
    const text = errors.map((e) => (e.field && e.field !== "request" ? `${e.field}: ` : "") + e.message).join("; ");
    const err = new Error(`${resp.status} ${text || resp.statusText || "error"}`);
    err.status = resp.status;
    throw err;
  }
  return data;
}
function failed(err) {
  if (err.status === 401) {  // no key, an unknown or a revoked one: ask again
    sessionStorage.removeItem(KEY);
    showLogin(`${err.message}: sign in with a valid API key`);
    status(`${err.message}: sign in with a valid API key`, true);
  } else if (err.status === 403) {
    status(`${err.message} (this key's role may not use this page)`, true);
  } else {
    status(err.message, true);
  }
}

// ---------------------------------------------------------------- sign in
function showLogin(message = "") {
  $("login").hidden = false;
  $("app").hidden = true;
  $("signout").hidden = true;
  $("login-error").textContent = message;
  $("key").value = "";
  $("key").focus();
}
async function enter() {
  await api("GET", "/ui/session");  // 401/403 here: the key is not good for this page
  const info = await api("GET", "/queues");
  state.queues = info.queues;
  state.modelInterval = info.interval_minutes;
  $("model").textContent = `forecast model v${info.model_version} · ${info.queues.length} queues · ${info.interval_minutes}-minute data`;
  $("queues").innerHTML = info.queues.map((q, i) =>
    `<label><input type="checkbox" name="queue" value="${esc(q)}"${i === 0 ? " checked" : ""}> ${esc(q)}</label>`).join("");
  $("whatif-queue").innerHTML = info.queues.map((q) => `<option value="${esc(q)}">${esc(q)}</option>`).join("");
  const m = info.interval_minutes;
  const choices = [...new Set([m, 2 * m, 4 * m, 60, 1440])].filter((x) => x % m === 0 && x <= 1440).sort((a, b) => a - b);
  for (const id of ["interval", "whatif-interval"]) {
    $(id).innerHTML = choices.map((x) => `<option value="${x}">${x < 1440 ? x + " min" : "1 day"}</option>`).join("");
  }
  try {  // tabs of optional endpoints appear when the service has them
    const spec = await (await fetch("/openapi.json")).json();
    state.endpoints = new Set(Object.keys(spec.paths || {}));
  } catch (e) { state.endpoints = new Set(); }
  for (const tab of document.querySelectorAll("#tabs [data-endpoint]")) tab.hidden = !state.endpoints.has(tab.dataset.endpoint);
  $("login").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  status("");
}
$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = $("key").value.trim();
  if (key) sessionStorage.setItem(KEY, key); else sessionStorage.removeItem(KEY);
  $("login-error").textContent = "";
  try { await enter(); } catch (err) { sessionStorage.removeItem(KEY); $("login-error").textContent = err.message; }
});
$("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY); status(""); showLogin(); });

for (const tab of document.querySelectorAll("#tabs button")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll("#tabs button")) {
      t.setAttribute("aria-selected", String(t === tab));
      $(`tab-${t.dataset.tab}`).hidden = t !== tab;
    }
    window.dispatchEvent(new Event("resize"));  // plotly sizes charts drawn while hidden
  });
}

// ---------------------------------------------------------------- forecast & staffing
function planBody() {
  const f = $("plan-form").elements;
  const queues = [...document.querySelectorAll("#queues input:checked")].map((i) => i.value);
  if (!queues.length) throw new Error("queues: tick at least one queue");
  const body = {
    queues,
    horizon: Number(f.horizon.value),
    interval_minutes: Number(f.interval_minutes.value),
    aht_seconds: Number(f.aht_seconds.value),
    sl_target: Number(f.sl_target.value) / 100,
    target_seconds: Number(f.target_seconds.value),
    patience_seconds: Number(f.patience_seconds.value),
    abandon_target: optional(f.abandon_target.value, 0.01),
    shrinkage: Number(f.shrinkage.value) / 100,
    max_occupancy: Number(f.max_occupancy.value) / 100,
    store_snapshot: f.store_snapshot.checked,
  };
  if (f.start.value) body.start = f.start.value.length === 16 ? f.start.value + ":00" : f.start.value;
  return body;
}

function planChart(el, queue, intervals, minutes) {
  if (typeof Plotly === "undefined") { el.textContent = "chart unavailable (plotly.min.js did not load)"; return; }
  const step = minutes * 60000;
  const segments = [];  // runs of consecutive open intervals: closed hours stay gaps
  intervals.forEach((r, i) => {
    const t = Date.parse(r.interval_start);
    if (!i || t - Date.parse(intervals[i - 1].interval_start) > step) segments.push([]);
    segments[segments.length - 1].push(r);
  });
  const band = { x: [], y: [] }, fc = { x: [], y: [] }, ea = { x: [], y: [] }, ec = { x: [], y: [] };
  for (const seg of segments) {
    if (fc.x.length) for (const s of [band, fc, ea, ec]) { s.x.push(null); s.y.push(null); }
    const xs = seg.map((r) => wall(r.interval_start));
    band.x.push(...xs, ...[...xs].reverse());
    band.y.push(...seg.map((r) => r.hi), ...seg.map((r) => r.lo).reverse());
    fc.x.push(...xs); fc.y.push(...seg.map((r) => r.forecast));
    const end = addMinutes(xs[xs.length - 1], minutes);  // an agent count holds for its whole interval
    ea.x.push(...xs, end); ea.y.push(...seg.map((r) => r.erlang_a_agents), seg[seg.length - 1].erlang_a_agents);
    ec.x.push(...xs, end); ec.y.push(...seg.map((r) => r.erlang_c_agents), seg[seg.length - 1].erlang_c_agents);
  }
  const traces = [
    { ...band, name: "80% band", fill: "toself", fillcolor: "rgba(31,119,180,0.18)", line: { width: 0 }, hoverinfo: "skip" },
    { ...fc, name: "forecast", line: { color: "#1f77b4", width: 2 } },
    { ...ea, name: "agents, Erlang A (plan with)", yaxis: "y2", line: { color: "#d62728", width: 1.5, shape: "hv" } },
    { ...ec, name: "agents, Erlang C (no abandonment)", yaxis: "y2", line: { color: "#ff7f0e", width: 1.5, dash: "dot", shape: "hv" } },
  ];
  const layout = {
    title: { text: esc(queue), x: 0.01 },
    height: 480,
    margin: { t: 60, b: 45, l: 60, r: 20 },
    hovermode: "x unified",
    legend: { orientation: "h", y: 1.1, x: 1, xanchor: "right" },
    xaxis: { anchor: "y2", title: { text: `interval start (${state.plan.summary.timezone ? "local time, " + state.plan.summary.timezone : "as given"})` } },
    yaxis: { domain: [0.42, 1], title: { text: "contacts per interval" }, rangemode: "tozero" },
    yaxis2: { domain: [0, 0.34], title: { text: "scheduled agents" }, rangemode: "tozero" },
  };
  Plotly.newPlot(el, traces, layout, { displaylogo: false, responsive: true });
}

function renderPlan() {
  const { plan } = state;
  const summary = plan.summary;
  const minutes = plan.interval_minutes;
  const out = $("plan-out");
  const parts = [`<div class="note" id="model-choice">${summary.recommendation}</div>`];
  const slug = (q) => q.replace(/[^A-Za-z0-9_-]/g, "_");
  for (const q of plan.queues) {
    const info = summary.queues[q.queue];
    parts.push(`<h3>${esc(q.queue)}</h3>`);
    parts.push(`<div class="kpis">
      <span class="kpi">forecast <b>${num(info.forecast_total, 0)}</b> contacts</span>
      <span class="kpi">peak <b>${esc(info.peak_interval)}</b> (${num(info.peak_forecast)})</span>
      <span class="kpi">peak agents <b>${info.erlang_a_peak_agents}</b> Erlang A, ${info.erlang_c_peak_agents} Erlang C</span>
      <span class="kpi">agent-hours <b>${num(info.erlang_a_agent_hours)}</b> Erlang A, ${num(info.erlang_c_agent_hours)} Erlang C</span></div>`);
    parts.push(`<div class="chart" id="chart-${slug(q.queue)}"></div>`);
    parts.push("<h4>Per day</h4>");
    parts.push(table(
      ["date", "open", "intervals", "forecast calls", "peak interval", "peak calls", "peak agents A", "agent-hours A",
        "FTE A", "SL achieved A", "abandon A", "agent-hours C", "FTE C", "SL achieved C"],
      info.daily.map((d) => [esc(d.date), `${esc(d.first_interval)}–${esc(d.closes)}`, d.open_intervals, num(d.forecast_calls),
        esc(d.peak_interval), num(d.peak_calls), d.erlang_a_peak_agents, num(d.erlang_a_agent_hours), num(d.erlang_a_fte),
        pct(d.erlang_a_service_level), pct(d.erlang_a_abandon), num(d.erlang_c_agent_hours), num(d.erlang_c_fte),
        pct(d.erlang_c_service_level)]),
      `class="daily" data-queue="${esc(q.queue)}"`));
    parts.push(`<details open><summary>Required agents per interval (${q.intervals.length})</summary>`);
    parts.push(table(
      ["interval (local)", "forecast", "80% band", "agents A", "SL A", "abandon A", "agents C", "SL C", "ASA C (s)"],
      q.intervals.map((r) => [wall(r.interval_start), num(r.forecast), `${num(r.lo)}–${num(r.hi)}`, r.erlang_a_agents,
        pct(r.erlang_a_service_level), pct(r.erlang_a_abandon), r.erlang_c_agents, pct(r.erlang_c_service_level),
        r.erlang_c_asa >= 1e9 ? "unstable" : num(r.erlang_c_asa)]),
      `class="intervals" data-queue="${esc(q.queue)}"`));
    parts.push("</details>");
  }
  out.innerHTML = parts.join("\n");
  for (const q of plan.queues) planChart($(`chart-${slug(q.queue)}`), q.queue, q.intervals, minutes);
}

$("plan-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  let body;
  try { body = planBody(); } catch (err) { status(err.message, true); return; }
  $("run-plan").disabled = true;
  status("forecasting…");
  try {
    state.plan = await api("POST", "/forecast/plan", body);
    renderPlan();
    $("csv-plan").disabled = false;
    const n = state.plan.queues.reduce((a, q) => a + q.intervals.length, 0);
    status(`model v${state.plan.model_version}: ${n} intervals` + (state.plan.snapshot_id ? `, stored as snapshot ${state.plan.snapshot_id}` : ""));
  } catch (err) { failed(err); } finally { $("run-plan").disabled = false; }
});

const PLAN_COLUMNS = ["queue", "local_time", "interval_start", "forecast", "lo", "hi", "erlang_a_agents",
  "erlang_a_service_level", "erlang_a_asa", "erlang_a_abandon", "erlang_c_agents", "erlang_c_service_level", "erlang_c_asa"];
$("csv-plan").addEventListener("click", () => {
  const rows = [];
  for (const q of state.plan.queues) {
    for (const r of q.intervals) rows.push(PLAN_COLUMNS.map((c) => (c === "queue" ? q.queue : c === "local_time" ? wall(r.interval_start) : r[c])));
  }
  const first = state.plan.queues[0].intervals[0];
  downloadCsv(`forecast_${first ? wall(first.interval_start).slice(0, 10) : "plan"}.csv`, PLAN_COLUMNS, rows);
});

// ---------------------------------------------------------------- what-if grid
const WHATIF_COLUMNS = [
  ["volume_change", "volume change", (v) => pct(v, 0)], ["aht_change", "AHT change", (v) => pct(v, 0)],
  ["sl_target", "SL target", (v) => pct(v, 0)], ["target_seconds", "within (s)", (v) => num(v, 0)],
  ["shrinkage", "shrinkage", (v) => pct(v, 0)], ["calls", "calls", (v) => num(v, 0)],
  ["erlang_a_agent_hours", "agent-hours A", num], ["erlang_a_peak_agents", "peak agents A", (v) => num(v, 0)],
  ["erlang_a_service_level", "SL achieved A", pct], ["erlang_a_abandon", "abandon A", pct],
  ["erlang_c_agent_hours", "agent-hours C", num], ["erlang_c_peak_agents", "peak agents C", (v) => num(v, 0)],
  ["erlang_c_service_level", "SL achieved C", pct],
];
$("whatif-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = $("whatif-form").elements;
  let body;
  try {
    body = {
      queue: f.queue.value,
      horizon: Number(f.horizon.value),
      interval_minutes: Number(f.interval_minutes.value),
      aht_seconds: Number(f.aht_seconds.value),
      volume_changes: numbers(f.volume_changes.value, 0.01, "volume change"),
      aht_changes: numbers(f.aht_changes.value, 0.01, "AHT change"),
      sl_targets: numbers(f.sl_targets.value, 0.01, "SL target"),
      target_seconds: numbers(f.target_seconds.value, 1, "answered within"),
      shrinkages: numbers(f.shrinkages.value, 0.01, "shrinkage"),
      patience_seconds: optional(f.patience_seconds.value),
      abandon_target: optional(f.abandon_target.value, 0.01),
      max_occupancy: Number(f.max_occupancy.value) / 100,
    };
  } catch (err) { status(err.message, true); return; }
  $("run-whatif").disabled = true;
  status("solving the grid…");
  try {
    state.whatif = await api("POST", "/staffing", body);
    const cols = WHATIF_COLUMNS.filter(([k]) => state.whatif.scenarios.some((s) => k in s));
    const model = body.patience_seconds ? "Erlang A (plan with: it counts callers who hang up) and Erlang C (nobody abandons: the upper bound)" : "Erlang C only (no caller patience given)";
    $("whatif-out").innerHTML = `<p>${state.whatif.scenarios.length} scenarios over ${state.whatif.n_intervals} intervals of ${esc(body.queue)}'s forecast; agents by ${model}. Agent-hours include shrinkage.</p>`
      + table(cols.map(([, label]) => label), state.whatif.scenarios.map((s) => cols.map(([k, , fmt]) => fmt(s[k]))), 'class="whatif"');
    $("csv-whatif").disabled = false;
    status(`model v${state.whatif.model_version}: ${state.whatif.scenarios.length} scenarios`);
  } catch (err) { failed(err); } finally { $("run-whatif").disabled = false; }
});
$("csv-whatif").addEventListener("click", () => {
  const keys = Object.keys(state.whatif.scenarios[0] || {});
  downloadCsv("what_if.csv", keys, state.whatif.scenarios.map((s) => keys.map((k) => s[k])));
});

// ---------------------------------------------------------------- start
if (sessionStorage.getItem(KEY)) enter().catch(failed); else showLogin();

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
    status("");
    showLogin(`${err.message}: sign in with a valid API key`);
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
  const session = await api("GET", "/ui/session");  // 401/403 here: the key is not good for this page
  state.timezone = session.timezone;
  const info = await api("GET", "/queues");
  state.queues = info.queues;
  state.modelInterval = info.interval_minutes;
  $("model").textContent = `forecast model v${info.model_version} · ${info.queues.length} queues · ${info.interval_minutes}-minute data`
    + (state.timezone ? ` · times in ${state.timezone}` : "");
  $("queues").innerHTML = info.queues.map((q, i) =>
    `<label><input type="checkbox" name="queue" value="${esc(q)}"${i === 0 ? " checked" : ""}> ${esc(q)}</label>`).join("");
  $("whatif-queue").innerHTML = info.queues.map((q) => `<option value="${esc(q)}">${esc(q)}</option>`).join("");
  const m = info.interval_minutes;
  const choices = [...new Set([m, 2 * m, 4 * m, 60, 1440])].filter((x) => x % m === 0 && x <= 1440).sort((a, b) => a - b);
  for (const id of ["interval", "whatif-interval", "intraday-interval"]) {
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

// runs of consecutive intervals (closed hours between them stay gaps in every chart)
function segmentsOf(rows, minutes) {
  const step = minutes * 60000;
  const segments = [];
  rows.forEach((r, i) => {
    if (!i || Date.parse(r.interval_start) - Date.parse(rows[i - 1].interval_start) > step) segments.push([]);
    segments[segments.length - 1].push(r);
  });
  return segments;
}
// one plotly trace of rows[key] in local wall-clock time, null between segments; a step line
// holds its last value to the end of its interval (an agent count covers the whole interval)
function line(rows, key, minutes, style, stepped = false) {
  const x = [], y = [];
  for (const seg of segmentsOf(rows, minutes)) {
    if (x.length) { x.push(null); y.push(null); }
    for (const r of seg) { x.push(wall(r.interval_start)); y.push(r[key]); }
    if (stepped) { x.push(addMinutes(wall(seg[seg.length - 1].interval_start), minutes)); y.push(seg[seg.length - 1][key]); }
  }
  return { x, y, ...style, line: { ...(style.line || {}), ...(stepped ? { shape: "hv" } : {}) } };
}
function band(rows, minutes, name = "80% band") {
  const x = [], y = [];
  for (const seg of segmentsOf(rows, minutes)) {
    if (x.length) { x.push(null); y.push(null); }
    const xs = seg.map((r) => wall(r.interval_start));
    x.push(...xs, ...[...xs].reverse());
    y.push(...seg.map((r) => r.hi), ...seg.map((r) => r.lo).reverse());
  }
  return { x, y, name, fill: "toself", fillcolor: "rgba(31,119,180,0.18)", line: { width: 0 }, hoverinfo: "skip" };
}
// contacts on top, agents below, one time axis (twin axes read as one tangle of lines)
function chart(el, title, top, bottom, titles = ["contacts per interval", "agents"]) {
  if (typeof Plotly === "undefined") { el.textContent = "chart unavailable (plotly.min.js did not load)"; return; }
  const zone = state.timezone ? `local time, ${state.timezone}` : "as given";
  const layout = {
    title: { text: esc(title), x: 0.01 },
    height: 480,
    margin: { t: 60, b: 45, l: 60, r: 20 },
    hovermode: "x unified",
    legend: { orientation: "h", y: 1.1, x: 1, xanchor: "right" },
    xaxis: { anchor: "y2", title: { text: `interval start (${zone})` } },
    yaxis: { domain: [0.42, 1], title: { text: titles[0] }, rangemode: "tozero" },
    yaxis2: { domain: [0, 0.34], title: { text: titles[1] }, rangemode: "tozero" },
  };
  Plotly.newPlot(el, [...top, ...bottom.map((t) => ({ ...t, yaxis: "y2" }))], layout, { displaylogo: false, responsive: true });
}
const AGENTS_A = { name: "agents, Erlang A (plan with)", line: { color: "#d62728", width: 1.5 } };
const AGENTS_C = { name: "agents, Erlang C (no abandonment)", line: { color: "#ff7f0e", width: 1.5, dash: "dot" } };

function planChart(el, queue, intervals, minutes) {
  chart(el, queue,
    [band(intervals, minutes), line(intervals, "forecast", minutes, { name: "forecast", line: { color: "#1f77b4", width: 2 } })],
    [line(intervals, "erlang_a_agents", minutes, AGENTS_A, true), line(intervals, "erlang_c_agents", minutes, AGENTS_C, true)]);
}

function renderPlan() {
  const { plan } = state;
  const summary = plan.summary;
  const minutes = plan.interval_minutes;
  const out = $("plan-out");
  const parts = [`<div id="model-choice">${summary.recommendation}</div>`];
  const slug = (q) => q.replace(/[^A-Za-z0-9_-]/g, "_");
  for (const q of plan.queues) {
    const info = summary.queues[q.queue];
    parts.push(`<h3>${esc(q.queue)}</h3>`);
    if (!info || !q.intervals.length) { parts.push("<p>No open interval in this horizon.</p>"); continue; }
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
  for (const q of plan.queues) if (q.intervals.length) planChart($(`chart-${slug(q.queue)}`), q.queue, q.intervals, minutes);
}

$("plan-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  let body;
  try { body = planBody(); } catch (err) { status(err.message, true); return; }
  $("run-plan").disabled = true;
  status("forecasting…");
  try {
    state.plan = await api("POST", "/forecast/plan", body);
    state.timezone = state.plan.summary.timezone;
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

// ---------------------------------------------------------------- intraday reforecast
// rows of a small CSV (header line first; quoted cells may hold commas) as objects
function parseCsv(text, what, required, numeric) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) throw new Error(`${what}: needs a header line and at least one row`);
  const split = (l) => [...l.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => m[1].replace(/^"|"$/g, "").replace(/""/g, '"').trim());
  const header = split(lines[0]).map((h) => h.toLowerCase());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length) throw new Error(`${what}: missing column(s) ${missing.join(", ")} (has ${header.join(", ")})`);
  return lines.slice(1).map((l, i) => {
    const cells = split(l);
    const row = {};
    header.forEach((h, j) => { if (cells[j] !== undefined && cells[j] !== "") row[h] = cells[j]; });
    for (const c of numeric) {
      const v = Number(row[c]);
      if (row[c] === undefined || !Number.isFinite(v)) throw new Error(`${what} line ${i + 2}: ${c} ${JSON.stringify(row[c] ?? "")} is not a number`);
      row[c] = v;
    }
    return row;
  });
}
async function fileText(input) { return input.files && input.files.length ? input.files[0].text() : ""; }

$("intraday-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = $("intraday-form").elements;
  let body;
  try {
    const actualsText = (await fileText(f.actuals_file)) || f.actuals.value;
    if (!actualsText.trim()) throw new Error("actuals: choose a CSV file or paste the rows");
    const pick = (r, keys) => Object.fromEntries(keys.filter((k) => k in r).map((k) => [k, r[k]]));
    const actuals = parseCsv(actualsText, "actuals", ["interval_start", "calls"], ["calls"]).map((r) => pick(r, ["queue", "interval_start", "calls"]));
    const schedText = await fileText(f.scheduled_file);
    const scheduled = schedText ? parseCsv(schedText, "scheduled", ["interval_start", "agents"], ["agents"]).map((r) => pick(r, ["queue", "interval_start", "agents"])) : [];
    body = {
      actuals, scheduled,
      interval_minutes: Number(f.interval_minutes.value),
      aht_seconds: Number(f.aht_seconds.value),
      sl_target: Number(f.sl_target.value) / 100,
      target_seconds: Number(f.target_seconds.value),
      patience_seconds: Number(f.patience_seconds.value),
      abandon_target: optional(f.abandon_target.value, 0.01),
      shrinkage: Number(f.shrinkage.value) / 100,
      max_occupancy: Number(f.max_occupancy.value) / 100,
    };
    if (f.at.value) body.at = f.at.value.length === 16 ? f.at.value + ":00" : f.at.value;
  } catch (err) { status(err.message, true); return; }
  $("run-intraday").disabled = true;
  status("reforecasting…");
  try {
    state.intraday = await api("POST", "/forecast/intraday", body);
    renderIntraday(body.scheduled.length > 0);
    $("csv-intraday").disabled = false;
    status(`model v${state.intraday.model_version}: ${state.intraday.queues.length} queue(s) reforecast`);
  } catch (err) { failed(err); } finally { $("run-intraday").disabled = false; }
});

function renderIntraday(hasScheduled) {
  const res = state.intraday;
  const minutes = res.interval_minutes;
  const slug = (q) => q.replace(/[^A-Za-z0-9_-]/g, "_");
  const parts = [];
  for (const q of res.queues) {
    const change = 100 * (q.factor - 1);
    parts.push(`<h3>${esc(q.queue)} · ${esc(q.day)}</h3><div class="kpis">
      <span class="kpi">so far <b>${num(q.observed, 0)}</b> calls vs ${num(q.expected, 0)} expected (ratio ${q.ratio.toFixed(2)})</span>
      <span class="kpi">rest of the day <b>${change >= 0 ? "+" : ""}${change.toFixed(1)}%</b> (×${q.factor.toFixed(3)}, weight ${q.weight.toFixed(2)} on today's ratio)</span>
      <span class="kpi">cut at <b>${esc(wall(q.at))}</b></span></div>`);
    parts.push(`<div class="chart" id="ichart-${slug(q.queue)}"></div>`);
    const cols = ["interval (local)", "start-of-day", "reforecast", "80% band", "agents A", "agents C"];
    if (hasScheduled) cols.push("scheduled", "short (+) / over (−)", "expected SL", "expected abandon");
    parts.push(table(cols, q.intervals.map((r) => {
      const row = [wall(r.interval_start), num(r.start_of_day), num(r.forecast), `${num(r.lo)}–${num(r.hi)}`, r.erlang_a_agents, r.erlang_c_agents];
      if (hasScheduled) row.push(num(r.scheduled), num(r.agents_short), pct(r.expected_service_level), pct(r.expected_abandon));
      return row;
    }), `class="intraday" data-queue="${esc(q.queue)}"`));
  }
  $("intraday-out").innerHTML = `<p>Agents for the rest of the day under Erlang A (plan with: it counts callers who hang up) and Erlang C (nobody abandons: the upper bound), shrinkage included.</p>` + parts.join("\n");
  for (const q of res.queues) {
    const past = q.past.filter((r) => r.actual !== null);
    chart($(`ichart-${slug(q.queue)}`), q.queue,
      [band(q.intervals, minutes, "80% band (reforecast)"),
        line([...q.past, ...q.intervals.map((r) => ({ ...r, forecast: r.start_of_day }))], "forecast", minutes, { name: "start-of-day forecast", line: { color: "#888", width: 1.5, dash: "dash" } }),
        line(past, "actual", minutes, { name: "actuals so far", line: { color: "black", width: 1.5 } }),
        line(q.intervals, "forecast", minutes, { name: "reforecast", line: { color: "#1f77b4", width: 2 } })],
      [line(q.intervals, "erlang_a_agents", minutes, AGENTS_A, true),
        ...(hasScheduled ? [line(q.intervals, "scheduled", minutes, { name: "scheduled", line: { color: "#2e7d32", width: 1.5 } }, true)] : [])]);
  }
}
$("csv-intraday").addEventListener("click", () => {
  const keys = ["queue", "local_time", ...Object.keys(state.intraday.queues[0]?.intervals[0] || {})];
  const rows = state.intraday.queues.flatMap((q) => q.intervals.map((r) => keys.map((k) => (k === "queue" ? q.queue : k === "local_time" ? wall(r.interval_start) : r[k]))));
  downloadCsv("intraday.csv", keys, rows);
});

// ---------------------------------------------------------------- shifts (POST /schedule)
$("schedule-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = $("schedule-form").elements;
  let body;
  try {
    const { store_snapshot: _, ...forecast } = planBody();
    body = {
      forecast: { ...forecast, staffing_model: f.staffing_model.value },
      part_time_share: optional(f.part_time_share.value, 0.01),
      hard_coverage: f.hard_coverage.checked,
      time_limit_s: Number(f.time_limit_s.value),
    };
  } catch (err) { status(`${err.message} (set on the Forecast & staffing tab)`, true); return; }
  $("run-schedule").disabled = true;
  status(`solving shifts (up to ${body.time_limit_s} s)…`);
  try {
    state.schedule = await api("POST", "/schedule", body);
    renderSchedule(body);
    $("csv-schedule").disabled = false;
    status(`model v${state.schedule.model_version}: ${state.schedule.status}, ${state.schedule.shifts.length} shift rows`);
  } catch (err) { failed(err); } finally { $("run-schedule").disabled = false; }
});
function renderSchedule(body) {
  const r = state.schedule;
  const open = r.coverage.filter((c) => c.open);
  // the coverage rows' own spacing (the solver's grid may be finer than the rows it reports)
  const gaps = open.slice(1).map((c, i) => (Date.parse(c.interval_start) - Date.parse(open[i].interval_start)) / 60000);
  const minutes = gaps.length ? Math.min(...gaps.filter((g) => g > 0)) : r.grid_minutes;
  const parts = [`<p>Queues ${body.forecast.queues.map(esc).join(", ")}, agents by ${body.forecast.staffing_model === "erlang_a" ? "Erlang A" : "Erlang C"}; solver ${esc(r.status)} in ${num(r.solve_seconds)} s (gap ${pct(r.gap)}).</p>`,
    `<div class="kpis"><span class="kpi">agent shifts <b>${r.headcount}</b></span>
      <span class="kpi">paid hours <b>${num(r.paid_hours)}</b></span>
      <span class="kpi">part-time share <b>${pct(r.part_time_share)}</b></span>
      <span class="kpi">agent-intervals short <b>${num(r.under_agent_intervals, 0)}</b>, over ${num(r.over_agent_intervals, 0)}</span></div>`,
    `<div class="chart" id="schedule-chart"></div>`, "<h4>Paid hours per day</h4>",
    table(["day", "paid hours"], Object.entries(r.paid_hours_per_day).map(([d, h]) => [esc(d), num(h)]), 'class="schedule-days"'),
    `<details open><summary>Shifts (${r.shifts.length} rows)</summary>`,
    table(["day", "shift", "start", "end", "agents", "paid hours each", "class"], r.shifts.map((x) =>
      [esc(x.day), esc(x.template), wall(x.start).slice(11), wall(x.end).slice(11), x.headcount, num(x.paid_hours), esc(x.contract_class)]), 'class="shifts"'),
    "</details>"];
  $("schedule-out").innerHTML = parts.join("\n");
  // the roster tab starts from the agents these shifts need: the busiest day's shifts per class,
  // or the week's shifts over the working days one agent may work, whichever is more
  const rf = $("roster-form").elements;
  for (const [cls, field] of [["full_time", rf.n_full], ["part_time", rf.n_part]]) {
    const perDay = {};
    for (const x of r.shifts.filter((x) => x.contract_class === cls)) perDay[x.day] = (perDay[x.day] || 0) + x.headcount;
    const counts = Object.values(perDay);
    const total = counts.reduce((a, b) => a + b, 0);
    field.value = Math.max(0, ...counts, Math.ceil(total / Number(rf.max_working_days.value || 5)));
  }
  const staffed = open.map((c) => ({ ...c, working: c.scheduled - c.on_break }));
  chart($("schedule-chart"), "requirement and shifts",
    [line(staffed, "required", minutes, { name: "agents required", line: { color: "#d62728", width: 1.5 } }, true),
      line(staffed, "working", minutes, { name: "agents working (on shift, not on break)", line: { color: "#2e7d32", width: 1.5 } }, true)],
    [line(staffed, "under", minutes, { name: "short", line: { color: "#c62828", width: 1 } }, true),
      line(staffed, "over", minutes, { name: "over", line: { color: "#888", width: 1 } }, true)],
    ["agents", "agents short / over"]);
}
$("csv-schedule").addEventListener("click", () => {
  const keys = Object.keys(state.schedule.shifts[0] || {});
  downloadCsv("shifts.csv", keys, state.schedule.shifts.map((x) => keys.map((k) => x[k])));
});

// ---------------------------------------------------------------- roster (POST /roster)
$("roster-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = $("roster-form").elements;
  if (!state.schedule || !state.schedule.shifts.length) { status("solve shifts on the Shifts tab first", true); return; }
  let agents;
  try {
    const text = await fileText(f.agents_file);
    if (text) {
      agents = parseCsv(text, "agents", ["name"], []).map((a) => ({
        name: a.name,
        contract_class: a.contract_class || null,
        contracted_hours: a.contracted_hours === undefined ? null : Number(a.contracted_hours),
      }));
    } else {
      const make = (n, cls, prefix) => Array.from({ length: n }, (_, i) => ({ name: `${prefix}${String(i + 1).padStart(2, "0")}`, contract_class: cls }));
      agents = [...make(Number(f.n_full.value), "full_time", "FT"), ...make(Number(f.n_part.value), "part_time", "PT")];
    }
    if (!agents.length) throw new Error("agents: upload a CSV or give a number of agents");
  } catch (err) { status(err.message, true); return; }
  const body = {
    // shifts on the queues' wall clock (no UTC offset): a roster's days, rest hours and weekends
    // are local, and the answer then reads in the same local time as every other tab
    shifts: state.schedule.shifts.map(({ template, start, end, headcount, paid_hours, contract_class }) =>
      ({ template, start: start.slice(0, 19), end: end.slice(0, 19), headcount, paid_hours, contract_class })),
    agents,
    max_working_days: Number(f.max_working_days.value),
    consecutive_days_off: Number(f.consecutive_days_off.value),
    min_rest_hours: Number(f.min_rest_hours.value),
    time_limit_s: Number(f.time_limit_s.value),
  };
  $("run-roster").disabled = true;
  status(`building the roster (up to ${body.time_limit_s} s)…`);
  try {
    state.roster = await api("POST", "/roster", body);
    renderRoster();
    $("csv-roster").disabled = false;
    status(`roster ${state.roster.status}: ${state.roster.shifts_assigned} shifts assigned, ${state.roster.shifts_unassigned} unassigned`);
  } catch (err) { failed(err); } finally { $("run-roster").disabled = false; }
});
function renderRoster() {
  const r = state.roster;
  const fair = r.fairness || {};
  const parts = [`<div class="kpis"><span class="kpi">week of <b>${esc(r.week_start)}</b></span>
      <span class="kpi">shifts assigned <b>${r.shifts_assigned}</b>, unassigned ${r.shifts_unassigned}</span>
      <span class="kpi">weekend shifts per agent ${num(fair.weekend_shifts_min, 0)}–${num(fair.weekend_shifts_max, 0)}</span>
      <span class="kpi">rule breaches <b>${r.violations.length}</b></span></div>`];
  if (r.violations.length) parts.push(`<ul class="error">${r.violations.map((v) => `<li>${esc(v)}</li>`).join("")}</ul>`);
  if (r.shifts_unassigned) {
    parts.push("<h4>Shifts nobody could take (hire, or relax the rules)</h4>",
      table(["shift", "start", "end", "count"], r.unassigned.map((u) => [esc(u.template), esc(u.start).replace("T", " ").slice(0, 16), esc(u.end).replace("T", " ").slice(0, 16), u.count])));
  }
  parts.push("<h4>Agents</h4>", table(["agent", "days worked", "paid hours", "weekend shifts", "days off", "contracted hours"],
    r.agents.map((a) => [esc(a.agent), a.days_worked, num(a.paid_hours), a.weekend_shifts, esc(a.days_off), num(a.contracted_hours)]), 'class="roster-agents"'));
  parts.push(`<details><summary>Assignments (${r.assignments.length})</summary>`,
    table(["agent", "day", "shift", "start", "end", "paid hours"], r.assignments.map((a) =>
      [esc(a.agent), esc(a.day), esc(a.template), esc(a.start).replace("T", " ").slice(0, 16), esc(a.end).replace("T", " ").slice(0, 16), num(a.paid_hours)]), 'class="roster"'), "</details>");
  $("roster-out").innerHTML = parts.join("\n");
}
$("csv-roster").addEventListener("click", () => {
  const keys = Object.keys(state.roster.assignments[0] || {});
  downloadCsv("roster.csv", keys, state.roster.assignments.map((a) => keys.map((k) => a[k])));
});

// ---------------------------------------------------------------- start
if (sessionStorage.getItem(KEY)) enter().catch(failed); else showLogin();

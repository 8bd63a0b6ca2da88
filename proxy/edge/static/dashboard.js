// Hermes dashboard: polls the monitoring API and draws it with plain SVG.
// Every piece of data reaches the page through textContent or a numeric
// attribute, never as markup, so a prompt carrying <script> stays text.
"use strict";

const API = "/api/v1/monitoring/dashboard";
const REQUEST_API = "/api/v1/monitoring/requests/";
const REFRESH_MS = 5000;
const SESSION_CHARS = 8;
const SVG_NS = "http://www.w3.org/2000/svg";
// Tableau 10: distinct, and readable for most colour-blind viewers.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const COLORS = { local: "#2f9e62", cloud: "#3b6fd8", track: "#e6e9ef", warn: "#d98e04", bad: "#d64545" };

// The fragment holds the page's own settings: `key` (with HERMES_API_KEY set,
// open /dashboard#key=<key>: the fragment never leaves the browser, and the
// key goes to the API as a Bearer header) and `request` (the row opened).
function hashParams() {
  return new URLSearchParams(location.hash.slice(1));
}

function apiHeaders() {
  const key = hashParams().get("key");
  return key ? { accept: "application/json", authorization: `Bearer ${key}` } : { accept: "application/json" };
}

// -- building blocks ----------------------------------------------------------

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function withTitle(node, text) {
  node.appendChild(svg("title", {}, text));
  return node;
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function swatch(color) {
  const box = svg("svg", { viewBox: "0 0 12 12", "aria-hidden": "true" });
  box.appendChild(svg("rect", { width: 12, height: 12, rx: 2, fill: color }));
  return box;
}

function legend(id, entries) {
  document.getElementById(id).replaceChildren(...entries.map(([label, color]) => {
    const item = el("span");
    item.append(swatch(color), document.createTextNode(label));
    return item;
  }));
}

function empty(message) {
  return el("div", { class: "empty" }, message);
}

// -- formatting ---------------------------------------------------------------

// Every amount on the page goes through here, so there is one format: whole
// cents from 10 cents up ($4.87), three significant digits below that
// ($0.0125, $0.00125, $0.000936), and $0.00 for nothing.
function usd(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const sign = value < 0 ? "-" : "";
  const size = Number(Math.abs(value).toPrecision(3));
  if (size === 0) return "$0.00";
  if (size >= 0.1) return sign + "$" + Math.abs(value).toFixed(2);
  return sign + "$" + size.toFixed(Math.min(2 - Math.floor(Math.log10(size)), 20));
}

function count(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

function pct(ratio) {
  return ratio === null || ratio === undefined ? "–" : Math.round(ratio * 100) + "%";
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? (value / 1000).toFixed(value >= 10000 ? 0 : 1) + " s" : Math.round(value) + " ms";
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function shortDay(day) {
  const [year, month, date] = day.split("-").map(Number);
  return new Date(year, month - 1, date).toLocaleDateString([], { month: "short", day: "numeric" });
}

// A chart's width in its own units: its width on the screen (so its text stays text-sized on a phone),
// at most `most`; its viewBox follows.
function fitWidth(chart, most, height) {
  const shown = Math.round(chart.getBoundingClientRect().width) || most;
  const width = Math.max(300, Math.min(most, shown));
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  return width;
}

// Room left of a money axis for its widest label, "$" included ($0.000250 is wider than $0.50).
function axisLeft(top_usd) {
  const widest = Math.max(...[0, 1, 2, 3, 4].map((tick) => usd((top_usd * tick) / 4).length));
  return Math.max(64, 16 + 7.5 * widest);
}

// A round axis maximum above `value` (1, 2 or 5 times a power of ten).
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function colorFor(models) {
  const sorted = [...models].sort();
  return new Map(sorted.map((model, index) => [model, PALETTE[index % PALETTE.length]]));
}

// -- the budget gauge ---------------------------------------------------------

function arc(cx, cy, r, from, to) {
  // Fractions of a half circle, 0 at the left end and 1 at the right end.
  const point = (f) => [cx - r * Math.cos(Math.PI * f), cy - r * Math.sin(Math.PI * f)];
  const [x0, y0] = point(from);
  const [x1, y1] = point(to);
  return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${r} ${r} 0 0 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

function renderBudget(budget) {
  const gauge = document.getElementById("budget-gauge");
  const limit = budget.limit_usd;
  const used = limit > 0 ? Math.min((budget.spent_usd + budget.reserved_usd) / limit, 1) : 1;
  const spent = limit > 0 ? Math.min(budget.spent_usd / limit, 1) : 1;
  const color = used >= 0.9 ? COLORS.bad : used >= 0.6 ? COLORS.warn : COLORS.local;
  const [cx, cy, r] = [120, 116, 92];
  const parts = [svg("path", { d: arc(cx, cy, r, 0, 1), stroke: COLORS.track, "stroke-width": 20, fill: "none" })];
  if (used > spent) {
    parts.push(withTitle(svg("path", { d: arc(cx, cy, r, spent, used), stroke: color, "stroke-opacity": 0.4,
                                       "stroke-width": 20, fill: "none" }), "reserved " + usd(budget.reserved_usd)));
  }
  if (spent > 0) {
    parts.push(withTitle(svg("path", { d: arc(cx, cy, r, 0, spent), stroke: color, "stroke-width": 20, fill: "none" }),
                         "spent " + usd(budget.spent_usd)));
  }
  parts.push(svg("text", { x: cx, y: cy - 22, "text-anchor": "middle", class: "big" }, pct(used)));
  parts.push(svg("text", { x: cx, y: cy - 2, "text-anchor": "middle", class: "small" }, "of " + usd(limit) + " used"));
  parts.push(svg("text", { x: cx - r, y: cy + 18, "text-anchor": "middle" }, usd(0)));
  parts.push(svg("text", { x: cx + r, y: cy + 18, "text-anchor": "middle" }, usd(limit)));
  gauge.replaceChildren(...parts);
  setText("budget-day", budget.day);
  setText("budget-spent", usd(budget.spent_usd));
  setText("budget-reserved", usd(budget.reserved_usd));
  setText("budget-remaining", usd(budget.remaining_usd));
  setText("budget-limit", usd(limit));
  setText("budget-tier", budget.tier);
  setText("budget-resets", new Date(budget.resets_at).toLocaleString([], { weekday: "short", hour: "2-digit",
                                                                            minute: "2-digit", hour12: false }));
}

// -- headline figures ---------------------------------------------------------

function renderKpis(data) {
  const requests = data.by_task_type.reduce((sum, row) => sum + row.requests, 0);
  const local = data.by_task_type.reduce((sum, row) => sum + row.local, 0);
  setText("window-days", String(data.window_days));
  setText("kpi-requests", String(requests));
  setText("kpi-local-share", requests ? pct(local / requests) : "–");
  setText("kpi-upgrade-rate", pct(data.upgrade.rate));
  setText("kpi-upgrade-detail", `${data.upgrade.to_cloud} of ${data.upgrade.auto_requests} auto requests`);
  setText("kpi-quality", data.quality.mean === null ? "–" : data.quality.mean.toFixed(1) + " / 10");
  setText("kpi-quality-detail", `${data.quality.scored} scored local answers`);
  setText("kpi-latency-p50", ms(data.latency_ms.p50));
  setText("kpi-latency-p95", ms(data.latency_ms.p95));
}

// -- spend by day and model ---------------------------------------------------

function renderSpend(days, requests) {
  const chart = document.getElementById("spend-chart");
  const models = [...new Set(days.flatMap((day) => Object.keys(day.by_model)))];
  const colors = colorFor(models);
  const total = days.reduce((sum, day) => sum + day.total_usd, 0);
  setText("spend-total", usd(total) + " in " + days.length + " days");
  const top_usd = niceMax(Math.max(...days.map((day) => day.total_usd), 0));
  const [width, height, left, right, top, bottom] = [fitWidth(chart, 1200, 220), 220, axisLeft(top_usd), 12, 20, 30];
  const y = (value) => top + (height - top - bottom) * (1 - value / top_usd);
  const parts = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top_usd * tick) / 4;
    parts.push(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "axis" }));
    parts.push(svg("text", { x: left - 8, y: y(value) + 4, "text-anchor": "end" }, usd(value)));
  }
  const slot = (width - left - right) / Math.max(days.length, 1);
  const every = Math.ceil(44 / slot);  // a day label (and a bar's total) needs about 44 units: on a phone, fewer
  days.forEach((day, index) => {
    const x = left + index * slot + slot * 0.18;
    let base = 0;
    for (const model of models) {
      const cost = day.by_model[model] || 0;
      if (cost <= 0) continue;
      const bar = svg("rect", { x: x.toFixed(1), y: y(base + cost).toFixed(1), width: (slot * 0.64).toFixed(1),
                                height: Math.max(y(base) - y(base + cost), 1).toFixed(1), fill: colors.get(model) });
      parts.push(withTitle(bar, `${day.day} ${model}: ${usd(cost)}`));
      base += cost;
    }
    const today = index === days.length - 1;
    if (day.total_usd > 0 && (every === 1 || today)) {
      parts.push(svg("text", { x: (x + slot * 0.32).toFixed(1), y: y(base) - 5, "text-anchor": "middle",
                               class: "label-strong" }, usd(day.total_usd)));
    }
    if (today || (days.length - 1 - index) % every === 0 && days.length - 1 - index >= every) {
      parts.push(svg("text", { x: (x + slot * 0.32).toFixed(1), y: height - 10, "text-anchor": "middle",
                               class: today ? "label-strong" : "" }, today ? "Today" : shortDay(day.day)));
    }
  });
  if (!models.length) {
    const message = requests
      ? `No cloud spend in these ${days.length} days: the ${requests} requests answered cost nothing.`
      : `No requests in these ${days.length} days yet, so nothing was spent.`;
    parts.push(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "small",
                             id: "spend-empty" }, message));
  }
  chart.replaceChildren(...parts);
  legend("spend-legend", models.sort().map((model) => [model, colors.get(model)]));
}

// -- local vs cloud by task type ----------------------------------------------

function renderTaskTypes(rows) {
  const box = document.getElementById("task-types");
  if (!rows.length) {
    box.replaceChildren(empty("No requests yet."));
    return;
  }
  box.replaceChildren(...rows.map((row) => {
    const item = el("div", { class: "task-row" });
    const bar = svg("svg", { viewBox: "0 0 300 18", preserveAspectRatio: "none" });
    const share = row.local_share === null ? 0 : row.local_share;
    bar.appendChild(svg("rect", { width: 300, height: 18, rx: 4, fill: COLORS.track }));
    if (row.requests) {
      bar.appendChild(withTitle(svg("rect", { width: (300 * share).toFixed(1), height: 18, fill: COLORS.local }),
                                `${row.local} answered locally`));
      bar.appendChild(withTitle(svg("rect", { x: (300 * share).toFixed(1), width: (300 * (1 - share)).toFixed(1),
                                              height: 18, fill: COLORS.cloud }), `${row.cloud} answered in the cloud`));
    }
    const success = row.local_tried
      ? `local answers good enough ${pct(row.local_success_rate)} (${row.local_accepted} of ${row.local_tried})`
      : "no local answers scored";
    const quality = row.mean_quality === null ? "" : ` · mean quality ${row.mean_quality.toFixed(1)}`;
    item.append(el("span", { class: "name" }, row.task_type), bar,
                el("span", { class: "figures" },
                   `${row.local} local · ${row.cloud} cloud (${pct(row.local_share)} local) · ${success}${quality}`));
    return item;
  }));
  const key = el("div", { class: "legend" });
  key.append(...[["local", COLORS.local], ["cloud", COLORS.cloud]].map(([label, color]) => {
    const item = el("span");
    item.append(swatch(color), document.createTextNode(label));
    return item;
  }));
  box.appendChild(key);
}

// -- prediction accuracy ------------------------------------------------------

function renderAccuracy(predictions) {
  const chart = document.getElementById("accuracy-chart");
  legend("accuracy-legend", [["predicted", COLORS.warn], ["actual", COLORS.cloud]]);
  if (!predictions.length) {
    setText("accuracy-summary", "");
    chart.replaceChildren(svg("text", { x: fitWidth(chart, 580, 230) / 2, y: 115, "text-anchor": "middle",
                                        class: "small" }, "No cloud calls yet, so nothing was predicted."));
    return;
  }
  const latest = predictions.slice(-10).map((p) => p.error_pct).sort((a, b) => a - b);
  const median = latest.length % 2 ? latest[(latest.length - 1) / 2]
    : (latest[latest.length / 2 - 1] + latest[latest.length / 2]) / 2;
  setText("accuracy-summary", `median error of the last ${latest.length}: ${median.toFixed(1)}%`);
  const top_usd = niceMax(Math.max(...predictions.flatMap((p) => [p.predicted_cost_usd, p.actual_cost_usd])));
  const [width, height, left, right, top, bottom] = [fitWidth(chart, 580, 230), 230, axisLeft(top_usd), 12, 12, 26];
  const x = (i) => left + (predictions.length === 1 ? (width - left - right) / 2
                                                     : (i * (width - left - right)) / (predictions.length - 1));
  const y = (value) => top + (height - top - bottom) * (1 - value / top_usd);
  const parts = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top_usd * tick) / 4;
    parts.push(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "axis" }));
    parts.push(svg("text", { x: left - 8, y: y(value) + 4, "text-anchor": "end" }, usd(value)));
  }
  const series = [["predicted_cost_usd", COLORS.warn, "5 4"], ["actual_cost_usd", COLORS.cloud, ""]];
  for (const [key, color, dash] of series) {
    const points = predictions.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    parts.push(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dash }));
    predictions.forEach((p, i) => {
      const dot = svg("circle", { cx: x(i).toFixed(1), cy: y(p[key]).toFixed(1), r: 3, fill: color });
      parts.push(withTitle(dot, `${clock(p.created_at)} ${p.model} (${p.task_type}): `
                                + `predicted ${usd(p.predicted_cost_usd)}, actual ${usd(p.actual_cost_usd)}, `
                                + `error ${p.error_pct.toFixed(1)}%`));
    });
  }
  parts.push(svg("text", { x: left, y: height - 6 }, clock(predictions[0].created_at)));
  parts.push(svg("text", { x: width - right, y: height - 6, "text-anchor": "end" },
                 clock(predictions[predictions.length - 1].created_at)));
  chart.replaceChildren(...parts);
}

// -- latest requests ----------------------------------------------------------

function routeBadge(task) {
  const cell = el("td");
  const kind = task.route === "local" || task.route === "cloud" ? task.route : "other";
  cell.appendChild(el("span", { class: "badge " + kind }, task.route || "none"));
  if (task.status !== 200) cell.appendChild(el("span", { class: "badge error" }, String(task.status)));
  return cell;
}

function promptCell(task) {
  const cell = el("td", { class: "prompt" });
  if (task.prompt !== null) cell.textContent = task.prompt;
  else cell.appendChild(el("span", { class: "hash" }, "sha256 " + task.prompt_hash + "…"));
  return cell;
}

// A cloud answer is not scored: its row shows "–", and the score of the local
// answer it replaced only as that, labelled.
function qualityCell(task) {
  const cell = el("td", { class: "num quality" }, task.quality === null ? "–" : task.quality.toFixed(1));
  if (task.local_quality !== null && task.local_quality !== undefined) {
    cell.appendChild(el("span", { class: "asked", title: "the local answer this cloud answer replaced" },
                        `local ${task.local_quality.toFixed(1)} rejected`));
  }
  if (task.outcome === "failed") {
    // The session's next turn showed this answer did not work (an edit that did not apply, a failing tool run).
    cell.appendChild(el("span", { class: "outcome failed", title: task.outcome_reason || "" }, "failed next turn"));
  }
  return cell;
}

function tokensCell(task) {
  return el("td", { class: "num tokens", title: "input / output tokens" },
            `${count(task.input_tokens)} / ${count(task.output_tokens)}`);
}

function sessionCell(task) {
  const cell = el("td", { class: "session" });
  if (!task.session_id) {
    cell.textContent = "–";
    return cell;
  }
  cell.appendChild(el("span", { class: "hash", title: task.session_id }, task.session_id.slice(0, SESSION_CHARS)));
  return cell;
}

function renderLatest(tasks) {
  const body = document.querySelector("#latest tbody");
  setText("latest-count", tasks.length ? `the ${tasks.length} newest · open one for its cascade and decision` : "");
  if (!tasks.length) {
    const row = el("tr");
    row.appendChild(el("td", { colspan: "10", class: "empty" }, "No requests yet."));
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(...tasks.map((task) => {
    const row = el("tr", { "data-task-id": String(task.id), class: "openable", tabindex: "0",
                           title: `Open request #${task.id}` });
    const model = el("td", {}, task.model || "–");
    if (task.requested_model !== task.model) {
      model.appendChild(el("span", { class: "asked" }, "asked " + task.requested_model));
    }
    row.append(
      el("td", { class: "time" }, clock(task.created_at)),
      routeBadge(task),
      model,
      el("td", {}, task.task_type || "–"),
      qualityCell(task),
      tokensCell(task),
      el("td", { class: "num cost" }, usd(task.cost_usd)),
      el("td", { class: "num" }, ms(task.latency_ms)),
      sessionCell(task),
      promptCell(task),
    );
    row.addEventListener("click", () => openRequest(task.id));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        openRequest(task.id);
      }
    });
    return row;
  }));
}

// -- one request, opened ------------------------------------------------------

function openRequest(id) {
  const params = hashParams();
  params.set("request", String(id));
  location.hash = params.toString();  // hashchange shows it; the address can be shared (without the key)
}

function closeRequest() {
  const params = hashParams();
  params.delete("request");
  history.replaceState(null, "", location.pathname + location.search + (params.size ? "#" + params : ""));
  const dialog = document.getElementById("detail");
  if (dialog.open) dialog.close();
  delete document.body.dataset.detail;
}

function fact(label, value) {
  const item = el("div");
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = value;
  item.append(el("dt", {}, label), dd);
  return item;
}

function section(title, ...children) {
  const box = el("section", { class: "detail-part" });
  box.append(el("h3", {}, title), ...children);
  return box;
}

function outcomeBadge(outcome) {
  const kind = outcome === "accepted" || outcome === "unscored" ? "local"
    : outcome === "rejected" || outcome === "failed" ? "error" : "other";
  return el("span", { class: "badge " + kind }, outcome);
}

function attemptsPart(task) {
  if (!task.attempts.length) {
    const why = task.status !== 200
      ? "No local model was tried: the request failed first (see Error)."
      : task.requested_model === "auto"
      ? "No local model was tried: the request went straight to where the decision says."
      : `No cascade: ${task.requested_model} was asked for by name.`;
    return section("Local attempts (cascade)", el("p", { class: "note-line" }, why));
  }
  const table = el("table", { class: "attempts", id: "detail-attempts" });
  const head = el("tr");
  head.append(...["Model", "Outcome", "Score", "Failed signals", "Detail"].map((name) => el("th", {}, name)));
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  task.attempts.forEach((attempt, index) => {
    const row = el("tr", { "data-attempt": String(index + 1) });
    const outcome = el("td");
    outcome.appendChild(outcomeBadge(attempt.outcome));
    const score = attempt.score === null || attempt.score === undefined ? "–" : attempt.score.toFixed(1);
    row.append(el("td", {}, attempt.model), outcome, el("td", { class: "num" }, score),
               el("td", {}, (attempt.signals || []).join(", ") || "–"), el("td", {}, attempt.detail || ""));
    body.appendChild(row);
  });
  return section("Local attempts (cascade)", table);
}

function signalsPart(task) {
  if (!task.signals.length) {
    const why = task.status !== 200 ? "No answer was given, so none was scored."
      : task.recorded ? "The answer given was not scored."
        : task.attempts.length
          ? "Hermes did not record this request's signals; the attempts above are matched from the cascade's "
            + "log by task type and time."
          : "Hermes did not record this request's signals.";
    return section("Quality signals", el("p", { class: "note-line", id: "detail-signals" }, why));
  }
  const list = el("ul", { class: "signals", id: "detail-signals" });
  const skipped = [];
  for (const signal of task.signals) {
    if (signal.passed !== true && signal.passed !== false) {
      skipped.push(signal);
      continue;
    }
    const mark = signal.passed ? "passed" : "failed";
    const item = el("li", { class: mark });
    item.append(el("span", { class: "signal-name" }, `${signal.name}: ${mark}`),
                document.createTextNode(signal.detail ? " · " + signal.detail : ""));
    list.appendChild(item);
  }
  if (skipped.length) {
    // Most signals do not apply to a given answer; one line of them, each one's reason on hover, keeps the
    // ones that spoke in view.
    const item = el("li", { class: "skipped" });
    item.append(el("span", { class: "signal-name" }, "did not apply: "));
    skipped.forEach((signal, i) => item.append(i ? ", " : "", el("span", { title: signal.detail || "" }, signal.name)));
    list.appendChild(item);
  }
  const parts = [list];
  if (task.explanation) parts.unshift(el("p", { class: "note-line" }, task.explanation));
  return section("Quality signals", ...parts);
}

function errorPart(task) {
  // What the client was told, and how far the request got: the code alone says little.
  if (task.status === 200) return null;
  const message = task.error ? task.error.message : `HTTP ${task.status} (${task.error_code || "no code"})`;
  const parts = [el("p", { class: "decision", id: "detail-error" }, message)];
  if (task.reached) parts.push(el("p", { class: "note-line" }, "It got as far as: " + task.reached + "."));
  return section("Error", ...parts);
}

function optionsPart(task) {
  if (!task.upgrade_options.length) return null;
  const list = el("ul", { class: "signals" });
  for (const option of task.upgrade_options) {
    list.appendChild(el("li", {}, `${option.model}: about ${usd(option.estimated_cost_usd)}, quality `
                                  + `${Number(option.expected_quality).toFixed(1)}, confidence `
                                  + `${Math.round(option.confidence * 100)}%`));
  }
  return section("Upgrade options", list);
}

// What a cloud call's provider read from and wrote to its prompt cache: each is billed at its own price.
function cacheUse(task) {
  if (task.route !== "cloud") return "–";
  if (!task.cache_read_tokens && !task.cache_write_tokens) return "none reported";
  const share = task.input_tokens ? Math.round(100 * task.cache_read_tokens / task.input_tokens) : 0;
  return `${count(task.cache_read_tokens)} read (${share}% of the input), ${count(task.cache_write_tokens)} written`;
}

function renderRequest(task) {
  const route = el("span");
  route.appendChild(el("span", { class: "badge " + (task.route === "local" || task.route === "cloud"
    ? task.route : "other") }, task.route || "none"));
  const quality = task.quality !== null ? task.quality.toFixed(1)
    : task.local_quality !== null ? `– (a cloud answer is not scored; the local one it replaced scored ${task.local_quality.toFixed(1)})`
      : "–";
  const facts = el("dl", { class: "facts detail-facts" });
  facts.append(
    fact("When", new Date(task.created_at).toLocaleString([], { hour12: false })),
    fact("Asked for", task.requested_model || "– (the body named no model)"),
    fact("Route", route),
    fact("Model", task.model || "–"),
    fact("Task type", task.task_type || "–"),
    fact("Status", task.status === 200 ? "200" : `${task.status} ${task.error_code || ""}`),
    fact("Tokens in / out", `${count(task.input_tokens)} / ${count(task.output_tokens)}`),
    fact("Prompt cache", cacheUse(task)),
    fact("Cost", usd(task.cost_usd)),
    fact("Latency", ms(task.latency_ms)),
    fact("Quality", quality),
    fact("Streamed", task.stream ? "yes" : "no"),
    fact("Session", task.session_id || "not recorded"),
  );
  const decision = el("p", { class: "decision", id: "detail-decision" }, task.decision.reason);
  if (task.decision.policy) decision.appendChild(el("span", { class: "asked" }, "policy " + task.decision.policy));
  const prompt = el("p", { class: "prompt" });
  if (task.prompt !== null) prompt.textContent = task.prompt;
  else prompt.appendChild(el("span", { class: "hash" }, "sha256 " + task.prompt_hash + "… (prompts are not stored)"));
  const parts = [facts, errorPart(task), section("Decision", decision), attemptsPart(task), signalsPart(task),
                 optionsPart(task), section("Prompt", prompt)];
  document.getElementById("detail-body").replaceChildren(...parts.filter(Boolean));
}

async function showRequest() {
  const id = hashParams().get("request");
  const dialog = document.getElementById("detail");
  if (!id) {
    if (dialog.open) dialog.close();
    return;
  }
  setText("detail-title", `Request #${id}`);
  document.getElementById("detail-body").replaceChildren(empty("Loading…"));
  if (!dialog.open) dialog.showModal();
  try {
    renderRequest(await load(REQUEST_API + encodeURIComponent(id)));
  } catch (error) {
    document.getElementById("detail-body").replaceChildren(empty(`Request #${id} could not be loaded: ${error.message}.`));
    return;
  }
  document.body.dataset.detail = id;
}

// -- the refresh loop ---------------------------------------------------------

function renderSavings(savings) {
  // Room for "saved $X today" (what the cloud would have cost for the local answers); shown once the API has it.
  const line = document.getElementById("budget-saved");
  const today = savings ? savings.today_usd : undefined;
  line.hidden = today === undefined || today === null;
  if (line.hidden) return;
  line.textContent = `saved ${usd(today)} today by answering locally`;
  const answers = savings.answers === 1 ? "1 local answer" : `${savings.answers} local answers`;
  line.title = `${answers}, each at the estimated cost of the cloud model it stood in for`;
}

function renderStale(stale) {
  // A model billed above its reservation: its table price is too low, and its reservations now scale up.
  const list = document.getElementById("budget-stale");
  list.hidden = !stale || stale.length === 0;
  if (list.hidden) return;
  list.replaceChildren(...stale.map((row) => {
    const item = document.createElement("li");
    item.textContent = `${row.model}'s price is stale: billed ${usd(row.bill_usd)} on a `
      + `${usd(row.reserved_usd)} reservation; its reservations now scale ×${row.factor.toPrecision(3)}`;
    return item;
  }));
}

function renderOverrides(overrides) {
  // A setting changed through the API wins over its file until the file is edited after it (preferences.py).
  const list = document.getElementById("budget-overrides");
  list.hidden = !overrides || overrides.length === 0;
  if (list.hidden) return;
  const shown = (row, value) => (row.name === "daily_limit_usd" ? usd(value) : String(value));
  list.replaceChildren(...overrides.map((row) => {
    const item = document.createElement("li");
    item.textContent = `${row.name} ${shown(row, row.value)}, set through the API on `
      + `${row.set_at.slice(0, 16).replace("T", " ")} UTC; ${row.file} says ${shown(row, row.file_value)}`;
    return item;
  }));
}

function renderKeys(keys) {
  // Team keys (hermes keys create): each one's spend today against its own limit; hidden without any.
  const table = document.getElementById("budget-keys");
  table.hidden = !keys || keys.length === 0;
  if (table.hidden) return;
  table.tBodies[0].replaceChildren(...keys.map((key) => {
    const row = document.createElement("tr");
    const limit = key.daily_limit_usd === null ? "global" : usd(key.daily_limit_usd);
    for (const text of [key.name + (key.revoked ? " (revoked)" : ""), usd(key.spent_usd), limit]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  }));
}

function renderPrices(prices, cache) {
  // Where prices come from (OpenRouter's catalogue and its date, or litellm's table), and what the prompt
  // caches read of the cloud input: what every cost on this page is worked out from.
  const line = document.getElementById("budget-prices");
  if (!prices) return;
  let text = `Prices: ${prices.source}.`;
  if (cache && cache.read_share !== null) {
    text += ` ${Math.round(100 * cache.read_share)}% of cloud input was read from the prompt cache.`;
  }
  line.textContent = text;
}

function render(data) {
  const requests = data.by_task_type.reduce((sum, row) => sum + row.requests, 0);
  renderBudget(data.budget);
  renderSavings(data.savings);
  renderKeys(data.by_key);
  renderStale(data.stale_prices);
  renderOverrides(data.overrides);
  renderPrices(data.prices, data.prompt_cache);
  renderKpis(data);
  renderSpend(data.spend_by_day, requests);
  renderTaskTypes(data.by_task_type);
  renderAccuracy(data.predictions);
  renderLatest(data.latest);
}

function setStatus(text, offline) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("offline", offline);
}

// What to do about an API that does not answer, on the page under the header.
function notice(status) {
  const box = document.getElementById("notice");
  const here = location.origin + location.pathname;
  let text = null;
  if (status === 401 && hashParams().get("key")) {
    text = "The key after #key= in this page's address was refused. Open " + here
      + "#key=<your HERMES_API_KEY> with the key this Hermes was started with.";
  } else if (status === 401) {
    text = "This Hermes has an API key (HERMES_API_KEY), so its figures need it. Open " + here
      + "#key=<your HERMES_API_KEY>: the part after # stays in your browser and is never sent to a server.";
  } else if (status === undefined) {
    text = "Hermes does not answer. Is it running? Start it with scripts/start-proxy.";
  } else if (status !== null) {
    text = `The dashboard's API answered HTTP ${status}; Hermes's log says why.`;
  }
  box.hidden = text === null;
  box.textContent = text || "";
}

async function load(path = API) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", headers: apiHeaders() });
  } catch (error) {
    throw Object.assign(new Error("Hermes does not answer"), { status: undefined });
  }
  if (!response.ok) throw Object.assign(new Error(`the API answered ${response.status}`), { status: response.status });
  return response.json();
}

async function refresh() {
  try {
    let data;
    try {
      data = await load();
    } catch (error) {
      // Shown on the page, not thrown: a proxy restarting is not a page error.
      setStatus(`Offline (${error.message}); retrying every ${REFRESH_MS / 1000} s`, true);
      notice(error.status);
      return;
    }
    notice(null);
    render(data);  // a bug here must reach the console, so it is not caught
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
    setStatus("Updated " + clock(new Date().toISOString()), false);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

window.addEventListener("hashchange", showRequest);
document.getElementById("detail-close").addEventListener("click", closeRequest);
document.getElementById("detail").addEventListener("close", () => {
  if (hashParams().get("request")) closeRequest();  // Escape closes the dialog itself
});
refresh();
showRequest();

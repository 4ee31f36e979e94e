/* kbflow console: executions, execution graph + events + cost, state machines, review inbox. */
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const view = document.getElementById("view");
let cleanup = [];
const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
const FAIL_EVENTS = /Failed$|TimedOut$|Aborted$/;

/* ---------- helpers ---------- */
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}
const badge = (status) => h("span", { class: `badge s-${status}` }, String(status).replace("_", " ").toLowerCase());
const shortArn = (arn) => arn.split(":").slice(-1)[0];
const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "—");
function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  if (m < 60) return `${m} min ${r} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
function ago(t) {
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
const usd = (v) => (v < 0.01 ? `$${v.toPrecision(2)}` : `$${v.toFixed(4)}`);
function pretty(text) {
  if (text === null || text === undefined) return "";
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}
async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).message || r.statusText);
  return r.json();
}
async function sfn(op, body) {
  const r = await fetch("/", { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
    headers: { "X-Amz-Target": `AWSStepFunctions.${op}`, "Content-Type": "application/x-amz-json-1.0" } });
  const data = await r.json();
  if (!r.ok) throw new Error(`${(data.__type || "").split("#").pop()}: ${data.message}`);
  return data;
}
function toast(text, err) {
  const t = h("div", { class: `toast${err ? " err" : ""}`, role: "status" }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), 3500);
}
function every(ms, fn) {
  const id = setInterval(() => { if (!document.hidden) fn(); }, ms);
  cleanup.push(() => clearInterval(id));
}
function setNav(name) {
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === name);
}

/* ---------- executions ---------- */
async function executionsPage(params) {
  setNav("executions");
  const state = { status: params.get("status") || "", q: params.get("q") || "", sm: params.get("sm") || "" };
  const machines = (await getJSON("/console/api/state-machines")).stateMachines;
  const body = h("tbody");
  const total = h("span", { class: "muted" });
  const chips = h("div", { class: "chips" });
  const drawChips = () => {
    chips.textContent = "";
    for (const s of ["", ...STATUSES]) {
      chips.append(h("button", { class: `chip${state.status === s ? " on" : ""}`, "data-status": s || "ALL",
        onclick: () => { state.status = s; drawChips(); load(); } }, s ? s.replace("_", " ").toLowerCase() : "all"));
    }
  };
  const search = h("input", { type: "search", placeholder: "Search by execution name", value: state.q,
    "aria-label": "Search executions", oninput: () => { state.q = search.value; load(); } });
  const select = h("select", { "aria-label": "State machine", onchange: () => { state.sm = select.value; load(); } },
    h("option", { value: "" }, "All state machines"),
    machines.map((m) => h("option", { value: m.stateMachineArn, selected: m.stateMachineArn === state.sm }, m.name)));
  async function load() {
    const q = new URLSearchParams({ status: state.status, q: state.q, stateMachineArn: state.sm });
    const data = await getJSON(`/console/api/executions?${q}`);
    body.textContent = "";
    total.textContent = `${data.total} execution${data.total === 1 ? "" : "s"}`;
    if (!data.executions.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No executions match.")));
    for (const e of data.executions) {
      const dur = e.stopDate ? (e.stopDate - e.startDate) * 1000 : Date.now() - e.startDate * 1000;
      body.append(h("tr", {},
        h("td", {}, h("a", { href: `#/execution/${encodeURIComponent(e.executionArn)}` }, e.name)),
        h("td", {}, h("a", { href: `#/machine/${encodeURIComponent(e.stateMachineArn)}` }, shortArn(e.stateMachineArn))),
        h("td", {}, badge(e.status)),
        h("td", {}, fmtTime(e.startDate)),
        h("td", { class: "num" }, fmtDuration(dur))));
    }
  }
  drawChips();
  view.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Executions"), total),
    h("div", { class: "panel" },
      h("div", { class: "toolbar" }, chips, h("span", { class: "spacer" }), search, select),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "State machine"),
        h("th", {}, "Status"), h("th", {}, "Started"), h("th", { class: "num" }, "Duration"))), body)));
  await load();
  every(3000, load);
}

/* ---------- state machines ---------- */
async function machinesPage() {
  setNav("machines");
  const data = (await getJSON("/console/api/state-machines")).stateMachines;
  const rows = data.map((m) => {
    const counts = h("div", { class: "counts" }, Object.entries(m.counts).map(([s, n]) => h("span", { class: `badge s-${s}` }, `${n} ${s.replace("_", " ").toLowerCase()}`)));
    return h("tr", {},
      h("td", {}, h("a", { href: `#/machine/${encodeURIComponent(m.stateMachineArn)}` }, m.name), h("div", { class: "muted mono" }, m.stateMachineArn)),
      h("td", {}, m.type), h("td", {}, fmtTime(m.creationDate)), h("td", {}, counts),
      h("td", {}, h("button", { onclick: () => startForm(m) }, "Start execution")));
  });
  view.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "State machines"), h("span", { class: "muted" }, `${data.length}`)),
    h("div", { id: "start-form" }),
    h("div", { class: "panel" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"),
      h("th", {}, "Created"), h("th", {}, "Executions"), h("th", {}, ""))), h("tbody", {}, rows.length ? rows :
      h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No state machines yet."))))));
}
function startForm(m) {
  const name = h("input", { type: "text", placeholder: "Execution name (optional)", "aria-label": "Execution name" });
  const input = h("textarea", { rows: 6, "aria-label": "Execution input" }, "{}");
  const go = h("button", { class: "primary", onclick: async () => {
    try {
      const body = { stateMachineArn: m.stateMachineArn, input: input.value };
      if (name.value.trim()) body.name = name.value.trim();
      const r = await sfn("StartExecution", body);
      location.hash = `#/execution/${encodeURIComponent(r.executionArn)}`;
    } catch (e) { toast(e.message, true); }
  } }, "Start");
  document.getElementById("start-form").replaceChildren(h("div", { class: "panel", style: null },
    h("div", { class: "panel-head" }, h("h2", {}, `Start ${m.name}`)),
    h("div", { class: "panel-body form-grid" }, name, input, h("div", {}, go))), h("br"));
}

/* ---------- one state machine ---------- */
async function machinePage(arn) {
  setNav("machines");
  const data = await getJSON(`/console/api/state-machine?arn=${encodeURIComponent(arn)}`);
  const m = data.stateMachine;
  const graphHost = h("div", { class: "graph-panel panel", id: "graph" });
  const definition = h("pre", {}, pretty(m.definition));
  const side = h("div", { class: "panel details" }, h("div", { class: "panel-head" }, h("h2", {}, "Definition")), definition);
  view.replaceChildren(
    h("div", { class: "crumbs" }, h("a", { href: "#/machines" }, "State machines")),
    h("div", { class: "page-head" }, h("h1", {}, m.name), h("span", { class: "badge s-notreached" }, m.type.toLowerCase()),
      h("span", { class: "spacer" }),
      h("a", { href: `#/?sm=${encodeURIComponent(arn)}` }, "Executions"),
      h("button", { class: "primary", onclick: () => startForm(m) }, "Start execution")),
    h("div", { id: "start-form" }),
    h("div", { class: "split" }, graphHost, side));
  const graph = KbGraph.render(graphHost, data.graph, (name) => {
    graph.select(name);
    const node = data.graph.nodes.find((n) => n.id === name);
    definition.textContent = pretty(JSON.stringify(findState(JSON.parse(m.definition), name) || {}));
    side.querySelector("h2").textContent = node ? `${name} · ${node.type}` : "Definition";
  });
  graph.update({}, []);
  graphHost.append(graphTools(graph));
}
function graphTools(graph) {
  return h("div", { class: "graph-tools" },
    h("button", { onclick: () => graph.zoom(1.2), "aria-label": "Zoom in" }, "+"),
    h("button", { onclick: () => graph.zoom(1 / 1.2), "aria-label": "Zoom out" }, "−"),
    h("button", { onclick: () => graph.fit() }, "Fit"));
}
function findState(scope, name) {
  for (const [key, state] of Object.entries((scope && scope.States) || {})) {
    if (key === name) return state;
    for (const sub of [...(state.Branches || []), state.ItemProcessor || state.Iterator].filter(Boolean)) {
      const found = findState(sub, name);
      if (found) return found;
    }
  }
  return null;
}

/* ---------- execution ---------- */
async function executionPage(arn) {
  setNav("executions");
  let data;
  try { data = await getJSON(`/console/api/execution?arn=${encodeURIComponent(arn)}`); }
  catch (e) { view.replaceChildren(h("div", { class: "panel empty" }, `Execution not found: ${e.message}`)); return; }
  const events = data.events.slice();
  let states = data.states, selected = null, execution = data.execution;
  const graphHost = h("div", { class: "graph-panel panel", id: "graph" });
  const details = h("div", { class: "panel details", id: "state-details" });
  const statsBox = h("div", { class: "stats" });
  const head = h("div", { class: "page-head" });
  const eventsBody = h("tbody");
  const eventFilter = h("input", { type: "search", placeholder: "Filter events", "aria-label": "Filter events", oninput: () => drawEvents() });
  const eventCount = h("span", { class: "muted" });
  const costNote = h("ul", { class: "cost-note" }, data.cost.assumptions.map((a) => h("li", {}, a)));

  const legend = h("div", { class: "legend" }, h("span", { class: "muted" }, "States:"), ["succeeded", "failed", "caught", "running", "aborted", "notreached"].map((s) => h("span", { class: `badge s-${s}` }, s === "notreached" ? "not reached" : s)));
  view.replaceChildren(
    h("div", { class: "crumbs" }, h("a", { href: "#/" }, "Executions"), " / ", h("a", { href: `#/machine/${encodeURIComponent(data.stateMachine.stateMachineArn)}` }, data.stateMachine.name)),
    head, statsBox,
    h("div", { class: "split" }, graphHost, details),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Events"), eventCount, h("span", { class: "spacer", style: null }), eventFilter),
      h("div", { style: null }, h("table", { class: "events" }, h("thead", {}, h("tr", {}, h("th", { class: "num" }, "ID"), h("th", {}, "Type"), h("th", {}, "Step"),
        h("th", {}, "Resource"), h("th", { class: "num" }, "Started after"), h("th", {}, "Date and time"))), eventsBody))),
    h("div", { class: "panel", style: null }, h("div", { class: "panel-head" }, h("h2", {}, "Cost assumptions")), costNote));
  const graph = KbGraph.render(graphHost, data.graph, (name) => { selected = name; graph.select(name); drawDetails(); });
  graphHost.append(graphTools(graph), legend);
  graph.fit();  // the legend took its share of the panel

  function drawHead() {
    const stop = execution.status === "RUNNING" ? h("button", { class: "bad", onclick: async () => {
      try { await sfn("StopExecution", { executionArn: arn }); toast("Execution stopped"); } catch (e) { toast(e.message, true); }
    } }, "Stop execution") : null;
    head.replaceChildren(...[h("h1", {}, execution.name), h("span", { id: "execution-status" }, badge(execution.status)),
      h("span", { class: "spacer" }), execution.status === "RUNNING" ? h("span", { class: "muted live" }, "● live") : null, stop].filter(Boolean));
  }
  function drawStats(cost) {
    const dur = execution.stopDate ? (execution.stopDate - execution.startDate) * 1000 : cost.duration_ms;
    const stat = (k, v, id, title) => h("div", { class: "stat", id, title }, h("div", { class: "k" }, k), h("div", { class: "v" }, v));
    const started = new Date(execution.startDate * 1000);
    statsBox.replaceChildren(
      stat("Status", execution.status.replace("_", " ").toLowerCase()),
      stat("Started", h("span", {}, started.toLocaleTimeString(), " ", started.toDateString() === new Date().toDateString() ? null : h("small", {}, started.toLocaleDateString())), null, fmtTime(execution.startDate)),
      stat("Duration", fmtDuration(dur)),
      stat("State transitions", String(cost.transitions)),
      stat("Standard cost", usd(cost.standard_usd), "cost-standard", "$0.025 per 1,000 state transitions"),
      stat("Express cost", usd(cost.express_usd), "cost-express", `$1.00 per million requests + ${cost.billed_ms} ms × 64 MB at $0.00001667 per GB-second`));
  }
  function drawDetails() {
    if (!selected) {
      const out = execution.output !== undefined ? pretty(execution.output) : null;
      details.replaceChildren(h("div", { class: "panel-head" }, h("h2", {}, "Execution")),
        h("div", { class: "details-body" },
          execution.error ? h("div", { class: "meta" }, badge("failed"), h("strong", {}, execution.error), h("span", {}, execution.cause || "")) : null,
          h("div", { class: "meta muted" }, "Input"), h("pre", {}, pretty(execution.input)),
          out !== null ? [h("div", { class: "meta muted" }, "Output"), h("pre", {}, out)] : null,
          h("div", { class: "hint" }, "Click a state in the graph to see its input, output, error and retries.")));
      return;
    }
    const run = states[selected];
    const tabs = ["Input", "Output", "Error", "Retries"];
    let tab = details.dataset.tab && tabs.includes(details.dataset.tab) ? details.dataset.tab : "Input";
    const pane = h("div");
    const bar = h("div", { class: "tabs", role: "tablist" });
    const drawTab = () => {
      bar.replaceChildren(...tabs.map((t) => h("button", { class: t === tab ? "on" : "", role: "tab", onclick: () => { tab = t; details.dataset.tab = t; drawTab(); } }, t)));
      if (!run) { pane.replaceChildren(h("div", { class: "hint" }, "This state was not reached.")); return; }
      if (tab === "Input") pane.replaceChildren(h("pre", {}, pretty(run.input) || "—"));
      if (tab === "Output") pane.replaceChildren(h("pre", {}, run.output !== null ? pretty(run.output) : "— (no output yet)"));
      if (tab === "Error") pane.replaceChildren(run.error ? h("div", {}, h("div", { class: "meta" }, h("strong", {}, run.error)), h("pre", {}, pretty(run.cause))) : h("div", { class: "hint" }, "No error."));
      if (tab === "Retries") pane.replaceChildren(run.retries.length ? h("div", {}, run.retries.map((r) => h("div", { class: "retry" }, h("strong", {}, `Attempt ${r.attempt}: ${r.error || ""}`), h("pre", {}, pretty(r.cause))))) : h("div", { class: "hint" }, "No retries."));
    };
    drawTab();
    const meta = h("div", { class: "meta" }, badge(run ? run.status : "notreached"),
      run && run.entered > 1 ? h("span", { class: "muted" }, `entered ${run.entered} times`) : null,
      run && run.iterations && run.iterations.total !== undefined ? h("span", { class: "muted" }, `${run.iterations.total} ${run.iterations.mapRun ? "items" : "iterations"} · ${run.iterations.succeeded || 0} succeeded · ${run.iterations.failed || 0} failed`) : null);
    const children = run && run.children && run.children.length ? h("div", { class: "children" },
      h("div", { class: "meta muted" }, "Child executions (Map Run)"),
      run.children.map((c) => h("div", { class: "child" }, badge(c.status), " ",
        h("a", { href: `#/execution/${encodeURIComponent(c.executionArn)}` }, c.name)))) : null;
    details.replaceChildren(h("div", { class: "panel-head" }, h("h2", {}, selected), h("span", { class: "spacer" }),
      h("button", { onclick: () => { selected = null; graph.select(null); drawDetails(); } }, "×")),
      ...[meta, children, bar, pane].filter(Boolean));
  }
  function stepOf() {
    const byId = new Map(); const step = new Map();
    for (const e of events) {
      byId.set(e.id, e);
      const d = e.stateEnteredEventDetails || e.stateExitedEventDetails;
      if (d) step.set(e.id, d.name); else if (step.has(e.previousEventId)) step.set(e.id, step.get(e.previousEventId));
    }
    return step;
  }
  function drawEvents() {
    const step = stepOf();
    const q = eventFilter.value.toLowerCase();
    const t0 = events.length ? events[0].timestamp : 0;
    const rows = [];
    for (const e of events) {
      const d = Object.entries(e).find(([k]) => k.endsWith("EventDetails"));
      const details = d ? d[1] : {};
      const name = step.get(e.id) || "";
      if (q && !(`${e.type} ${name}`.toLowerCase().includes(q))) continue;
      const resource = details.resource ? `${details.resourceType ? details.resourceType + ":" : ""}${details.resource}` : "";
      const cls = FAIL_EVENTS.test(e.type) ? "row fail" : /Succeeded$/.test(e.type) ? "row ok" : "row";
      const detailRow = h("tr", { class: "detail hidden" }, h("td", { colspan: 6 }, h("pre", {}, pretty(details))));
      rows.push(h("tr", { class: cls, onclick: () => detailRow.classList.toggle("hidden") },
        h("td", { class: "num" }, e.id), h("td", { class: "type" }, e.type), h("td", {}, name), h("td", { class: "mono" }, resource),
        h("td", { class: "num" }, fmtDuration((e.timestamp - t0) * 1000)), h("td", {}, fmtTime(e.timestamp))), detailRow);
      if (rows.length > 4000) break;
    }
    eventsBody.replaceChildren(...rows);
    eventCount.textContent = `${events.length} of ${data.eventCount}`;
  }
  function apply(update) {
    execution = update.execution; states = update.states;
    for (const e of update.events) if (!events.length || e.id > events[events.length - 1].id) events.push(e);
    data.eventCount = update.eventCount;
    drawHead(); drawStats(update.cost); graph.update(states, update.taken); drawEvents();
    if (selected) drawDetails();
  }
  apply(data);
  drawDetails();
  if (execution.status === "RUNNING") {
    const last = events.length ? events[events.length - 1].id : 0;
    const source = new EventSource(`/console/api/execution/stream?arn=${encodeURIComponent(arn)}&after=${last}`);
    source.addEventListener("update", (ev) => { apply(JSON.parse(ev.data)); refreshReviewCount(); });
    source.addEventListener("done", () => source.close());
    source.addEventListener("gone", () => source.close());
    cleanup.push(() => source.close());
  }
}

/* ---------- reviews ---------- */
async function reviewsPage() {
  setNav("reviews");
  const list = h("div", { class: "reviews", id: "review-list" });
  const count = h("span", { class: "muted" });
  view.replaceChildren(h("div", { class: "page-head" }, h("h1", {}, "Review inbox"), count,
    h("span", { class: "spacer" }), h("span", { class: "muted" }, "Decisions resume the waiting human-review execution.")), list);
  const shown = new Set();
  async function load() {
    const data = (await getJSON("/console/api/reviews")).reviews;
    count.textContent = `${data.length} pending`;
    const ids = new Set(data.map((r) => r.id));
    for (const card of [...list.children]) if (!ids.has(card.dataset.id)) { card.remove(); shown.delete(card.dataset.id); }
    for (const r of data) if (!shown.has(r.id)) { list.append(reviewCard(r, load)); shown.add(r.id); }
    if (!data.length && !list.querySelector(".empty")) list.replaceChildren(h("div", { class: "panel empty" }, "Nothing to review. Pending human reviews appear here."));
    if (data.length) list.querySelector(".empty")?.remove();
  }
  await load();
  every(2500, load);
}
function reviewCard(r, reload) {
  const item = r.item || {};
  const reviewer = h("input", { type: "text", name: "reviewer", placeholder: "you@example.com", "aria-label": "Reviewer",
    value: localStorage.getItem("kbflow.reviewer") || "" });
  const comment = h("input", { type: "text", name: "comment", placeholder: "Optional comment", "aria-label": "Comment" });
  const edit = h("textarea", { rows: 5, name: "text", class: "hidden", "aria-label": "Edited text", placeholder: "The corrected text to index" });
  const buttons = [];
  async function send(decision) {
    if (decision === "edit" && edit.classList.contains("hidden")) {
      edit.classList.remove("hidden"); edit.focus(); buttons[2].textContent = "Send edit"; return;
    }
    if (!reviewer.value.trim()) { reviewer.focus(); toast("Enter your name or email as reviewer", true); return; }
    localStorage.setItem("kbflow.reviewer", reviewer.value.trim());
    buttons.forEach((b) => (b.disabled = true));
    const r2 = await fetch("/console/api/reviews/decide", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify({ id: r.id, decision, reviewer: reviewer.value.trim(), comment: comment.value || undefined, text: decision === "edit" ? edit.value : undefined }) });
    const body = await r2.json().catch(() => ({}));
    if (!r2.ok) { toast(body.message || "Failed", true); buttons.forEach((b) => (b.disabled = false)); return; }
    toast(`${decision === "approve" ? "Approved" : decision === "reject" ? "Rejected" : "Edit sent"} — ${r.executionName} continues`);
    card.remove();
    reload();
  }
  buttons.push(h("button", { class: "ok", onclick: () => send("approve") }, "Approve"),
    h("button", { class: "bad", onclick: () => send("reject") }, "Reject"),
    h("button", { class: "warn", onclick: () => send("edit") }, "Edit…"));
  const deadline = r.deadlineSeconds && r.requestedAt ? fmtTime(r.requestedAt + r.deadlineSeconds) : "—";
  const card = h("div", { class: "panel review", "data-id": r.id },
    h("div", { class: "panel-head" }, h("h2", {}, item.id || "(no id)"), h("span", { class: "reason" }, r.reason || "review"),
      r.level === "escalated" ? h("span", { class: "badge s-failed" }, "escalated") : null),
    h("div", { class: "panel-body" },
      h("dl", {},
        h("dt", {}, "Document"), h("dd", { class: "mono" }, item.key || item.url || JSON.stringify(item)),
        h("dt", {}, "Requested"), h("dd", {}, r.requestedAt ? `${ago(r.requestedAt)} · ${fmtTime(r.requestedAt)}` : "—"),
        h("dt", {}, "Deadline"), h("dd", {}, deadline),
        h("dt", {}, "Execution"), h("dd", {}, h("a", { href: `#/execution/${encodeURIComponent(r.executionArn)}` }, r.executionName), h("span", { class: "muted" }, ` · ${r.stateName}`))),
      h("div", { class: "row2" }, h("div", {}, h("label", {}, "Reviewer"), reviewer), h("div", {}, h("label", {}, "Comment"), comment)),
      edit, h("div", { class: "actions" }, buttons)));
  return card;
}
async function refreshReviewCount() {
  try {
    const n = (await getJSON("/console/api/reviews")).reviews.length;
    const pill = document.getElementById("review-count");
    pill.textContent = String(n); pill.classList.toggle("hidden", n === 0);
  } catch { /* the next poll tries again */ }
}

/* ---------- router ---------- */
async function route() {
  for (const fn of cleanup) fn();
  cleanup = [];
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  try {
    if (path.startsWith("/execution/")) await executionPage(decodeURIComponent(path.slice("/execution/".length)));
    else if (path === "/machines") await machinesPage();
    else if (path.startsWith("/machine/")) await machinePage(decodeURIComponent(path.slice("/machine/".length)));
    else if (path === "/reviews") await reviewsPage();
    else await executionsPage(params);
  } catch (e) {
    view.replaceChildren(h("div", { class: "panel empty" }, `Could not load this page: ${e.message}`));
  }
}
if (new URLSearchParams(location.search).has("token")) {
  // The access token is now a cookie; keep it out of the address bar and the history.
  history.replaceState(null, "", location.pathname + location.hash);
}
document.getElementById("endpoint").textContent = `API ${location.origin}`;
window.addEventListener("hashchange", route);
route();
refreshReviewCount();
setInterval(() => { if (!document.hidden) refreshReviewCount(); }, 4000);

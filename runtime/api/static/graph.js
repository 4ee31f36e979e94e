/* kbflow console: draws a state machine graph laid out by dagre (vendor/dagre.min.js). */
"use strict";

const KbGraph = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = "13px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function size(node) {
    if (node.type === "Start" || node.type === "End") return [64, 28];
    if (node.type === "Join") return [12, 12];
    const text = Math.max(measure.measureText(node.label).width, 70);
    return [Math.ceil(text + 36), 42];
  }

  /** Lay out {nodes, edges} with dagre; returns the dagre graph. */
  function layout(graph) {
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 26, ranksep: 34, edgesep: 12, marginx: 24, marginy: 32 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of graph.nodes) {
      if (n.type === "Container") g.setNode(n.id, { label: n.label, container: true, data: n });
      else { const [w, h] = size(n); g.setNode(n.id, { width: w, height: h, data: n }); }
    }
    for (const n of graph.nodes) if (n.parent) g.setParent(n.id, n.parent);
    graph.edges.forEach((e, i) => {
      if (g.hasNode(e.source) && g.hasNode(e.target)) {
        g.setEdge(e.source, e.target, { kind: e.kind, minlen: 1, weight: e.kind === "catch" ? 1 : 3 }, "e" + i);
      }
    });
    dagre.layout(g);
    return g;
  }

  function path(points) {
    let d = `M${points[0].x},${points[0].y}`;
    if (points.length === 2) return d + ` L${points[1].x},${points[1].y}`;
    for (let i = 1; i < points.length - 1; i++) {
      const p = points[i], q = points[i + 1];
      const mx = i === points.length - 2 ? q.x : (p.x + q.x) / 2;
      const my = i === points.length - 2 ? q.y : (p.y + q.y) / 2;
      d += ` Q${p.x},${p.y} ${mx},${my}`;
    }
    return d;
  }

  /**
   * Render into `host` (an element). Returns {update(states), fit(), select(name)}.
   * `onSelect(name)` is called when a state is clicked.
   */
  function render(host, graph, onSelect) {
    host.textContent = "";
    const g = layout(graph);
    const svg = el("svg", { role: "img", "aria-label": "State machine graph" }, host);
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#98a2b0" }, marker);
    const world = el("g", { class: "world" }, svg);
    const layers = { boxes: el("g", {}, world), edges: el("g", {}, world), nodes: el("g", {}, world) };
    const nodeEls = new Map();
    const boxEls = new Map();

    for (const id of g.nodes()) {
      const n = g.node(id);
      if (!n || !n.data) continue;
      const data = n.data;
      if (n.container) {
        const box = el("g", { class: "container" }, layers.boxes);
        el("rect", { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: 10 }, box);
        const label = el("text", { x: n.x - n.width / 2 + 2, y: n.y - n.height / 2 - 6 }, box);
        label.textContent = "";
        boxEls.set(data.state, { label, data });
        continue;
      }
      const group = el("g", { class: "node", transform: `translate(${n.x - n.width / 2},${n.y - n.height / 2})` }, layers.nodes);
      group.dataset.state = data.id;
      if (data.type === "Join") {
        group.setAttribute("class", "node join");
        el("circle", { cx: n.width / 2, cy: n.height / 2, r: 5 }, group);
        continue;
      }
      if (data.type === "Start" || data.type === "End") {
        group.setAttribute("class", "node terminal");
        el("rect", { width: n.width, height: n.height, rx: n.height / 2 }, group);
        const t = el("text", { x: n.width / 2, y: n.height / 2 + 4, "text-anchor": "middle" }, group);
        t.textContent = data.label;
        continue;
      }
      el("rect", { width: n.width, height: n.height, rx: 7 }, group);
      const title = el("text", { x: 12, y: 18 }, group);
      title.textContent = data.label;
      const sub = el("text", { x: 12, y: 33, class: "sub" }, group);
      sub.textContent = data.type;
      group.setAttribute("tabindex", "0");
      group.setAttribute("role", "button");
      group.addEventListener("click", (ev) => { ev.stopPropagation(); onSelect(data.id); });
      group.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onSelect(data.id); }
      });
      nodeEls.set(data.id, { group, sub, data });
    }
    for (const e of g.edges()) {
      const info = g.edge(e);
      const group = el("g", { class: `edge ${info.kind}` }, layers.edges);
      el("path", { d: path(info.points), "marker-end": "url(#arrow)" }, group);
      group.dataset.source = e.v; group.dataset.target = e.w;
    }

    const view = { x: 0, y: 0, k: 1 };
    const apply = () => world.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    let focus = null;
    let moved = false;  // once the user pans or zooms, live updates leave the view alone
    const fit = () => {
      const gw = g.graph().width || 1, gh = g.graph().height || 1;
      const w = svg.clientWidth || 800, h = svg.clientHeight || 560;
      // The whole graph when it stays readable; otherwise a readable scale centred on the
      // state that matters (running, else failed), starting at the top when there is none.
      const whole = Math.min(w / gw, h / gh) * 0.97;
      view.k = Math.min(1.2, Math.max(0.72, whole));
      view.x = (w - gw * view.k) / 2;
      view.y = Math.max(8, (h - gh * view.k) / 2);
      if (whole < 0.72 && focus && g.hasNode(focus)) {
        const n = g.node(focus);
        view.y = Math.min(8, Math.max(h - gh * view.k - 8, h / 2 - n.y * view.k));
      }
      apply();
    };
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      moved = true;
      const r = svg.getBoundingClientRect();
      const px = ev.clientX - r.left, py = ev.clientY - r.top;
      const k = Math.min(3, Math.max(0.15, view.k * (ev.deltaY < 0 ? 1.12 : 1 / 1.12)));
      view.x = px - (px - view.x) * (k / view.k); view.y = py - (py - view.y) * (k / view.k); view.k = k;
      apply();
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.target.closest(".node")) return;
      drag = { x: ev.clientX - view.x, y: ev.clientY - view.y };
      moved = true;
      svg.classList.add("dragging");
    });
    window.addEventListener("pointermove", (ev) => { if (drag) { view.x = ev.clientX - drag.x; view.y = ev.clientY - drag.y; apply(); } });
    window.addEventListener("pointerup", () => { drag = null; svg.classList.remove("dragging"); });
    fit();

    function update(states, transitions) {
      const pick = (status) => Object.keys(states).find((n) => states[n].status === status && nodeEls.has(n));
      const next = pick("running") || pick("failed") || null;
      if (next !== focus) { focus = next; if (!moved) fit(); }
      for (const [name, item] of nodeEls) {
        const run = states[name];
        const status = run ? run.status : "notreached";
        const sel = item.group.classList.contains("selected") ? " selected" : "";
        item.group.setAttribute("class", `node st-${status}${sel}`);
        let sub = item.data.type;
        if (run && run.entered > 1) sub += ` · ×${run.entered}`;
        if (run && run.retries && run.retries.length) sub += ` · ${run.retries.length} retr${run.retries.length > 1 ? "ies" : "y"}`;
        if (run && status === "caught") sub += " · caught";
        item.sub.textContent = sub;
        item.group.setAttribute("aria-label", `${name}: ${status}`);
      }
      for (const [name, box] of boxEls) {
        const run = states[name];
        const it = run && run.iterations ? run.iterations : {};
        let text = box.data.label + (box.data.type ? "" : "");
        const kind = graph.nodes.find((n) => n.id === name);
        if (kind && kind.type === "Map") {
          text = `${name} · ${it.mapRun ? "Distributed Map" : "Map"}`;
          const unit = it.mapRun ? "item" : "iteration";
          if (it.total !== undefined) text += ` · ${it.total} ${unit}${it.total === 1 ? "" : "s"}`;
          if (it.succeeded) text += ` · ${it.succeeded} ✓`;
          if (it.failed) text += ` · ${it.failed} ✗`;
        } else {
          const branches = graph.edges.filter((e) => e.source === name).length;
          text = `${name} · Parallel · ${branches} branch${branches === 1 ? "" : "es"}`;
        }
        box.label.textContent = text;
      }
      const taken = new Set((transitions || []).map(([a, b]) => `${a}\u0001${b}`));
      const done = (name) => states[name] && ["succeeded", "caught"].includes(states[name].status);
      for (const edge of layers.edges.children) {
        const s = edge.dataset.source.split("\u0000")[0], t = edge.dataset.target.split("\u0000")[0];
        const end = edge.dataset.target.includes("\u0000") || t === "__end__";
        const on = s === "__start__" ? Boolean(states[t]) : end ? done(s) : taken.has(`${s}\u0001${t}`);
        edge.classList.toggle("taken", on);
      }
    }

    function select(name) {
      for (const [id, item] of nodeEls) item.group.classList.toggle("selected", id === name);
    }

    const zoom = (f) => {
      moved = true;
      const w = svg.clientWidth / 2, h = svg.clientHeight / 2;
      const k = Math.min(3, Math.max(0.15, view.k * f));
      view.x = w - (w - view.x) * (k / view.k); view.y = h - (h - view.y) * (k / view.k); view.k = k;
      apply();
    };
    return { update, fit: () => { moved = false; fit(); }, select, zoom };
  }

  return { render, layout };
})();

// aios dashboard: draws the snapshots the server pushes over /ws (one JSON object about
// once a second; src/cli/dashboard_model.h says what it holds). No framework: a handful
// of DOM helpers and SVG line charts. Reconnects with a growing delay (0.5 s .. 5 s) when
// the connection drops, e.g. while `kubectl aios dashboard` restarts.
"use strict";

const COLORS = ["#1f6feb", "#c62828", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4"];

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2)
    : x.toPrecision(digits || 4).replace(/\.?0+$/, "");
}

function eta(s) {
  if (s === null || s === undefined || s < 0) return "";
  if (s < 120) return `eta ${Math.round(s)}s`;
  if (s < 7200) return `eta ${Math.round(s / 60)}m`;
  return `eta ${(s / 3600).toFixed(1)}h`;
}

// A line chart of series [{name, color, xs, ys}] into an SVG; y on a log scale when every
// value is positive and they span more than two decades (losses usually do).
function chart(series, opts) {
  const W = 600, H = 180, L = 48, R = 8, T = 8, B = 22;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  // read by the browser test: how many points, and the largest x drawn
  svg.setAttribute("data-points", String(series.reduce((n, s) => n + s.ys.filter(v => v !== null).length, 0)));
  svg.setAttribute("data-last-x", String(Math.max(0, ...series.map(s => s.xs.length ? s.xs[s.xs.length - 1] : 0))));
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (const s of series) s.xs.forEach((x, i) => {
    const y = s.ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) return;
    xmin = Math.min(xmin, x); xmax = Math.max(xmax, x); ymin = Math.min(ymin, y); ymax = Math.max(ymax, y);
  });
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  add("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fafbfc", stroke: "#d9dee4"});
  if (!Number.isFinite(xmin)) {
    add("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, opts.empty || "no points yet");
    return svg;
  }
  const log = opts.log !== false && ymin > 0 && ymax / ymin > 100;
  const fy = v => log ? Math.log10(v) : v;
  let y0 = fy(ymin), y1 = fy(ymax);
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  if (xmax === xmin) xmax = xmin + 1;
  const px = x => L + (x - xmin) / (xmax - xmin) * (W - L - R);
  const py = y => T + (1 - (fy(y) - y0) / (y1 - y0)) * (H - T - B);
  for (const s of series) {
    let d = "";
    s.xs.forEach((x, i) => {
      const y = s.ys[i];
      if (y === null || y === undefined || !Number.isFinite(y)) return;
      d += (d ? "L" : "M") + px(x).toFixed(1) + "," + py(y).toFixed(1);
    });
    if (d) add("path", {d, fill: "none", stroke: s.color, "stroke-width": s.bold ? 2.5 : 1.5});
  }
  add("text", {x: L - 4, y: T + 10, "text-anchor": "end"}, fmt(ymax, 3));
  add("text", {x: L - 4, y: H - B, "text-anchor": "end"}, fmt(ymin, 3));
  add("text", {x: L, y: H - 6}, fmt(xmin));
  add("text", {x: W - R, y: H - 6, "text-anchor": "end"}, `${fmt(xmax)} ${opts.xlabel || ""}`);
  if (log) add("text", {x: L + 4, y: T + 10}, "log scale");
  return svg;
}

function legend(series) {
  return el("div", {class: "legend"}, ...series.map(s => {
    const i = el("i"); i.style.background = s.color;
    return el("span", {}, i, s.name);
  }));
}

function trainingJob(tj) {
  const pct = tj.phase === "Succeeded" ? 100 : (tj.percent || 0);
  const bar = el("div", {class: "bar" + (tj.phase === "Succeeded" ? " done" : "")}, el("div"));
  bar.firstChild.style.width = `${pct}%`;
  const w = tj.workers || {};
  const left = el("div", {},
    el("h3", {}, `${tj.namespace}/${tj.name}`),
    el("div", {}, el("span", {class: `phase ${tj.phase}`, "data-phase": tj.phase}, tj.phase),
       ` epoch ${tj.epoch || 0}/${tj.epochs || "?"}  ${eta(tj.etaSeconds)}`),
    bar,
    el("div", {class: "meta"}, `${tj.model || "model"}, workers ${w.active || 0} active of ${w.wanted || 1}` +
       `${w.failed ? `, ${w.failed} failed` : ""}, attempts ${tj.attempts || 0}`),
    el("div", {class: "meta"}, `loss ${fmt(tj.loss)}` +
       (tj.validationLoss !== undefined ? `, validation ${fmt(tj.validationLoss)}` : "") +
       (tj.accuracy !== undefined ? `, accuracy ${(100 * tj.accuracy).toFixed(1)}%` : "")));
  if (tj.artifact) left.append(el("div", {class: "meta"}, `artifact ${tj.artifact.uri}`));
  let series = [];
  if (tj.trials) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "trial"), el("th", {}, "phase"),
      el("th", {}, "objective"), el("th", {}, "values")));
    tj.trials.forEach((t, i) => {
      table.append(el("tr", {class: t.best ? "best" : ""}, el("td", {}, (t.best ? "★ " : "") + t.name),
        el("td", {}, t.phase || "Pending"), el("td", {}, fmt(t.objective)),
        el("td", {}, JSON.stringify(t.parameters || {}))));
      if (t.curve) series.push({name: t.name + (t.best ? " (best)" : ""), color: COLORS[i % COLORS.length],
        xs: t.curve.epoch, ys: t.curve.loss, bold: t.best});
    });
    left.append(table);
  } else if (tj.curve) {
    series.push({name: "loss", color: COLORS[0], xs: tj.curve.epoch, ys: tj.curve.loss});
    if (tj.curve.valLoss.some(v => v !== null))
      series.push({name: "validation loss", color: COLORS[1], xs: tj.curve.epoch, ys: tj.curve.valLoss});
  }
  const right = el("div", {}, chart(series, {xlabel: "epoch", empty: "no epochs yet"}), legend(series));
  if (tj.curve && tj.curve.valAccuracy.some(v => v !== null)) {
    const acc = [{name: "validation accuracy", color: COLORS[2], xs: tj.curve.epoch, ys: tj.curve.valAccuracy}];
    right.append(chart(acc, {xlabel: "epoch", log: false}), legend(acc));
  }
  return el("div", {class: "card tj", "data-name": `${tj.namespace}/${tj.name}`}, left, right);
}

function modelService(ms) {
  const h = ms.history || {t: [], desired: [], ready: [], rps: [], p99Ms: []};
  const t0 = h.t.length ? h.t[h.t.length - 1] : 0;
  const xs = h.t.map(t => t - t0);
  const left = el("div", {},
    el("h3", {}, `${ms.namespace}/${ms.name}`),
    el("div", {}, el("span", {class: `phase ${ms.phase || ""}`, "data-phase": ms.phase || ""}, ms.phase || "Pending"),
       ` ready ${ms.ready || 0}/${ms.desired || 0} (min ${ms.min ?? "-"}, max ${ms.max ?? "-"})`),
    el("div", {class: "meta"}, `${fmt(ms.rps)} req/s, p99 ${fmt(ms.p99Ms)} ms, concurrency ${fmt(ms.concurrency)}` +
       (ms.metric ? `; scales on ${ms.metric} to ${fmt(ms.target)}` : "")),
    el("div", {class: "meta"}, ms.url || ""));
  if (ms.canary || ms.canarySpec) {
    const c = ms.canary || {}, s = ms.canarySpec || {};
    left.append(el("div", {class: "meta"}, `canary: weight ${c.weight ?? s.trafficPercent ?? "-"}%` +
      `${c.phase ? `, ${c.phase}` : ""}${s.analysis ? `, bounds: errors ≤ ${s.analysis.maxErrorRate ?? "-"}, p99 ≤ ${s.analysis.maxLatencyP99Ms ?? "-"} ms` : ""}`));
  }
  if (ms.events && ms.events.length)
    left.append(el("ul", {class: "events"}, ...ms.events.slice().reverse().map(e =>
      el("li", {}, `${(e.time || "").replace("T", " ").replace("Z", "")} ${e.reason}: ${e.message}`))));
  const reps = [{name: "desired replicas", color: COLORS[0], xs, ys: h.desired},
                {name: "ready replicas", color: COLORS[2], xs, ys: h.ready}];
  const load = [{name: "requests/s", color: COLORS[3], xs, ys: h.rps},
                {name: "p99 ms", color: COLORS[1], xs, ys: h.p99Ms}];
  const right = el("div", {}, chart(reps, {xlabel: "s", log: false}), legend(reps),
                   chart(load, {xlabel: "s", log: false}), legend(load));
  return el("div", {class: "card ms", "data-name": `${ms.namespace}/${ms.name}`}, left, right);
}

function render(snap) {
  document.getElementById("scope").textContent = snap.namespace ? `namespace ${snap.namespace}` : "all namespaces";
  const err = document.getElementById("error");
  err.hidden = !snap.error;
  err.textContent = snap.error || "";
  const fill = (id, items, fn) => {
    const box = document.getElementById(id);
    box.replaceChildren(...(items.length ? items.map(fn) : [el("p", {class: "empty"}, "none")]));
  };
  fill("tjs", snap.trainingjobs || [], trainingJob);
  fill("mss", snap.modelservices || [], modelService);
  window.aiosSnapshots = (window.aiosSnapshots || 0) + 1; // read by the browser test
}

let delay = 500;
function connect() {
  const conn = document.getElementById("conn");
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => { delay = 500; conn.textContent = "live"; conn.className = "conn up"; };
  ws.onmessage = ev => render(JSON.parse(ev.data));
  ws.onclose = () => {
    conn.textContent = "reconnecting"; conn.className = "conn down";
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 5000);
  };
}
connect();

// The streamlearn dashboard: polls /monitor for new points and markers, draws with uPlot.
"use strict";

const MAX_POINTS = 3600;
// Six hues apart (blue, vermilion, green, purple, teal, grey): no two series look alike.
const COLOURS = ["#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#0c8599", "#5c5f66"];
const MARKER_COLOURS = { drift: "#f59f00", rollback: "#e03131", promotion: "#2f9e44" };
const state = { seq: 0, points: [], markers: [], charts: new Map() };

const fmt = (v, digits = 0) =>
  v === null || v === undefined ? "—" : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits });

function duration(seconds) {
  const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

// Vertical lines for drifts, rollbacks and promotions on every time chart.
function markerPlugin() {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u, [lo, hi] = [u.scales.x.min, u.scales.x.max];
        let drawn = 0;
        ctx.save();
        ctx.lineWidth = 2 * devicePixelRatio;
        for (const m of state.markers) {
          if (m.time < lo || m.time > hi) continue;
          const x = Math.round(u.valToPos(m.time, "x", true));
          ctx.strokeStyle = MARKER_COLOURS[m.kind] || "#888";
          ctx.setLineDash(m.kind === "drift" ? [6, 4] : []);
          ctx.beginPath(); ctx.moveTo(x, bbox.top); ctx.lineTo(x, bbox.top + bbox.height); ctx.stroke();
          drawn++;
        }
        ctx.restore();
        u.root.parentElement.dataset.markers = drawn;
      }],
    },
  };
}

// The panel's inner width: the chart never overflows it (no horizontal scrollbar).
function chartWidth(panel) {
  const style = getComputedStyle(panel);
  const inner = panel.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return Math.max(Math.floor(inner), 200);
}

// Without the cursor on a chart, its legend shows the latest values, not dashes.
function showLatest(u) {
  if (u.cursor.idx === null || u.cursor.idx === undefined) {
    const n = u.data[0].length;
    if (n) u.setLegend({ idx: n - 1 }, false);
  }
}

function latestInLegend() {
  return { hooks: { setCursor: [(u) => showLatest(u)] } };
}

window.addEventListener("resize", () => {
  for (const [id, entry] of state.charts) {
    entry.plot.setSize({ width: chartWidth(document.getElementById(id)), height: 220 });
  }
});

// One chart per panel; rebuilt when its series change, else given new data.
function chart(id, title, labels, columns, unit, range) {
  let entry = state.charts.get(id);
  const key = labels.join("|");
  if (!entry || entry.key !== key) {
    if (entry) entry.plot.destroy();
    let panel = document.getElementById(id);
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "panel chart";
      panel.id = id;
      panel.innerHTML = `<h2>${title}</h2>`;
      document.getElementById("charts").appendChild(panel);
    }
    const opts = {
      width: chartWidth(panel), height: 220,
      series: [{}].concat(labels.map((label, i) => ({
        label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true,
        value: (u, v) => (v === null ? "—" : `${v.toPrecision(4)}${unit}`),
      }))),
      axes: [{}, { size: 60 }],
      scales: range ? { y: { range } } : {},
      plugins: [markerPlugin(), latestInLegend()],
    };
    entry = { key, plot: new uPlot(opts, columns, panel) };
    state.charts.set(id, entry);
  } else {
    entry.plot.setData(columns);
  }
  showLatest(entry.plot);
  const panel = document.getElementById(id);
  panel.dataset.points = columns.slice(1).reduce(
    (n, ys) => n + ys.filter((v) => v !== null && v !== undefined).length, 0);
}

function series(getter) {
  return state.points.map((p) => {
    const v = getter(p);
    return v === undefined || v === null || Number.isNaN(v) ? null : v;
  });
}

function render(latest, lanes) {
  const xs = state.points.map((p) => p.time);
  const names = [...new Set(state.points.flatMap((p) =>
    Object.values(p.lanes).flatMap((l) => Object.keys(l))))]
    .filter((k) => k.startsWith("rolling_")).sort();
  for (const name of names) {
    const laneNames = lanes.map((l) => l.lane);
    const unitRange = /accuracy|auc|f1/.test(name) ? [0, 1] : null;
    // Labels leave the version out: a checkpoint makes a new one, and the chart stays.
    chart(`chart-${name}`, name.replace("rolling_", "") + " (rolling window)",
      lanes.map((l) => `${l.lane} · ${l.model}`),
      [xs, ...laneNames.map((lane) => series((p) => p.lanes[lane] && p.lanes[lane][name]))], "",
      unitRange);
  }
  const pct = ["p50", "p95", "p99"];
  chart("chart-latency", "Latency (ms): predict per request, learn per micro-batch",
    pct.map((q) => `predict ${q}`).concat(pct.map((q) => `learn ${q}`)),
    [xs, ...pct.map((q) => series((p) => p[`predict_${q}`] * 1000)),
      ...pct.map((q) => series((p) => p[`learn_${q}`] * 1000))], " ms");
  chart("chart-throughput", "Throughput (events/s)", ["updates/s", "served/s"],
    [xs, series((p) => p.updates_per_second), series((p) => p.served_per_second)], "/s");
  if (latest) {
    for (const k of ["served", "learned", "pending", "rejected"]) {
      document.getElementById(k).textContent = fmt(latest[k]);
    }
    document.getElementById("rate").textContent = fmt(latest.updates_per_second);
  }
  if (lanes.length) document.getElementById("champion").textContent =
    `${lanes[0].model} ${lanes[0].version || ""}`;
  document.body.dataset.points = state.points.length;
}

function renderMarkers() {
  const list = document.getElementById("markers");
  if (!state.markers.length) return;
  list.innerHTML = "";
  for (const m of state.markers.slice().reverse()) {
    const li = document.createElement("li");
    li.className = `marker ${m.kind}`;
    li.innerHTML = `<span class="kind">${m.kind}</span>${new Date(m.time * 1000).toLocaleTimeString()} · `;
    li.appendChild(document.createTextNode(m.text));
    list.appendChild(li);
  }
}

function fillTable(id, header, rows) {
  const table = document.getElementById(id);
  if (!rows.length) return;
  table.innerHTML = "";
  const head = table.createTHead().insertRow();
  for (const h of header) head.appendChild(Object.assign(document.createElement("th"), { textContent: h }));
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = cell;
  }
}

async function poll() {
  try {
    const data = await (await fetch(`monitor?after=${state.seq}`)).json();
    state.seq = data.seq;
    state.points.push(...data.points);
    state.markers.push(...data.markers);
    if (state.points.length > MAX_POINTS) state.points.splice(0, state.points.length - MAX_POINTS);
    document.getElementById("uptime").textContent = duration(data.uptime_seconds);
    render(state.points[state.points.length - 1], data.lanes);
    if (data.markers.length) renderMarkers();
    if (data.lanes.length) {
      const names = Object.keys(data.lanes[0].metrics).sort();
      fillTable("lanes", ["lane", "model", "version", ...names.map((n) => n.replace("_", " "))],
        data.lanes.map((l) => [l.lane, l.model, l.version || "—",
          ...names.map((n) => (l.metrics[n] === undefined ? "—" : l.metrics[n].toFixed(4)))]));
    }
    fillTable("dead-letters", ["reason", "count"],
      Object.entries(data.dead_letters).map(([reason, n]) => [reason, fmt(n)]));
    document.body.dataset.markers = state.markers.length;
  } catch (err) {
    document.getElementById("health").textContent = "unreachable";
    document.getElementById("health").className = "down";
  }
}

async function pollSlow() {
  try {
    const health = await (await fetch("health")).json();
    const el = document.getElementById("health");
    el.textContent = health.status; el.className = health.status;
    const models = await fetch("models?limit=15");
    if (models.ok) {
      const { versions } = await models.json();
      fillTable("versions", ["version", "created", "events", "metric", "tag"],
        versions.slice().reverse().map((v) => {
          const [name, value] = Object.entries(v.metrics || {}).find(([k]) => k.startsWith("rolling_")) || ["", null];
          return [v.id, new Date(v.created_at * 1000).toLocaleTimeString(), fmt(v.events),
            value === null ? "—" : `${name.replace("rolling_", "")} ${value.toFixed(4)}`, (v.tags || []).join(", ")];
        }));
    }
  } catch (err) { /* the next poll tries again */ }
}

poll(); pollSlow();
setInterval(poll, 1000);
setInterval(pollSlow, 5000);

// One twin, live: estimate ±2σ against the measurements, residuals and NIS against the gate,
// events, and the remaining-life distribution; pushed by the server every second (SSE).
"use strict";

// Every text from the server is escaped: event details can carry what a plant sent.
const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const twinId = decodeURIComponent(location.pathname.split("/").pop());
const layout = (extra) => Object.assign({
  margin: { l: 55, r: 15, t: 10, b: 40 }, height: 300, legend: { orientation: "h", y: -0.2 },
  xaxis: { title: "event time (s)" }, font: { size: 11 },
}, extra);
const config = { displayModeBar: false, responsive: true };
const number = (v, digits = 1) => (v === null || v === undefined ? "–" : v.toFixed(digits));
const badge = (text) => `<span class="badge ${esc(text || "")}">${esc(text || "–")}</span>`;

function estimateTraces(trace) {
  if (!trace.length) return [];
  const t0 = trace[0].t;
  const t = trace.map((s) => s.t - t0);
  const out = [];
  for (const name of Object.keys(trace[trace.length - 1].states)) {
    const x = trace.map((s) => s.states[name]);
    const sd = trace.map((s) => s.sigma[name]);
    out.push({ x: t, y: x.map((v, i) => v + 2 * sd[i]), mode: "lines", line: { width: 0 },
               showlegend: false, hoverinfo: "skip", name: `${name} +2σ` });
    out.push({ x: t, y: x.map((v, i) => v - 2 * sd[i]), mode: "lines", line: { width: 0 },
               fill: "tonexty", fillcolor: "rgba(24,73,169,0.18)", name: `${name} ±2σ` });
    out.push({ x: t, y: x, mode: "lines", line: { color: "#1849a9" }, name: `${name} estimate` });
    const measures = trace[trace.length - 1].measures;
    for (const sensor of Object.keys(measures).filter((s) => measures[s] === name)) {
      out.push({ x: t, y: trace.map((s) => s.measured[sensor]), mode: "markers",
                 marker: { size: 4, color: "#b54708" }, name: `${sensor} measured` });
    }
  }
  return out;
}

function residualTraces(trace, gate) {
  if (!trace.length) return [];
  const t0 = trace[0].t;
  const t = trace.map((s) => s.t - t0);
  const out = [];
  for (const sensor of Object.keys(trace[trace.length - 1].sensors)) {
    out.push({ x: t, y: trace.map((s) => s.sensors[sensor].residual), mode: "lines",
               name: `${sensor} residual` });
    out.push({ x: t, y: trace.map((s) => s.sensors[sensor].nis), mode: "lines", yaxis: "y2",
               line: { color: "#667085" }, name: `${sensor} NIS` });
  }
  if (gate) {
    out.push({ x: [t[0], t[t.length - 1]], y: [gate, gate], mode: "lines", yaxis: "y2",
               line: { dash: "dash", color: "#b42318" }, name: "NIS gate" });
  }
  return out;
}

function rulTraces(twin) {
  const q = twin.rul_quantiles || [];
  if (!q.length) return [];
  return [{ x: q.map((p) => p[1]), y: q.map((p) => p[0]), mode: "lines", line: { shape: "hv" },
            name: "P(RUL ≤ r)" }];
}

function render(view) {
  const twin = view.twin;
  document.getElementById("twin-id").textContent = twin.id;
  document.title = `fmitwin · ${twin.id}`;
  document.getElementById("lifecycle").innerHTML = badge(twin.lifecycle);
  const failing = view.failures && !view.running;
  document.getElementById("health").innerHTML = failing ? badge("failed") : badge(twin.health);
  document.getElementById("health").title = view.last_error || "";
  document.getElementById("rul").textContent = number(twin.rul);
  document.getElementById("rul-interval").textContent =
    twin.rul_low === null ? "–" : `${number(twin.rul_low)} – ${number(twin.rul_high)}`;
  document.getElementById("where").textContent = `${twin.site} · ${twin.asset_type}`;
  document.getElementById("updated").textContent =
    `${view.running ? "live" : "not running"} · updated ${new Date().toLocaleTimeString()}`
    + (view.failures ? ` · ${view.failures} failures, last: ${view.last_error}` : "");
  const trace = view.trace || [];
  Plotly.react("estimate-plot", estimateTraces(trace), layout({ yaxis: { title: "state" } }), config);
  Plotly.react("residual-plot", residualTraces(trace, view.nis_gate),
               layout({ margin: { l: 55, r: 55, t: 10, b: 40 }, yaxis: { title: "residual" },
                        yaxis2: { title: "NIS", overlaying: "y", side: "right" } }), config);
  const rul = rulTraces(twin);
  const rulPlot = document.getElementById("rul-plot");
  if (rul.length) {
    Plotly.react(rulPlot, rul, layout({ xaxis: { title: "remaining life" },
                                        yaxis: { title: "probability", range: [0, 1] } }), config);
  } else {
    rulPlot.innerHTML = '<p class="empty">no remaining-life estimate yet</p>';
  }
  const items = [
    ...(view.transitions || []).map((m) => ({ at: m.at, text: `${m.from || "–"} → ${m.to}: ${m.reason}` })),
    ...(view.events || []).map((e) => ({ at: e.t, text: `${e.kind} ${JSON.stringify(e.details)}` })),
  ].sort((a, b) => b.at - a.at).slice(0, 50);
  document.getElementById("events").innerHTML = items.map((e) =>
    `<li><span class="when">${new Date(e.at * 1000).toLocaleTimeString()}</span>${esc(e.text)}</li>`).join("");
}

const source = new EventSource(`/api/v1/twins/${encodeURIComponent(twinId)}/stream`);
source.onmessage = (message) => render(JSON.parse(message.data));
source.onerror = () => { document.getElementById("updated").textContent = "reconnecting…"; };

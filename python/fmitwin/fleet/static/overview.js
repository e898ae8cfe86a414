// The fleet overview: the ranked fleet view, pushed by the server every second (SSE).
"use strict";

// Every text from the server is escaped: event details can carry what a plant sent.
const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const number = (v, digits = 0) => (v === null || v === undefined ? "–" : v.toFixed(digits));
const when = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "–");
const badge = (text) => `<span class="badge ${esc(text || "")}">${esc(text || "–")}</span>`;

function fillOptions(select, values) {
  const chosen = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const v of [...values].sort()) {
    if (!known.has(v)) select.add(new Option(v, v));
  }
  select.value = chosen;
}

function render(view) {
  const site = document.getElementById("site");
  const type = document.getElementById("type");
  fillOptions(site, new Set(view.twins.map((t) => t.site)));
  fillOptions(type, new Set(view.twins.map((t) => t.asset_type)));
  const shown = view.twins.filter(
    (t) => (!site.value || t.site === site.value) && (!type.value || t.asset_type === type.value));
  document.getElementById("pof-head").textContent = `P(failure < ${view.horizon})`;
  document.getElementById("summary").textContent =
    `${view.twins.length} twins, ${view.twins.filter((t) => t.lifecycle === "running").length} running`
    + ` · updated ${new Date().toLocaleTimeString()}`;
  document.querySelector("#fleet tbody").innerHTML = shown.map((t, i) => `
    <tr data-twin="${esc(t.id)}">
      <td class="num">${i + 1}</td>
      <td><a class="twin" href="/twins/${encodeURIComponent(t.id)}">${esc(t.id)}</a></td>
      <td>${esc(t.site)}</td><td>${esc(t.asset_type)}</td>
      <td class="lifecycle">${badge(t.lifecycle)}</td>
      <td class="health" title="${esc(t.last_error || "")}">${
        t.failures && !t.running ? badge("failed") : badge(t.health)}</td>
      <td class="num">${number(t.rul)}</td>
      <td class="num">${t.rul_low === null ? "–" : `${number(t.rul_low)} – ${number(t.rul_high)}`}</td>
      <td class="num">${number(t.failure_probability, 2)}</td>
      <td>${when(t.updated_at)}</td>
      <td class="num backlog">${t.edge ? number(t.edge.backlog) : "–"}</td>
      <td class="contact">${t.edge ? when(t.edge.last_contact) : "–"}</td>
    </tr>`).join("") || `<tr><td colspan="12" class="empty">no twin matches</td></tr>`;
}

let latest = null;
for (const id of ["site", "type"]) {
  document.getElementById(id).addEventListener("change", () => latest && render(latest));
}
const source = new EventSource("/api/v1/stream");
source.onmessage = (message) => { latest = JSON.parse(message.data); render(latest); };
source.onerror = () => { document.getElementById("summary").textContent = "reconnecting…"; };

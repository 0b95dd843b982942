/// The cluster page at `/`: one static file, its own script and style, nothing fetched from elsewhere. It polls
/// `/v1/cluster` every second and redraws in place (no reload), so a person can keep it open on a second screen.
/// Every value is set as text, never as markup: node names and tags come from the network.
enum ClusterPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rumor cluster</title>
<style>
  :root { --ok: #2f9e44; --warn: #e8a300; --bad: #e03131; --off: #868e96; --fg: #1d2329; --bg: #f8f9fa; --line: #dee2e6; }
  body { font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 20px 0 8px; }
  #summary { color: #495057; } #stale { color: var(--bad); font-weight: 600; }
  table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: #f1f3f5; font-weight: 600; }
  .status { font-weight: 600; } .alive { color: var(--ok); } .suspect, .leaving { color: var(--warn); }
  .failed { color: var(--bad); } .left { color: var(--off); }
  .tag { display: inline-block; background: #e9ecef; border-radius: 3px; padding: 0 5px; margin: 1px 2px; font-size: 12px; }
  .c { display: inline-block; border-radius: 4px; padding: 1px 6px; margin: 2px; font: 12px ui-monospace, monospace; color: #fff; }
  .c.healthy { background: var(--ok); } .c.starting { background: var(--warn); } .c.unhealthy, .c.exited { background: var(--bad); }
  .c.none { background: #4c6ef5; }
  .run { font-size: 12px; color: #495057; }
  #events li { font-size: 13px; } #events time { color: #868e96; margin-right: 6px; font-family: ui-monospace, monospace; }
  ul { padding-left: 18px; margin: 0; }
</style>
</head>
<body>
<h1>Rumor cluster <span id="node"></span></h1>
<div id="summary">loading…</div><div id="stale"></div>
<h2>Nodes</h2>
<table id="nodes"><thead><tr><th>node</th><th>address</th><th>status</th><th>tags</th></tr></thead><tbody></tbody></table>
<h2>Apps</h2>
<div id="apps"></div>
<h2>Containers</h2>
<table id="grid"><thead></thead><tbody></tbody></table>
<h2>Recent events</h2>
<ul id="events"></ul>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
function row(cells) { const tr = el("tr"); for (const c of cells) { const td = el("td"); if (c instanceof Node) td.appendChild(c); else td.textContent = c; tr.appendChild(td); } return tr; }
let since = 0; const events = [];

function drawNodes(members) {
  const body = $("nodes").tBodies[0]; body.replaceChildren();
  for (const m of members) {
    const tags = el("span");
    for (const [k, v] of Object.entries(m.tags)) if (!k.startsWith("app:") && !k.startsWith("run:")) tags.appendChild(el("span", k + "=" + v, "tag"));
    const tr = row([m.name, m.addr, el("span", m.status, "status " + m.status), tags]);
    tr.dataset.node = m.name; body.appendChild(tr);
  }
}

function drawApps(apps) {
  const box = $("apps"); box.replaceChildren();
  if (!apps.length) { box.textContent = "No app deployed cluster-wide (rumor apps deploy)."; return; }
  const t = el("table"); t.appendChild(el("thead")).appendChild(row(["app", "state", "image", "wanted", "rollout", "origin"]));
  const b = t.appendChild(el("tbody"));
  for (const a of apps) {
    const r = a.rollout || {};
    let rollout = r.state || "";
    if (r.wave) rollout += " (wave " + r.wave + " of " + r.waves + ")";
    if (r.reason) rollout += ": " + r.reason;
    const wanted = a.replicas !== undefined ? a.replicas + " replicas" : a.per_node !== undefined ? a.per_node + " per node" : "";
    const tr = row([a.app, a.state, a.image || "", wanted, rollout, a.origin]); tr.dataset.app = a.app; b.appendChild(tr);
  }
  box.appendChild(t);
}

function drawGrid(view) {
  const nodes = view.nodes.filter((n) => n.runs_apps || n.containers.length);
  const apps = new Set();
  for (const n of nodes) { for (const c of n.containers) apps.add(c.app); for (const a of Object.keys(n.runs)) apps.add(a); }
  const local = new Map();
  for (const a of (view.local || [])) local.set(a.app, a);
  for (const a of local.keys()) apps.add(a);
  const list = [...apps].sort();
  const head = $("grid").tHead; head.replaceChildren(); head.appendChild(row(["node", ...list]));
  const body = $("grid").tBodies[0]; body.replaceChildren();
  for (const n of nodes) {
    const cells = [n.node];
    for (const app of list) {
      const cell = el("div");
      const mine = n.node === view.node ? local.get(app) : undefined;
      if (mine) {
        for (const c of mine.containers) {
          const state = c.state !== "running" ? "exited" : c.health;
          const chip = el("span", c.name, "c " + state); chip.title = c.id + " " + c.state + " " + c.health; chip.dataset.id = c.id; cell.appendChild(chip);
        }
      } else {
        for (const c of n.containers.filter((c) => c.app === app)) { const chip = el("span", c.name, "c healthy"); chip.title = c.endpoint; cell.appendChild(chip); }
      }
      const run = n.runs[app];
      if (run) cell.appendChild(el("div", run.state + (run.refused ? " (" + run.refused + ")" : "") + " · " + run.template_hash.slice(0, 8), "run"));
      cells.push(cell);
    }
    body.appendChild(row(cells));
  }
}

function drawEvents(log) {
  for (const e of log.events) events.push(e);
  since = log.total;
  while (events.length > 100) events.shift();
  const ul = $("events"); ul.replaceChildren();
  for (const e of events.slice().reverse()) {
    const li = el("li"); li.appendChild(el("time", new Date(e.time).toLocaleTimeString())); li.appendChild(document.createTextNode(e.kind + ": " + e.text));
    ul.appendChild(li);
  }
}

async function poll() {
  try {
    const res = await fetch("/v1/cluster?since=" + since, { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const view = await res.json();
    $("node").textContent = "· seen from " + view.node;
    const counts = {};
    for (const m of view.members) counts[m.status] = (counts[m.status] || 0) + 1;
    $("summary").textContent = view.members.length + " members (" + Object.entries(counts).map(([k, v]) => v + " " + k).join(", ") + "), " + view.apps.length + " apps · rumor " + view.version + " · " + new Date().toLocaleTimeString();
    $("stale").textContent = "";
    drawNodes(view.members); drawApps(view.apps); drawGrid(view.containers); drawEvents(view.events);
  } catch (err) {
    $("stale").textContent = "not updating: " + err.message;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
"""#
}

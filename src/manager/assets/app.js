// kafka08 manager: a small single-page console over /api/*. No framework and no build
// step: the server compiles this file in. Routes are URL hashes (#/, #/topics/NAME,
// #/brokers/ID, #/groups/NAME); every page refreshes itself every REFRESH_MS.
"use strict";

const REFRESH_MS = 5000;
const COLORS = ["#2855c5", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"];

// The forms of the admin actions. The server's list (`actions` in the answers) decides
// which are shown; adding an action there and a form here is all a new one needs. A field
// is [name, label, kind, placeholder]; `prefill(topic)` gives a topic page's defaults;
// `confirm(body)` is the question a destructive action asks first.
const ELECTION_JSON = '{"partitions": [{"topic": "foo", "partition": 1}]}';
const ACTION_FORMS = {
  "create-topic": { scopes: ["cluster"], fields: [["topic", "Topic"], ["partitions", "Partitions"], ["replication_factor", "Replication factor"], ["config", "Configs (key=value lines)", "textarea"]] },
  "add-partitions": { scopes: ["topic"], fields: [["partitions", "Partitions (new total)"]] },
  "change-config": { scopes: ["topic"], fields: [["config", "Set (key=value lines)", "textarea"], ["delete_config", "Delete keys (comma-separated)"]] },
  "preferred-election": {
    scopes: ["cluster", "topic"],
    fields: [["partitions_json", "Partitions (JSON as --path-to-json-file; empty: all partitions)", "textarea", ELECTION_JSON]],
    prefill: (t) => ({ partitions_json: JSON.stringify({ partitions: t.partitions.map((p) => ({ topic: t.name, partition: p.partition })) }) }),
  },
  "reassign-generate": {
    scopes: ["cluster"],
    fields: [["topics_json", "Topics to move (JSON as --topics-to-move-json-file)", "textarea", '{"topics": [{"topic": "foo"}], "version": 1}'], ["broker_list", "Broker list", "", "1,2,3"]],
  },
  "reassign-execute": {
    scopes: ["cluster"],
    fields: [["reassignment_json", "Reassignment (JSON as --reassignment-json-file)", "textarea"]],
    confirm: (b) => `Start this partition reassignment? Replicas are copied to their new brokers and removed from the old ones.\n\n${b.reassignment_json}`,
  },
  "reassign-verify": { scopes: ["cluster"], fields: [["reassignment_json", "Reassignment (JSON as --reassignment-json-file)", "textarea"]] },
  "delete-topic": {
    scopes: ["topic"],
    fields: [],
    confirm: (b) => `Delete topic ${b.topic}? It is marked for deletion; the brokers delete its partitions only with delete.topic.enable=true.`,
  },
};

// What is typed in the forms, by page and form: a refresh redraws the page, not the drafts.
const drafts = {};
const draftKey = (form) => `${location.hash || "#/"}|${form.id}`;

document.addEventListener("input", (e) => {
  const f = e.target.form;
  if (f && f.matches("form.action") && e.target.name) (drafts[draftKey(f)] ??= {})[e.target.name] = e.target.value;
});

function restoreDrafts() {
  for (const f of document.querySelectorAll("form.action")) {
    for (const [name, value] of Object.entries(drafts[draftKey(f)] || {})) if (f.elements[name]) f.elements[name].value = value;
  }
}

function setDraft(formId, name, value) {
  const f = document.getElementById(formId);
  if (!f) return;
  (drafts[draftKey(f)] ??= {})[name] = value;
  f.elements[name].value = value;
}

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function num(n) {
  return n === null || n === undefined ? "–" : String(n);
}

function rate(series) {
  if (!series || !series.points.length) return "–";
  return bytes(series.points[series.points.length - 1][1]) + "/s";
}

function table(id, head, rows) {
  const th = head.map((h) => `<th${h.startsWith("#") ? ' class="num"' : ""}>${esc(h.replace(/^#/, ""))}</th>`).join("");
  const body = rows.length ? rows.map((r) => `<tr>${r.map((c, i) => `<td${head[i].startsWith("#") ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`).join("") : `<tr><td colspan="${head.length}" class="muted">none</td></tr>`;
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

// A line chart of named series ([[t_ms, value], ...]) as inline SVG.
function chart(title, named, format) {
  const entries = Object.entries(named).filter(([, s]) => s && s.points.length);
  if (!entries.length) return `<div class="chart"><h3>${esc(title)}</h3><p class="muted">collecting samples…</p></div>`;
  const all = entries.flatMap(([, s]) => s.points);
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const vmax = Math.max(1, ...all.map((p) => p[1]));
  const W = 400, H = 120;
  const x = (t) => (t1 === t0 ? W : ((t - t0) / (t1 - t0)) * W);
  const y = (v) => H - (v / vmax) * (H - 10);
  const lines = entries.map(([name, s], i) => {
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.6"><title>${esc(name)}</title></path>`;
  }).join("");
  const legend = entries.map(([name], i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(name)}</span>`).join("");
  return `<div class="chart"><h3>${esc(title)} <span class="muted">(max ${esc(format(vmax))}, last ${Math.round((t1 - t0) / 60000)} min)</span></h3>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">${lines}</svg><div class="legend">${legend}</div></div>`;
}

function pick(history, prefix, suffix, label) {
  const out = {};
  for (const [k, s] of Object.entries(history || {})) {
    if (k.startsWith(prefix) && k.endsWith(suffix)) out[label(k.slice(prefix.length, k.length - suffix.length))] = s;
  }
  return out;
}

function actionForms(actions, scope, topic) {
  return actions.filter((a) => ACTION_FORMS[a.id] && ACTION_FORMS[a.id].scopes.includes(scope)).map((a) => {
    const f = ACTION_FORMS[a.id];
    const initial = topic && f.prefill ? f.prefill(topic) : {};
    const inputs = f.fields.map(([name, label, kind, placeholder]) => kind === "textarea"
      ? `<label>${esc(label)}<textarea name="${name}" placeholder="${esc(placeholder)}">${esc(initial[name])}</textarea></label>`
      : `<label>${esc(label)}<input name="${name}" autocomplete="off" placeholder="${esc(placeholder)}" value="${esc(initial[name])}"></label>`).join("");
    return `<form class="action${a.destructive ? " destructive" : ""}" id="${a.id}" data-action="${a.id}" data-topic="${esc(topic ? topic.name : "")}">
      <strong>${esc(a.label)}</strong>${inputs}<button type="submit">${esc(a.label)}</button></form>`;
  }).join("");
}

function say(text, ok) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.className = ok ? "ok" : "error";
}

// A destructive action asks in the page (a <dialog>, not window.confirm): true to go on.
function confirmInPage(text) {
  return new Promise((resolve) => {
    const d = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    d.returnValue = "";
    d.onclose = () => resolve(d.returnValue === "yes");
    d.showModal();
  });
}

async function submitAction(form) {
  const body = { action: form.dataset.action };
  if (form.dataset.topic) body.topic = form.dataset.topic;
  for (const el of form.elements) if (el.name) body[el.name] = el.value;
  const spec = ACTION_FORMS[body.action];
  if (spec && spec.confirm && !(await confirmInPage(spec.confirm(body)))) {
    say(`${form.querySelector("strong").textContent}: cancelled`, false);
    return;
  }
  try {
    const r = await fetch("/api/actions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const j = await r.json();
    say(j.lines ? (j.lines.length ? j.lines.join("\n") : "(the tool printed nothing)") : (j.message ?? j.error), r.ok);
    if (r.ok) {
      if (body.action === "reassign-generate") {
        // The proposal is what --execute and --verify take next.
        const proposed = j.lines.find((l) => l.startsWith("Proposed partition reassignment configuration"));
        if (proposed) for (const id of ["reassign-execute", "reassign-verify"]) setDraft(id, "reassignment_json", proposed.split("\n\n")[1]);
      } else if (body.action !== "reassign-execute" && body.action !== "reassign-verify") {
        delete drafts[draftKey(form)];
        form.reset();
      }
      if (body.action === "delete-topic") location.hash = "#/";
      else render();
    }
  } catch (e) {
    say("The console did not answer: " + e, false);
  }
}

document.addEventListener("submit", (e) => {
  if (e.target.matches("form.action")) { e.preventDefault(); submitAction(e.target); }
});

document.addEventListener("click", (e) => {
  // A click on the answer closes it, unless text is being selected in it.
  if (e.target.id === "message" && !String(getSelection())) e.target.className = "";
});

async function api(path) {
  const r = await fetch(path);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

const link = (kind, name) => `<a href="#/${kind}/${encodeURIComponent(name)}">${esc(name)}</a>`;

async function overview() {
  const o = await api("/api/overview");
  const h = o.history;
  const brokers = table("brokers", ["Id", "Host:port", "Controller", "#Leaders", "#Partitions", "#Bytes in", "#Bytes out"], o.brokers.map((b) => [
    link("brokers", b.id), esc(`${b.host}:${b.port}`), b.controller ? '<span class="ok">controller</span>' : "", b.leaders, b.partitions,
    rate(h[`broker:${b.id}:bytes_in`]), rate(h[`broker:${b.id}:bytes_out`]),
  ]));
  const topics = table("topics", ["Topic", "#Partitions", "#Replication", "#Under-replicated", "#Offline", "#Size"], o.topics.map((t) => [
    link("topics", t.name) + (t.marked_for_deletion ? ' <span class="muted">(marked for deletion)</span>' : ""), t.partitions.length, t.replication_factor,
    t.under_replicated ? `<span class="bad">${t.under_replicated}</span>` : "0", t.offline ? `<span class="bad">${t.offline}</span>` : "0", bytes(t.size),
  ]));
  const groups = table("groups", ["Consumer group", "#Total lag"], o.groups.map((g) => [link("groups", g.name), num(g.lag)]));
  const charts = chart("Bytes in per broker", pick(h, "broker:", ":bytes_in", (id) => "broker " + id), (v) => bytes(v) + "/s")
    + chart("Bytes out per broker", pick(h, "broker:", ":bytes_out", (id) => "broker " + id), (v) => bytes(v) + "/s")
    + chart("Messages in per topic", pick(h, "topic:", ":messages_in", (t) => t), (v) => v.toFixed(1) + "/s");
  return `<h1>Cluster</h1><h2>Brokers</h2>${brokers}<h2>Throughput</h2><div class="charts">${charts}</div>
    <h2>Topics</h2>${topics}${actionForms(o.actions.filter((a) => a.id === "create-topic"), "cluster")}<h2>Consumer groups</h2>${groups}
    <h2>Partition leadership and placement</h2>${actionForms(o.actions.filter((a) => a.id !== "create-topic"), "cluster")}`;
}

async function topicPage(name) {
  const p = await api("/api/topics/" + encodeURIComponent(name));
  const t = p.topic;
  const parts = table("partitions", ["#Partition", "Leader", "Replicas", "ISR", "#Log end", "#Size"], t.partitions.map((x) => [
    x.partition, x.leader >= 0 ? link("brokers", x.leader) : '<span class="bad">none</span>', esc(x.replicas.join(",")),
    x.under_replicated ? `<span class="bad">${esc(x.isr.join(","))}</span>` : esc(x.isr.join(",")), num(x.log_end), bytes(x.size),
  ]));
  const config = table("config", ["Key", "Value"], Object.entries(t.config).map(([k, v]) => [esc(k), esc(v)]));
  const charts = chart("Messages in", pick(p.history, "topic:", ":messages_in", (x) => x), (v) => v.toFixed(1) + "/s");
  return `<h1>Topic ${esc(t.name)}</h1><p>${t.partitions.length} partitions, replication factor ${t.replication_factor},
    <span class="${t.under_replicated ? "bad" : "ok"}">${t.under_replicated} under-replicated</span>, size ${bytes(t.size)}</p>
    <h2>Partitions</h2>${parts}<h2>Throughput</h2><div class="charts">${charts}</div><h2>Configs</h2>${config}${actionForms(p.actions, "topic", t)}`;
}

async function brokerPage(id) {
  const p = await api("/api/brokers/" + encodeURIComponent(id));
  const b = p.broker;
  const parts = table("broker-partitions", ["Topic", "#Partition", "Role"], p.partitions.map(([t, n, leader]) => [link("topics", t), n, leader ? "leader" : "follower"]));
  const charts = chart("Bytes in", pick(p.history, `broker:${b.id}:`, "bytes_in", () => "in"), (v) => bytes(v) + "/s")
    + chart("Bytes out", pick(p.history, `broker:${b.id}:`, "bytes_out", () => "out"), (v) => bytes(v) + "/s");
  return `<h1>Broker ${b.id}</h1><p>${esc(b.host)}:${b.port}${b.controller ? ' — <span class="ok">controller</span>' : ""};
    leads ${b.leaders} of ${b.partitions} partitions; metrics ${b.metrics_port ? `on port ${b.metrics_port}` : "off (metrics.http.port)"}</p>
    <div class="charts">${charts}</div><h2>Partitions</h2>${parts}`;
}

async function groupPage(name) {
  const p = await api("/api/groups/" + encodeURIComponent(name));
  const g = p.group;
  const rows = table("group-partitions", ["Topic", "#Partition", "#ZooKeeper offset", "#Kafka offset", "#Log end", "#Lag", "Owner"], g.partitions.map((x) => [
    link("topics", x.topic), x.partition, num(x.zookeeper_offset), num(x.kafka_offset), num(x.log_end), num(x.lag), esc(x.owner ?? "none"),
  ]));
  const members = g.members.length ? g.members.map(esc).join(", ") : '<span class="muted">none</span>';
  const charts = chart("Total lag", pick(p.history, "group:", ":lag", (x) => x), (v) => v.toFixed(0));
  return `<h1>Consumer group ${esc(g.name)}</h1><p>Total lag: <strong id="total-lag">${num(g.total_lag)}</strong>. Members: ${members}</p>
    <div class="charts">${charts}</div><h2>Partitions</h2>${rows}`;
}

let rendering = false;
async function render() {
  if (rendering) return;
  rendering = true;
  const route = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = document.getElementById("page");
  // Keep what is being typed: a refresh does not redraw a page with a form in use.
  const typing = document.activeElement && page.contains(document.activeElement) && /INPUT|TEXTAREA/.test(document.activeElement.tagName);
  try {
    let html;
    if (route[0] === "topics" && route[1]) html = await topicPage(route[1]);
    else if (route[0] === "brokers" && route[1]) html = await brokerPage(route[1]);
    else if (route[0] === "groups" && route[1]) html = await groupPage(route[1]);
    else html = await overview();
    if (!typing && !document.getElementById("confirm").open) { page.innerHTML = html; restoreDrafts(); }
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = location.hash || "#/";
  } catch (e) {
    if (!typing) page.innerHTML = `<h1>Unavailable</h1><p class="bad">${esc(e.message)}</p>`;
    document.getElementById("status").textContent = "error " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = location.hash || "#/";
  } finally {
    rendering = false;
  }
}

window.addEventListener("hashchange", () => { delete document.body.dataset.loaded; render(); });
render();
setInterval(render, REFRESH_MS);

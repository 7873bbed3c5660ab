// SPDX-License-Identifier: MIT
// The dashboard's behaviour: asks /api/session who we are (a 401 shows
// the login form), then every few seconds /api/summary and one page of
// /api/mailboxes, filtered, sorted and paged by the server.  Everything
// the server sends is put in the page as text (textContent), never as
// HTML.  #q=NAME&state=S&sort=K&order=desc&window=SECONDS in the address
// set the search box, filter, sort and chart window.
"use strict";

const REFRESH_MS = 4000;
const PAGE = 50;
const view = { q: "", state: "", sort: "name", order: "asc", offset: 0, window: 3600,
               csrf: null, writable: false, detail: null };
let timer = null;

const $ = (id) => document.getElementById(id);

function human(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + " " + u[i];
}

function duration(s) {
  if (s === null || s === undefined) return "-";
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.round(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " days";
}

function when(t) { return t ? new Date(t * 1000).toLocaleString() : "-"; }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opts || {}));
  if (r.status === 401) { showLogin(); throw new Error("authentication required"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

function showLogin() {
  $("dash").hidden = true;
  $("login").hidden = false;
  $("login-failed").hidden = !/login=failed/.test(location.search);
  if (timer) { clearTimeout(timer); timer = null; }
}

function readAddress() {
  const p = new URLSearchParams(location.hash.replace(/^#/, "") || location.search.replace(/^\?/, ""));
  if (p.get("q")) view.q = p.get("q");
  if (p.get("state")) view.state = p.get("state");
  if (p.get("sort")) view.sort = p.get("sort");
  if (p.get("order")) view.order = p.get("order");
  if (Number(p.get("window")) > 0) view.window = Number(p.get("window"));
  $("q").value = view.q;
  $("state").value = view.state;
  $("sort").value = view.sort;
  $("order").value = view.order;
  $("window").value = String(view.window);
}

function writeAddress() {
  const p = new URLSearchParams();
  if (view.q) p.set("q", view.q);
  if (view.state) p.set("state", view.state);
  if (view.sort !== "name") p.set("sort", view.sort);
  if (view.order !== "asc") p.set("order", view.order);
  const h = p.toString();
  history.replaceState(null, "", location.pathname + (h ? "#" + h : ""));
}

function renderSummary(s) {
  const m = s.mailboxes;
  $("t-mailboxes").textContent = m.total;
  $("t-states").textContent = ["running", "pending", "done", "failed", "disabled"]
    .map((k) => m[k] + " " + k).join(" · ");
  $("t-copied").textContent = s.messages.copied.toLocaleString();
  $("t-msg-sub").textContent = s.messages.failed + " failed, " + s.messages.pending + " in flight";
  $("t-bytes").textContent = human(s.bytes_copied);
  $("t-rate").textContent = s.rate.messages_per_second.toFixed(1) + " msg/s, " +
    human(s.rate.bytes_per_second) + "/s (last 5 min)";
  $("t-eta").textContent = s.eta_seconds === null ? "-" : duration(s.eta_seconds);
  $("t-started").textContent = "started " + when(s.started);
  const pct = Math.round(s.progress * 1000) / 10;
  $("progress-bar").style.width = pct + "%";
  $("progress-text").textContent = pct + "% of mailboxes finished (" + (m.done + m.failed) +
    " of " + (m.total - m.disabled) + ")";
  drawChart(s);
}

function drawChart(s) {
  const c = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth || 800, h = 160;
  c.width = w * dpr; c.height = h * dpr;
  const g = c.getContext("2d");
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const b = s.bucket_seconds, end = s.now - (s.now % b), start = end - 59 * b;
  const byT = new Map(s.throughput.map((x) => [x.t, x]));
  let max = 1;
  for (const x of s.throughput) max = Math.max(max, x.messages);
  const left = 40, bottom = h - 18, bw = (w - left) / 60;
  g.strokeStyle = "#d8dde6"; g.fillStyle = "#667085"; g.font = "11px sans-serif";
  for (let i = 0; i <= 4; i++) {
    const y = bottom - (bottom - 8) * i / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
    const v = max * i / 4 / b;
    g.fillText(v >= 10 ? String(Math.round(v)) : v.toFixed(v >= 1 ? 1 : 2), 2, y + 4);
  }
  g.fillStyle = "#2f6fdb";
  for (let i = 0; i < 60; i++) {
    const x = byT.get(start + i * b);
    if (!x) continue;
    const bh = (bottom - 8) * x.messages / max;
    g.fillRect(left + i * bw + 1, bottom - bh, Math.max(1, bw - 2), bh);
  }
  g.fillStyle = "#667085";
  g.fillText(new Date(start * 1000).toLocaleTimeString(), left, h - 4);
  const label = new Date(end * 1000).toLocaleTimeString();
  g.fillText(label, w - g.measureText(label).width - 2, h - 4);
  $("chart-note").textContent = "messages per second, " + b + " s per bar";
}

function actionButton(mb) {
  if (!view.writable) return el("td");
  const td = el("td");
  const btn = el("button", mb.enabled ? "disable" : "enable");
  btn.type = "button";
  btn.addEventListener("click", () => setEnabled(mb.name, !mb.enabled));
  td.appendChild(btn);
  return td;
}

function renderRows(page) {
  const tb = $("rows");
  tb.replaceChildren();
  for (const mb of page.mailboxes) {
    const tr = el("tr");
    tr.dataset.name = mb.name;
    const name = el("td");
    const a = el("a", mb.name, "name");
    a.href = "#";
    a.addEventListener("click", (e) => { e.preventDefault(); openDetail(mb.name); });
    name.appendChild(a);
    tr.appendChild(name);
    const st = el("td");
    st.appendChild(el("span", mb.state + (mb.enabled ? "" : " (off)"), "st st-" + mb.state));
    tr.appendChild(st);
    tr.appendChild(el("td", mb.folders, "n"));
    tr.appendChild(el("td", mb.copied.toLocaleString(), "n"));
    tr.appendChild(el("td", human(mb.bytes), "n"));
    tr.appendChild(el("td", mb.failed, "n"));
    tr.appendChild(el("td", human(mb.bytes_per_second) + "/s", "n"));
    tr.appendChild(el("td", mb.last_error || "", "err"));
    tr.appendChild(actionButton(mb));
    tb.appendChild(tr);
  }
  const last = Math.min(page.offset + page.mailboxes.length, page.matched);
  $("page-info").textContent = page.matched ? (page.offset + 1) + "–" + last + " of " + page.matched : "no mailbox matches";
  $("prev").disabled = page.offset === 0;
  $("next").disabled = last >= page.matched;
}

async function openDetail(name) {
  view.detail = name;
  const d = await api("/api/mailboxes/" + encodeURIComponent(name));
  $("detail").hidden = false;
  $("d-name").textContent = d.name + " — " + d.state;
  $("d-uris").textContent = (d.source || "-") + "  →  " + (d.sink || "-") +
    "   (started " + when(d.started) + ", finished " + when(d.finished) + ")";
  $("d-error").textContent = d.last_error || "";
  const ft = $("d-folders");
  ft.replaceChildren();
  for (const f of d.folder_list) {
    const tr = el("tr");
    for (const [v, c] of [[f.path], [f.target || "-"], [f.copied, "n"], [f.failed, "n"],
                          [f.state || ""], [f.error || "", "err"]])
      tr.appendChild(el("td", v, c));
    ft.appendChild(tr);
  }
  const fm = $("d-failed");
  fm.replaceChildren();
  for (const f of d.failed_messages) {
    const tr = el("tr");
    for (const [v, c] of [[f.folder], [f.id], [f.error || "", "err"]]) tr.appendChild(el("td", v, c));
    fm.appendChild(tr);
  }
  $("d-failed-count").textContent = "(" + d.failed_messages_total + ")";
}

async function setEnabled(name, enable) {
  const headers = view.csrf ? { "X-CSRF-Token": view.csrf } : {};
  try {
    await api("/api/mailboxes/" + encodeURIComponent(name) + (enable ? "/enable" : "/disable"),
              { method: "POST", headers });
    $("error").textContent = "";
  } catch (e) { $("error").textContent = name + ": " + e.message; }
  refresh();
}

async function renderReports() {
  const r = await api("/api/reports");
  const ul = $("report-list");
  ul.replaceChildren();
  for (const f of r.reports) {
    if (!/\.html$/.test(f.path)) continue;
    const li = el("li");
    const a = el("a", f.path);
    a.href = "/reports/" + f.path.split("/").map(encodeURIComponent).join("/");
    a.target = "_blank";
    a.rel = "noopener";
    li.appendChild(a);
    li.appendChild(document.createTextNode("  " + when(f.modified)));
    ul.appendChild(li);
  }
  $("reports").hidden = r.reports.length === 0;
}

async function refresh() {
  if (timer) clearTimeout(timer);
  const p = new URLSearchParams({ offset: view.offset, limit: PAGE, sort: view.sort, order: view.order });
  if (view.q) p.set("q", view.q);
  if (view.state) p.set("state", view.state);
  try {
    const [s, page] = await Promise.all([api("/api/summary?window=" + view.window),
                                         api("/api/mailboxes?" + p.toString())]);
    renderSummary(s);
    renderRows(page);
    if (view.detail) await openDetail(view.detail);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = e.message;
    if ($("dash").hidden) return;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function wire() {
  let debounce = null;
  $("q").addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { view.q = $("q").value.trim(); view.offset = 0; writeAddress(); refresh(); }, 250);
  });
  for (const id of ["state", "sort", "order"])
    $(id).addEventListener("change", () => { view[id] = $(id).value; view.offset = 0; writeAddress(); refresh(); });
  $("window").addEventListener("change", () => { view.window = Number($("window").value); refresh(); });
  $("prev").addEventListener("click", () => { view.offset = Math.max(0, view.offset - PAGE); refresh(); });
  $("next").addEventListener("click", () => { view.offset += PAGE; refresh(); });
  $("d-close").addEventListener("click", () => { view.detail = null; $("detail").hidden = true; });
}

async function start() {
  wire();
  readAddress();
  let s;
  try { s = await api("/api/session"); } catch (e) { return; }
  view.csrf = s.csrf;
  view.writable = s.writable;
  $("mode").textContent = s.writable ? "" : "read-only";
  $("logout").hidden = s.anonymous;
  $("login").hidden = true;
  $("dash").hidden = false;
  if (s.reports) renderReports().catch(() => {});
  refresh();
}

document.addEventListener("DOMContentLoaded", start);

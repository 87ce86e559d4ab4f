// The ConnectSafely ledger page. Plain JS, no build step. Every value from the server goes
// into the page through textContent or attributes, never as HTML. Requests carry the Airflow
// UI's session cookie (same origin); the API server checks it.
"use strict";

const FILTERS = ["q", "state", "campaign", "account", "since", "until", "run_id"];
const state = { page: 1, size: 25, pages: 1, settling: null, funnel: "", replies: "" };
for (const name of FILTERS) state[name] = "";
// Opened from a task's "ConnectSafely ledger" button: start filtered to its campaign and run.
const opened = new URLSearchParams(window.location.search);
for (const name of FILTERS) if (opened.get(name)) state[name] = opened.get(name);
state.funnel = state.campaign;
state.replies = state.campaign.startsWith("sequence:") ? state.campaign : "";

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// The Airflow UI shows this page in a sandboxed frame (no allow-top-navigation), where a link
// cannot move the UI itself (target="_top" is refused). The frame is same-origin with the UI,
// so a click moves the UI's own router instead: push the address onto the UI's history and
// tell its router, as Back and Forward do (a popstate event). The link keeps its href, so
// "open in new tab" and a middle or modified click work as usual; unframed, or when the UI
// cannot be reached, the click is an ordinary one.
function uiWindow() {
  try {
    const ui = window.parent;
    if (!ui || ui === window || ui.location.origin !== window.location.origin) return null;
    return ui;
  } catch {
    return null; // another origin: the UI cannot be reached
  }
}

function openInUi(event) {
  const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
  if (event.defaultPrevented || event.button !== 0 || modified) return;
  const ui = uiWindow();
  if (!ui) return;
  const url = new URL(event.currentTarget.href, window.location.href);
  if (url.origin !== ui.location.origin) return;
  event.preventDefault();
  const before = ui.history.state;
  // The entry as the router writes its own (an index one past the current one), so Back and
  // Forward keep working.
  const idx = (before && Number.isInteger(before.idx) ? before.idx : 0) + 1;
  const entry = { usr: null, key: Math.random().toString(36).slice(2, 10), idx };
  ui.history.pushState(entry, "", `${url.pathname}${url.search}${url.hash}`);
  ui.dispatchEvent(new ui.PopStateEvent("popstate", { state: entry }));
}

// A link to another site (LinkedIn): the sandboxed frame may not open a new tab itself (no
// allow-popups), so the UI's window opens it, without access back to this page.
function openOutside(event) {
  const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
  if (event.defaultPrevented || event.button !== 0 || modified) return;
  const ui = uiWindow();
  if (!ui) return;
  event.preventDefault();
  ui.open(event.currentTarget.href, "_blank", "noopener,noreferrer");
}

// The CSV download: Airflow 3.1 frames the page without allow-downloads, so in a frame the
// UI's own document starts the download (same origin, the same cookie).
function downloadFromUi(event) {
  const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
  if (event.defaultPrevented || event.button !== 0 || modified) return;
  const ui = uiWindow();
  if (!ui) return;
  event.preventDefault();
  const link = ui.document.createElement("a");
  link.href = new URL(event.currentTarget.getAttribute("href"), window.location.href).href;
  link.download = event.currentTarget.getAttribute("download") || "";
  link.hidden = true;
  ui.document.body.append(link);
  link.click();
  link.remove();
}

function when(iso) { return iso ? iso.replace("T", " ").slice(0, 16) : ""; }

function percent(rate) { return rate === null || rate === undefined ? "-" : `${(rate * 100).toFixed(1)}%`; }

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

// Light or dark as the Airflow UI shows it: the UI marks its <html> with the class "dark" or
// "light" (its own setting, or the system's). Unframed, ledger.css follows the system
// (prefers-color-scheme).
function followUiTheme() {
  const ui = uiWindow();
  if (!ui) return;
  const uiRoot = ui.document.documentElement;
  const apply = () => {
    const theme = ["dark", "light"].find((name) => uiRoot.classList.contains(name));
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  };
  apply();
  const watch = new MutationObserver(apply);
  watch.observe(uiRoot, { attributes: true, attributeFilter: ["class"] });
  window.addEventListener("pagehide", () => watch.disconnect());
}

async function getJson(path) {
  const answer = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.detail ? String(body.detail) : `HTTP ${answer.status}`);
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function renderToday(today) {
  const box = $("today");
  box.replaceChildren();
  $("ledger-where").textContent = today.ledger ? `Ledger: ${today.ledger}` : "";
  $("notice").textContent = today.notice || "";
  $("notice").hidden = !today.notice;
  if (!today.accounts.length) {
    box.append(el("p", { class: "muted", text: `No sends yet today (cap ${today.cap} per account).` }));
  }
  for (const account of today.accounts) {
    const share = account.cap > 0 ? Math.min(account.sent_today / account.cap, 1) : 0;
    const fill = el("div", { class: share >= 1 ? "bar-fill full" : "bar-fill" });
    fill.style.width = `${Math.round(share * 100)}%`;
    const down = account.unavailable;
    const card = el("div", { class: down ? "card unavailable" : "card", "data-account": account.account },
      el("div", { class: "muted", text: `Account ${account.account}` }),
      el("div", { class: "num", text: `${account.sent_today} / ${account.cap}` }),
      el("div", { class: "muted", text: `${account.left} left today${account.cap_source === "assumed" ? " (cap assumed: no task has capped this account today)" : " (cap applied by the tasks)"}` }),
      el("div", { class: "bar-track" }, fill),
      el("div", { class: "muted connects", text: `${account.connects_this_week} / ${account.connect_cap ?? "no cap"} connection requests this week${account.connect_cap_source === "applied" ? " (cap applied)" : ""}` }));
    if (down) {
      card.append(el("div", { class: "down", text: `Unavailable since ${when(down.since)} UTC (last seen ${when(down.seen_at)}): ${down.reason}` }));
    }
    box.append(card);
  }
}

function renderChart(daily) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 900, height = 160, bottom = 20, top = 14;
  const max = Math.max(1, ...daily.days.map((d) => d.sent));
  const step = width / daily.days.length;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", "100%");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Sent per day, last ${daily.days.length} days`);
  daily.days.forEach((day, i) => {
    const h = ((height - bottom - top) * day.sent) / max;
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("class", "bar");
    bar.setAttribute("x", String(i * step + 2));
    bar.setAttribute("y", String(height - bottom - h));
    bar.setAttribute("width", String(Math.max(step - 4, 1)));
    bar.setAttribute("height", String(h));
    const tip = document.createElementNS(ns, "title");
    tip.textContent = `${day.day}: ${day.sent} sent`;
    bar.append(tip);
    svg.append(bar);
    if (day.sent > 0) {
      const count = document.createElementNS(ns, "text");
      count.setAttribute("x", String(i * step + step / 2));
      count.setAttribute("y", String(height - bottom - h - 3));
      count.setAttribute("text-anchor", "middle");
      count.textContent = String(day.sent);
      svg.append(count);
    }
    if (i % 5 === 0 || i === daily.days.length - 1) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(i * step + step / 2));
      label.setAttribute("y", String(height - 6));
      label.setAttribute("text-anchor", "middle");
      label.textContent = day.day.slice(5);
      svg.append(label);
    }
  });
  $("chart").replaceChildren(svg);
  $("daily-total").textContent = `(${daily.total} in total)`;
}

function renderCampaigns(answer) {
  const body = $("campaigns").tBodies[0];
  body.replaceChildren();
  const picker = $("campaign");
  picker.replaceChildren(el("option", { value: "", text: "all" }));
  for (const c of answer.campaigns) {
    picker.append(el("option", { value: c.label, text: `${c.campaign} (${c.kind})` }));
  }
  picker.value = state.campaign;
  const funnelPicker = $("funnel-campaign");
  const repliesPicker = $("replies-campaign");
  funnelPicker.replaceChildren();
  repliesPicker.replaceChildren(el("option", { value: "", text: "all" }));
  for (const c of answer.campaigns) {
    funnelPicker.append(el("option", { value: c.label, text: `${c.campaign} (${c.kind})` }));
    if (c.kind === "sequence") repliesPicker.append(el("option", { value: c.label, text: c.campaign }));
  }
  const labels = answer.campaigns.map((c) => c.label);
  if (!labels.includes(state.funnel)) {
    const sequence = answer.campaigns.find((c) => c.kind === "sequence");
    state.funnel = sequence ? sequence.label : (labels[0] || "");
  }
  funnelPicker.value = state.funnel;
  repliesPicker.value = state.replies;
  if (!answer.campaigns.length) {
    body.append(el("tr", {}, el("td", { colspan: "10", class: "muted", text: "No campaigns yet." })));
  }
  for (const c of answer.campaigns) {
    const people = c.enrollments || {};
    const cell = (value) => el("td", { text: value === undefined || value === null ? "-" : String(value) });
    body.append(el("tr", { "data-campaign": c.campaign },
      el("td", { text: c.campaign }), el("td", { text: c.kind }),
      cell(c.sends.sent), cell(c.sends.failed), cell(c.sends.unknown), cell(c.sends.pending),
      cell(c.enrollments ? people.active : null), cell(c.enrollments ? people.replied : null),
      cell(c.enrollments ? people.finished : null),
      el("td", {}, funnelButton(c.label))));
  }
}

function funnelButton(label) {
  const button = el("button", { type: "button", class: "show-funnel", text: "Funnel" });
  button.addEventListener("click", () => {
    state.funnel = label;
    $("funnel-campaign").value = label;
    loadFunnel().then(() => $("funnel-section").scrollIntoView()).catch((e) => showError(e.message));
  });
  return button;
}

function renderFunnel(answer) {
  const box = $("funnel");
  const body = $("funnel-steps").tBodies[0];
  box.replaceChildren();
  body.replaceChildren();
  $("funnel-skipped").textContent = "";
  if (!answer) {
    box.append(el("p", { class: "muted", text: "No campaigns yet." }));
    return;
  }
  if (answer.kind !== "sequence") {
    const s = answer.sends;
    box.append(el("p", { class: "muted", text: `A batch: ${s.sent} sent, ${s.failed} failed, ${s.unknown} unknown, ${s.pending} pending (batches read no replies).` }));
    return;
  }
  const notes = { "first step sent": "of enrolled", accepted: "of connection requests sent", replied: "of first step sent" };
  for (const stage of answer.stages) {
    box.append(el("div", { class: "stage", "data-stage": stage.stage },
      el("div", { class: "muted", text: stage.stage }),
      el("div", { class: "num", text: String(stage.people) }),
      el("div", { class: "muted", text: stage.rate === null ? "" : `${percent(stage.rate)} ${notes[stage.stage] || ""}` })));
  }
  for (const step of answer.steps) {
    body.append(el("tr", { "data-step": String(step.step) },
      el("td", { text: String(step.step) }), el("td", { text: String(step.sent) }),
      el("td", { text: String(step.replied) }), el("td", { text: percent(step.reply_rate) }),
      el("td", { text: duration(step.median_reply_seconds) })));
  }
  if (!answer.steps.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No step sent yet." })));
  const skipped = Object.entries(answer.skipped).map(([why, n]) => `${why}: ${n}`).join(", ");
  $("funnel-skipped").textContent = `Skipped or held now: ${skipped}`;
}

async function loadFunnel() {
  renderFunnel(state.funnel ? await getJson(`api/funnel?${new URLSearchParams({ campaign: state.funnel })}`) : null);
}

function renderReplies(answer) {
  const body = $("replies").tBodies[0];
  body.replaceChildren();
  if (!answer.replies.length) {
    body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No replies yet." })));
  }
  for (const reply of answer.replies) {
    let link = el("span", { class: "muted", text: "-" });
    if (reply.conversation_url) {
      link = el("a", { href: reply.conversation_url, target: "_blank", rel: "noopener noreferrer", class: "conversation", text: "Open on LinkedIn" });
      link.addEventListener("click", openOutside);
    }
    const action = el("td");
    if (reply.opted_out) {
      action.append(el("span", { class: "state dnc opted-out", text: "opted out" }));
    } else if (reply.do_not_contact) {
      action.append(el("span", { class: "state dnc", text: "do not contact" }));
    } else {
      const button = el("button", { type: "button", class: "dnc", text: "Do not contact" });
      button.addEventListener("click", () => openDoNotContact(reply));
      action.append(button);
    }
    body.append(el("tr", { "data-recipient": reply.recipient },
      el("td", { text: reply.recipient }), el("td", { text: reply.campaign }),
      el("td", { text: String(reply.step) }), el("td", { text: when(reply.replied_at) }),
      el("td", { class: "first-line", text: reply.first_line }), el("td", {}, link), action));
  }
}

async function loadReplies() {
  const params = new URLSearchParams();
  if (state.replies) params.set("campaign", state.replies);
  renderReplies(await getJson(`api/replies?${params}`));
}

function renderSends(answer) {
  const body = $("sends").tBodies[0];
  body.replaceChildren();
  if (!answer.rows.length) {
    body.append(el("tr", {}, el("td", { colspan: "8", class: "muted", text: "No sends match." })));
  }
  for (const row of answer.rows) {
    const task = el("td", { class: "run" });
    if (row.task_instance_url) {
      const link = el("a", { href: row.task_instance_url, target: "_top", text: `${row.dag_id} / ${row.task_id}` });
      link.title = `run ${row.run_id}`;
      link.addEventListener("click", openInUi);
      task.append(link);
    }
    if (row.run_id) task.append(el("div", { class: "run-id", text: row.run_id }));
    if (!task.childNodes.length) task.append(el("span", { class: "muted", text: "-" }));
    const note = row.settled_by || row.settle_note
      ? `settled by ${row.settled_by || "?"} at ${when(row.settled_at)} UTC: ${row.settle_note || ""}`
      : row.error || "";
    const action = el("td");
    if (row.settleable) {
      const button = el("button", { type: "button", class: "settle", text: "Settle" });
      button.addEventListener("click", () => openSettle(row));
      action.append(button);
    }
    if (row.do_not_contact) {
      action.append(el("span", { class: "state dnc", text: "do not contact" }));
    } else {
      const button = el("button", { type: "button", class: "dnc", text: "Do not contact" });
      button.addEventListener("click", () => openDoNotContact(row));
      action.append(button);
    }
    body.append(el("tr", { "data-key": row.dedupe_key },
      el("td", { text: row.recipient }),
      el("td", { text: row.campaign || "-" }),
      el("td", { text: row.account }),
      el("td", {}, el("span", { class: `state state-${row.state}`, text: row.state })),
      el("td", { text: row.updated_at.replace("T", " ").slice(0, 19) }),
      task,
      el("td", { class: "err", text: note }),
      action));
  }
  state.pages = answer.pages;
  const total = answer.total_capped ? `over ${answer.total}` : String(answer.total);
  $("page-info").textContent = `Page ${answer.page} of ${answer.pages} (${total} sends)`;
  $("prev").disabled = answer.page <= 1;
  $("next").disabled = answer.page >= answer.pages;
}

// The results per step and variant of the campaign picked in the filter (hidden for "all").
function percent(value) { return value === null || value === undefined ? "-" : `${(100 * value).toFixed(1)}%`; }

function renderVariants(answer) {
  const body = $("variants").tBodies[0];
  body.replaceChildren();
  $("variants-campaign").textContent = `(${answer.campaign})`;
  if (!answer.results.length) {
    body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No sends recorded with a step or variant." })));
  }
  for (const r of answer.results) {
    const interval = r.ci95 ? `${percent(r.ci95[0])} - ${percent(r.ci95[1])}` : "-";
    body.append(el("tr", { "data-step": String(r.step ?? ""), "data-variant": r.variant ?? "" },
      el("td", { text: r.step === null ? "-" : String(r.step) }),
      el("td", { text: r.variant ?? "(one message)" }),
      el("td", { text: String(r.sent) }),
      el("td", { text: r.replied === null ? "not tracked" : String(r.replied) }),
      el("td", { text: percent(r.reply_rate) }),
      el("td", { text: interval })));
  }
}

async function loadVariants() {
  $("variants-section").hidden = !state.campaign;
  if (!state.campaign) return;
  renderVariants(await getJson(`api/variants?${new URLSearchParams({ campaign: state.campaign })}`));
}

function filterParams() {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  return params;
}

async function loadSends() {
  const params = filterParams();
  $("csv").href = `api/sends.csv?${params}`;
  params.set("page", String(state.page));
  params.set("size", String(state.size));
  renderSends(await getJson(`api/sends?${params}`));
}

function showFilters() {
  $("search").value = state.q;
  $("state").value = state.state;
  $("account").value = state.account;
  $("since").value = state.since;
  $("until").value = state.until;
  $("run-id").value = state.run_id;
}

async function loadAll() {
  try {
    const [today, daily, campaigns] = await Promise.all([
      getJson("api/today"), getJson("api/daily"), getJson("api/campaigns"),
    ]);
    renderToday(today);
    renderChart(daily);
    renderCampaigns(campaigns);
    await Promise.all([loadFunnel(), loadReplies(), loadSends(), loadVariants()]);
    showError("");
    document.body.dataset.loaded = "true";
  } catch (error) {
    showError(error.message);
    document.body.dataset.loaded = "error";
  }
}

function openSettle(row) {
  state.settling = row;
  $("settle-recipient").textContent = row.recipient;
  $("settle-key").textContent = row.dedupe_key;
  $("settle-note").value = "";
  $("settle-error").hidden = true;
  $("settle-dialog").showModal();
}

async function confirmSettle(event) {
  event.preventDefault();
  const note = $("settle-note").value.trim();
  const chosen = document.querySelector("input[name='settle-state']:checked").value;
  const fail = (message) => { $("settle-error").textContent = message; $("settle-error").hidden = false; };
  if (!note) return fail("A note is required: say what you checked on LinkedIn.");
  const answer = await fetch("api/settle", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ dedupe_key: state.settling.dedupe_key, state: chosen, note }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    return fail(detail ? String(detail) : `HTTP ${answer.status}`);
  }
  $("settle-dialog").close();
  await loadAll();
}

function openDoNotContact(row) {
  state.suppressing = row;
  $("dnc-recipient").textContent = row.recipient;
  $("dnc-note").value = "";
  $("dnc-error").hidden = true;
  $("dnc-dialog").showModal();
}

async function confirmDoNotContact(event) {
  event.preventDefault();
  const note = $("dnc-note").value.trim();
  const fail = (message) => { $("dnc-error").textContent = message; $("dnc-error").hidden = false; };
  if (!note) return fail("A note is required: say why they must not be contacted.");
  const answer = await fetch("api/do-not-contact", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(state.suppressing.dedupe_key
      ? { dedupe_key: state.suppressing.dedupe_key, note }
      : { campaign: state.suppressing.campaign, recipient: state.suppressing.recipient, note }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    return fail(detail ? String(detail) : `HTTP ${answer.status}`);
  }
  $("dnc-dialog").close();
  await loadAll();
}

followUiTheme();

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = $("search").value.trim();
    state.state = $("state").value;
    state.campaign = $("campaign").value;
    state.account = $("account").value.trim();
    state.since = $("since").value;
    state.until = $("until").value;
    state.run_id = $("run-id").value.trim();
    state.page = 1;
    loadSends().catch((error) => showError(error.message));
    loadVariants().catch((error) => showError(error.message));
  });
  $("prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); loadSends().catch((e) => showError(e.message)); });
  $("next").addEventListener("click", () => { state.page = Math.min(state.pages, state.page + 1); loadSends().catch((e) => showError(e.message)); });
  $("funnel-campaign").addEventListener("change", (event) => {
    state.funnel = event.target.value;
    loadFunnel().catch((e) => showError(e.message));
  });
  $("replies-campaign").addEventListener("change", (event) => {
    state.replies = event.target.value;
    loadReplies().catch((e) => showError(e.message));
  });
  $("csv").addEventListener("click", downloadFromUi);
  $("settle-form").addEventListener("submit", confirmSettle);
  showFilters();
  $("settle-cancel").addEventListener("click", () => $("settle-dialog").close());
  $("dnc-form").addEventListener("submit", confirmDoNotContact);
  $("dnc-cancel").addEventListener("click", () => $("dnc-dialog").close());
  loadAll();
});

// One execution: its state, attempts, controls and the live event timeline.
import { api, enc, raw } from "./api.js";
import {
  TERMINAL, cost, countdown, duration, escape, seconds, status, tokens, when,
} from "./format.js";
import { inline, markdown } from "./markdown.js";
import { EventStream } from "./stream.js";
import { VirtualList } from "./vlist.js";

const ONE_LINE = 30;
const CONTROLS = [
  ["cancel", "Cancel", ["queued", "running", "paused", "waiting"], "POST /executions/{id}/cancel"],
  ["pause", "Pause", ["running"], "POST /executions/{id}/pause"],
  ["resume", "Resume", ["paused"], "POST /executions/{id}/resume"],
  ["rerun", "Rerun", [...TERMINAL], "POST /executions/{id}/rerun"],
];

function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function firstLine(text, max = 240) {
  const line = String(text ?? "").split("\n", 1)[0];
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

/** True for text short and plain enough to stay on its event's line. */
function oneLiner(text) {
  const t = String(text ?? "");
  return t.length <= 300 && !t.includes("\n") && !/^\s*(#|[-*+]\s|>|```|~~~|\d+[.)]\s)/.test(t);
}

function pretty(value) {
  if (typeof value === "string") return value;
  try { return JSON.stringify(value, null, 2); } catch { return String(value); }
}

/** A link to what started the execution: the PR, issue or comment, else its delivery. */
export function triggerLink(e, nav) {
  const c = e.context || {};
  const target = (c.comment && c.comment.html_url && c.pr) ? c.pr : c.pr || c.issue;
  if (target && target.html_url && /^https?:\/\//.test(target.html_url)) {
    const label = `${c.pr ? "PR" : "issue"} #${target.number ?? ""}`;
    return `${escape(e.trigger)} · <a href="${escape(target.html_url)}" rel="noopener noreferrer">${escape(label)}</a>`;
  }
  if (e.delivery_id) {
    return `${escape(e.trigger)} · <a href="${escape(nav("deliveries"))}#${escape(encodeURIComponent(e.delivery_id))}" data-nav>delivery ${escape(e.delivery_id.slice(0, 12))}</a>`;
  }
  return escape(e.trigger);
}

export class ExecutionView {
  constructor(main, id, ctx) {
    this.main = main;
    this.id = id;
    this.ctx = ctx; // {may, nav, announce, go}
    this.events = [];
    this.bySeq = new Map();
    this.results = new Map(); // tool call id -> tool_result event
    this.expanded = new Set();
    this.shown = [];
    this.query = "";
    this.execution = null;
    this.pending = [];
    this.firstTime = null;
    this.timers = [];
    this.refreshing = false;
    this.refreshAgain = false;
    this.path = location.pathname;
  }

  onHash() {
    this.jumped = false;
    this.jump();
  }

  async open() {
    this.main.innerHTML = `
      <section class="exec" aria-labelledby="exec-title">
        <div id="exec-head" class="exec-head"><h1 id="exec-title">Execution <code>${escape(this.id)}</code></h1></div>
        <div id="exec-error" role="alert"></div>
        <div id="exec-controls" class="controls" role="group" aria-label="Controls"></div>
        <details id="exec-attempts-box" class="attempts-box"><summary>Attempts</summary><div id="exec-attempts"></div></details>
        <div class="tl-bar" role="toolbar" aria-label="Timeline">
          <label class="search"><span class="visually-hidden">Search the events</span>
            <input id="tl-search" type="search" placeholder="Search events (/)" autocomplete="off"></label>
          <span id="tl-count" class="muted" aria-live="polite"></span>
          <span id="tl-conn" class="conn" role="status" aria-live="polite">connecting</span>
          <button id="tl-follow" type="button" aria-pressed="true">Follow</button>
          <button id="tl-download" type="button">Download NDJSON</button>
        </div>
        <div id="tl" class="timeline" tabindex="0" aria-label="Events"></div>
      </section>`;
    this.list = new VirtualList(this.main.querySelector("#tl"), (e) => this.row(e), (e) => this.estimate(e));
    this.wire();
    // the stream and the execution are asked for at once: the first events draw sooner
    this.list.follow = false;
    this.stream = new EventStream(this.id, {
      onEvent: (e) => this.receive(e),
      onState: (s, detail) => this.connection(s, detail),
      onResync: (first) => this.note(`events before #${first} were pruned`),
    });
    this.stream.start(0);
    this.timers.push(setInterval(() => this.tick(), 1000));
    try {
      this.execution = await api(`/executions/${enc(this.id)}`);
    } catch (err) {
      this.stream.stop();
      this.main.querySelector("#exec-error").innerHTML = `<p class="error">${escape(err.message)}</p>`;
      this.connection("ended", "");
      return;
    }
    this.head();
    // a running execution is followed; a finished one opens at its start (or its #seq)
    if (!TERMINAL.has(this.execution.status) && !location.hash) this.list.scrollToEnd();
    this.syncFollow();
  }

  close() {
    if (this.stream) this.stream.stop();
    for (const t of this.timers) clearInterval(t);
  }

  wire() {
    const search = this.main.querySelector("#tl-search");
    let debounce = 0;
    search.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => { this.query = search.value.trim().toLowerCase(); this.filter(); }, 120);
    });
    const follow = this.main.querySelector("#tl-follow");
    follow.addEventListener("click", () => {
      if (this.list.follow) { this.list.follow = false; } else { this.list.scrollToEnd(); }
      this.syncFollow();
    });
    this.list.scroller.addEventListener("scroll", () => this.syncFollow(), { passive: true });
    this.main.querySelector("#tl-download").addEventListener("click", () => this.download());
    this.main.querySelector("#tl").addEventListener("click", (ev) => {
      const line = ev.target.closest(".row-line");
      if (line && !ev.target.closest("a")) this.toggle(Number(line.closest("[data-seq]").dataset.seq));
    });
    this.main.querySelector("#tl").addEventListener("keydown", (ev) => this.keys(ev));
  }

  keys(ev) {
    const rows = [...this.main.querySelectorAll("#tl .row-line")];
    const at = rows.indexOf(document.activeElement);
    if (ev.key === "j" || ev.key === "ArrowDown") {
      if (at >= 0 && at < rows.length - 1) { rows[at + 1].focus(); ev.preventDefault(); }
      else if (at < 0 && rows.length) { rows[0].focus(); ev.preventDefault(); }
    } else if (ev.key === "k" || ev.key === "ArrowUp") {
      if (at > 0) { rows[at - 1].focus(); ev.preventDefault(); }
    } else if (ev.key === "End") {
      this.list.scrollToEnd(); this.syncFollow(); ev.preventDefault();
    } else if (ev.key === "Home") {
      this.list.scrollToIndex(0); this.syncFollow(); ev.preventDefault();
    }
  }

  syncFollow() {
    const button = this.main.querySelector("#tl-follow");
    if (button) button.setAttribute("aria-pressed", String(this.list.follow));
  }

  connection(state, detail) {
    const el = this.main.querySelector("#tl-conn");
    if (!el) return;
    const labels = {
      connecting: "connecting…",
      live: "live",
      reconnecting: "reconnecting…",
      offline: "connection lost, retrying",
      ended: "stream ended",
    };
    el.textContent = labels[state] || state;
    el.dataset.state = state;
    el.title = detail || "";
  }

  note(text) {
    this.ctx.announce(text);
  }

  receive(event) {
    if (this.bySeq.has(event.seq)) return; // never twice
    this.bySeq.set(event.seq, event);
    if (this.firstTime === null) this.firstTime = Date.parse(event.time);
    if (event.kind === "tool_result" && event.data && event.data.id) this.results.set(event.data.id, event);
    this.pending.push(event);
    if (this.pending.length === 1) requestAnimationFrame(() => this.flush());
    if (["status", "usage", "result", "rate_limit", "error", "workspace"].includes(event.kind)) this.refresh();
  }

  flush() {
    const batch = this.pending;
    this.pending = [];
    this.events.push(...batch);
    const matching = this.query ? batch.filter((e) => this.matches(e)) : batch;
    if (matching.length) this.list.append(matching);
    this.count();
    if (location.hash && !this.jumped) this.jump();
  }

  count() {
    const el = this.main.querySelector("#tl-count");
    if (!el) return;
    el.textContent = this.query
      ? `${this.list.items.length} of ${this.events.length} events match`
      : `${this.events.length} events`;
  }

  jump() {
    const seq = Number(location.hash.replace(/^#/, ""));
    if (!seq) { this.jumped = true; return; }
    let index = this.list.items.findIndex((e) => e.seq === seq);
    if (index < 0 && this.query && this.bySeq.has(seq)) {
      // the event is hidden by the search: show every event again
      this.main.querySelector("#tl-search").value = "";
      this.query = "";
      this.filter();
      index = this.list.items.findIndex((e) => e.seq === seq);
    }
    if (index < 0) return; // not here yet
    this.jumped = true;
    this.highlight = seq;
    this.list.scrollToIndex(index);
    this.syncFollow();
  }

  haystack(e) {
    if (e._hay === undefined) {
      let data = "";
      try { data = JSON.stringify(e.data); } catch { /* circular: none in JSON */ }
      e._hay = `${e.kind} ${e.text ?? ""} ${data}`.toLowerCase();
    }
    return e._hay;
  }

  matches(e) {
    return this.haystack(e).includes(this.query);
  }

  filter() {
    this.list.setItems(this.query ? this.events.filter((e) => this.matches(e)) : this.events.slice());
    this.count();
  }

  toggle(seq) {
    if (this.expanded.has(seq)) this.expanded.delete(seq);
    else this.expanded.add(seq);
    const index = this.list.items.findIndex((e) => e.seq === seq);
    if (index >= 0) this.list.invalidate(index);
  }

  estimate(e) {
    if (this.expanded.has(e.seq)) return 200;
    if ((e.kind === "text" || e.kind === "result") && !oneLiner(e.text)) {
      const text = String(e.text ?? "");
      return ONE_LINE + 22 * Math.min(40, Math.ceil(text.length / 90) + (text.match(/\n/g) || []).length);
    }
    return ONE_LINE;
  }

  summary(e) {
    const d = e.data || {};
    switch (e.kind) {
      case "status": return status(d.status || e.text) + (d.reason ? ` <span class="muted">${escape(d.reason)}</span>` : "");
      case "thinking": return `<span class="muted">thinking…</span> ${escape(firstLine(e.text, 120))}`;
      case "tool_call": {
        const result = this.results.get(d.id);
        const mark = result ? (result.data && result.data.ok === false ? ' <span class="bad">✗</span>' : ' <span class="good">✓</span>') : ' <span class="muted">…</span>';
        return `<strong>${escape(d.name || "tool")}</strong> <span class="mono">${escape(firstLine(e.text && d.name && e.text.startsWith(d.name) ? e.text.slice(d.name.length + 1) : e.text, 200))}</span>${mark}`;
      }
      case "tool_result": return `<span class="muted">↳ ${d.ok === false ? "failed" : "output"}</span> <span class="mono">${escape(firstLine(e.text, 200))}</span>`;
      case "file_change": return `<span class="mono">${escape(d.path || d.file || "")}</span> ${escape(d.action || d.change || e.text || "")}`;
      case "rate_limit": return `${escape(e.text || "rate limited")}${d.reset_at ? ` <span class="countdown" data-until="${escape(d.reset_at)}">reset ${escape(countdown(d.reset_at))}</span>` : ""}`;
      case "usage": return `<span class="muted">${escape(tokens(d))} tokens · ${escape(cost(d))}</span>`;
      case "workspace": return `<span class="mono">${escape(d.repo || "")}@${escape(String(d.sha || "").slice(0, 12))}</span>${d.ref ? ` <span class="muted">${escape(d.ref)}</span>` : ""}` +
        ` <span class="muted">${escape(d.fetched ? "fetched" : "from the mirror")}${Number.isFinite(d.duration_ms) ? ` in ${escape(seconds(d.duration_ms / 1000))}` : ""}</span>`;
      case "github": return `${d.ok === false ? '<span class="bad">✗</span>' : '<span class="good">✓</span>'}${d.action ? ` <strong>${escape(d.action)}</strong>` : ""} ${escape(firstLine(e.text, 240))}`;
      case "headroom": {
        const used = typeof d.utilization === "number" ? ` · ${Math.round(d.utilization <= 1 ? d.utilization * 100 : d.utilization)}% used` : "";
        const resets = typeof d.resets_at === "string" ? ` <span class="countdown" data-until="${escape(d.resets_at)}">reset ${escape(countdown(d.resets_at))}</span>` : "";
        return `${escape(d.window || "usage")} window ${escape(String(d.status || "reported").replace(/_/g, " "))}${escape(used)}${resets}`;
      }
      case "error":
        if (d.kind === "plugin") return `<strong>plugin ${escape(d.plugin || "?")}</strong> <span class="muted">in ${escape(d.hook || "a hook")}</span>: ${escape(firstLine(d.message || e.text, 240))}`;
        return `${d.kind ? `<strong>${escape(d.kind)}</strong>: ` : ""}${escape(firstLine(e.text || d.message || "", 240))}`;
      case "text": case "result": return oneLiner(e.text) ? `<span class="md-inline">${inline(e.text ?? "")}</span>` : "";
      default: return `<span class="mono">${escape(firstLine(e.text ?? pretty(d), 240))}</span>`;
    }
  }

  body(e) {
    const d = e.data || {};
    const open = this.expanded.has(e.seq);
    if ((e.kind === "text" || e.kind === "result") && oneLiner(e.text)) return "";
    if (e.kind === "text") return `<div class="md">${markdown(e.text)}</div>`;
    if (e.kind === "result") return `<div class="md result">${markdown(e.text || (d.ok === false ? "failed" : "done"))}</div>`;
    if (!open) return "";
    if (e.kind === "thinking") return `<pre class="thinking">${escape(e.text)}</pre>`;
    if (e.kind === "tool_call") {
      const result = this.results.get(d.id);
      const output = result ? pretty(result.data && result.data.output !== undefined ? result.data.output : result.text) : "(no output yet)";
      return `<div class="io"><h4>Input</h4><pre>${escape(pretty(d.input))}</pre><h4>Output</h4><pre>${escape(output)}</pre></div>`;
    }
    if (e.kind === "tool_result") return `<pre>${escape(pretty(d.output ?? e.text))}</pre>`;
    return `<pre>${escape(e.text ?? "")}${e.text ? "\n" : ""}${escape(pretty(d))}</pre>`;
  }

  row(e) {
    const el = document.createElement("div");
    const bad = e.kind === "error" || e.kind === "stderr" || (e.kind === "github" && e.data && e.data.ok === false) || (e.kind === "status" && ["failed", "timed_out", "interrupted", "budget_exceeded"].includes(e.data && e.data.status));
    el.className = `ev k-${e.kind.replace(/[^a-z0-9_-]/gi, "")}${bad ? " bad-row" : ""}${this.highlight === e.seq ? " hl" : ""}`;
    el.dataset.seq = String(e.seq);
    el.setAttribute("role", "listitem");
    const elapsed = this.firstTime === null ? "" : `+${seconds((Date.parse(e.time) - this.firstTime) / 1000)}`;
    const expandable = !["text", "result", "status", "usage"].includes(e.kind);
    const label = { text: "assistant", tool_call: "tool", tool_result: "result" }[e.kind] || (e.kind === "error" && e.data && e.data.kind === "plugin" ? "plugin" : e.kind);
    el.innerHTML = `<div class="row-line" tabindex="0" ${expandable ? `role="button" aria-expanded="${this.expanded.has(e.seq)}"` : ""}>` +
      `<a class="seq" href="#${e.seq}" title="link to this event">#${e.seq}</a>` +
      `<time datetime="${escape(e.time)}" title="${escape(e.time)}">${escape(clock(e.time))}</time>` +
      `<span class="elapsed">${escape(elapsed)}</span>` +
      `<span class="kind">${escape(label)}</span>` +
      `<span class="sum">${this.summary(e)}</span></div>${this.body(e)}`;
    const line = el.firstElementChild;
    if (expandable) {
      line.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); this.toggle(e.seq); }
      });
    }
    return el;
  }

  tick() {
    for (const el of this.main.querySelectorAll(".countdown[data-until]")) {
      el.textContent = `reset ${countdown(el.dataset.until)}`;
    }
    if (this.execution && !TERMINAL.has(this.execution.status)) {
      const d = this.main.querySelector("#exec-duration");
      if (d) d.textContent = duration(this.execution);
    }
  }

  /** Read the execution again, at most one read at a time and one every 400 ms; a change
   * asked for while a read is due or under way gets a read of its own after it, so the last
   * status shown is never older than the last event (a dropped request once left "running"
   * on a paused run). */
  refresh() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    setTimeout(async () => {
      try {
        const before = this.execution && this.execution.status;
        this.execution = await api(`/executions/${enc(this.id)}`);
        this.head();
        if (before && before !== this.execution.status) {
          this.note(`${this.execution.bot} ${this.id}: ${this.execution.status.replace(/_/g, " ")}`);
        }
      } catch { /* the next event retries */ }
      this.refreshing = false;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.refresh();
      }
    }, 400);
  }

  head() {
    const e = this.execution;
    const nav = this.ctx.nav;
    const u = e.usage || {};
    this.main.querySelector("#exec-head").innerHTML = `
      <h1 id="exec-title"><a href="${escape(nav("bots"))}#${escape(encodeURIComponent(e.bot))}" data-nav>${escape(e.bot)}</a>
        <code class="id">${escape(e.id)}</code> <span id="exec-status">${status(e.status)}</span></h1>
      <dl class="facts">
        <div><dt>Trigger</dt><dd>${triggerLink(e, nav)}</dd></div>
        <div><dt>Created</dt><dd>${escape(when(e.created_at))}</dd></div>
        <div><dt>Started</dt><dd>${escape(when(e.started_at))}</dd></div>
        <div><dt>Finished</dt><dd>${escape(when(e.finished_at))}</dd></div>
        <div><dt>Duration</dt><dd id="exec-duration">${escape(duration(e))}</dd></div>
        <div><dt>Attempt</dt><dd>${escape(e.attempt)}</dd></div>
        <div><dt>Where</dt><dd>${escape(e.provider || "–")}${e.account ? `:${escape(e.account)}` : ""}${e.model ? ` <span class="muted">${escape(e.model)}</span>` : ""}</dd></div>
        <div><dt>Tokens</dt><dd title="in ${escape(u.input_tokens)} · out ${escape(u.output_tokens)} · cache ${escape(u.cache_read_tokens)}/${escape(u.cache_write_tokens)}">${escape(tokens(u))}</dd></div>
        <div><dt>Cost</dt><dd>${escape(cost(u))}</dd></div>
        ${e.workspace ? `<div><dt>Workspace</dt><dd><span class="mono" id="exec-workspace" title="${escape(e.workspace.path || "")}">${escape(e.workspace.repo)}@${escape(String(e.workspace.sha || "").slice(0, 12))}</span>${e.workspace.ref ? ` <span class="muted">${escape(e.workspace.ref)}</span>` : ""}</dd></div>` : ""}
        ${e.rerun_of ? `<div><dt>Rerun of</dt><dd><a href="${escape(nav(`executions/${e.rerun_of}`))}" data-nav>${escape(e.rerun_of)}</a></dd></div>` : ""}
        ${e.retry_at && !TERMINAL.has(e.status) ? `<div><dt>Retry</dt><dd class="countdown" data-until="${escape(e.retry_at)}">reset ${escape(countdown(e.retry_at))}</dd></div>` : ""}
      </dl>
      ${e.error && TERMINAL.has(e.status) ? `<p class="error-box"><strong>${escape(e.error_kind || "error")}</strong>: ${escape(e.error)}</p>` : ""}`;
    this.controls();
    this.attempts();
  }

  controls() {
    const e = this.execution;
    const box = this.main.querySelector("#exec-controls");
    box.replaceChildren();
    for (const [action, label, when_, route] of CONTROLS) {
      if (!this.ctx.may(route)) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.action = action;
      button.disabled = !when_.includes(e.status);
      if (action === "cancel") button.className = "danger";
      button.addEventListener("click", () => this.act(action, button));
      box.append(button);
    }
  }

  async act(action, button) {
    button.disabled = true;
    const errorBox = this.main.querySelector("#exec-error");
    errorBox.textContent = "";
    try {
      const answer = await api(`/executions/${enc(this.id)}/${action}`, { method: "POST" });
      if (action === "rerun") {
        this.note(`rerun started: ${answer.execution_id}`);
        this.ctx.go(`executions/${answer.execution_id}`);
        return;
      }
      this.execution = answer;
      this.head();
      this.note(`${action} requested: ${answer.status.replace(/_/g, " ")}`);
      this.refresh(); // the answer may be older than an event already shown
    } catch (err) {
      errorBox.innerHTML = `<p class="error">${escape(action)}: ${escape(err.message)}</p>`;
      this.controls();
    }
  }

  attempts() {
    const list = this.execution.attempts || [];
    const box = this.main.querySelector("#exec-attempts");
    this.main.querySelector("#exec-attempts-box summary").textContent = `Attempts (${list.length})`;
    if (list.length > 1 || list.some((a) => a.error_kind)) this.main.querySelector("#exec-attempts-box").open = true;
    box.innerHTML = list.length ? `<div class="table-wrap"><table>
      <thead><tr><th scope="col">#</th><th scope="col">Account</th><th scope="col">Model</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Exit</th><th scope="col">Error kind</th><th scope="col">Reset</th><th scope="col">Decision</th></tr></thead>
      <tbody>${list.map((a) => `<tr>
        <td>${escape(a.number)}</td>
        <td>${escape(a.provider)}${a.account ? `:${escape(a.account)}` : ""}</td>
        <td>${escape(a.model || "–")}</td>
        <td>${escape(when(a.started_at))}</td>
        <td>${escape(when(a.finished_at))}</td>
        <td>${escape(a.exit_code ?? "–")}</td>
        <td>${a.error_kind ? `<span class="bad">${escape(a.error_kind)}</span>${a.limit_kind ? ` (${escape(a.limit_kind)})` : ""}${a.error ? `<div class="muted small">${escape(firstLine(a.error, 200))}</div>` : ""}` : "–"}</td>
        <td>${a.reset_at ? `${escape(when(a.reset_at))} <span class="countdown" data-until="${escape(a.reset_at)}">reset ${escape(countdown(a.reset_at))}</span>` : "–"}</td>
        <td>${escape(a.decision || "–")}</td></tr>`).join("")}</tbody></table></div>` : `<p class="muted">No attempt yet.</p>`;
  }

  async download() {
    try {
      const response = await raw(`/executions/${enc(this.id)}/events.ndjson`);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `${this.id}.ndjson`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      this.main.querySelector("#exec-error").innerHTML = `<p class="error">download: ${escape(err.message)}</p>`;
    }
  }
}

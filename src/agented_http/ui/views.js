// The list views: executions, bots (with their run forms), deliveries, accounts.
import { api, enc, q } from "./api.js";
import {
  STATUSES, TERMINAL, cost, countdown, duration, escape, highlight, spent, status, tokens, when,
} from "./format.js";

const TRIGGERS = ["manual", "api", "github", "schedule", "webhook", "rerun"];
const CANCELLABLE = ["queued", "running", "paused", "waiting"];
const POLL_MS = 2000;

function options(values, chosen, any = "any") {
  return `<option value="">${escape(any)}</option>` +
    values.map((v) => `<option value="${escape(v)}"${v === chosen ? " selected" : ""}>${escape(v.replace(/_/g, " "))}</option>`).join("");
}

function trigger(e, nav) {
  const link = e.link && /^https?:\/\//.test(e.link.url)
    ? ` <a href="${escape(e.link.url)}" rel="noopener noreferrer">${escape(e.link.label)}</a>` : "";
  if (e.delivery_id) {
    return `${escape(e.trigger)}${link} <a href="${escape(nav("deliveries"))}#${escape(encodeURIComponent(e.delivery_id))}" data-nav title="delivery ${escape(e.delivery_id)}">delivery</a>`;
  }
  if (link) return `${escape(e.trigger)}${link}`;
  if (e.rerun_of) return `${escape(e.trigger)} <a href="${escape(nav(`executions/${e.rerun_of}`))}" data-nav>of ${escape(e.rerun_of.slice(-6))}</a>`;
  return escape(e.trigger);
}

function errorBox(main, err) {
  const box = main.querySelector("[data-error]");
  if (box) box.innerHTML = err ? `<p class="error" role="alert">${escape(err.message || err)}</p>` : "";
}

/** The executions list: live (polled while the tab is visible), filtered, paged. */
export class ExecutionsView {
  constructor(main, ctx) {
    this.main = main;
    this.ctx = ctx;
    this.path = location.pathname;
    const params = new URLSearchParams(location.search);
    this.filters = {
      bot: params.get("bot") || "", status: params.get("status") || "", trigger: params.get("trigger") || "", q: params.get("q") || "",
    };
    this.cursors = [null]; // the cursor of each page seen; the last is this page's
    this.next = null;
    this.seen = new Map();
    this.timer = 0;
  }

  async open() {
    this.main.innerHTML = `
      <section aria-labelledby="list-title">
        <h1 id="list-title">Executions</h1>
        <form class="filters" id="filters" role="search" aria-label="Filter executions">
          <label>Bot <select name="bot"><option value="">any</option></select></label>
          <label>Status <select name="status">${options(STATUSES, this.filters.status)}</select></label>
          <label>Trigger <select name="trigger">${options(TRIGGERS, this.filters.trigger)}</select></label>
          <label class="search">Search <input name="q" id="exec-search" type="search" value="${escape(this.filters.q)}" placeholder="words in the events" autocomplete="off" maxlength="500"></label>
          <span id="bulk"></span>
        </form>
        <div data-error></div>
        <div class="table-wrap"><table class="executions">
          <caption class="visually-hidden">Executions, newest first</caption>
          <thead><tr><th scope="col">Execution</th><th scope="col">Bot</th><th scope="col">Trigger</th><th scope="col">Status</th><th scope="col">Att.</th><th scope="col">Account</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Tokens</th><th scope="col">Cost</th></tr></thead>
          <tbody id="rows"><tr><td colspan="10" class="muted">Loading…</td></tr></tbody>
        </table></div>
        <nav class="pager" aria-label="Pages">
          <button type="button" id="newer" disabled>← Newer</button>
          <span id="page" class="muted"></span>
          <button type="button" id="older" disabled>Older →</button>
        </nav>
      </section>`;
    const form = this.main.querySelector("#filters");
    const changed = () => {
      this.filters = { bot: form.bot.value, status: form.status.value, trigger: form.trigger.value, q: form.q.value.trim() };
      history.replaceState(null, "", location.pathname + q(this.filters));
      this.cursors = [null];
      this.load();
    };
    form.addEventListener("change", (ev) => { if (ev.target !== form.q) changed(); });
    let debounce = 0;
    form.q.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(changed, 250); });
    form.addEventListener("submit", (ev) => { ev.preventDefault(); clearTimeout(debounce); changed(); });
    this.main.querySelector("#newer").addEventListener("click", () => { this.cursors.pop(); this.load(); });
    this.main.querySelector("#older").addEventListener("click", () => { this.cursors.push(this.next); this.load(); });
    this.bulk();
    api("/bots").then((bots) => {
      form.bot.innerHTML = options(bots.items.map((b) => b.name), this.filters.bot);
    }).catch(() => {});
    await this.load();
    this.timer = setInterval(() => {
      if (!document.hidden && this.cursors.length === 1 && !this.filters.q) this.load(true);
    }, POLL_MS);
  }

  close() {
    clearInterval(this.timer);
  }

  bulk() {
    const box = this.main.querySelector("#bulk");
    box.replaceChildren();
    if (!this.ctx.may("POST /executions/cancel")) return;
    if (this.filters.q) return; // it would cancel by bot and status, not what the search found
    const { bot, status: st } = this.filters;
    if (!bot && !st) return;
    if (st && !CANCELLABLE.includes(st)) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "danger";
    button.textContent = "Cancel all matching";
    button.addEventListener("click", async () => {
      const what = [bot && `bot ${bot}`, st && `status ${st}`].filter(Boolean).join(", ");
      if (!confirm(`Cancel every execution of ${what}?`)) return;
      try {
        const body = {};
        if (bot) body.bot = bot;
        body.status = st ? [st] : CANCELLABLE;
        const answer = await api("/executions/cancel", { method: "POST", body });
        this.ctx.announce(`${answer.cancelled.length} execution(s) asked to cancel`);
        this.load();
      } catch (err) { errorBox(this.main, err); }
    });
    box.append(button);
  }

  async load(quiet = false) {
    this.bulk();
    const cursor = this.cursors[this.cursors.length - 1];
    const search = this.filters.q;
    let page;
    try {
      page = await api(`/executions${q({ bot: this.filters.bot, status: this.filters.status, trigger: this.filters.trigger, cursor, limit: search ? 20 : 50, q: search })}`);
      errorBox(this.main, null);
    } catch (err) {
      if (!quiet) errorBox(this.main, err);
      return;
    }
    if (search !== this.filters.q) return; // a newer search is under way
    const matches = new Map();
    if (search) {
      for (const item of page.items) matches.set(item.execution.id, item.matches);
      page = { items: page.items.map((item) => item.execution), next_cursor: page.next_cursor };
    }
    const items = page.items; // filtered by the server, every page (trigger included)
    this.next = page.next_cursor;
    const rows = this.main.querySelector("#rows");
    if (!rows) return;
    const nav = this.ctx.nav;
    for (const e of items) {
      const before = this.seen.get(e.id);
      if (before && before !== e.status) this.ctx.announce(`${e.bot} ${e.id.slice(-6)}: ${e.status.replace(/_/g, " ")}`);
      this.seen.set(e.id, e.status);
    }
    const html = items.length ? items.map((e) => `<tr data-id="${escape(e.id)}" data-status="${escape(e.status)}">
      <td><a href="${escape(nav(`executions/${e.id}`))}" data-nav class="mono">${escape(e.id.slice(-8))}</a></td>
      <td>${escape(e.bot)}</td>
      <td>${trigger(e, nav)}</td>
      <td>${status(e.status)}</td>
      <td>${escape(e.attempt)}</td>
      <td>${escape(e.account || e.provider || "–")}</td>
      <td>${escape(when(e.started_at))}</td>
      <td>${escape(duration(e))}</td>
      <td>${escape(tokens(e.usage))}</td>
      <td>${escape(cost(e.usage))}</td></tr>${matches.has(e.id) ? this.hits(e, matches.get(e.id)) : ""}`).join("")
      : `<tr><td colspan="10" class="muted">No executions${search ? " match this search" : this.filters.bot || this.filters.status || this.filters.trigger ? " match these filters" : " yet"}.</td></tr>`;
    // a refresh that changes nothing leaves the rows (and the keyboard focus in them) alone
    if (html !== this.html) { rows.innerHTML = html; this.html = html; }
    this.main.querySelector("#newer").disabled = this.cursors.length <= 1;
    this.main.querySelector("#older").disabled = !this.next;
    this.main.querySelector("#page").textContent = `page ${this.cursors.length}${this.cursors.length === 1 && !search ? " · live" : ""}`;
  }

  /** The row under a found execution: its matching events, each linking to its #seq. */
  hits(e, found) {
    const nav = this.ctx.nav;
    const list = (found || []).map((h) => `<li><a href="${escape(nav(`executions/${e.id}`))}#${escape(h.seq)}" data-nav class="hit" data-seq="${escape(h.seq)}">` +
      `<span class="mono muted">#${escape(h.seq)} ${escape(h.kind)}</span> <span class="snippet">${highlight(h.snippet, h.highlights)}</span></a></li>`).join("");
    return `<tr class="hits" data-hits-of="${escape(e.id)}"><td colspan="10"><ul class="hits">${list}</ul></td></tr>`;
  }
}

function describeTrigger(t) {
  switch (t.type) {
    case "manual": return "manual" + (t.params && t.params.length ? ` (${t.params.map((p) => p.name).join(", ")})` : "");
    case "schedule": return `schedule <code>${escape(t.cron)}</code>${t.timezone ? ` ${escape(t.timezone)}` : ""}`;
    case "github": return `GitHub <code>${escape(t.event)}</code>${t.actions && t.actions.length ? ` (${escape(t.actions.join(", "))})` : ""}${t.commands && t.commands.length ? ` ${escape(t.commands.join(" "))}` : ""}`;
    case "webhook": return `webhook <code>${escape(t.source)}</code>`;
    default: return escape(t.type || "?");
  }
}

function field(bot, p) {
  const id = `p-${bot}-${p.name}`.replace(/[^\w-]/g, "_");
  const label = `<label for="${escape(id)}">${escape(p.name)}${p.required ? ' <span aria-label="required">*</span>' : ""}</label>`;
  const help = p.description ? `<small>${escape(p.description)}</small>` : "";
  const common = `id="${escape(id)}" name="${escape(p.name)}" data-type="${escape(p.type)}"${p.required ? " required" : ""}`;
  if (p.type === "boolean") {
    return `<div class="field check"><input type="checkbox" ${common}${p.default ? " checked" : ""}>${label}${help}</div>`;
  }
  if (p.type === "choice" || (p.choices && p.choices.length)) {
    const opts = (p.required && p.default == null ? '<option value="">choose…</option>' : "") +
      p.choices.map((c) => `<option${c === p.default ? " selected" : ""}>${escape(c)}</option>`).join("");
    return `<div class="field">${label}<select ${common}>${opts}</select>${help}</div>`;
  }
  const type = p.type === "integer" || p.type === "number" ? "number" : "text";
  const step = p.type === "integer" ? ' step="1"' : p.type === "number" ? ' step="any"' : "";
  const value = p.default == null ? "" : ` value="${escape(p.default)}"`;
  return `<div class="field">${label}<input type="${type}"${step} ${common}${value}>${help}</div>`;
}

function values(form) {
  const out = {};
  for (const el of form.querySelectorAll("[name][data-type]")) {
    const type = el.dataset.type;
    if (type === "boolean") { out[el.name] = el.checked; continue; }
    if (el.value === "") continue; // the default applies
    out[el.name] = type === "integer" ? parseInt(el.value, 10) : type === "number" ? Number(el.value) : el.value;
  }
  return out;
}

/** Bots: triggers, next fire, recent runs and a run form from the declared parameters. */
export class BotsView {
  constructor(main, ctx) { this.main = main; this.ctx = ctx; this.path = location.pathname; }

  async open() {
    this.main.innerHTML = `<section aria-labelledby="bots-title"><h1 id="bots-title">Bots</h1><div id="reload-box"></div><div data-error></div><div id="bots" class="cards"><p class="muted">Loading…</p></div></section>`;
    this.reloadButton();
    let bots;
    try { bots = (await api("/bots")).items; } catch (err) { errorBox(this.main, err); return; }
    const canRun = this.ctx.may("POST /bots/{name}/runs");
    const nav = this.ctx.nav;
    const box = this.main.querySelector("#bots");
    box.innerHTML = bots.length ? bots.map((b) => {
      const manual = b.triggers.some((t) => t.type === "manual");
      return `<article class="card" id="${escape(b.name)}" aria-labelledby="bot-${escape(b.name)}">
        <h2 id="bot-${escape(b.name)}">${escape(b.name)} <small class="muted">${escape(b.provider)}${b.account ? `:${escape(b.account)}` : ""}</small></h2>
        ${b.description ? `<p>${escape(b.description)}</p>` : ""}
        <dl class="facts">
          <div><dt>Triggers</dt><dd>${b.triggers.map(describeTrigger).join("<br>") || "none"}</dd></div>
          <div><dt>Next fire</dt><dd>${b.next_fire ? `${escape(when(b.next_fire))} <span class="muted">(${escape(countdown(b.next_fire))})</span>` : "–"}</dd></div>
          ${b.spend ? `<div><dt>Spend</dt><dd data-spend="${escape(b.name)}">${spendHtml(b.spend)}</dd></div>` : ""}
        </dl>
        <h3>Recent runs</h3><ul class="recent" data-recent="${escape(b.name)}"><li class="muted">…</li></ul>
        <a href="${escape(nav(""))}?bot=${escape(encodeURIComponent(b.name))}" data-nav>All runs of ${escape(b.name)}</a>
        ${canRun && manual ? `<form class="run-form" data-bot="${escape(b.name)}" aria-label="Run ${escape(b.name)}">
          ${b.params.map((p) => field(b.name, p)).join("")}
          <button type="submit">Run ${escape(b.name)}</button><span class="form-error" role="alert"></span></form>` : ""}
      </article>`;
    }).join("") : `<p class="muted">No bots are configured.</p>`;
    for (const form of box.querySelectorAll(".run-form")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const out = form.querySelector(".form-error");
        out.textContent = "";
        try {
          const answer = await api(`/bots/${enc(form.dataset.bot)}/runs`, { method: "POST", body: { params: values(form) } });
          this.ctx.announce(`started ${form.dataset.bot}: ${answer.execution_id}`);
          this.ctx.go(`executions/${answer.execution_id}`);
        } catch (err) { out.textContent = err.message; }
      });
    }
    await Promise.all(bots.map(async (b) => {
      const list = box.querySelector(`[data-recent="${CSS.escape(b.name)}"]`);
      try {
        const page = await api(`/executions${q({ bot: b.name, limit: 5 })}`);
        list.innerHTML = page.items.length ? page.items.map((e) => `<li><a href="${escape(nav(`executions/${e.id}`))}" data-nav>${escape(when(e.created_at))}</a> ${status(e.status)} <span class="muted">${escape(duration(e))}</span></li>`).join("") : `<li class="muted">none yet</li>`;
      } catch { list.innerHTML = `<li class="muted">unavailable</li>`; }
    }));
    if (location.hash) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  /** The admin's "Reload config" button: the new configuration's changes, or every problem. */
  reloadButton() {
    const box = this.main.querySelector("#reload-box");
    if (!this.ctx.may("POST /config/reload")) return;
    box.innerHTML = `<div class="controls"><button type="button" id="reload">Reload config</button></div><div id="reload-result" aria-live="polite"></div>`;
    const button = box.querySelector("#reload");
    const out = box.querySelector("#reload-result");
    const where = (p) => [p.file && `${p.file}${p.line ? `:${p.line}` : ""}`, p.bot && `bot ${p.bot}`, p.field].filter(Boolean).join(" · ");
    const problems = (list, cls) => `<ul class="problems ${cls}">${list.map((p) => `<li>${where(p) ? `<span class="mono">${escape(where(p))}</span>: ` : ""}${escape(p.message)}</li>`).join("")}</ul>`;
    button.addEventListener("click", async () => {
      button.disabled = true;
      out.innerHTML = `<p class="muted">reloading…</p>`;
      try {
        const a = await api("/config/reload", { method: "POST" });
        const names = (label, list) => (list.length ? `${label} ${list.map(escape).join(", ")}` : "");
        const what = [names("added", a.added), names("removed", a.removed), names("changed", a.changed)].filter(Boolean).join("; ");
        out.innerHTML = `<p class="good" role="status">Reloaded${what ? `: ${what}` : " (no bot changed)"}.</p>${a.warnings.length ? `<p>Warnings:</p>${problems(a.warnings, "warnings")}` : ""}`;
        this.ctx.announce("configuration reloaded");
        await this.open();
        this.main.querySelector("#reload-result").innerHTML = out.innerHTML;
      } catch (err) {
        const list = err.data && Array.isArray(err.data.problems) ? err.data.problems : [];
        out.innerHTML = `<div role="alert"><p class="error">Not reloaded: ${escape(err.message)}</p>${list.length ? problems(list, "errors") : ""}</div>`;
        button.disabled = false;
      }
    });
  }
}

/** Deliveries: what each started or why not, and a redeliver button. */
export class DeliveriesView {
  constructor(main, ctx) { this.main = main; this.ctx = ctx; this.path = location.pathname; }

  async open() {
    this.main.innerHTML = `<section aria-labelledby="d-title"><h1 id="d-title">Deliveries</h1><div data-error></div><div id="deliveries"><p class="muted">Loading…</p></div></section>`;
    await this.load();
  }

  async load() {
    let items;
    try { items = (await api("/deliveries?limit=100")).items; } catch (err) { errorBox(this.main, err); return; }
    const nav = this.ctx.nav;
    const canRedeliver = this.ctx.may("POST /deliveries/{id}/redeliver");
    const box = this.main.querySelector("#deliveries");
    box.innerHTML = items.length ? `<div class="table-wrap"><table>
      <thead><tr><th scope="col">Received</th><th scope="col">Source</th><th scope="col">Event</th><th scope="col">Delivery</th><th scope="col">Outcome</th><th scope="col">Matching</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${items.map((d) => {
        const started = d.execution_ids || [];
        const outcome = started.length
          ? `started ${started.map((id) => `<a href="${escape(nav(`executions/${id}`))}" data-nav class="mono">${escape(id.slice(-8))}</a>`).join(", ")}`
          : `<span class="muted">${escape(d.duplicate ? "duplicate" : d.reason || "nothing started")}</span>`;
        const skipped = (d.skipped || []).map((s) => `<li><strong>${escape(s.bot)}</strong>: ${escape(s.reason)}</li>`).join("");
        return `<tr id="${escape(encodeURIComponent(d.delivery || ""))}">
          <td>${escape(when(d.received_at))}</td>
          <td>${escape(d.source)}</td>
          <td>${escape(d.event || "–")}${d.action ? `.${escape(d.action)}` : ""}</td>
          <td class="mono">${escape(d.delivery || "–")}${d.redelivery_of ? `<div class="muted small">redelivery of ${escape(d.redelivery_of)}</div>` : ""}</td>
          <td>${outcome}${d.hook_errors ? ' <span class="bad">hook errors</span>' : ""}</td>
          <td>${skipped ? `<details><summary>${(d.skipped || []).length} skipped</summary><ul>${skipped}</ul></details>` : "–"}</td>
          <td>${canRedeliver && d.delivery && !d.duplicate ? `<button type="button" data-redeliver="${escape(d.delivery)}">Redeliver</button>` : ""}</td></tr>`;
      }).join("")}</tbody></table></div>` : `<p class="muted">No deliveries yet.</p>`;
    for (const button of box.querySelectorAll("[data-redeliver]")) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const answer = await api(`/deliveries/${enc(button.dataset.redeliver)}/redeliver`, { method: "POST" });
          this.ctx.announce(answer.execution_ids.length ? `redelivered: started ${answer.execution_ids.length}` : `redelivered: ${answer.reason || "nothing started"}`);
          await this.load();
        } catch (err) { errorBox(this.main, err); button.disabled = false; }
      });
    }
    if (location.hash) {
      const row = document.getElementById(location.hash.slice(1));
      if (row) { row.classList.add("hl"); row.scrollIntoView(); }
    }
  }
}

function meter(label, usd, cap) {
  if (cap == null) return `<div>${escape(label)} ${escape(spent(usd))} <span class="muted">no cap</span></div>`;
  const share = cap > 0 ? Math.min(1, usd / cap) : 1;
  const over = usd >= cap;
  return `<div class="${over ? "bad" : ""}">${escape(label)} ${escape(spent(usd, cap))}${over ? " — at its cap" : ""}` +
    `<meter min="0" max="1" high="0.8" optimum="0" value="${escape(share.toFixed(3))}" aria-label="${escape(`${label} ${Math.round(share * 100)}% of the cap`)}"></meter></div>`;
}

/** A bot's or account's spend against its caps (GET /accounts, GET /bots). */
export function spendHtml(s) {
  if (!s) return '<span class="muted">–</span>';
  return `<div class="spend${s.over ? " over" : ""}">${meter("today", s.day_usd, s.max_cost_usd_per_day)}${meter("this month", s.month_usd, s.max_cost_usd_per_month)}` +
    `${s.over ? '<div class="bad small">new runs are skipped</div>' : ""}</div>`;
}

function headroomHtml(h) {
  if (!h) return '<span class="muted">none reported</span>';
  const used = typeof h.utilization === "number" ? ` · ${Math.round(h.utilization <= 1 ? h.utilization * 100 : h.utilization)}% used` : "";
  const resets = h.resets_at ? `<div class="muted small">resets ${escape(when(h.resets_at))} (<span data-until="${escape(h.resets_at)}">${escape(countdown(h.resets_at))}</span>)</div>` : "";
  return `<span class="${h.low ? "bad" : "good"}">${escape(h.window || "usage")} window ${escape((h.status || "reported").replace(/_/g, " "))}${escape(used)}</span>` +
    `${h.low ? ' <strong class="bad">low</strong>' : ""}${resets}` +
    `<div class="muted small">seen ${escape(when(h.observed_at))}</div>`;
}

/** Accounts: cooldowns with their reset times, breakers, spend, headroom; clearing a cooldown. */
export class AccountsView {
  constructor(main, ctx) { this.main = main; this.ctx = ctx; this.path = location.pathname; this.timer = 0; }

  async open() {
    this.main.innerHTML = `<section aria-labelledby="a-title"><h1 id="a-title">Accounts</h1><div data-error></div><div id="accounts"><p class="muted">Loading…</p></div><h2>Circuit breakers</h2><div id="breakers"></div></section>`;
    await this.load();
    this.timer = setInterval(() => {
      for (const el of this.main.querySelectorAll("[data-until]")) el.textContent = countdown(el.dataset.until);
    }, 1000);
  }

  close() { clearInterval(this.timer); }

  async load() {
    let data;
    try { data = await api("/accounts"); } catch (err) { errorBox(this.main, err); return; }
    const canClear = this.ctx.may("POST /accounts/{name}/clear");
    const box = this.main.querySelector("#accounts");
    box.innerHTML = data.items.length ? `<div class="table-wrap"><table>
      <thead><tr><th scope="col">Account</th><th scope="col">Provider</th><th scope="col">Cooldown</th><th scope="col">Breaker</th><th scope="col">Spend</th><th scope="col">Headroom</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${data.items.map((a) => `<tr>
        <td>${escape(a.name)}</td><td>${escape(a.provider)}</td>
        <td>${a.cooldown ? `<span class="bad">until ${escape(when(a.cooldown.until))}</span> (<span data-until="${escape(a.cooldown.until)}">${escape(countdown(a.cooldown.until))}</span>)<div class="muted small">${escape(a.cooldown.reason)}</div>` : '<span class="good">ready</span>'}</td>
        <td>${escape(a.breaker.state)}${a.breaker.failures ? ` (${escape(a.breaker.failures)} failures)` : ""}</td>
        <td data-spend="${escape(a.name)}">${spendHtml(a.spend)}</td>
        <td data-headroom="${escape(a.name)}">${headroomHtml(a.headroom)}</td>
        <td>${canClear && a.cooldown ? `<button type="button" data-clear="${escape(a.name)}">Clear cooldown</button>` : ""}</td></tr>`).join("")}</tbody></table></div>`
      : `<p class="muted">No accounts are configured (bots use their providers' own logins).</p>`;
    this.main.querySelector("#breakers").innerHTML = `<ul>${data.breakers.map((b) => `<li><strong>${escape(b.provider)}</strong>: ${b.state === "open" ? `<span class="bad">open</span> until ${escape(when(b.until))} — ${escape(b.reason || "")}` : `closed${b.failures ? ` (${escape(b.failures)} recent failures)` : ""}`}</li>`).join("")}</ul>`;
    for (const button of box.querySelectorAll("[data-clear]")) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await api(`/accounts/${enc(button.dataset.clear)}/clear`, { method: "POST" });
          this.ctx.announce(`cooldown of ${button.dataset.clear} cleared`);
          await this.load();
        } catch (err) { errorBox(this.main, err); button.disabled = false; }
      });
    }
  }
}

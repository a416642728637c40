// Small formatters shared by the views: times, durations, money, tokens, statuses.
export const TERMINAL = new Set([
  "succeeded", "failed", "timed_out", "cancelled", "budget_exceeded", "interrupted", "skipped",
]);
export const STATUSES = [
  "queued", "running", "paused", "waiting", "succeeded", "failed", "timed_out", "cancelled",
  "budget_exceeded", "interrupted", "skipped",
];

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Text made safe for HTML (content and quoted attributes alike). */
export function escape(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  const today = new Date();
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

export function seconds(total) {
  if (total === null || total === undefined || Number.isNaN(total)) return "–";
  const s = Math.max(0, total);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

/** How long an execution ran: start to finish, or to now while it runs. */
export function duration(e, now = Date.now()) {
  if (!e.started_at) return "–";
  const end = e.finished_at ? Date.parse(e.finished_at) : TERMINAL.has(e.status) ? NaN : now;
  return seconds((end - Date.parse(e.started_at)) / 1000);
}

export function cost(usage) {
  const v = usage && usage.cost_usd;
  return v === null || v === undefined ? "–" : `$${v.toFixed(v < 1 ? 4 : 2)}`;
}

export function tokens(usage) {
  if (!usage) return "–";
  const n = (usage.input_tokens || 0) + (usage.output_tokens || 0) +
    (usage.cache_read_tokens || 0) + (usage.cache_write_tokens || 0);
  if (!n) return "–";
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

export function status(value) {
  const label = String(value || "").replace(/_/g, " ");
  return `<span class="status s-${escape(value)}">${escape(label)}</span>`;
}

/** A countdown to ``iso``: "in 3 m 20 s", or "now" once it has passed. */
export function countdown(iso, now = Date.now()) {
  if (!iso) return "";
  const left = (Date.parse(iso) - now) / 1000;
  return left <= 0 ? "now" : `in ${seconds(left)}`;
}

/** A search snippet as HTML: every character escaped, the [start, end) spans (code points, as
 * the server counts them) in <mark>; spans out of range or overlapping are clipped. */
export function highlight(snippet, spans) {
  const chars = Array.from(String(snippet ?? ""));
  const sorted = (Array.isArray(spans) ? spans : [])
    .filter((s) => Array.isArray(s) && Number.isInteger(s[0]) && Number.isInteger(s[1]))
    .map(([a, b]) => [Math.max(0, a), Math.min(chars.length, b)])
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let out = "";
  let at = 0;
  for (const [a, b] of sorted) {
    const start = Math.max(a, at);
    if (start >= b) continue;
    out += escape(chars.slice(at, start).join("")) + `<mark>${escape(chars.slice(start, b).join(""))}</mark>`;
    at = b;
  }
  return out + escape(chars.slice(at).join(""));
}

/** Money spent against an optional cap: "$0.42 of $1.00" (or "$0.42" without one). */
export function spent(usd, cap) {
  const money = (v) => `$${Number(v || 0).toFixed(2)}`;
  return cap == null ? money(usd) : `${money(usd)} of ${money(cap)}`;
}

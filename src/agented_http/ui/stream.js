// An execution's events over SSE, read with fetch: the stream token in the URL, Last-Event-ID
// sent on every reconnect, every event delivered once (by seq), the connection state reported
// as it is. fetch rather than EventSource: EventSource dispatches named events only to
// listeners of each name, and the set of event kinds is open (plugins add their own).
import { api, enc, ROOT } from "./api.js";

const BACKOFF = [250, 500, 1000, 2000, 4000, 8000];

export class EventStream {
  /**
   * @param {string} id the execution's id
   * @param {{onEvent: Function, onState: Function, onResync?: Function}} handlers
   */
  constructor(id, handlers) {
    this.id = id;
    this.handlers = handlers;
    this.last = 0; // the highest seq delivered
    this.stopped = false;
    this.failures = 0;
    this.controller = null;
    this.token = null;
    this.expires = 0;
    this.connects = 0;
  }

  start(after = 0) {
    this.last = after;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  state(name, detail = "") {
    this.handlers.onState(name, detail);
  }

  async tokenUrl() {
    // a fresh token when the last one is close to expiry (it is checked when a stream starts)
    if (!this.token || Date.now() > this.expires - 15000) {
      const issued = await api(`/executions/${enc(this.id)}/stream-token`, { method: "POST" });
      this.token = issued.token;
      this.expires = Date.parse(issued.expires_at);
    }
    return `${ROOT}/executions/${enc(this.id)}/events?token=${enc(this.token)}`;
  }

  async loop() {
    while (!this.stopped) {
      let ended = false;
      try {
        this.state(this.connects ? "reconnecting" : "connecting");
        const url = await this.tokenUrl();
        this.controller = new AbortController();
        const headers = { Accept: "text/event-stream" };
        if (this.last > 0) headers["Last-Event-ID"] = String(this.last);
        const response = await fetch(url, {
          headers, signal: this.controller.signal, cache: "no-store", credentials: "omit",
        });
        this.connects++;
        if (response.status === 204) { ended = true; break; }
        if (response.status === 401) { this.token = null; throw new Error("stream token refused"); }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        this.state("live");
        this.failures = 0;
        ended = await this.read(response.body);
      } catch (err) {
        if (this.stopped) return;
        this.state("offline", String(err && err.message ? err.message : err));
      }
      if (ended) break;
      if (this.stopped) return;
      const delay = BACKOFF[Math.min(this.failures++, BACKOFF.length - 1)];
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    if (!this.stopped) this.state("ended");
  }

  /** Read frames until the stream closes; true when the execution's stream has ended. */
  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let terminal = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // every whole frame of the chunk at once (the unfinished last one waits for more)
      const frames = buffer.split(/\r?\n\r?\n/);
      buffer = frames.pop();
      for (const frame of frames) {
        if (this.frame(frame)) terminal = true;
      }
    }
    // the server closes the stream after the terminal status; otherwise it was cut
    if (!terminal) throw new Error("the connection closed");
    return true;
  }

  /** One frame; true for the execution's terminal status. */
  frame(text) {
    let id = null;
    let kind = "message";
    const data = [];
    for (const line of text.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "id") id = value;
      else if (name === "event") kind = value;
      else if (name === "data") data.push(value);
    }
    if (!data.length) return false;
    const payload = JSON.parse(data.join("\n"));
    if (kind === "resync") {
      if (this.handlers.onResync) this.handlers.onResync(payload.first_available_seq);
      this.last = Math.max(this.last, Number(id) || 0);
      return false;
    }
    const seq = Number(payload.seq ?? id);
    if (!(seq > this.last)) return false; // already delivered: a resume never duplicates
    this.last = seq;
    this.handlers.onEvent(payload);
    return payload.kind === "status" && TERMINAL_TEXT.has(payload.data && payload.data.status);
  }
}

const TERMINAL_TEXT = new Set([
  "succeeded", "failed", "timed_out", "cancelled", "budget_exceeded", "interrupted", "skipped",
]);

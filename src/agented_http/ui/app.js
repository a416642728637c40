// The dashboard: sign-in, the role's routes (GET /whoami), a router over /ui/... and the views.
import { ROOT, api, key, setKey } from "./api.js";
import { escape } from "./format.js";
import { ExecutionView } from "./execution.js";
import { AccountsView, BotsView, DeliveriesView, ExecutionsView } from "./views.js";

const main = document.getElementById("main");
let me = null;
let current = null;

/** True when the signed-in key's role may use ``route`` ("METHOD /path template"). */
export function may(route) {
  return Boolean(me && me.routes.includes(route));
}

/** The URL of a view (``"bots"``, ``"executions/ID"``, ``""`` for the list). */
export function nav(view) {
  return `${ROOT}/ui/${view}`;
}

export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  // a change after a tick is read out even when the text repeats
  setTimeout(() => { region.textContent = text; }, 30);
}

function go(view, { replace = false } = {}) {
  const url = nav(view);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

const ctx = { may, nav, announce, go };

function signIn(message = "") {
  if (current && current.close) current.close();
  current = null;
  document.getElementById("who").textContent = "";
  document.getElementById("signout").hidden = true;
  main.innerHTML = `
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p>Paste an API key of this server. It is kept for this tab only (sessionStorage) and sent
      with every request; event streams use short-lived stream tokens.</p>
      ${message ? `<p class="error" role="alert">${escape(message)}</p>` : ""}
      <form id="signin-form">
        <label for="signin-key">API key</label>
        <input id="signin-key" name="key" type="password" autocomplete="off" required>
        <button type="submit">Sign in</button>
      </form>
    </section>`;
  const form = main.querySelector("#signin-form");
  main.querySelector("#signin-key").focus();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setKey(form.key.value.trim());
    await start();
  });
}

async function start() {
  if (!key()) { signIn(); return; }
  try {
    me = await api("/whoami");
  } catch (err) {
    setKey(null);
    signIn(err.status === 401 ? "That key was not accepted." : `The server answered: ${err.message}`);
    return;
  }
  document.getElementById("who").textContent = `${me.role} · ${me.key_id}`;
  document.getElementById("signout").hidden = false;
  document.body.dataset.role = me.role;
  route();
}

function route() {
  if (!me) return;
  if (current && current.close) current.close();
  const path = location.pathname.startsWith(`${ROOT}/ui/`) ? location.pathname.slice(ROOT.length + 4) : "";
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  let view;
  if (parts[0] === "executions" && parts[1]) view = new ExecutionView(main, parts[1], ctx);
  else if (parts[0] === "bots") view = new BotsView(main, ctx);
  else if (parts[0] === "deliveries") view = new DeliveriesView(main, ctx);
  else if (parts[0] === "accounts") view = new AccountsView(main, ctx);
  else view = new ExecutionsView(main, ctx);
  current = view;
  const name = parts[0] === "executions" && parts[1] ? "execution" : parts[0] || "executions";
  for (const a of document.querySelectorAll("nav [data-view]")) {
    if (a.dataset.view === (name === "execution" ? "executions" : name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `agented · ${name}`;
  view.open();
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[data-nav]");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  history.pushState(null, "", url.pathname + url.search + url.hash);
  route();
  main.focus({ preventScroll: true });
});
window.addEventListener("popstate", () => {
  // a hash change within a page (an event's #seq link) is no new view
  if (current && current.path === location.pathname && current.onHash) { current.onHash(); return; }
  route();
});
window.addEventListener("hashchange", () => { if (current && current.onHash) current.onHash(); });
document.addEventListener("keydown", (ev) => {
  if (ev.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
    const search = main.querySelector('input[type="search"]');
    if (search) { ev.preventDefault(); search.focus(); }
  }
});
document.getElementById("signout").addEventListener("click", () => {
  setKey(null);
  me = null;
  signIn();
});
document.addEventListener("agented:signed-out", () => {
  setKey(null);
  me = null;
  signIn("The key is no longer accepted; sign in again.");
});

start();

// The API under the dashboard's mount point, with the key kept for this tab only.
const meta = document.querySelector('meta[name="agented-root"]');
/** Where the sub-app is mounted ("" at the root, "/agented" under the reference server). */
export const ROOT = meta ? meta.content : "";
const STORAGE = "agented.key";

export class ApiError extends Error {
  constructor(status, code, message, data = null) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.data = data; // the answer's body (a 422 of a reload lists its problems there)
  }
}

export function key() {
  return sessionStorage.getItem(STORAGE);
}

export function setKey(value) {
  if (value) sessionStorage.setItem(STORAGE, value);
  else sessionStorage.removeItem(STORAGE);
}

/** Call the API: JSON in, JSON (or text) out; an answer outside 2xx throws an ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = {};
  const k = key();
  if (k) headers["X-API-Key"] = k;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(ROOT + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
    credentials: "omit",
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const err = new ApiError(response.status, data && data.error, data && data.message, data);
    if (response.status === 401) document.dispatchEvent(new CustomEvent("agented:signed-out"));
    throw err;
  }
  return data;
}

/** The raw response of a GET with the key (for downloads). */
export async function raw(path) {
  const response = await fetch(ROOT + path, {
    headers: { "X-API-Key": key() || "" },
    cache: "no-store",
    credentials: "omit",
  });
  if (!response.ok) throw new ApiError(response.status, "", `HTTP ${response.status}`);
  return response;
}

export function q(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;

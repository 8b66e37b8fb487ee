// The REST API as the pages call it: the same endpoints, headers and
// error form as every other client. The session (a Keystone token, or in
// noauth mode the picked project) lives in sessionStorage only: gone with
// the tab, never in a URL, never in localStorage.
const KEY = 'dpiaas.session';
let config = null;

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

export async function loadConfig() {
  const resp = await fetch('config.json', {cache: 'no-store'});
  config = await resp.json();
  return config;
}

export function getConfig() { return config; }

export function session() {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw);
    if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch (e) {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

export function setSession(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); }
export function clearSession() { sessionStorage.removeItem(KEY); }

export function isAdmin() {
  const s = session();
  return !!(s && (s.roles || []).includes('admin'));
}

function authHeaders() {
  const s = session();
  if (!s) return {};
  if (s.mode === 'keystone') return {'X-Auth-Token': s.token};
  return {'X-Project-Id': s.project_id, 'X-Roles': (s.roles || []).join(',')};
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// One request; resolves to the parsed JSON (or null for 204), rejects with
// an ApiError carrying the API's one-line detail.
export async function request(method, path, body) {
  const headers = Object.assign({'Accept': 'application/json'}, authHeaders());
  const init = {method, headers, cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'The API could not be reached; is dpiaas-api running?');
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const err = data && data.errors && data.errors[0];
    const detail = err ? err.detail : ('HTTP ' + resp.status);
    if (resp.status === 401) onUnauthorized(detail);
    throw new ApiError(resp.status, detail, err && err.code);
  }
  return data;
}

export const get = (path) => request('GET', path);

// A query string from a dict, skipping empty values.
export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') {
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    }
  }
  return parts.length ? '?' + parts.join('&') : '';
}

// A whole collection, following "next" links up to maxPages pages.
export async function listAll(path, key, params, maxPages = 10) {
  const size = (config && config.page_size) || 100;
  let url = path + qs(Object.assign({limit: size}, params));
  const items = [];
  for (let i = 0; url && i < maxPages; i++) {
    const data = await get(url);
    items.push(...(data[key] || []));
    url = data.next ? relative(data.next) : null;
  }
  return {items, more: !!url};
}

// The API answers absolute "next" links; keep them on this origin.
export function relative(link) {
  const u = new URL(link, location.href);
  return u.pathname + u.search;
}

// A metric series between two epoch-ms times -> [{x, y}] (x in epoch ms).
export async function series(monitorId, name, startMs, endMs) {
  const data = await get('/v1/monitors/' + monitorId + '/metrics/' +
    encodeURIComponent(name) + qs({start: (startMs / 1000).toFixed(3),
                                   end: (endMs / 1000).toFixed(3)}));
  return (data.measures || []).map(m => ({x: Date.parse(m.timestamp), y: m.value}));
}

// The shell: hash routes (#/alarms, #/monitors/<id>, ...), the
// project-scoped navigation, the firing badge and the login gate.
import * as api from './api.js';
import {esc, main} from './ui.js';
import * as login from './pages/login.js';
import * as alarms from './pages/alarms.js';
import * as alarm from './pages/alarm.js';
import * as monitors from './pages/monitors.js';
import * as monitor from './pages/monitor.js';
import * as create from './pages/create.js';
import * as admin from './pages/admin.js';

const ROUTES = [
  [/^\/login$/, login.render, null],
  [/^\/alarms$/, alarms.render, 'alarms'],
  [/^\/alarms\/([0-9a-fA-F-]{36})$/, alarm.render, 'alarms'],
  [/^\/monitors$/, monitors.render, 'monitors'],
  [/^\/monitors\/new$/, create.render, 'monitors'],
  [/^\/monitors\/([0-9a-fA-F-]{36})$/, monitor.render, 'monitors'],
  [/^\/admin\/agents$/, admin.renderAgents, 'agents'],
  [/^\/admin\/collectors$/, admin.renderCollectors, 'collectors'],
];

let cleanup = null;
let badgeTimer = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/alarms';
  const [path, query] = raw.split('?');
  return {path, query: new URLSearchParams(query || '')};
}

function renderShell() {
  const s = api.session();
  const nav = document.getElementById('sidebar');
  for (const id of ['sidebar', 'topbar-project', 'topbar-user']) {
    document.getElementById(id).hidden = !s;
  }
  if (!s) { document.getElementById('firing-badge').hidden = true; return; }
  document.getElementById('project-name').textContent = s.project_name || s.project_id;
  document.getElementById('user-name').textContent =
    s.user ? s.user : (s.roles || []).join(', ');
  let html = `<h2 id="nav-project">Project</h2>
    <a href="#/alarms" data-nav="alarms">Alarms</a>
    <a href="#/monitors" data-nav="monitors">Monitors</a>`;
  if (api.isAdmin()) {
    html += `<h2>Admin</h2>
      <a href="#/admin/agents" data-nav="agents">Agents</a>
      <a href="#/admin/collectors" data-nav="collectors">Collectors</a>`;
  }
  nav.innerHTML = html;
}

function markNav(section) {
  for (const a of document.querySelectorAll('#sidebar a')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

export async function refreshBadge() {
  const badge = document.getElementById('firing-badge');
  if (!api.session()) return;
  try {
    const data = await api.get('/v1/alarms' + api.qs({state: 'alarm',
      limit: api.getConfig().page_size}));
    const n = data.alarms.length;
    const more = data.next ? '+' : '';
    badge.textContent = `${n}${more} firing`;
    badge.setAttribute('aria-label', `${n}${more} alarms firing`);
    badge.dataset.count = String(n);
    badge.hidden = false;
  } catch (e) {
    badge.hidden = true;
  }
}

function startBadge() {
  clearInterval(badgeTimer);
  refreshBadge();
  badgeTimer = setInterval(() => { if (!document.hidden) refreshBadge(); },
                           api.getConfig().refresh_interval * 1000);
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { /* page already gone */ } cleanup = null; }
  const {path, query} = parseHash();
  const s = api.session();
  if (!s && path !== '/login') { location.hash = '#/login'; return; }
  if (s && path === '/login') { location.hash = '#/alarms'; return; }
  renderShell();
  for (const [re, render, section] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    markNav(section);
    main().innerHTML = '<p class="muted">Loading…</p>';
    try {
      cleanup = await render({params: m.slice(1), query, main: main()}) || null;
    } catch (e) {
      main().innerHTML = `<div class="alert alert-error" role="alert">${esc(e.message)}</div>`;
    }
    return;
  }
  main().innerHTML = '<h1>Not found</h1><p>No such page. <a href="#/alarms">Alarms</a></p>';
}

function signedIn() {
  startBadge();
  location.hash = '#/alarms';
}

function signOut(message) {
  api.clearSession();
  clearInterval(badgeTimer);
  sessionStorage.setItem('dpiaas.login_message', message || '');
  if (location.hash === '#/login') route(); else location.hash = '#/login';
}

async function start() {
  await api.loadConfig();
  api.setUnauthorizedHandler((detail) => signOut('Signed out: ' + detail));
  document.getElementById('logout').addEventListener('click', () => signOut(''));
  document.getElementById('skip-link').addEventListener('click', () => main().focus());
  window.addEventListener('hashchange', route);
  window.addEventListener('dpiaas:signed-in', signedIn);
  if (api.session()) startBadge();
  await route();
}

start();

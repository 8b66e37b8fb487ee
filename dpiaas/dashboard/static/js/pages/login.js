// Login: a project picker in noauth mode, Keystone's user name, password
// and project in a cloud. Only the resulting session goes to
// sessionStorage; the password is sent once, in a POST body.
import * as api from '../api.js';
import {esc, alertBox} from '../ui.js';

const RECENT = 'dpiaas.recent_projects';   // project names only, no secret

function recentProjects() {
  try { return JSON.parse(localStorage.getItem(RECENT) || '[]'); } catch (e) { return []; }
}

function remember(project) {
  const list = [project, ...recentProjects().filter(p => p !== project)].slice(0, 8);
  localStorage.setItem(RECENT, JSON.stringify(list));
}

function noauthForm() {
  const options = recentProjects().map(p => `<option value="${esc(p)}">`).join('');
  return `<form class="form" id="login-form">
    <p class="muted">Standalone mode (no Keystone): pick the project to work in.</p>
    <label for="project">Project
      <input id="project" name="project" required autocomplete="off" list="projects"
             pattern="[A-Za-z0-9_.\\-]{1,64}" title="1 to 64 letters, digits, _ - or ."></label>
    <datalist id="projects">${options}</datalist>
    <label for="role">Role
      <select id="role" name="role">
        <option value="member">member</option>
        <option value="reader">reader</option>
        <option value="admin">admin</option>
      </select></label>
    <button type="submit" class="btn btn-primary">Open project</button>
  </form>`;
}

function keystoneForm(domain) {
  return `<form class="form" id="login-form">
    <label for="username">User name
      <input id="username" name="username" required autocomplete="username"></label>
    <label for="password">Password
      <input id="password" name="password" type="password" required autocomplete="current-password"></label>
    <label for="project">Project
      <input id="project" name="project" required autocomplete="off"></label>
    <label for="domain">Domain
      <input id="domain" name="domain" value="${esc(domain)}" required></label>
    <button type="submit" class="btn btn-primary">Sign in</button>
  </form>`;
}

export async function render({main}) {
  const conf = api.getConfig();
  const keystone = conf.auth_strategy === 'keystone';
  const message = sessionStorage.getItem('dpiaas.login_message');
  sessionStorage.removeItem('dpiaas.login_message');
  main.innerHTML = `<div class="login panel">
    <h1>${keystone ? 'Sign in' : 'Choose a project'}</h1>
    <div id="login-error">${message ? alertBox(message, 'info') : ''}</div>
    ${keystone ? keystoneForm(conf.default_domain) : noauthForm()}</div>`;
  const form = main.querySelector('#login-form');
  main.querySelector('input').focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    const errorBox = main.querySelector('#login-error');
    if (!keystone) {
      const roles = data.role === 'admin' ? ['admin', 'member', 'reader']
        : data.role === 'reader' ? ['reader'] : ['member', 'reader'];
      api.setSession({mode: 'noauth', project_id: data.project.trim(),
                      project_name: data.project.trim(), roles});
      remember(data.project.trim());
      window.dispatchEvent(new Event('dpiaas:signed-in'));
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const resp = await fetch('auth/tokens', {
        method: 'POST', cache: 'no-store',
        headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
        body: JSON.stringify(data)});
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.errors ? body.errors[0].detail : 'HTTP ' + resp.status);
      api.setSession(Object.assign({mode: 'keystone'}, body.session));
      form.reset();
      window.dispatchEvent(new Event('dpiaas:signed-in'));
    } catch (e) {
      errorBox.innerHTML = alertBox(e.message);
    } finally {
      button.disabled = false;
    }
  });
}

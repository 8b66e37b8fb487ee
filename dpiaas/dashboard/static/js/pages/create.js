// Create monitor: pick a server or a port of the project, preview the
// services the engine will derive from its Security Group rules
// (POST /v1/monitors?dry_run=true), then confirm.
import * as api from '../api.js';
import {esc, breadcrumb, alertBox} from '../ui.js';
import {deletedTargets} from './actions.js';

function overrides(text) {
  const out = {};
  for (const line of String(text || '').split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const m = t.match(/^(\S+)\s*[=:]\s*(\S+)$/);
    if (!m) throw new Error(`Protocol override "${t}": write it as tcp/8080=http.`);
    out[m[1]] = m[2];
  }
  return out;
}

function request(form) {
  const d = new FormData(form);
  const target = String(d.get('target') || '').trim();
  const body = {};
  body[d.get('kind') === 'port' ? 'port_id' : 'server_id'] = target;
  if (d.get('name')) body.name = String(d.get('name')).trim();
  body.interval_ms = Number(d.get('interval_ms'));
  body.detector = {baseline_s: Number(d.get('baseline_s')), sensitivity: Number(d.get('sensitivity'))};
  const protocols = overrides(d.get('protocols'));
  if (Object.keys(protocols).length) body.protocols = protocols;
  const urls = String(d.get('alarm_actions') || '').split(/\s+/).filter(Boolean);
  if (urls.length) body.alarm_actions = urls;
  return body;
}

function previewHtml(p) {
  const rows = p.services.map(s => `<tr><td>${esc(s.app)}</td><td>${esc(s.role)}</td><td>${esc(s.l4)}</td>
    <td>${s.port_min === s.port_max ? esc(s.port_min) : `${esc(s.port_min)}–${esc(s.port_max)}`}</td>
    <td class="mono">${esc(String(s.port_id).slice(0, 8))}</td><td class="mono">${esc(s.source)}</td></tr>`).join('');
  const skipped = (p.skipped_rules || []).map(s => `<li><span class="mono">${esc(s.rule)}</span>: ${esc(s.reason)}</li>`).join('');
  const bad = (p.unmonitorable_ports || []).map(s => `<li><span class="mono">${esc(s.port_id)}</span>: ${esc(s.reason)}</li>`).join('');
  return `<h2>Services that will be monitored</h2>
    <table class="data" id="preview-table"><caption>${p.services.length} service(s) on ${p.ports.length} port(s)</caption>
    <thead><tr><th scope="col">Application</th><th scope="col">Role</th><th scope="col">Protocol</th>
    <th scope="col">Port(s)</th><th scope="col">Port id</th><th scope="col">Why (source)</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="6" class="muted">None: no rule gives a service.</td></tr>'}</tbody></table>
    ${skipped ? `<h3>Rules that give no service</h3><ul>${skipped}</ul>` : ''}
    ${bad ? `<h3>Ports that cannot be monitored</h3><ul>${bad}</ul>` : ''}`;
}

export async function render({main}) {
  const existing = await api.listAll('/v1/monitors', 'monitors');
  const known = new Map();
  for (const t of deletedTargets()) known.set(t.id, `${t.kind} of deleted monitor ${t.name}`);
  for (const m of existing.items) known.set(m.server_id || m.port_id, `already monitored by ${m.name || m.id}`);
  main.innerHTML = `${breadcrumb([['Project'], ['Monitors', '#/monitors'], ['Create monitor']])}
    <div class="page-header"><h1>Create monitor</h1></div>
    <div id="create-error"></div>
    <div class="panel"><form class="form" id="create-form" novalidate>
      <fieldset><legend>What to monitor</legend>
        <div class="row">
          <label class="check" for="kind-server"><span><input type="radio" id="kind-server" name="kind" value="server" checked> A server (all its ports)</span></label>
          <label class="check" for="kind-port"><span><input type="radio" id="kind-port" name="kind" value="port"> One port</span></label>
        </div>
        <label for="target">Server or port id (UUID)
          <input id="target" name="target" required list="targets" autocomplete="off"
                 pattern="[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"></label>
        <datalist id="targets">${[...known].map(([id, why]) => `<option value="${esc(id)}" label="${esc(why)}">`).join('')}</datalist>
      </fieldset>
      <div class="row">
        <label for="name">Name<input id="name" name="name" maxlength="255"></label>
        <label for="interval_ms">Interval (ms)<input id="interval_ms" name="interval_ms" type="number" min="100" max="60000" value="500"></label>
        <label for="baseline_s">Learning period (s)<input id="baseline_s" name="baseline_s" type="number" min="10" max="604800" value="600"></label>
        <label for="sensitivity">Sensitivity (0–1)<input id="sensitivity" name="sensitivity" type="number" min="0" max="1" step="0.05" value="0.5"></label>
      </div>
      <label for="protocols">Protocol overrides, one per line (e.g. tcp/8080=http)
        <textarea id="protocols" name="protocols" rows="2"></textarea></label>
      <label for="alarm_actions">Alarm action URLs, one per line
        <textarea id="alarm_actions" name="alarm_actions" rows="2"></textarea></label>
      <div class="row"><button type="button" class="btn" id="preview">Preview services</button>
        <button type="submit" class="btn btn-primary" id="confirm" disabled>Create monitor</button>
        <a class="btn" href="#/monitors">Cancel</a></div>
      <p class="muted" id="confirm-hint">Preview the services first; the button to create is enabled after a preview of the current values.</p>
    </form></div>
    <div class="panel" id="preview-panel" hidden aria-live="polite"></div>`;
  const form = main.querySelector('#create-form');
  const errorBox = main.querySelector('#create-error');
  const confirm = main.querySelector('#confirm');
  const previewPanel = main.querySelector('#preview-panel');
  let previewed = null;

  form.addEventListener('input', () => {
    if (previewed !== null) { previewed = null; confirm.disabled = true; }
  });
  main.querySelector('#preview').addEventListener('click', async () => {
    errorBox.innerHTML = '';
    if (!form.target.value.trim()) {
      errorBox.innerHTML = alertBox('Give the id of a server or port of this project.');
      form.target.focus();
      return;
    }
    try {
      const body = request(form);
      const resp = await api.request('POST', '/v1/monitors?dry_run=true', {monitor: body});
      previewPanel.innerHTML = previewHtml(resp.monitor);
      previewPanel.hidden = false;
      previewed = JSON.stringify(body);
      confirm.disabled = false;
    } catch (e) {
      previewPanel.hidden = true;
      errorBox.innerHTML = alertBox(e.message);
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorBox.innerHTML = '';
    try {
      const body = request(form);
      if (JSON.stringify(body) !== previewed) throw new Error('The values changed since the preview: preview again.');
      confirm.disabled = true;
      const resp = await api.request('POST', '/v1/monitors', {monitor: body});
      location.hash = '#/monitors/' + resp.monitor.id;
    } catch (e) {
      errorBox.innerHTML = alertBox(e.message);
      confirm.disabled = false;
    }
  });
}

// Create monitor: pick a server or a port of the project from its ports
// (GET /v1/ports: grouped by server, ports without a kernel tap and
// those already watched are shown but cannot be picked), preview the
// services the engine will derive from its Security Group rules
// (POST /v1/monitors?dry_run=true), then confirm. When the ports cannot
// be listed the form falls back to typing a server or port id.
import * as api from '../api.js';
import {esc, breadcrumb, alertBox, shortId} from '../ui.js';
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

// The picked target: {kind, id} from the ports table or the typed id.
function picked(form) {
  const d = new FormData(form);
  const choice = String(d.get('pick') || '');
  if (choice) {
    const [kind, id] = choice.split(':');
    return {kind, id};
  }
  const typed = String(d.get('target') || '').trim();
  return typed ? {kind: d.get('kind') === 'port' ? 'port' : 'server', id: typed} : null;
}

function request(form) {
  const d = new FormData(form);
  const target = picked(form);
  if (!target) throw new Error('Pick a server or a port of this project to monitor.');
  const body = {};
  body[target.kind === 'port' ? 'port_id' : 'server_id'] = target.id;
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
  const what = p.server_id ? `server <span class="mono">${esc(p.server_id)}</span> (${p.ports.length} port(s))`
    : `port <span class="mono">${esc(p.port_id)}</span>`;
  return `<h2>Services that will be monitored</h2><p id="preview-target">For ${what}.</p>
    <table class="data" id="preview-table"><caption>${p.services.length} service(s) on ${p.ports.length} port(s)</caption>
    <thead><tr><th scope="col">Application</th><th scope="col">Role</th><th scope="col">Protocol</th>
    <th scope="col">Port(s)</th><th scope="col">Port id</th><th scope="col">Why (source)</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="6" class="muted">None: no rule gives a service.</td></tr>'}</tbody></table>
    ${skipped ? `<h3>Rules that give no service</h3><ul>${skipped}</ul>` : ''}
    ${bad ? `<h3>Ports that cannot be monitored</h3><ul>${bad}</ul>` : ''}`;
}

// Ports by server, in the API's order (server, then port id).
function byServer(ports) {
  const groups = new Map();
  for (const p of ports) {
    if (!groups.has(p.server_id)) groups.set(p.server_id, []);
    groups.get(p.server_id).push(p);
  }
  return groups;
}

function portState(p, monitorName) {
  if (p.monitor_id) {
    return `<a href="#/monitors/${esc(p.monitor_id)}">Monitored by ${esc(monitorName(p.monitor_id))}</a>`;
  }
  if (!p.monitorable) return `<span class="muted">Cannot be monitored: ${esc(p.unmonitorable_reason)}</span>`;
  return 'Can be monitored';
}

// One radio group ("pick") for the whole table: a server row picks all
// its ports, a port row one port. Arrow keys move between the radios
// that can be picked (the browser skips disabled ones).
export function portsTableHtml(ports, monitors) {
  const serverMonitor = new Map(monitors.filter(m => m.server_id).map(m => [m.server_id, m]));
  const names = new Map(monitors.map(m => [m.id, m.name || m.id]));
  const monitorName = (id) => names.get(id) || id;
  const bodies = [...byServer(ports)].map(([server, list], si) => {
    const sm = serverMonitor.get(server);
    const usable = list.filter(p => p.monitorable).length;
    const serverDisabled = sm || !usable;
    const serverWhy = sm ? `<a href="#/monitors/${esc(sm.id)}">Monitored by ${esc(sm.name || sm.id)}</a>`
      : (usable ? `${usable} of ${list.length} port(s) can be monitored`
        : '<span class="muted">Cannot be monitored: none of its ports has a kernel tap</span>');
    const rows = list.map((p, pi) => {
      const id = `pick-port-${si}-${pi}`;
      const disabled = !p.monitorable || p.monitor_id;
      return `<tr class="port-row${disabled ? ' unavailable' : ''}" data-port-id="${esc(p.id)}">
        <td><input type="radio" name="pick" id="${id}" value="port:${esc(p.id)}"${disabled ? ' disabled' : ''}
             aria-describedby="${id}-state"></td>
        <td><label for="${id}" class="pick-label">Port ${esc(p.name || '')} <span class="mono" title="${esc(p.id)}">${shortId(p.id)}</span></label></td>
        <td class="mono">${esc((p.fixed_ips || []).join(', ') || '—')}</td>
        <td class="mono">${esc(p.mac_address || '—')}</td>
        <td>${esc(p.vnic_type)}</td>
        <td>${esc((p.security_groups || []).length)}</td>
        <td id="${id}-state">${portState(p, monitorName)}</td></tr>`;
    }).join('');
    const sid = `pick-server-${si}`;
    return `<tbody data-server-id="${esc(server)}"><tr class="server-row${serverDisabled ? ' unavailable' : ''}">
        <td><input type="radio" name="pick" id="${sid}" value="server:${esc(server)}"${serverDisabled ? ' disabled' : ''}
             aria-describedby="${sid}-state"></td>
        <th scope="rowgroup" colspan="5"><label for="${sid}" class="pick-label">Server <span class="mono" title="${esc(server)}">${shortId(server)}</span>
          (all ${list.length} port${list.length === 1 ? '' : 's'})</label></th>
        <td id="${sid}-state">${serverWhy}</td></tr>${rows}</tbody>`;
  }).join('');
  return `<table class="data" id="ports-table" data-count="${ports.length}">
    <caption>${ports.length} port(s) on ${byServer(ports).size} server(s) of this project. Pick a whole server or one port.</caption>
    <thead><tr><th scope="col"><span class="visually-hidden">Pick</span></th><th scope="col">Server / port</th>
    <th scope="col">Fixed IPs</th><th scope="col">MAC</th><th scope="col">VNIC type</th>
    <th scope="col">Security groups</th><th scope="col">Status</th></tr></thead>
    ${bodies || '<tbody><tr><td colspan="7" class="muted">This project has no server ports.</td></tr></tbody>'}</table>`;
}

function typedTargetHtml(known) {
  return `<div class="row">
      <label class="check" for="kind-server"><span><input type="radio" id="kind-server" name="kind" value="server" checked> A server (all its ports)</span></label>
      <label class="check" for="kind-port"><span><input type="radio" id="kind-port" name="kind" value="port"> One port</span></label>
    </div>
    <label for="target">Server or port id (UUID)
      <input id="target" name="target" list="targets" autocomplete="off"
             pattern="[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"></label>
    <datalist id="targets">${[...known].map(([id, why]) => `<option value="${esc(id)}" label="${esc(why)}">`).join('')}</datalist>`;
}

export async function render({main}) {
  const [existing, portsOrError] = await Promise.all([
    api.listAll('/v1/monitors', 'monitors'),
    api.listAll('/v1/ports', 'ports').catch(e => e)]);
  const listed = !(portsOrError instanceof Error);
  const known = new Map();
  for (const t of deletedTargets()) known.set(t.id, `${t.kind} of deleted monitor ${t.name}`);
  for (const m of existing.items) known.set(m.server_id || m.port_id, `already monitored by ${m.name || m.id}`);
  const targetHtml = listed ? portsTableHtml(portsOrError.items, existing.items)
    : `${alertBox('The ports of this project could not be listed (' + portsOrError.message +
                  '); type the id of a server or a port instead.', 'info')}${typedTargetHtml(known)}`;
  main.innerHTML = `${breadcrumb([['Project'], ['Monitors', '#/monitors'], ['Create monitor']])}
    <div class="page-header"><h1>Create monitor</h1></div>
    <div id="create-error"></div>
    <div class="panel"><form class="form" id="create-form" novalidate>
      <fieldset id="target-fieldset"><legend>What to monitor: 1. pick a server or a port</legend>
        ${targetHtml}
      </fieldset>
      <fieldset><legend>2. Settings</legend>
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
      </fieldset>
      <div class="row"><button type="button" class="btn" id="preview">Preview services</button>
        <button type="submit" class="btn btn-primary" id="confirm" disabled>Create monitor</button>
        <a class="btn" href="#/monitors">Cancel</a></div>
      <p class="muted" id="confirm-hint">3. Preview the services, then create: the button to create is enabled after a preview of the current values.</p>
    </form></div>
    <div class="panel" id="preview-panel" hidden aria-live="polite"></div>`;
  const form = main.querySelector('#create-form');
  const errorBox = main.querySelector('#create-error');
  const confirm = main.querySelector('#confirm');
  const previewPanel = main.querySelector('#preview-panel');
  let previewed = null;

  const stale = () => {
    if (previewed !== null) { previewed = null; confirm.disabled = true; }
  };
  form.addEventListener('input', stale);
  form.addEventListener('change', stale);
  for (const radio of form.querySelectorAll('input[name="pick"]')) {
    radio.addEventListener('change', () => {
      for (const row of form.querySelectorAll('#ports-table tr')) row.classList.remove('picked');
      radio.closest('tr').classList.add('picked');
    });
  }
  main.querySelector('#preview').addEventListener('click', async () => {
    errorBox.innerHTML = '';
    if (!picked(form)) {
      errorBox.innerHTML = alertBox(listed ? 'Pick a server or a port of this project in the table.'
        : 'Give the id of a server or port of this project.');
      const first = form.querySelector('input[name="pick"]:not([disabled]), #target');
      if (first) first.focus();
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

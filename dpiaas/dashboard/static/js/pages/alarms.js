// Alarms: every monitor's anomaly alarm in the project, filterable by
// state and severity, refreshed automatically.
import * as api from '../api.js';
import {esc, stateBadge, severityBadge, timeCell, shortId, alertBox, breadcrumb} from '../ui.js';

const STATES = [['', 'Any state'], ['alarm', 'Alarm'], ['ok', 'OK'],
                ['insufficient_data', 'Insufficient data']];
const SEVERITIES = [['', 'Any severity'], ['critical', 'critical'],
                    ['moderate', 'moderate'], ['low', 'low']];

function options(list, selected) {
  return list.map(([v, l]) => `<option value="${v}"${v === selected ? ' selected' : ''}>${esc(l)}</option>`).join('');
}

function target(mon) {
  if (!mon) return '<span class="muted">—</span>';
  return mon.server_id ? `server <span class="mono" title="${esc(mon.server_id)}">${shortId(mon.server_id)}</span>`
    : `port <span class="mono" title="${esc(mon.port_id)}">${shortId(mon.port_id)}</span>`;
}

function rows(alarms, monitors, text) {
  const needle = text.toLowerCase();
  const out = [];
  let shown = 0;
  for (const a of alarms) {
    const mon = monitors.get(a.monitor_id);
    const monName = mon ? (mon.name || mon.id.slice(0, 8)) : a.monitor_id.slice(0, 8);
    if (needle && !(`${a.name} ${monName} ${a.state_reason || ''}`.toLowerCase().includes(needle))) continue;
    shown++;
    out.push(`<tr data-alarm-id="${esc(a.id)}" data-state="${esc(a.state)}">
      <td><a href="#/alarms/${esc(a.id)}">${esc(a.name || a.id)}</a></td>
      <td>${stateBadge(a.state)}</td>
      <td>${severityBadge(a.severity)}</td>
      <td><a href="#/monitors/${esc(a.monitor_id)}">${esc(monName)}</a></td>
      <td>${target(mon)}</td>
      <td>${timeCell(a.state_timestamp)}</td>
      <td>${esc(a.state_reason || '')}</td>
      <td class="actions"><a class="btn btn-sm" href="#/alarms/${esc(a.id)}" aria-label="View alarm ${esc(a.name)}">View</a>
        <a class="btn btn-sm" href="#/monitors/${esc(a.monitor_id)}" aria-label="Monitor of ${esc(a.name)}">Monitor</a></td>
    </tr>`);
  }
  return {html: out.join(''), shown};
}

export async function render({main, query}) {
  const conf = api.getConfig();
  const filters = {state: query.get('state') || '', severity: query.get('severity') || ''};
  main.innerHTML = `${breadcrumb([['Project'], ['Monitoring'], ['Alarms']])}
    <div class="page-header"><h1>Alarms</h1></div>
    <div id="alarms-error"></div>
    <form class="toolbar" id="alarm-filters" role="search" aria-label="Filter alarms">
      <label for="f-state">State<select id="f-state" name="state">${options(STATES, filters.state)}</select></label>
      <label for="f-severity">Severity<select id="f-severity" name="severity">${options(SEVERITIES, filters.severity)}</select></label>
      <label for="f-text">Name, monitor or reason<input id="f-text" name="text" type="search"></label>
      <label class="check spacer" for="f-auto"><input id="f-auto" type="checkbox" checked> Auto-refresh every ${conf.refresh_interval} s</label>
      <button type="button" class="btn" id="refresh">Refresh</button>
    </form>
    <table class="data" id="alarms-table" aria-describedby="alarms-caption">
      <caption id="alarms-caption">Loading…</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Severity</th>
        <th scope="col">Monitor</th><th scope="col">Server / port</th><th scope="col">Since</th>
        <th scope="col">Reason</th><th scope="col">Actions</th></tr></thead>
      <tbody></tbody>
    </table>
    <div class="pager"><button type="button" class="btn" id="first-page" hidden>« First page</button>
      <button type="button" class="btn" id="next-page" hidden>Next page »</button></div>`;
  const table = main.querySelector('#alarms-table');
  const caption = main.querySelector('#alarms-caption');
  let data = {alarms: [], monitors: new Map(), next: null};
  let marker = null;
  let timer = null;
  let first = true;

  function draw() {
    const text = main.querySelector('#f-text').value.trim();
    const {html, shown} = rows(data.alarms, data.monitors, text);
    table.tBodies[0].innerHTML = html || `<tr><td colspan="8" class="muted">No alarms match.</td></tr>`;
    table.dataset.count = String(shown);
    caption.textContent = `${shown} alarm${shown === 1 ? '' : 's'} shown` +
      (data.next ? ' (more on the next page)' : '');
    main.querySelector('#next-page').hidden = !data.next;
    main.querySelector('#first-page').hidden = !marker;
    if (first) {
      first = false;
      performance.mark('dpiaas:alarms-rendered');
      table.dataset.rendered = 'true';
    }
  }

  async function load() {
    const params = {state: filters.state, severity: filters.severity,
                    limit: conf.page_size, marker};
    try {
      const [alarms, monitors] = await Promise.all([
        api.get('/v1/alarms' + api.qs(params)),
        api.listAll('/v1/monitors', 'monitors')]);
      data = {alarms: alarms.alarms, next: alarms.next || null,
              monitors: new Map(monitors.items.map(m => [m.id, m]))};
      main.querySelector('#alarms-error').innerHTML = '';
      draw();
    } catch (e) {
      main.querySelector('#alarms-error').innerHTML = alertBox(e.message);
      if (first) { caption.textContent = 'Could not load the alarms.'; }
    }
  }

  function schedule() {
    clearInterval(timer);
    if (main.querySelector('#f-auto').checked) {
      timer = setInterval(() => { if (!document.hidden) load(); }, conf.refresh_interval * 1000);
    }
  }

  function filterChanged() {
    filters.state = main.querySelector('#f-state').value;
    filters.severity = main.querySelector('#f-severity').value;
    marker = null;
    history.replaceState(null, '', '#/alarms' + api.qs(filters));
    load();
  }

  main.querySelector('#f-state').addEventListener('change', filterChanged);
  main.querySelector('#f-severity').addEventListener('change', filterChanged);
  main.querySelector('#f-text').addEventListener('input', draw);
  main.querySelector('#f-auto').addEventListener('change', schedule);
  main.querySelector('#alarm-filters').addEventListener('submit', (ev) => ev.preventDefault());
  main.querySelector('#refresh').addEventListener('click', load);
  main.querySelector('#next-page').addEventListener('click', () => {
    if (data.next) { marker = new URL(data.next, location.href).searchParams.get('marker'); load(); }
  });
  main.querySelector('#first-page').addEventListener('click', () => { marker = null; load(); });
  await load();
  schedule();
  return () => clearInterval(timer);
}

// Monitors: what the project watches, with each one's status and alarm.
import * as api from '../api.js';
import {esc, statusBadge, stateBadge, shortId, timeCell, alertBox, breadcrumb} from '../ui.js';
import * as actions from './actions.js';

const STATUSES = ['', 'pending', 'learning', 'active', 'error'];

export async function render({main, query}) {
  let status = query.get('status') || '';
  main.innerHTML = `${breadcrumb([['Project'], ['Monitoring'], ['Monitors']])}
    <div class="page-header"><h1>Monitors</h1>
      <div class="actions"><a class="btn btn-primary" href="#/monitors/new" id="create-monitor">+ Create monitor</a></div></div>
    <div id="monitors-error"></div>
    <form class="toolbar" role="search" aria-label="Filter monitors" id="monitor-filters">
      <label for="m-status">Status<select id="m-status">${STATUSES.map(s =>
        `<option value="${s}"${s === status ? ' selected' : ''}>${s || 'Any status'}</option>`).join('')}</select></label>
      <label for="m-text">Name or id<input id="m-text" type="search"></label>
    </form>
    <table class="data" id="monitors-table"><caption id="monitors-caption">Loading…</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Server / port</th>
      <th scope="col">Alarm</th><th scope="col">Interval</th><th scope="col">Created</th>
      <th scope="col">Actions</th></tr></thead><tbody></tbody></table>`;
  const table = main.querySelector('#monitors-table');
  let monitors = [];
  let alarms = new Map();

  function draw() {
    const needle = main.querySelector('#m-text').value.trim().toLowerCase();
    const shown = monitors.filter(m => !needle ||
      `${m.name} ${m.id} ${m.server_id || ''} ${m.port_id || ''}`.toLowerCase().includes(needle));
    table.tBodies[0].innerHTML = shown.map(m => {
      const a = alarms.get(m.id);
      return `<tr data-monitor-id="${esc(m.id)}">
        <td><a href="#/monitors/${esc(m.id)}">${esc(m.name || m.id)}</a></td>
        <td>${statusBadge(m.status)} <span class="muted">${esc(m.status_reason || '')}</span></td>
        <td>${m.server_id ? 'server' : 'port'} <span class="mono" title="${esc(m.server_id || m.port_id)}">${shortId(m.server_id || m.port_id)}</span></td>
        <td>${a ? `<a href="#/alarms/${esc(a.id)}">${stateBadge(a.state)}</a>` : '—'}</td>
        <td>${esc(m.interval_ms)} ms</td>
        <td>${timeCell(m.created_at)}</td>
        <td class="actions"><a class="btn btn-sm" href="#/monitors/${esc(m.id)}">View</a>
          <button type="button" class="btn btn-sm" data-action="rebaseline" aria-label="Rebaseline ${esc(m.name || m.id)}">Rebaseline</button>
          <button type="button" class="btn btn-sm btn-danger" data-action="delete" aria-label="Delete ${esc(m.name || m.id)}">Delete</button></td></tr>`;
    }).join('') || '<tr><td colspan="7" class="muted">No monitors. Create one to start watching a server.</td></tr>';
    main.querySelector('#monitors-caption').textContent = `${shown.length} monitor(s)`;
    table.dataset.count = String(shown.length);
  }

  async function load() {
    try {
      const [mons, als] = await Promise.all([
        api.listAll('/v1/monitors', 'monitors', {status}),
        api.listAll('/v1/alarms', 'alarms')]);
      monitors = mons.items;
      alarms = new Map(als.items.map(a => [a.monitor_id, a]));
      main.querySelector('#monitors-error').innerHTML = '';
      draw();
    } catch (e) {
      main.querySelector('#monitors-error').innerHTML = alertBox(e.message);
    }
  }

  table.addEventListener('click', async (ev) => {
    const button = ev.target.closest('button[data-action]');
    if (!button) return;
    const mon = monitors.find(m => m.id === button.closest('tr').dataset.monitorId);
    try {
      if (button.dataset.action === 'delete' && await actions.deleteMonitor(mon)) await load();
      if (button.dataset.action === 'rebaseline') await actions.rebaseline(mon);
    } catch (e) {
      main.querySelector('#monitors-error').innerHTML = alertBox(e.message);
    }
  });
  main.querySelector('#m-status').addEventListener('change', (ev) => {
    status = ev.target.value;
    history.replaceState(null, '', '#/monitors' + api.qs({status}));
    load();
  });
  main.querySelector('#m-text').addEventListener('input', draw);
  main.querySelector('#monitor-filters').addEventListener('submit', (ev) => ev.preventDefault());
  await load();
}

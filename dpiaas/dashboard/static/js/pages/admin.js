// Admin: the agents (host, heartbeat age, collectors, drops) and every
// collector, with what runs where. Admin role only (the API enforces it).
import * as api from '../api.js';
import {esc, timeCell, breadcrumb, alertBox, fmtNum} from '../ui.js';

function sum(list, key) { return (list || []).reduce((n, c) => n + (Number(c[key]) || 0), 0); }

export async function renderAgents({main}) {
  main.innerHTML = `${breadcrumb([['Admin'], ['Agents']])}
    <div class="page-header"><h1>Agents</h1></div><div id="agents-error"></div>
    <table class="data" id="agents-table"><caption>One agent per hypervisor</caption>
      <thead><tr><th scope="col">Host</th><th scope="col">Alive</th><th scope="col">Last heartbeat</th>
      <th scope="col">Version</th><th scope="col" class="num">Collectors</th>
      <th scope="col" class="num">Captured packets</th><th scope="col" class="num">Kernel drops</th>
      <th scope="col" class="num">Buffer dropped</th></tr></thead><tbody></tbody></table>`;
  const load = async () => {
    try {
      const data = await api.get('/v1/agents');
      main.querySelector('#agents-table tbody').innerHTML = data.agents.map(a => {
        const st = a.state || {};
        return `<tr><td>${esc(a.host)}</td><td>${a.alive ? 'yes' : '<strong>down</strong>'}</td>
          <td>${timeCell(a.last_heartbeat)}</td><td>${esc(a.version)}</td>
          <td class="num">${esc((st.collectors || []).length)}</td>
          <td class="num">${esc(fmtNum(sum(st.collectors, 'capture_packets')))}</td>
          <td class="num">${esc(fmtNum(sum(st.collectors, 'capture_drops')))}</td>
          <td class="num">${esc(fmtNum((st.buffer || {}).dropped || 0))}</td></tr>`;
      }).join('') || '<tr><td colspan="8" class="muted">No agent has reported.</td></tr>';
    } catch (e) {
      main.querySelector('#agents-error').innerHTML = alertBox(e.message);
    }
  };
  await load();
  const timer = setInterval(() => { if (!document.hidden) load(); }, api.getConfig().refresh_interval * 1000);
  return () => clearInterval(timer);
}

export async function renderCollectors({main, query}) {
  main.innerHTML = `${breadcrumb([['Admin'], ['Collectors']])}
    <div class="page-header"><h1>Collectors</h1></div><div id="collectors-error"></div>
    <form class="toolbar" role="search" aria-label="Filter collectors" id="c-filters">
      <label for="c-host">Host<input id="c-host" type="search" value="${esc(query.get('host') || '')}"></label>
      <button type="submit" class="btn">Filter</button></form>
    <table class="data" id="collectors-table"><caption>What runs where</caption>
      <thead><tr><th scope="col">Collector</th><th scope="col">Monitor</th><th scope="col">Project</th>
      <th scope="col">Host</th><th scope="col">Tap</th><th scope="col">Port</th><th scope="col">Status</th>
      <th scope="col" class="num">Generation</th><th scope="col">Updated</th></tr></thead><tbody></tbody></table>`;
  const load = async () => {
    const host = main.querySelector('#c-host').value.trim();
    try {
      const data = await api.get('/v1/collectors' + api.qs({host}));
      main.querySelector('#collectors-table tbody').innerHTML = data.collectors.map(c => `<tr>
        <td class="mono">${esc(c.id.slice(0, 8))}</td>
        <td class="mono">${esc(c.monitor_id.slice(0, 8))}</td><td>${esc(c.project_id)}</td>
        <td>${esc(c.host)}</td><td class="mono">${esc(c.tap_device)}</td>
        <td class="mono">${esc((c.port_id || '').slice(0, 8))}</td>
        <td>${esc(c.status)} <span class="muted">${esc(c.status_reason || '')}</span></td>
        <td class="num">${esc(c.generation)}</td><td>${timeCell(c.updated_at)}</td></tr>`).join('') ||
        '<tr><td colspan="9" class="muted">No collectors.</td></tr>';
      main.querySelector('#collectors-error').innerHTML = '';
    } catch (e) {
      main.querySelector('#collectors-error').innerHTML = alertBox(e.message);
    }
  };
  main.querySelector('#c-filters').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  await load();
}

// Monitor detail: status and derived services (with the rule each came
// from), live charts of every metric group at the monitor's own interval
// with the anomaly score and alarm periods over them, heavy hitters and
// flows, and the actions (rebaseline, delete, edit alarm actions).
import * as api from '../api.js';
import * as charts from '../charts.js';
import {esc, statusBadge, stateBadge, severityBadge, fmtTime, fmtNum, timeCell,
        breadcrumb, tabs, tabsHtml, alertBox} from '../ui.js';
import * as actions from './actions.js';

const KINDS = ['packets', 'bytes', 'requests', 'responses', 'latency', 'other'];
const PROTO = {6: 'tcp', 17: 'udp', 1: 'icmp'};

// "sip.5060.responses.2xx" -> {group: "sip.5060", kind: "responses"}
export function groupOf(name) {
  const parts = name.split('.');
  if (parts[0] === 'capture') return {group: 'capture', kind: 'packets'};
  const group = parts.slice(0, 2).join('.');
  const head = parts[2] || '';
  let kind = 'other';
  if (head.startsWith('packets') || head === 'malformed') kind = 'packets';
  else if (head.startsWith('bytes')) kind = 'bytes';
  else if (head === 'requests' || head === 'queries') kind = 'requests';
  else if (head === 'responses') kind = 'responses';
  else if (head === 'latency_ms') kind = 'latency';
  return {group, kind};
}

function servicesTable(services) {
  if (!services || !services.length) {
    return '<p class="muted">No services yet: the engine derives them from the Security Group rules when it places the monitor.</p>';
  }
  return `<table class="data" id="services-table"><caption>Derived from the port's Security Group rules</caption>
    <thead><tr><th scope="col">Application</th><th scope="col">Role</th><th scope="col">Protocol</th>
    <th scope="col">Port(s)</th><th scope="col">Port id</th><th scope="col">Why (source)</th></tr></thead>
    <tbody>${services.map(s => `<tr><td>${esc(s.app)}</td><td>${esc(s.role)}</td><td>${esc(s.l4)}</td>
      <td>${s.port_min === s.port_max ? esc(s.port_min) : `${esc(s.port_min)}–${esc(s.port_max)}`}</td>
      <td class="mono">${esc((s.port_id || '').slice(0, 8))}</td><td class="mono">${esc(s.source)}</td></tr>`).join('')}
    </tbody></table>`;
}

function overviewHtml(mon, alarm) {
  return `<div class="panel"><dl class="props">
    <dt>Status</dt><dd>${statusBadge(mon.status)} ${esc(mon.status_reason || '')}</dd>
    <dt>${mon.server_id ? 'Server' : 'Port'}</dt><dd class="mono">${esc(mon.server_id || mon.port_id)}</dd>
    <dt>Alarm</dt><dd>${alarm ? `<a href="#/alarms/${esc(alarm.id)}">${stateBadge(alarm.state)}</a>
      ${severityBadge(alarm.severity)} ${esc(alarm.state_reason || '')}` : '—'}</dd>
    <dt>Interval</dt><dd>${esc(mon.interval_ms)} ms</dd>
    <dt>Detector</dt><dd>baseline ${esc(mon.detector.baseline_s)} s, sensitivity ${esc(mon.detector.sensitivity)}
      ${mon.rebaseline_requested_at ? `(rebaseline requested ${esc(fmtTime(mon.rebaseline_requested_at))})` : ''}</dd>
    <dt>Protocol overrides</dt><dd class="mono">${esc(JSON.stringify(mon.protocols)) || '{}'}</dd>
    <dt>Alarm actions</dt><dd class="mono" id="alarm-actions">${esc((mon.alarm_actions || []).join(', ')) || '—'}</dd>
    <dt>OK actions</dt><dd class="mono">${esc((mon.ok_actions || []).join(', ')) || '—'}</dd>
    <dt>Created</dt><dd>${timeCell(mon.created_at)}</dd>
    <dt>Monitor id</dt><dd class="mono">${esc(mon.id)}</dd></dl></div>
    <div class="panel"><h2>Services</h2>${servicesTable(mon.services)}</div>
    <div class="panel" id="collectors-panel" hidden><h2>Collectors (agent and host)</h2><div id="collectors"></div></div>`;
}

function flowRows(list) {
  return list.map(f => `<tr><td class="mono">${esc(f.src)}:${esc(f.sport)}</td>
    <td class="mono">${esc(f.dst)}:${esc(f.dport)}</td><td>${esc(PROTO[f.proto] || f.proto)}</td>
    <td class="num">${esc(fmtNum(f.packets))}</td><td class="num">${esc(fmtNum(f.bytes))}</td>
    <td>${esc(f.ts ? fmtTime(f.ts) : '')}</td></tr>`).join('') ||
    '<tr><td colspan="6" class="muted">None yet.</td></tr>';
}

function flowTable(id, caption, list) {
  return `<table class="data" id="${id}"><caption>${esc(caption)}</caption>
    <thead><tr><th scope="col">Source</th><th scope="col">Destination</th><th scope="col">Protocol</th>
    <th scope="col" class="num">Packets</th><th scope="col" class="num">Bytes</th><th scope="col">Interval</th></tr></thead>
    <tbody>${flowRows(list)}</tbody></table>`;
}

// Runs the limited number of requests at a time the live charts need.
async function pool(tasks, size = 4) {
  const queue = [...tasks];
  await Promise.all(Array.from({length: size}, async () => {
    while (queue.length) await queue.shift()();
  }));
}

class LiveCharts {
  constructor(container, mon, alarm, windowS) {
    this.container = container;
    this.mon = mon;
    this.alarm = alarm;
    this.windowMs = windowS * 1000;
    this.series = new Map();     // metric name -> [{x, y}]
    this.charts = [];            // {chart, canvas, names, visible}
    this.score = [];
    this.periods = [];
    this.busy = false;
  }

  async build() {
    const metrics = (await api.get('/v1/monitors/' + this.mon.id + '/metrics')).metrics;
    const groups = new Map();
    for (const m of metrics) {
      const {group, kind} = groupOf(m.name);
      const key = group + ' ' + kind;
      if (!groups.has(key)) groups.set(key, {group, kind, names: []});
      groups.get(key).names.push(m.name);
    }
    const rank = (g) => (g.startsWith('capture') ? 2 : g.startsWith('generic.') ? 1 : 0);
    const ordered = [...groups.values()].sort((a, b) => rank(a.group) - rank(b.group) ||
      a.group.localeCompare(b.group) || KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
    if (!ordered.length) {
      this.container.innerHTML = '<p class="muted" id="no-metrics">No metrics yet: they appear once the collector reports (a few seconds after the monitor becomes active).</p>';
      return;
    }
    this.container.innerHTML = `<p class="muted">Last ${this.windowMs / 60000} minutes at ${esc(this.mon.interval_ms)} ms;
      dashed red: anomaly score; shaded: alarm periods.</p><div class="charts">${ordered.map((g, i) =>
      `<div class="chart-box"><h3 id="live-title-${i}">${esc(g.group)} — ${esc(g.kind)}</h3>
       <div class="canvas-wrap"><canvas id="live-${i}" role="img" aria-labelledby="live-title-${i}"
       data-group="${esc(g.group)}" data-kind="${esc(g.kind)}"></canvas></div></div>`).join('')}</div>`;
    const now = Date.now();
    ordered.forEach((g, i) => {
      const canvas = this.container.querySelector('#live-' + i);
      const chart = charts.lineChart(canvas, g.names.map(n => ({label: n, data: []})),
        {xMin: now - this.windowMs, xMax: now, score: [], periods: [],
         yLabel: g.kind === 'latency' ? 'ms' : 'per interval'});
      this.charts.push({chart, canvas, names: g.names, visible: false});
    });
    this.observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const c = this.charts.find(c => c.canvas === e.target);
        if (c) c.visible = e.isIntersecting;
      }
      this.tick();
    });
    for (const c of this.charts) this.observer.observe(c.canvas);
  }

  async tick() {
    if (this.busy || document.hidden) return;
    this.busy = true;
    try {
      const now = Date.now();
      const from = now - this.windowMs;
      if (this.mon.alarm_id) {
        const [a, h] = await Promise.all([api.get('/v1/alarms/' + this.mon.alarm_id),
          api.get('/v1/alarms/' + this.mon.alarm_id + '/history?limit=50')]);
        this.alarm = a.alarm;
        this.periods = charts.alarmPeriods(h.history, a.alarm, now);
        if (a.alarm.score !== null && a.alarm.score !== undefined) this.score.push({x: now, y: a.alarm.score});
        this.score = this.score.filter(p => p.x >= from);
      }
      const wanted = new Set();
      for (const c of this.charts) if (c.visible) c.names.forEach(n => wanted.add(n));
      await pool([...wanted].map(name => async () => {
        const have = this.series.get(name) || [];
        const start = have.length ? have[have.length - 1].x + 1 : from;
        const fresh = await api.series(this.mon.id, name, start, now + 1000).catch(() => []);
        this.series.set(name, have.concat(fresh).filter(p => p.x >= from));
      }));
      for (const c of this.charts) {
        if (!c.visible) continue;
        c.names.forEach((n, i) => { c.chart.data.datasets[i].data = this.series.get(n) || []; });
        c.chart.data.datasets[c.names.length].data = this.score;
        c.chart.options.scales.x.min = from;
        c.chart.options.scales.x.max = now;
        c.chart.options.plugins.annotation.annotations = charts.bandAnnotations(
          this.periods.filter(p => p.to >= from).map(p => ({from: Math.max(p.from, from), to: p.to})));
        c.chart.update('none');
        c.canvas.dataset.points = String(c.names.reduce((n, name) =>
          n + (this.series.get(name) || []).length, 0));
      }
    } finally {
      this.busy = false;
    }
  }

  destroy() {
    if (this.observer) this.observer.disconnect();
    for (const c of this.charts) c.chart.destroy();
  }
}

export async function render({main, params}) {
  const conf = api.getConfig();
  const id = params[0];
  let mon = (await api.get('/v1/monitors/' + id)).monitor;
  let alarm = null;
  if (mon.alarm_id) {
    try { alarm = (await api.get('/v1/alarms/' + mon.alarm_id)).alarm; } catch (e) { alarm = null; }
  }
  main.innerHTML = `${breadcrumb([['Project'], ['Monitors', '#/monitors'], [mon.name || mon.id]])}
    <div class="page-header"><h1>${esc(mon.name || mon.id)}</h1>${statusBadge(mon.status)}
      <div class="actions">
        <button type="button" class="btn" id="act-rebaseline">Rebaseline</button>
        <button type="button" class="btn" id="act-edit-actions">Edit alarm actions</button>
        <button type="button" class="btn btn-danger" id="act-delete">Delete monitor</button></div></div>
    <div id="monitor-error"></div>
    ${tabsHtml('monitor', [['overview', 'Overview'], ['metrics', 'Live metrics'], ['flows', 'Flows']])}`;
  const panel = (name) => main.querySelector('#monitor-panel-' + name);
  const showError = (e) => { main.querySelector('#monitor-error').innerHTML = alertBox(e.message); };
  panel('overview').innerHTML = overviewHtml(mon, alarm);
  panel('metrics').innerHTML = '<p class="muted">Loading metrics…</p>';
  panel('flows').innerHTML = '<p class="muted">Loading flows…</p>';

  if (api.isAdmin()) {
    api.get('/v1/collectors' + api.qs({monitor_id: mon.id})).then((data) => {
      const box = panel('overview').querySelector('#collectors-panel');
      box.hidden = false;
      box.querySelector('#collectors').innerHTML = `<table class="data"><thead><tr>
        <th scope="col">Host (agent)</th><th scope="col">Tap</th><th scope="col">Port</th><th scope="col">Status</th>
        <th scope="col">Generation</th></tr></thead><tbody>${data.collectors.map(c => `<tr>
        <td>${esc(c.host)}</td><td class="mono">${esc(c.tap_device)}</td><td class="mono">${esc(c.port_id)}</td>
        <td>${esc(c.status)} <span class="muted">${esc(c.status_reason || '')}</span></td>
        <td>${esc(c.generation)}</td></tr>`).join('') ||
        '<tr><td colspan="5" class="muted">No collector placed yet.</td></tr>'}</tbody></table>`;
    }).catch(showError);
  }

  let live = null;
  let timer = null;
  let current = 'overview';

  async function loadFlows() {
    const [hh, flows] = await Promise.all([
      api.get('/v1/monitors/' + mon.id + '/heavy_hitters?limit=10'),
      api.get('/v1/monitors/' + mon.id + '/flows?limit=50')]);
    panel('flows').innerHTML = `<div class="panel"><h2>Heavy hitters (latest interval, by bytes)</h2>
      ${flowTable('heavy-hitters-table', 'Top flows of the latest interval', hh.heavy_hitters)}</div>
      <div class="panel"><h2>Recent flows</h2>${flowTable('flows-table', 'Newest first', flows.flows)}</div>`;
  }

  async function onTab(name) {
    current = name;
    try {
      if (name === 'metrics' && !live) {
        live = new LiveCharts(panel('metrics'), mon, alarm, conf.live_window);
        await live.build();
      }
      if (name === 'flows') await loadFlows();
    } catch (e) { showError(e); }
  }
  tabs(main, ['overview', 'metrics', 'flows'], onTab, 'overview');
  const refreshMs = Math.min(2000, conf.refresh_interval * 1000);
  timer = setInterval(() => {
    if (document.hidden) return;
    if (current === 'metrics' && live) live.tick().catch(showError);
    if (current === 'flows') loadFlows().catch(showError);
  }, refreshMs);

  main.querySelector('#act-rebaseline').addEventListener('click', async () => {
    try {
      const m = await actions.rebaseline(mon);
      if (m) { mon = Object.assign(mon, m); panel('overview').innerHTML = overviewHtml(mon, alarm); }
    } catch (e) { showError(e); }
  });
  main.querySelector('#act-edit-actions').addEventListener('click', async () => {
    try {
      const m = await actions.editActions(mon);
      if (m) { mon = Object.assign(mon, m); panel('overview').innerHTML = overviewHtml(mon, alarm); }
    } catch (e) { showError(e); }
  });
  main.querySelector('#act-delete').addEventListener('click', async () => {
    try {
      if (await actions.deleteMonitor(mon)) location.hash = '#/monitors';
    } catch (e) { showError(e); }
  });
  return () => { clearInterval(timer); if (live) live.destroy(); };
}

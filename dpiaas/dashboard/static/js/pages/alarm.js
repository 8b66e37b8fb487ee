// Alarm detail: what is wrong (top metrics, observed vs expected), when it
// changed (history timeline) and a chart of the contributing metrics
// around the transition with the alarm period shaded.
import * as api from '../api.js';
import * as charts from '../charts.js';
import {esc, stateBadge, severityBadge, fmtTime, fmtNum, timeCell, breadcrumb,
        tabs, tabsHtml, alertBox} from '../ui.js';

const BEFORE_MS = 5 * 60 * 1000;   // context shown before the transition
const AFTER_MS = 2 * 60 * 1000;    // and after it ends

// The explanation as a list of {metric, observed, expected, contribution}
// whatever form the detector stored it in.
export function topMetrics(explanation) {
  if (!explanation) return [];
  let list = explanation;
  if (!Array.isArray(list)) list = list.top_metrics || list['top metrics'] || list.metrics || [];
  return list.filter(e => e && e.metric).map(e => ({
    metric: e.metric,
    observed: e.observed !== undefined ? e.observed : e.value,
    expected: e.expected,
    contribution: e.contribution !== undefined ? e.contribution : e.weight,
    unit: e.unit || '',
  }));
}

function explanationTable(top) {
  if (!top.length) return '<p class="muted">No explanation: the alarm has not fired.</p>';
  return `<table class="data" id="explanation-table">
    <caption>Top contributing metrics</caption>
    <thead><tr><th scope="col">Metric</th><th scope="col" class="num">Observed</th>
      <th scope="col" class="num">Expected</th><th scope="col" class="num">Contribution</th></tr></thead>
    <tbody>${top.map(e => `<tr><td class="mono">${esc(e.metric)}</td>
      <td class="num">${esc(fmtNum(e.observed))}${esc(e.unit)}</td>
      <td class="num">${esc(fmtNum(e.expected))}${esc(e.unit)}</td>
      <td class="num">${esc(fmtNum(e.contribution))}</td></tr>`).join('')}</tbody></table>`;
}

function timeline(history) {
  if (!history.length) return '<p class="muted">No state change yet.</p>';
  return `<ol class="timeline" id="history-timeline">${history.map(h => `
    <li class="to-${esc(h.state)}"><strong>${esc(fmtTime(h.timestamp))}</strong>
      ${stateBadge(h.previous)} → ${stateBadge(h.state)} ${severityBadge(h.severity)}
      ${h.score !== null && h.score !== undefined ? `<span class="muted">score ${esc(fmtNum(h.score))}</span>` : ''}
      <div>${esc(h.reason || '')}</div>
      ${topMetrics(h.explanation).length ? `<div class="muted">top: ${topMetrics(h.explanation)
        .map(e => esc(e.metric)).join(', ')}</div>` : ''}</li>`).join('')}</ol>`;
}

// The metrics to chart: the explanation's, else the latest alarm entry's.
function chartMetrics(alarm, history) {
  let top = topMetrics(alarm.explanation);
  if (!top.length) {
    const fired = history.find(h => h.state === 'alarm' && topMetrics(h.explanation).length);
    if (fired) top = topMetrics(fired.explanation);
  }
  return top.map(e => e.metric);
}

// The detector also names derived features (http.80.error_share,
// dns.53.no_messages), which are not stored series: chart the stored
// metrics named first, then the responses and requests of the services
// the other names belong to. At most three lines.
async function chartable(monitorId, names) {
  let stored;
  try {
    stored = (await api.get('/v1/monitors/' + monitorId + '/metrics'))
      .metrics.map(m => m.name);
  } catch (e) {
    return names.slice(0, 3);
  }
  const have = new Set(stored);
  const out = [];
  const add = (n) => { if (have.has(n) && !out.includes(n) && out.length < 3) out.push(n); };
  names.forEach(add);
  for (const n of names) {
    if (have.has(n)) continue;
    const svc = n.split('.').slice(0, 2).join('.') + '.';
    // informational and redirect classes say little about a fault
    stored.filter(s => s.startsWith(svc + 'responses.') && !/\.(1xx|3xx)$/.test(s))
      .forEach(add);
    stored.filter(s => s.startsWith(svc + 'requests.') || s === svc + 'queries').forEach(add);
  }
  return out;
}

async function drawChart(panel, alarm, history, periods) {
  const names = await chartable(alarm.monitor_id, chartMetrics(alarm, history));
  const box = panel.querySelector('#alarm-chart-box');
  if (!names.length) {
    box.innerHTML = '<p class="muted">No contributing metrics to chart yet.</p>';
    return null;
  }
  const now = Date.now();
  const last = periods.length ? periods[periods.length - 1] : null;
  const from = (last ? last.from : Date.parse(alarm.state_timestamp) || now) - BEFORE_MS;
  const to = Math.min(now, (last && !last.open ? last.to : now) + AFTER_MS);
  const data = await Promise.all(names.map(n =>
    api.series(alarm.monitor_id, n, from, to).catch(() => [])));
  const inWindow = periods.filter(p => p.to >= from && p.from <= to)
    .map(p => ({from: Math.max(p.from, from), to: Math.min(p.to, to)}));
  const score = history.filter(h => h.score !== null && h.score !== undefined)
    .map(h => ({x: Date.parse(h.timestamp), y: h.score}))
    .filter(p => p.x >= from && p.x <= to).reverse();
  box.innerHTML = `<h3 id="alarm-chart-title">${esc(names.join(', '))} around the transition
    (shaded: alarm)</h3><div class="canvas-wrap"><canvas id="alarm-chart" role="img"
    aria-labelledby="alarm-chart-title"></canvas></div>`;
  const canvas = box.querySelector('canvas');
  const chart = charts.lineChart(canvas, names.map((n, i) => ({label: n, data: data[i]})),
    {periods: inWindow, xMin: from, xMax: to, score: score.length ? score : null});
  const points = data.reduce((n, d) => n + d.length, 0);
  canvas.dataset.points = String(points);
  canvas.dataset.bands = String(inWindow.length);
  canvas.setAttribute('aria-label', `Chart of ${names.join(', ')}: ${points} points, ` +
    `${inWindow.length} shaded alarm period(s)`);
  return chart;
}

export async function render({main, params}) {
  const id = params[0];
  const [alarmResp, historyResp] = await Promise.all([
    api.get('/v1/alarms/' + id), api.get('/v1/alarms/' + id + '/history?limit=100')]);
  const alarm = alarmResp.alarm;
  const history = historyResp.history;
  let monitor = null;
  try { monitor = (await api.get('/v1/monitors/' + alarm.monitor_id)).monitor; } catch (e) { monitor = null; }
  const periods = charts.alarmPeriods(history, alarm);
  const top = topMetrics(alarm.explanation);
  main.innerHTML = `${breadcrumb([['Project'], ['Alarms', '#/alarms'], [alarm.name || alarm.id]])}
    <div class="page-header"><h1>${esc(alarm.name || alarm.id)}</h1>${stateBadge(alarm.state)}
      ${severityBadge(alarm.severity)}
      <div class="actions"><a class="btn" href="#/monitors/${esc(alarm.monitor_id)}">Open monitor</a></div></div>
    ${tabsHtml('alarm', [['overview', 'Overview'], ['history', 'History']])}`;
  const overview = main.querySelector('#alarm-panel-overview');
  overview.innerHTML = `<div class="panel"><dl class="props">
      <dt>State</dt><dd>${stateBadge(alarm.state)} since ${timeCell(alarm.state_timestamp)}
        (${esc(fmtTime(alarm.state_timestamp))})</dd>
      <dt>Reason</dt><dd id="alarm-reason">${esc(alarm.state_reason || '')}</dd>
      <dt>Severity</dt><dd>${severityBadge(alarm.severity)}</dd>
      <dt>Score</dt><dd>${esc(fmtNum(alarm.score))}</dd>
      <dt>Monitor</dt><dd><a href="#/monitors/${esc(alarm.monitor_id)}">${esc(monitor ? (monitor.name || monitor.id) : alarm.monitor_id)}</a>
        ${monitor ? (monitor.server_id ? `(server <span class="mono">${esc(monitor.server_id)}</span>)`
          : `(port <span class="mono">${esc(monitor.port_id)}</span>)`) : ''}</dd>
      <dt>Alarm id</dt><dd class="mono">${esc(alarm.id)}</dd></dl></div>
    <div class="panel"><h2>Explanation</h2>${explanationTable(top)}</div>
    <div class="chart-box" id="alarm-chart-box"><p class="muted">Loading the chart…</p></div>`;
  main.querySelector('#alarm-panel-history').innerHTML =
    `<div class="panel"><h2>State changes, newest first</h2>${timeline(history)}</div>`;
  tabs(main, ['overview', 'history'], null, 'overview');
  let chart = null;
  try {
    chart = await drawChart(overview, alarm, history, periods);
  } catch (e) {
    overview.querySelector('#alarm-chart-box').innerHTML = alertBox(e.message);
  }
  return () => { if (chart) chart.destroy(); };
}

// Chart.js (shipped in static/vendor with its licence) with the annotation
// plugin for shaded alarm periods. Time runs on a linear axis of epoch
// milliseconds, so no date adapter is needed.
const PALETTE = ['#0b5cad', '#c25400', '#1e6b33', '#7b2d9b', '#b3261e',
                 '#00707a', '#6b5a00', '#3d4a57', '#a3336b', '#4a6a00'];
let registered = false;

function ensure() {
  if (!registered) {
    const plugin = window['chartjs-plugin-annotation'];
    if (plugin) window.Chart.register(plugin);
    registered = true;
  }
  return window.Chart;
}

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString(undefined, {hour12: false});
}

export function color(i) { return PALETTE[i % PALETTE.length]; }

// Boxes over [from, to] (epoch ms) for each alarm period.
export function bandAnnotations(periods) {
  const out = {};
  periods.forEach((p, i) => {
    out['alarm' + i] = {
      type: 'box', xMin: p.from, xMax: p.to, drawTime: 'beforeDatasetsDraw',
      backgroundColor: 'rgba(179, 38, 30, 0.14)', borderWidth: 0,
      label: {display: true, content: 'alarm', position: 'start',
              color: '#7a1a14', font: {size: 10}},
    };
  });
  return out;
}

// A line chart of several series; options: periods (shaded), score (a
// dataset on a right-hand axis), xMin/xMax (epoch ms), yLabel.
export function lineChart(canvas, datasets, options = {}) {
  const Chart = ensure();
  const sets = datasets.map((d, i) => ({
    label: d.label, data: d.data, borderColor: color(i),
    backgroundColor: color(i), borderWidth: 1.5, pointRadius: 0,
    pointHitRadius: 4, tension: 0, spanGaps: false, yAxisID: 'y',
  }));
  const scales = {
    x: {type: 'linear', min: options.xMin, max: options.xMax,
        ticks: {callback: clock, maxTicksLimit: 6, color: '#55606b'}},
    y: {beginAtZero: true, title: {display: !!options.yLabel, text: options.yLabel || ''},
        ticks: {color: '#55606b'}},
  };
  if (options.score) {
    sets.push({label: 'anomaly score', data: options.score, borderColor: '#b3261e',
               backgroundColor: '#b3261e', borderDash: [4, 3], borderWidth: 1.5,
               pointRadius: 2, stepped: true, yAxisID: 'score'});
    scales.score = {position: 'right', beginAtZero: true, grid: {drawOnChartArea: false},
                    title: {display: true, text: 'score'}, ticks: {color: '#b3261e'}};
  }
  return new Chart(canvas, {
    type: 'line',
    data: {datasets: sets},
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      parsing: false, normalized: true,
      interaction: {mode: 'nearest', axis: 'x', intersect: false},
      scales,
      plugins: {
        legend: {position: 'bottom', labels: {boxWidth: 10, font: {size: 11}}},
        tooltip: {callbacks: {title: (items) => items.length ? clock(items[0].parsed.x) : ''}},
        annotation: {annotations: bandAnnotations(options.periods || [])},
      },
    },
  });
}

// Alarm periods [{from, to}] (epoch ms) from an alarm's history (newest
// first, as the API lists it) and its current state.
export function alarmPeriods(history, alarm, nowMs = Date.now()) {
  const entries = [...history].reverse();
  const out = [];
  let open = null;
  for (const h of entries) {
    const t = Date.parse(h.timestamp);
    if (h.state === 'alarm' && open === null) open = t;
    else if (h.state !== 'alarm' && open !== null) { out.push({from: open, to: t}); open = null; }
  }
  if (open === null && alarm && alarm.state === 'alarm' && alarm.state_timestamp) {
    open = Date.parse(alarm.state_timestamp);
  }
  if (open !== null) out.push({from: open, to: nowMs, open: true});
  return out;
}

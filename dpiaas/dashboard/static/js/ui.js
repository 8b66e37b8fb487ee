// Small DOM helpers shared by the pages: escaping, badges, tabs, dialogs.
const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};

export function esc(value) {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, c => ESC[c]);
}

export const main = () => document.getElementById('main');

export function stateBadge(state) {
  const label = {alarm: 'Alarm', ok: 'OK', insufficient_data: 'Insufficient data'}[state] || state;
  return `<span class="badge state-${esc(state)}">${esc(label)}</span>`;
}

export function severityBadge(sev) {
  if (!sev) return '<span class="muted">—</span>';
  return `<span class="badge sev-${esc(sev)}">${esc(sev)}</span>`;
}

export function statusBadge(status) {
  return `<span class="badge status-${esc(status)}">${esc(status)}</span>`;
}

export function shortId(id) { return id ? esc(String(id).slice(0, 8)) : '—'; }

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, {hour12: false});
}

export function ago(iso, now = Date.now()) {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

export function timeCell(iso) {
  return iso ? `<time datetime="${esc(iso)}" title="${esc(fmtTime(iso))}">${esc(ago(iso))}</time>` : '—';
}

export function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const n = Number(v);
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  return String(Math.round(n * 1000) / 1000);
}

export function alertBox(message, kind = 'error') {
  return `<div class="alert alert-${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${esc(message)}</div>`;
}

export function showError(container, err) {
  const box = document.createElement('div');
  box.innerHTML = alertBox(err && err.message ? err.message : String(err));
  container.prepend(box.firstChild);
}

export function toast(message) {
  const el = document.createElement('div');
  el.className = 'toast';
  el.textContent = message;
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), 4000);
}

export function breadcrumb(parts) {
  return `<nav class="breadcrumb" aria-label="Breadcrumb">${parts.map(([label, href]) =>
    href ? `<a href="${esc(href)}">${esc(label)}</a>` : esc(label)).join(' / ')}</nav>`;
}

// Tabs with the ARIA tab pattern: arrow keys move between tabs, the
// selected tab's panel is the only one shown. onShow(name) runs on change.
export function tabs(container, names, onShow, selected) {
  const list = container.querySelector('[role="tablist"]');
  const buttons = [...list.querySelectorAll('[role="tab"]')];
  function select(name, focus) {
    for (const b of buttons) {
      const on = b.dataset.tab === name;
      b.setAttribute('aria-selected', on ? 'true' : 'false');
      b.tabIndex = on ? 0 : -1;
      const panel = container.querySelector('#' + b.getAttribute('aria-controls'));
      panel.hidden = !on;
      if (on && focus) b.focus();
    }
    onShow && onShow(name);
  }
  for (const b of buttons) {
    b.addEventListener('click', () => select(b.dataset.tab, false));
    b.addEventListener('keydown', (ev) => {
      const i = buttons.indexOf(b);
      if (ev.key === 'ArrowRight') select(buttons[(i + 1) % buttons.length].dataset.tab, true);
      else if (ev.key === 'ArrowLeft') select(buttons[(i - 1 + buttons.length) % buttons.length].dataset.tab, true);
      else return;
      ev.preventDefault();
    });
  }
  select(selected || names[0], false);
  return select;
}

export function tabsHtml(id, items) {
  const head = items.map(([name, label], i) =>
    `<button type="button" role="tab" id="${id}-tab-${name}" data-tab="${name}" ` +
    `aria-controls="${id}-panel-${name}" aria-selected="${i ? 'false' : 'true'}">${esc(label)}</button>`).join('');
  const panels = items.map(([name]) =>
    `<section role="tabpanel" id="${id}-panel-${name}" aria-labelledby="${id}-tab-${name}" tabindex="0"></section>`).join('');
  return `<div class="tabs" role="tablist" aria-label="Sections">${head}</div>${panels}`;
}

// A modal <dialog>; resolves true when the confirming button is pressed.
export function confirmDialog(title, text, confirmLabel = 'Confirm', danger = false) {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.setAttribute('aria-labelledby', 'dlg-title');
    dlg.innerHTML = `<h2 id="dlg-title">${esc(title)}</h2><p>${esc(text)}</p>
      <div class="buttons"><button type="button" class="btn" value="cancel">Cancel</button>
      <button type="button" class="btn ${danger ? 'btn-danger' : 'btn-primary'}" value="ok">${esc(confirmLabel)}</button></div>`;
    document.body.append(dlg);
    const done = (ok) => { dlg.close(); dlg.remove(); resolve(ok); };
    dlg.querySelector('[value="cancel"]').addEventListener('click', () => done(false));
    dlg.querySelector('[value="ok"]').addEventListener('click', () => done(true));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(false); });
    dlg.showModal();
    dlg.querySelector('[value="cancel"]').focus();
  });
}

// A modal form; resolves to the FormData on submit or null on cancel.
export function formDialog(title, innerHtml, submitLabel = 'Save') {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.setAttribute('aria-labelledby', 'dlg-title');
    dlg.innerHTML = `<form class="form"><h2 id="dlg-title">${esc(title)}</h2>${innerHtml}
      <div class="buttons"><button type="button" class="btn" value="cancel">Cancel</button>
      <button type="submit" class="btn btn-primary">${esc(submitLabel)}</button></div></form>`;
    document.body.append(dlg);
    const form = dlg.querySelector('form');
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    dlg.querySelector('[value="cancel"]').addEventListener('click', () => done(null));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(null); });
    form.addEventListener('submit', (ev) => { ev.preventDefault(); done(new FormData(form)); });
    dlg.showModal();
    const first = form.querySelector('input, textarea, select');
    if (first) first.focus();
  });
}

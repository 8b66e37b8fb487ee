// Monitor actions shared by the list's row actions and the detail page.
import * as api from '../api.js';
import {esc, confirmDialog, formDialog, toast} from '../ui.js';

const DELETED = 'dpiaas.deleted_targets';   // ids only, to re-create easily

export function deletedTargets() {
  try { return JSON.parse(sessionStorage.getItem(DELETED) || '[]'); } catch (e) { return []; }
}

export async function deleteMonitor(mon) {
  const what = mon.name || mon.id;
  const ok = await confirmDialog('Delete monitor',
    `Stop monitoring and delete "${what}" with its alarm, metrics and flows? This cannot be undone.`,
    'Delete monitor', true);
  if (!ok) return false;
  await api.request('DELETE', '/v1/monitors/' + mon.id);
  const kept = deletedTargets().filter(t => t.id !== (mon.server_id || mon.port_id));
  kept.unshift({kind: mon.server_id ? 'server' : 'port', id: mon.server_id || mon.port_id,
                name: mon.name || ''});
  sessionStorage.setItem(DELETED, JSON.stringify(kept.slice(0, 10)));
  toast(`Monitor "${what}" deleted.`);
  return true;
}

export async function rebaseline(mon) {
  const ok = await confirmDialog('Rebaseline monitor',
    `Make the detector of "${mon.name || mon.id}" forget what it learned and learn normal behaviour again?`,
    'Rebaseline');
  if (!ok) return null;
  const resp = await api.request('POST', '/v1/monitors/' + mon.id + '/action', {rebaseline: {}});
  toast('Rebaseline requested.');
  return resp.monitor;
}

function urls(text) {
  return String(text || '').split(/\s+/).map(s => s.trim()).filter(Boolean);
}

export async function editActions(mon) {
  const form = await formDialog('Edit alarm actions', `
    <p class="muted">URLs (http or https) to POST the alarm to, one per line.</p>
    <label for="alarm_actions">When the alarm fires
      <textarea id="alarm_actions" name="alarm_actions" rows="3">${esc((mon.alarm_actions || []).join('\n'))}</textarea></label>
    <label for="ok_actions">When it is back to OK
      <textarea id="ok_actions" name="ok_actions" rows="3">${esc((mon.ok_actions || []).join('\n'))}</textarea></label>`,
  'Save actions');
  if (!form) return null;
  const resp = await api.request('PATCH', '/v1/monitors/' + mon.id, {monitor: {
    alarm_actions: urls(form.get('alarm_actions')), ok_actions: urls(form.get('ok_actions'))}});
  toast('Alarm actions saved.');
  return resp.monitor;
}

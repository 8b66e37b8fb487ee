"""Serialisation of a monitor's detector and alarm state to bytes.

Format: a numpy ``.npz`` archive (zip) of plain arrays plus one JSON
document (stored as a uint8 array named ``meta``), read back with
``allow_pickle=False``. Nothing in it is executable: a pickle or joblib
file from the database would run code on load, and the database is not a
place code should come from. ``format`` and ``version`` keys let a later
release refuse or convert old state.
"""
import io
import json

import numpy as np

from dpiaas.detect import features
from dpiaas.detect import params as params_mod

FORMAT = 'dpiaas-detector'
# 2: flags have no window features, application services' silence
# flag counts messages (state of version 1 has other feature vectors)
VERSION = 2


class StateError(ValueError):
    pass


def dumps(monitor):
    d = monitor.detector
    meta = {
        'format': FORMAT, 'version': VERSION,
        'monitor_id': monitor.monitor_id, 'project_id': monitor.project_id,
        'params': monitor.params.to_dict(), 'status': d.status,
        'last_ts': d._last_ts, 'learned_s': d._learned_s, 'gaps': d._gaps,
        'learn': [[ts, dt, m, g] for ts, dt, m, g in d._learn],
        'alarm': monitor.alarm.get_state(),
        'trained_at': d.trained_at, 'trained_rows': d.trained_rows,
        'thresholds': list(d.thresholds),
        'pending_ts': [p[0] for p in d._pending],
        'schema': d.schema.to_dict() if d.schema else None,
        'models': [],
    }
    arrays = {}
    if d.status == 'active':
        arrays['scaler.center'] = d.scaler.center
        arrays['scaler.scale'] = d.scaler.scale
        arrays['history'] = np.array(d._history).reshape(
            -1, d.schema.size)
        arrays['pending'] = np.array([p[1] for p in d._pending]).reshape(
            -1, d.schema.size)
        arrays['ring'] = d.extractor._ring
        arrays['ring.num'] = d.extractor._num
        arrays['ring.den'] = d.extractor._den
        meta['ring_n'] = d.extractor._n
        for i, m in enumerate(d.models):
            mmeta, marr = m.get_state()
            meta['models'].append({'name': m.name, 'meta': mmeta,
                                   'arrays': sorted(marr)})
            for k, v in marr.items():
                arrays['model%d.%s' % (i, k)] = v
    arrays['meta'] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def loads(cls, data, monitor_id=None, project_id=None):
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        meta = json.loads(bytes(z['meta']).decode())
    except Exception as e:
        raise StateError('detector state is unreadable: %s' % e)
    if meta.get('format') != FORMAT or meta.get('version') != VERSION:
        raise StateError('detector state format %s v%s is not supported'
                         % (meta.get('format'), meta.get('version')))
    if monitor_id is not None and meta['monitor_id'] != monitor_id:
        raise StateError('detector state belongs to monitor %s, not %s'
                         % (meta['monitor_id'], monitor_id))
    if project_id is not None and meta['project_id'] != project_id:
        raise StateError('detector state belongs to another project')
    p = params_mod.DetectorParams.build(meta['params'])
    mon = cls(meta['monitor_id'], meta['project_id'], p)
    d = mon.detector
    d._last_ts = meta['last_ts']
    d._learned_s = meta['learned_s']
    d._gaps = meta['gaps']
    d._learn = [(ts, dt, m, g) for ts, dt, m, g in meta['learn']]
    d.trained_at = meta['trained_at']
    d.trained_rows = meta['trained_rows']
    mon.alarm.set_state(meta['alarm'])
    if meta['status'] == 'active':
        d.status = 'active'
        d.schema = features.FeatureSchema.from_dict(meta['schema'])
        d.extractor = features.FeatureExtractor(d.schema)
        d.extractor._ring[:] = z['ring']
        d.extractor._num[:] = z['ring.num']
        d.extractor._den[:] = z['ring.den']
        d.extractor._n = meta['ring_n']
        d.scaler = features.RobustScaler(z['scaler.center'],
                                         z['scaler.scale'])
        d.thresholds = meta['thresholds']
        for i, (m, mm) in enumerate(zip(d.models, meta['models'])):
            if m.name != mm['name']:
                raise StateError('detector state has model %s where %s '
                                 'is configured' % (mm['name'], m.name))
            m.set_state(mm['meta'], {k: z['model%d.%s' % (i, k)]
                                     for k in mm['arrays']})
        d._history.extend(z['history'])
        d._pending.extend(zip(meta['pending_ts'], z['pending']))
    return mon

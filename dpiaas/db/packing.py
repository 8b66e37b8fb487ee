"""Sample values packed as float64 bytes, and their aggregation.

A sample row holds its values in the order of its layout's names. Values
missing from a layout read as NaN; aggregation sums counters and takes
the maximum of latencies (``*.latency_ms.*``), ignoring NaN, and gives NaN
only where no row had a value.
"""
import struct

import numpy as np

DTYPE = np.dtype('<f8')


def is_latency(name):
    return 'latency_ms' in name.split('.')


def latency_mask(names):
    return np.fromiter((is_latency(n) for n in names), dtype=bool,
                       count=len(names))


_STRUCTS = {}


def pack(values):
    """float64 bytes of ``values`` (a sequence or a dict's values view).

    ``struct`` packs a few dozen plain numbers several times faster than
    a numpy array does (this runs for every sample ingested); anything
    else (None as NaN, numbers as strings) goes through numpy.
    """
    n = len(values)
    fmt = _STRUCTS.get(n)
    if fmt is None:
        fmt = _STRUCTS.setdefault(n, struct.Struct('<%dd' % n))
    try:
        return fmt.pack(*values)
    except struct.error:
        return np.asarray(list(values), dtype=DTYPE).tobytes()


def unpack(blobs, width):
    """Blobs of one layout -> array (len(blobs), width)."""
    if width == 0:
        return np.zeros((len(blobs), 0), DTYPE)
    return np.frombuffer(b''.join(blobs), DTYPE).reshape(-1, width)


def reduce_rows(values, latency):
    """Aggregate rows (axis 0) of one bucket or one timestamp."""
    if not len(values):
        return np.full(values.shape[1:], np.nan)
    out = np.where(latency, np.fmax.reduce(values, axis=0),
                   np.nansum(values, axis=0))
    return np.where((~np.isnan(values)).any(axis=0), out, np.nan)


def reduce_by_ts(ts, values, latency):
    """Rows sharing a timestamp combined: ``(unique_ts, values)``.

    ``values`` is (rows,) or (rows, names); ``latency`` a bool (rows) or
    a bool mask (names).
    """
    uts, inv = np.unique(ts, return_inverse=True)
    if len(uts) == len(ts):
        order = np.argsort(ts, kind='stable')
        return ts[order], values[order]
    shape = (len(uts),) + values.shape[1:]
    clean = np.nan_to_num(values, nan=0.0)
    sums = np.zeros(shape)
    np.add.at(sums, inv, clean)
    maxes = np.full(shape, -np.inf)
    np.fmax.at(maxes, inv, values)
    seen = np.zeros(shape)
    np.add.at(seen, inv, ~np.isnan(values))
    out = np.where(latency, maxes, sums)
    return uts, np.where(seen > 0, out, np.nan)

"""Deep packet inspection: packets in, per-interval protocol counters out.

This package is the hot path. It imports nothing from OpenStack so that it can
be used as a library (``dpiaas replay``, benchmarks, the agent's collectors)
and so that nothing on the packet path allocates per packet: packets arrive in
batches (:mod:`dpiaas.dpi.batch`) and are decoded by numba-compiled loops.

numba's on-disk cache is keyed by each function's own file only: a kernel
compiled against an older version of a helper in another module would be
loaded stale. The cache therefore lives in a folder named after a digest of
this package's sources, so any change to any of them compiles afresh.
"""
import hashlib
import os
import pathlib


def _numba_cache_dir():
    here = pathlib.Path(__file__).parent
    digest = hashlib.sha1()
    for path in sorted(here.rglob('*.py')):
        digest.update(path.relative_to(here).as_posix().encode())
        digest.update(path.read_bytes())
    base = os.environ.get('DPIAAS_NUMBA_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
        'dpiaas', 'numba')
    return os.path.join(base, digest.hexdigest()[:16])


def _configure_numba_cache():
    path = _numba_cache_dir()
    os.environ['NUMBA_CACHE_DIR'] = path
    import numba.core.config
    numba.core.config.CACHE_DIR = path


_configure_numba_cache()

"""Deep packet inspection: packets in, per-interval protocol counters out.

This package is the hot path. It imports nothing from OpenStack so that it can
be used as a library (``dpiaas replay``, benchmarks, the agent's collectors)
and so that nothing on the packet path allocates per packet: packets arrive in
batches (:mod:`dpiaas.dpi.batch`) and are decoded by numba-compiled loops.
"""

"""Capture backends: where batches of packets come from.

Every backend yields :class:`dpiaas.dpi.batch.PacketBatch` objects. Errors a
collector must survive (an interface that vanished, a filter libpcap
rejects, missing privileges) are raised as :class:`CaptureError` with a
one-line message, so that the agent can stop that one collector and report
why instead of dying with a traceback.

This package imports nothing heavy: the live backend (``afpacket``) and the
filter compiler (``bpf``) are imported where they are used.
"""


class CaptureError(Exception):
    """A capture cannot start or cannot go on; ``str()`` says why."""

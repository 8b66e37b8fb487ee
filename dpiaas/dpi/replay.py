"""Offline replay: capture files through the same pipeline as live capture."""
import logging

from dpiaas.dpi import pcapfile
from dpiaas.dpi import pipeline
from dpiaas.dpi import settings as settings_mod

LOG = logging.getLogger(__name__)


def replay_files(paths, spec, settings=None, progress=None):
    """Yield the IntervalReport of every interval of ``paths``, in order.

    Files are one stream, in the order given (as if captured back to back).
    ``progress``, if given, is called with the number of packets of each
    batch read.
    """
    settings = settings or settings_mod.DpiSettings()
    collector = pipeline.Collector(spec, settings)
    for path in paths:
        for batch in pcapfile.read_batches(path, settings.batch_size):
            yield from collector.feed(batch)
            if progress is not None:
                progress(len(batch))
    yield from collector.flush()
    replay_files.last_stats = collector.stats()

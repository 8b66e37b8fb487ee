"""The built-in decoders as stevedore plugins (``dpiaas.dissectors``).

Each entry describes one decoder: its application name, the metrics it
reports (DESIGN 4.2) and the ports it is the well-known decoder for. The
packet kernel calls the compiled decoders directly (numba cannot dispatch
through Python objects); this catalogue is what tools, docs and the API use
to know which applications and metric names exist.
"""
import dataclasses

from dpiaas.dpi import metrics


@dataclasses.dataclass(frozen=True)
class Dissector:
    name: str
    app_id: int
    metrics: tuple
    well_known: tuple      # ((l4, port), ...)
    transports: tuple


GENERIC = Dissector('generic', metrics.APP_GENERIC, metrics.COMMON, (),
                    ('tcp', 'udp'))
SIP = Dissector('sip', metrics.APP_SIP, metrics.app_metric_names('sip'),
                (('udp', 5060), ('tcp', 5060)), ('udp', 'tcp'))
HTTP = Dissector('http', metrics.APP_HTTP, metrics.app_metric_names('http'),
                 (('tcp', 80), ('tcp', 8080), ('tcp', 8000)), ('tcp',))
DNS = Dissector('dns', metrics.APP_DNS, metrics.app_metric_names('dns'),
                (('udp', 53), ('tcp', 53)), ('udp', 'tcp'))


def load_all():
    """The dissectors registered under ``dpiaas.dissectors``, by name."""
    from stevedore import extension
    mgr = extension.ExtensionManager('dpiaas.dissectors')
    return {ext.name: ext.plugin for ext in mgr}

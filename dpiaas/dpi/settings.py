"""Tunables of the packet path, as plain data.

The oslo.config options in :mod:`dpiaas.conf.dpi` map one to one onto these
fields; the packet path itself never imports oslo.config so that it stays a
library usable from tests, benchmarks and ``dpiaas replay``.
"""
import dataclasses


@dataclasses.dataclass
class DpiSettings:
    interval_ms: int = 500
    batch_size: int = 8192
    # Application streams (TCP connections on decoded services) tracked at
    # once: 832 bytes each (13 MiB for the default).
    stream_table_size: int = 16384
    # Requests awaiting a response (latency pairing) per collector.
    pending_table_size: int = 65536
    pending_timeout_s: float = 32.0
    # Latency samples kept per service and interval for p50/p95.
    latency_samples: int = 4096
    # Flow table (all 5-tuples): capacity (144 bytes a flow), idle timeout,
    # heavy hitters.
    flow_table_size: int = 65536
    flow_idle_timeout_s: float = 30.0
    heavy_hitters: int = 10
    # FlowRegulator sketch in front of the flow table, in bytes; without it
    # every packet updates the table (exact counts).
    flow_regulator: bool = True
    regulator_bytes: int = 131072
    # IP fragments awaiting reassembly.
    fragment_max_datagrams: int = 4096
    fragment_timeout_s: float = 30.0
    # Offline: a jump in capture time longer than this restarts the
    # interval clock instead of emitting every empty interval in between.
    max_gap_s: float = 3600.0

"""Anomaly detection on a monitor's metrics (DESIGN.md 3, "Detector").

A library with no storage, RPC or engine inside: the engine feeds each
monitor's intervals to a :class:`dpiaas.detect.monitor.Monitor`, stores
its ``to_bytes()`` with ``Storage.save_detector_state`` and passes the
alarm transitions it returns to the notifiers (:mod:`dpiaas.notifiers`).
Many monitors are scored in one numpy pass by
:class:`dpiaas.detect.batch.BatchScorer`.
"""

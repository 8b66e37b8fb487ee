"""The engine: schedules collectors on agents, ingests what they report,
watches that they live (see doc/source/contributor/control-plane.rst).

``service.EngineService`` wires the parts: ``scheduler`` (monitor ->
desired collectors), ``reconciler`` (desired vs stored vs running),
``rpc_endpoint`` (what agents and the API call), ``ingest`` (samples into
storage), ``liveness`` (agents gone quiet), ``coordination`` (which engine
owns which monitor), ``status`` (a monitor's status and why).
"""

"""Application decoders (SIP, HTTP, DNS) as numba functions on payload bytes.

The decoders are registered under the stevedore namespace
``dpiaas.dissectors`` (see :mod:`dpiaas.dpi.dissectors.catalog`) so that
tools can list them and their metrics; the packet kernel calls the compiled
functions directly, because numba cannot dispatch through Python objects.
"""

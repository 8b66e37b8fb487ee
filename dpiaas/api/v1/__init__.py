"""Handlers of API v1, one module per resource."""

"""The tenant-facing REST API v1 (DESIGN 4.4): Flask + jsonschema."""

"""WSGI entry points (``application`` objects for uwsgi and friends)."""

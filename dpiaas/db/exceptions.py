"""Errors of the storage layer (re-exported by :mod:`dpiaas.db.api`)."""


class StorageError(Exception):
    pass


class NotFound(StorageError):
    """No such object (or not in the caller's project)."""


class InvalidMarker(NotFound):
    """A pagination marker that names no object of the listing."""


class NotSynced(StorageError):
    """The database schema is missing or older than this code."""

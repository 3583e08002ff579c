"""The store: the only package that knows a database.

What crosses its boundary is in ``store.api`` (the ``Store`` protocol, one area each, and
the records); what this package itself offers the rest of the program is its errors.
``store.sqlite`` is the embedded implementation, the modules beside it its SQL.
"""

from bcl_console.store.errors import (
    StorageFull,
    StoreBusy,
    StoreCannotOpen,
    StoreError,
    StoreStandby,
    StoreUnavailable,
    disk_full,
)

__all__ = ["StorageFull", "StoreBusy", "StoreCannotOpen", "StoreError", "StoreStandby", "StoreUnavailable", "disk_full"]

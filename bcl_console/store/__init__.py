"""I/O with SQLite. Only this package knows SQL; every query has a function named for it."""

from bcl_console.store.db import Conn, Database, IntegrityError, StorageFull, StoreError, disk_full

__all__ = ["Conn", "Database", "IntegrityError", "StorageFull", "StoreError", "disk_full"]

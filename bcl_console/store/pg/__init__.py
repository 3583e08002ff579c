"""The PostgreSQL store: the same areas as the SQLite store (``store/<area>.py``), one
module each here with the same function names, async over an asyncpg connection
(``pg/db.py``). ``PgStore`` (``pg/store.py``) is the ``Store`` they make together."""

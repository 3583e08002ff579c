"""bcl-console: the operations console of a municipal infrastructure cloud (BCL)."""

__version__ = "0.1.0"

"""Async orchestration of the centre's functions; one module per function."""

"""Pure rules of the BCL domain: no I/O, no asyncio, nothing of ours imported."""

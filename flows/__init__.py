"""The declarative flow language and its pure engine (no I/O, imports nothing of ours)."""

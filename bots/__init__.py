"""The runtime: CLI, wiring, turn handling, delivery and the reminder scheduler."""

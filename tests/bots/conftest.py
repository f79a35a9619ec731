"""Fixtures of the bots tests (the harness itself lives in bots_harness.py)."""

from __future__ import annotations

from bots_harness import harness

__all__ = ["harness"]

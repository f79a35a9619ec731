"""Fixtures of the drill tests (the harness itself lives in drill_bot.py)."""

from __future__ import annotations

from drill_bot import svyaz_bot

__all__ = ["svyaz_bot"]

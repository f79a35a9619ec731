"""Messages about conversation test files, ``*.test.yaml`` (``flows.catalogue`` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

TESTS: Mapping[str, Mapping[str, str]] = {}

"""Maps the storage layer keeps in the process, bounded: the oldest entry goes first."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def put_bounded(mapping: dict[K, V], key: K, value: V, limit: int) -> None:
    """``mapping[key] = value``, dropping the oldest entry when a new key would pass ``limit``."""
    if key not in mapping and len(mapping) >= limit:
        del mapping[next(iter(mapping))]
    mapping[key] = value

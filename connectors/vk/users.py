"""Customers' names from VK's ``users.get`` (a VK update carries only ``from_id``).

Pure: no I/O. ``users.get`` takes up to 1000 comma-separated ``user_ids`` and answers a list
with one object per found user: ``id``, ``first_name``, ``last_name`` (and ``is_closed``,
``can_access_closed``; a closed profile still has its name). A deleted or banned profile has
``deactivated`` ("deleted", "banned") and ``first_name`` "DELETED": no name. A user VK does
not find is left out of the list.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.types import JSON

USERS_PER_CALL = 1000  # VK's ``user_ids`` limit
NAME_MAX = 200  # a longer "name" is not one; VK's own are far shorter


def users_params(user_ids: tuple[str, ...]) -> dict[str, str]:
    """The form of one ``users.get`` for ``user_ids`` (at most ``USERS_PER_CALL``)."""
    if not 0 < len(user_ids) <= USERS_PER_CALL:
        raise ValueError(f"users.get takes 1 to {USERS_PER_CALL} ids")
    return {"user_ids": ",".join(user_ids)}


def user_names(answer: JSON) -> dict[str, str]:
    """user id -> "first last" for each named, live profile in ``answer``."""
    found: dict[str, str] = {}
    for item in answer if isinstance(answer, list) else ():
        if isinstance(item, Mapping) and (name := _name(item)) is not None:
            found[str(item.get("id"))] = name
    return found


def _name(user: Mapping[str, JSON]) -> str | None:
    if user.get("deactivated") or not isinstance(user.get("id"), int):
        return None
    parts = [user.get("first_name"), user.get("last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    if not name or name == "DELETED" or len(name) > NAME_MAX:
        return None
    return name

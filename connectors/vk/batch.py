"""One text to up to 100 VK peers in one ``messages.send`` (``peer_ids``, PROTOCOLS.md B7).

Pure: no I/O. With ``peer_ids`` VK answers a list with one object per peer: ``peer_id`` and
``message_id`` / ``conversation_message_id`` when it was sent, or ``peer_id`` and
``error: {code, description}`` when that peer refused (e.g. 901: has not allowed messages);
``message_id`` is absent then (VKCOM/vk-api-schema 5.199 ``messages_send_user_ids_response_item``
and its issue #208). A whole-request error (914, 911, 6 ...) is the usual ``error`` envelope.

A batch has one key, derived from its members; its ``random_id`` comes from that key (as a
single message's comes from its outbox id). Each member's outbox entry names its batch and its
own peer (``address``; older versions' entries named every member), and the runtime keeps the
batch's members apart: a re-send after a crash sends the same peers with the same
``random_id`` again, which VK de-duplicates — whether it keys on the peer and ``random_id`` or
on ``random_id`` alone (the documentation does not say which), the same request is the one
that is safe. Only the peers whose copies are still claimed with this batch are re-sent
(``VkConnector``'s ``batch_members``): a batch is sent only once all its claims are written,
so a re-send to fewer peers is of a batch that never went out (a crash among its claims: the
peers left out went, or will go, with another batch) or one with an erased customer left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flows.types import JSON

PEERS_PER_CALL = 100  # VK's ``peer_ids`` limit
_PREFIX = "batch:"
MISSING = -1  # the answer had no object for this peer: counted as refused, never re-sent


@dataclass(frozen=True, slots=True)
class BatchAddress:
    """What a member's outbox entry stores as its ``user_id``: the batch (its key, its scope —
    the broadcast) and the member's own peer; ``peers`` and ``customers`` only in an older
    version's entry, which named each peer with its customer (empty: the runtime's
    ``batch_members`` finds them)."""

    key: str
    scope: str
    own: str
    peers: tuple[str, ...]
    customers: tuple[str, ...]  # (the customer of each of ``peers``)


def batch_key(scope: str, members: Iterable[str]) -> str:
    """The batch's key: the same members of the same ``scope`` (a broadcast) give the same key,
    so two processes forming the same batch send the same request."""
    text = "\n".join([scope, *sorted(members)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def address(key: str, scope: str, own: str, members: Sequence[tuple[str, str]] = ()) -> str:
    """A member's ``user_id``; ``members``, (peer, customer) pairs with neither holding
    ``:``, ``,`` or ``=``, as an older version wrote them."""
    stem = f"{_PREFIX}{key}:{scope}:{own}"
    return f"{stem}:{','.join(f'{p}={c}' for p, c in members)}" if members else stem


def parse_address(user_id: str) -> BatchAddress | None:
    """The batch a member's ``user_id`` names; None for a single peer."""
    if not user_id.startswith(_PREFIX):
        return None
    key, scope, own, *members = user_id.removeprefix(_PREFIX).split(":", 3)
    pairs = [member.partition("=") for member in members[0].split(",")] if members else []
    return BatchAddress(key, scope, own, tuple(p for p, _, _ in pairs),
                        tuple(c for _, _, c in pairs))


def with_peers(params: Mapping[str, str], peers: Sequence[str]) -> dict[str, str]:
    """A single message's parameters (``render``) sent to ``peers`` instead."""
    if len(peers) > PEERS_PER_CALL:
        raise ValueError(f"at most {PEERS_PER_CALL} peers per messages.send")
    call = {k: v for k, v in params.items() if k != "peer_id"}
    call["peer_ids"] = ",".join(peers)
    return call


def outcomes(answer: JSON, peers: Sequence[str]) -> dict[str, int]:
    """Per peer: 0 when sent, else VK's error code for it (``MISSING`` when not answered)."""
    found = dict.fromkeys(peers, MISSING)
    items = answer if isinstance(answer, list) else []
    for item in items:
        if not isinstance(item, dict) or str(item.get("peer_id")) not in found:
            continue
        error = item.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            found[str(item["peer_id"])] = code if isinstance(code, int) and code else MISSING
        else:
            found[str(item["peer_id"])] = 0
    return found


def worst(first: Mapping[str, int], then: Mapping[str, int]) -> dict[str, int]:
    """Two parts' outcomes together: a peer refused in either part is refused."""
    return {peer: first.get(peer) or code for peer, code in then.items()}

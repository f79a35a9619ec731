"""An operator's file for a MAX customer: uploaded through maxapi's client
(``MaxClient.upload``: ``POST /uploads``, then the bytes to the upload host) and named by its
token in the message's attachments. Without a way to read the file, the reply carries a
link instead. A re-send uploads again; the read-back of an outbox re-send skips a message
that had arrived.

Must not: read files itself or decide what to send.
"""

from __future__ import annotations

from dataclasses import replace

from connectors.attachments import with_file_link
from connectors.base import FileReader, Priority
from connectors.maxbot.client import MaxClient
from connectors.maxbot.render import CAPABILITIES, AttachmentJSON
from flows.types import Reply


async def with_file(client: MaxClient, read_file: FileReader | None, reply: Reply,
                    priority: Priority) -> tuple[Reply, list[AttachmentJSON]]:
    """``reply`` without its file, and the attachment naming the uploaded file."""
    file = reply.file
    if file is None or read_file is None:
        return with_file_link(reply, max_label=CAPABILITIES.max_label), []
    token = await client.upload(await read_file(file.id), file.name or "file",
                                image=file.kind == "photo", priority=priority)
    kind = "image" if file.kind == "photo" else "file"
    return replace(reply, file=None), [{"type": kind, "payload": {"token": token}}]

"""The lean comparison peer: the booking bot of ``maxapi_bot.py`` as most hand-written maxapi
bots and maxapi's own README and examples are written — ``Dispatcher(storage=RedisContext)``
and nothing else: no ``RedisEventIsolation`` (per-user lock), so two quick messages of one
customer may be handled at once and one state update lost. The same questions, checks,
handlers and reminders as the locking peer (one code, one switch); no history, no
de-duplication, no outbox.

Vendor Dispatcher/FSM use is allowed ONLY here in bench/peers (it is the thing compared
against). Run: ``python bench/peers/maxapi_lean.py --port P --redis-url URL`` with
``MAX_TOKEN``, ``MAX_API_URL``, ``MAX_WEBHOOK_SECRET`` in the environment.
"""

from __future__ import annotations

import maxapi_bot  # the sibling script: this file runs as a script from bench/peers

if __name__ == "__main__":
    maxapi_bot.main(isolate=False, doc=__doc__)

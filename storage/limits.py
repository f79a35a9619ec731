"""How long the stored things live and how many of them are allowed: the TTLs and limits of
``storage.keys``' names, in one place. ``storage.keys`` re-exports every name here, so a module
may take them from either; this module holds plain values only.
"""

from __future__ import annotations

DAY = 86_400
STATE_TTL = 30 * DAY  # inactive dialogue states expire
LOCK_TTL = 30.0  # seconds a customer lock lives unless released or extended
LOCK_WAIT = 10.0  # seconds lock() waits before LockTimeout
LINK_TOKEN_TTL = 15 * 60
LINK_TOKEN_BYTES = 16  # 128 bits of randomness
LINK_CODE_TTL = 10 * 60
INVITE_TTL = 30 * DAY  # an invitation link of an imported customer (``svyaz import --invite``)
LINK_CODE_DIGITS = 6
LINK_ACCOUNT_MAX_FAILURES = 5  # failed guesses per account within the window
LINK_ADDRESS_MAX_FAILURES = 20  # failed guesses per network address (web chat) within the window
LINK_ACCOUNT_WINDOW = 15 * 60
LINK_CONFIRM_TTL = 15 * 60  # a claimed link waits this long for the account's «Объединить»
LINK_FRESH_MESSAGES = 3  # a customer who typed fewer messages (and has no profile) is fresh
PHONE_MATCH_MAX = 3  # phone-match codes sent for one number within the window
PHONE_MATCH_WINDOW = 60 * 60
DEDUPE_TTL = DAY
HISTORY_MAXLEN = 10_000  # entries kept per customer (approximate trim)
HISTORY_MAX_AGE: float | None = None  # seconds; None: keep by length only
OUTBOX_LEASE_MS = 30_000  # an outbox entry untouched this long is claimable by another process
# The outbox is spread over this many key sets (``{outbox:<n>}``), a customer's entries in one
# (``storage.outbox.shard_of``), so a cluster spreads the replies over its nodes. Changing it
# strands nothing: an entry's id names its shard.
OUTBOX_SHARDS = 16
# The scheduler's leader renews its lock every second; a dead leader's jobs wait at most this.
SCHED_LEADER_TTL_MS = 8_000
# The poller's leader (VK Long Poll, MAX polling) renews every second; a dead one's updates wait
# at most this before another process polls on from the cursor it left.
POLL_LEADER_TTL_MS = 5_000
POLL_CURSOR_TTL = 7 * DAY  # VK and MAX keep updates for less; an older cursor is useless
REMINDER_CLAIM_TTL = 30 * DAY  # a fired tick's claim outlives any retry of that tick
NOTICE_TTL = 30 * DAY  # a notice record lives this long after its last change
SMS_INDEX_TTL = 7 * DAY  # delivery reports come within hours; later ones are ignored
SMS_DAY_TTL = 2 * DAY  # a customer's daily SMS counter outlives its day
SMS_MONTH_TTL = 62 * DAY  # the monthly SMS counter outlives its month
SMS_TAKE_TTL = DAY  # a quota take can be given back this long (a refused send is known at once)
WEB_DELIVERED_TTL = 60  # seconds a web relay's delivered mark answers the waiting sender
DESK_LOGIN_WINDOW = 15 * 60  # failed desk logins are counted over this many seconds
DESK_ACCOUNT_MAX_FAILURES = 5  # failed logins of one operator name within the window
DESK_ADDRESS_MAX_FAILURES = 20  # failed logins from one network address within the window
DESK_AUDIT_MAXLEN = 1_000_000  # audit records kept (approximate trim)
DESK_SHORT_TTL = 7 * DAY  # a hand-off's short number can be answered this long

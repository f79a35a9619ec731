"""SMS: the spare channel's lower layer (issue 14) — provider adapters, text fitting, callbacks.

Send-only: no inbound messages, no dialogue state. The ladder that decides *when* to send an
SMS (and the budget, the daily limit, the history) lives above this package; here is only how
to talk to SMS.ru and SMSC.ru and what their answers mean.
"""

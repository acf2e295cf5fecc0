"""Outgoing webhooks (spec 001 "Realtime") and spec 000's event bus listeners.

`webhooks/` is the other direction (incoming webhooks that post into a channel).
Endpoints and their subscriptions live in `service`/`repository`; `outbox` turns a
transaction's events into delivery rows before it commits; `worker` drains them.
"""

"""The domain every layer shares: its records, names and pure decisions.

Deliveries, messages and receipts as records; channels and statuses as enums; retry,
pause and disposition as pure functions. It imports nothing else of the reactor.
"""

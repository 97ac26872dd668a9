"""The exchange engine both nodes run: sending and receiving packages (engine, send, receive), receipts
and checkpoints across the gap, reconciliation, freshness alarms, the medium watcher and status.

Layering: ``keys`` → ``transfer`` → ``nodekit`` (home, config, database, CLI plumbing, the storage of
the exchange's own state) → ``exchange`` → the two nodes. Imports neither node.
"""

"""The public credit platform (信用公共网络平台): web pages and a JSON API over the published database.

Its own room: it reads the published database only through the node's query layer
(``public_node.queries``, ``search``, ``documents``), in one read transaction per request, and writes
only its own web database (rate-limit counters, issued credit reports; accounts and sessions next).
It never imports ``transfer`` internals and never touches the medium. Decisions: docs/adr/0010.
"""

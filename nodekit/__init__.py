"""What both nodes run on: home and configuration, the database, migrations and CLI conventions.

This package imports neither node; ``tests/unit/test_isolation.py`` enforces it.
"""

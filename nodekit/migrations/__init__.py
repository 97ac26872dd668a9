"""Alembic environment shared by both nodes; each node adds its own version location."""

"""Gossip: a self-hostable chat and community platform server."""

__version__ = "0.1.0"

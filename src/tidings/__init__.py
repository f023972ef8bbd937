"""Tidings: a self-hosted news aggregator that groups coverage of one event across outlets."""

__version__ = "0.1.0"

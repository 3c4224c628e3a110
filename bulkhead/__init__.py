"""Bulkhead: an isolated-margin CDP protocol in Vyper, with its Python tooling."""

__version__ = "0.1.0"

"""Versioned, checksummed model snapshots with metadata and tags (a local directory)."""

from streamlearn.registry.local import CorruptVersion, LocalRegistry, Version

__all__ = ["CorruptVersion", "LocalRegistry", "Version"]

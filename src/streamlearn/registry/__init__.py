"""Versioned, checksummed (optionally signed) model snapshots with metadata and tags: in a
local directory (default) or in Redis (shared deployments)."""

from streamlearn.registry.base import CorruptVersion, Registry, Version, read_key
from streamlearn.registry.local import LocalRegistry
from streamlearn.registry.redis import RedisRegistry

__all__ = ["CorruptVersion", "LocalRegistry", "RedisRegistry", "Registry", "Version", "read_key"]

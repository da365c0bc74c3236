"""Featurization: stable hashing, namespaces and crosses, online scaling, columnar input."""

from streamlearn.features.hasher import FeatureHasher
from streamlearn.features.hashing import cross_hash, hash_text
from streamlearn.features.scaling import OnlineScaler

__all__ = ["FeatureHasher", "OnlineScaler", "cross_hash", "hash_text"]

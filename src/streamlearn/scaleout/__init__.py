"""Scale-out: several workers on one stream. Parameter mixing through Redis (one global model
over partitions) and keyed workers (per-key state, one runner per Kafka partition)."""

from streamlearn.scaleout.mixing import ParameterMixer, mixable

__all__ = ["ParameterMixer", "mixable"]

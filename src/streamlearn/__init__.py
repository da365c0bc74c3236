"""streamlearn: models that keep learning from event streams, and serve while they learn."""

__version__ = "0.1.0"

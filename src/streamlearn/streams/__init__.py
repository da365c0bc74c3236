"""Sources and sinks of events. Files now; Kafka and Redis Streams come later."""

from streamlearn.streams.files import Batch, FileSource, Reject, detect_format

__all__ = ["Batch", "FileSource", "Reject", "detect_format"]

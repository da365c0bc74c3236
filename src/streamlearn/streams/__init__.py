"""Where events come from and where predictions go: the event batch, decoding and checking
of outside input, file and recorded sources, the in-process live queue (HTTP), dead letters
and prediction sinks. Kafka lives in :mod:`streamlearn.streams.kafka` (imported on demand:
it loads the Kafka client)."""

from streamlearn.streams.batch import EventBatch, StreamClock, as_ids
from streamlearn.streams.dead_letters import RejectLog, reason_kind
from streamlearn.streams.decode import check_event, event_columns
from streamlearn.streams.files import Batch, FileSource, Reject, detect_format
from streamlearn.streams.live import LiveEvents
from streamlearn.streams.protocol import EventSource, PredictionSink
from streamlearn.streams.sinks import CsvPredictions
from streamlearn.streams.sources import FileEvents, RecordedEvents

__all__ = [
    "Batch",
    "CsvPredictions",
    "EventBatch",
    "EventSource",
    "FileEvents",
    "FileSource",
    "LiveEvents",
    "PredictionSink",
    "RecordedEvents",
    "Reject",
    "RejectLog",
    "StreamClock",
    "as_ids",
    "check_event",
    "detect_format",
    "event_columns",
    "reason_kind",
]

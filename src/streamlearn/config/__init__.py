"""The application's configuration: the TOML schema (every section and key, validated with
pydantic before anything starts) and the builders that turn a config into learners, a
registry, an event source and a runner. It sits above the runner and scale-out, below the
service and the command line."""

from streamlearn.config.build import (
    build_challengers,
    build_model,
    build_registry,
    build_runner,
    file_events,
    kafka_events,
)
from streamlearn.config.schema import (
    ChallengerConfig,
    CheckpointConfig,
    ConfigError,
    DriftConfig,
    GateConfig,
    KafkaConfig,
    LabelsConfig,
    ModelConfig,
    OutputConfig,
    RedisConfig,
    RollbackConfig,
    RunConfig,
    ScaleConfig,
    ServiceConfig,
    SourceConfig,
    config_from_dict,
    load_config,
    load_config_text,
)

__all__ = [
    "ChallengerConfig",
    "CheckpointConfig",
    "ConfigError",
    "DriftConfig",
    "GateConfig",
    "KafkaConfig",
    "LabelsConfig",
    "ModelConfig",
    "OutputConfig",
    "RedisConfig",
    "RollbackConfig",
    "RunConfig",
    "ScaleConfig",
    "ServiceConfig",
    "SourceConfig",
    "build_challengers",
    "build_model",
    "build_registry",
    "build_runner",
    "config_from_dict",
    "file_events",
    "kafka_events",
    "load_config",
    "load_config_text",
]

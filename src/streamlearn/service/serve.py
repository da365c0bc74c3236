"""``streamlearn serve CONFIG.toml``: the service as a config describes it.

The embedded default needs no server: events come over HTTP (``/learn``, tracked
``/predict``, ``/feedback``), checkpoints go to a folder, the join to SQLite; a ``[source]``
file, if given, is replayed first to warm the model up. With ``[kafka]`` events and late
labels come from topics and predictions go to one; with ``checkpoint.redis_registry`` and
``labels.store = "redis"`` several processes share versions and the join. A replica
(``service.role = "replica"``) serves the registry's champion and follows it.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from streamlearn.config import RunConfig, build_registry, build_runner, file_events, kafka_events
from streamlearn.service.app import create_app
from streamlearn.service.trainer import Replica, Trainer
from streamlearn.streams.kafka import KafkaIngress
from streamlearn.streams.live import LiveEvents


def build_service(config: RunConfig) -> tuple[FastAPI, Trainer | Replica]:
    """The app and what it serves from (started)."""
    token = config.service.token or os.environ.get("STREAMLEARN_TOKEN") or None
    registry = build_registry(config)
    if config.service.role == "replica":
        if registry is None:
            raise ValueError("a replica needs a registry (checkpoint.registry or redis_registry)")
        replica = Replica(registry, config.service.poll_every)
        replica.start()
        return create_app(
            replica=replica, registry=registry, token=token, decisions=config.output.decisions
        ), replica
    trainer = Trainer(
        *_trainer_parts(config),
        publish_every=config.service.publish_every,
        stall_seconds=config.service.stall_seconds,
    )
    trainer.start()
    return create_app(
        trainer=trainer, registry=registry, token=token, decisions=config.output.decisions
    ), trainer


def _trainer_parts(config: RunConfig) -> tuple[Any, Any]:
    """The runner (warmed up on the config's file, if any) and where HTTP events go."""
    kafka = config.kafka
    if kafka is not None:
        runner = build_runner(config, source=kafka_events(config), drain_at_end=False)
        ingress = KafkaIngress(
            {"bootstrap.servers": kafka.bootstrap_servers}, kafka.events_topic, kafka.labels_topic
        )
        return runner, ingress
    live = LiveEvents()
    if config.source is not None:
        runner = build_runner(config, source=file_events(config))
        runner.resume()
        if "sequence" not in runner.resumed_source:  # not yet past the file: warm up
            runner.run()  # the whole file, its labels in flight included
        runner.source, runner.drain_at_end = live, False
        live.restore(runner.resumed_source)
        live.sequence = max(live.sequence, runner.champion.offset)  # offsets go on
    else:
        runner = build_runner(config, source=live, drain_at_end=False)
    return runner, live

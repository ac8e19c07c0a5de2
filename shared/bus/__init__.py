"""The bus port (`shared.bus.port`) and the factory that picks its adapter by URL.

The definitions live in `port`, which the adapters import; only this factory imports the adapters,
so the package has no import cycle.
"""
from __future__ import annotations

from shared.bus.port import Consumer, EventBus, Message, Producer, TopicPartition, close_quietly, dead_letter_topic
from shared.config import Settings

__all__ = ['Message', 'TopicPartition', 'Producer', 'Consumer', 'EventBus', 'dead_letter_topic', 'close_quietly',
           'open_bus']


def open_bus(url: str, settings: Settings | None = None) -> EventBus:
    """The adapter named by `url` (`sqlite:///...` or `kafka://host:port[,host:port]`); a Kafka bus
    authenticates as the `KAFKA_*` variables of `settings` say (by default the process's environment)."""
    if url.startswith("sqlite:///"):
        from shared.bus.sqlite import SQLiteBus
        return SQLiteBus(url)
    if url.startswith("kafka://"):
        from shared.bus.kafka import KafkaBus, kafka_security
        return KafkaBus(url, kafka_security(settings if settings is not None else Settings.from_env()))
    raise ValueError(f"unsupported BUS_URL: {url!r}")

"""itm:CONNECT: ask the VHS's on-site connector over AMQP (RabbitMQ), request/reply.

The connector sits next to the local KuferSQL or itm:MANAGER database and talks to ITEM's
data centre only outbound over AMQP; it answers user-profile questions. The exchange:

- request: published to the queue named by ``queue`` (default
  ``itm-connect.<vhs>.user-profile``) with ``reply_to`` (this adapter's private queue),
  a fresh ``correlation_id``, ``expiration`` = the timeout (a late request is dropped,
  not answered into the void), body ``{"version": 1, "type": "user-profile",
  "email": "<address as typed>"}``;
- reply: to ``reply_to`` with the same ``correlation_id``, body ``{"status": "eligible" |
  "unknown" | "not_released" | "not_linked" | "inactive", "person": {"id", "name",
  "mandant", "email"}}``.

No reply within ``timeout`` seconds, a broken connection or a reply that is not such
JSON is ``AdapterUnavailable``; replies to earlier, timed-out requests are ignored.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pika
import pika.exceptions

from . import json_input
from .base import (
    STATUSES,
    AdapterConfigError,
    AdapterUnavailable,
    Context,
    Decision,
    Option,
    Options,
    Person,
)


def request_queue(vhs: str) -> str:
    """The default queue the connector of ``vhs`` listens on."""
    return f"itm-connect.{vhs}.user-profile"


def decision_from_reply(body: bytes) -> Decision:
    """Read a connector reply; AdapterUnavailable for anything malformed."""
    try:
        reply = json_input.loads(body)
        status = reply["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        raw = reply.get("person")
        person = None
        if raw is not None:
            person = Person(user_id=str(raw["id"]), display_name=raw.get("name"),
                            mandant=raw.get("mandant"), stored_address=raw.get("email"))
        return Decision(status, person)
    except (ValueError, KeyError, TypeError) as error:
        raise AdapterUnavailable(f"itm:CONNECT answered garbage: {error}") from None


def reply_for(decision: Decision) -> bytes:
    """The reply body a connector sends for ``decision`` (used by the simulator)."""
    person = decision.person
    return json.dumps({"status": decision.status, "person": None if person is None else {
        "id": person.user_id, "name": person.display_name, "mandant": person.mandant,
        "email": person.stored_address}}).encode()


class ItmConnectAdapter:
    """One AMQP connection per adapter, used by one request at a time."""

    NAME = "itm_connect"
    OPTIONS = {
        "url": Option(str, doc="AMQP URL of ITEM's broker, amqp(s)://user:password@host/vhost",
                      secret=True),
        "queue": Option(str, "", "the connector's request queue; empty: the default name"),
        "timeout": Option((int, float), 3, "seconds to wait for the connector's reply"),
    }

    def __init__(self, options: Mapping[str, Any], context: Context):
        self.options = Options.parse(self.NAME, context.vhs, self.OPTIONS, options)
        where = f"VHS {context.vhs!r}, adapter 'itm_connect'"
        if not self.options["url"].startswith(("amqp://", "amqps://")):
            raise AdapterConfigError(f"{where}: option 'url' must be an amqp:// or amqps:// URL")
        if self.options["timeout"] <= 0:
            raise AdapterConfigError(f"{where}: option 'timeout' must be positive")
        try:
            self.parameters = pika.URLParameters(self.options["url"])
        except Exception as error:  # pika raises assorted types for a bad URL
            raise AdapterConfigError(f"{where}: option 'url' cannot be used: {error}") from None
        self.parameters.socket_timeout = self.options["timeout"]
        self.parameters.blocked_connection_timeout = self.options["timeout"]
        self.parameters.connection_attempts = 1
        self.queue = self.options["queue"] or request_queue(context.vhs)
        self.vhs = context.vhs
        self._lock = threading.Lock()
        self._connection = None
        self._channel = None
        self._reply_queue = None
        self._replies: dict[str, bytes] = {}

    def _connect(self) -> None:
        if self._connection is not None and self._connection.is_open:
            return
        self._connection = pika.BlockingConnection(self.parameters)
        self._channel = self._connection.channel()
        declared = self._channel.queue_declare(queue="", exclusive=True, auto_delete=True)
        self._reply_queue = declared.method.queue
        self._channel.basic_consume(self._reply_queue, self._on_reply, auto_ack=True)

    def _on_reply(self, _channel, _method, properties, body) -> None:
        self._replies[properties.correlation_id] = body

    def check(self, address: str) -> Decision:
        """Ask the connector; wait at most ``timeout`` seconds for its reply."""
        timeout = self.options["timeout"]
        with self._lock:
            try:
                self._connect()
                correlation = uuid.uuid4().hex
                self._replies.clear()
                self._channel.basic_publish(
                    exchange="", routing_key=self.queue,
                    body=json.dumps({"version": 1, "type": "user-profile",
                                     "email": address}).encode(),
                    properties=pika.BasicProperties(
                        reply_to=self._reply_queue, correlation_id=correlation,
                        content_type="application/json",
                        expiration=str(int(timeout * 1000))))
                deadline = time.monotonic() + timeout
                while correlation not in self._replies:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AdapterUnavailable(
                            f"itm:CONNECT of VHS {self.vhs!r} did not answer within {timeout} s")
                    self._connection.process_data_events(time_limit=min(left, 0.25))
                body = self._replies.pop(correlation)
            except (pika.exceptions.AMQPError, OSError) as error:
                self._drop()
                raise AdapterUnavailable(
                    f"itm:CONNECT broker for VHS {self.vhs!r}: {type(error).__name__} {error}"
                ) from None
        return decision_from_reply(body)

    def _drop(self) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except (pika.exceptions.AMQPError, OSError):
            pass  # it is broken already; the next check connects anew
        self._connection = None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._drop()

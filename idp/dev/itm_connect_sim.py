"""A small itm:CONNECT simulator: answers user-profile requests from a KuferSQL database.

    vhskoop-idp itm-connect-sim --amqp-url amqp://guest:guest@127.0.0.1:5672/%2F \
        --vhs straubing --database-url sqlite:///kufer.sqlite3 [--mode normal|slow|garbage]

It consumes the request queue of ``adapters.itm_connect`` and answers each request with
the decision of a ``kufersql`` adapter over the given database: the same checks the real
connector makes on site. ``slow`` answers after 10 seconds, ``garbage`` with non-JSON.
"""

from __future__ import annotations

import json
import threading
import time

import pika

from adapters.base import Adapter, AdapterUnavailable, Context
from adapters.itm_connect import reply_for, request_queue
from adapters.sql import KuferSqlAdapter

MODES = ("normal", "slow", "garbage")


class Simulator:
    """Consumes one VHS's request queue until ``stop()``."""

    def __init__(self, amqp_url: str, vhs: str, adapter: Adapter, mode: str = "normal"):
        self.parameters = pika.URLParameters(amqp_url)
        self.queue = request_queue(vhs)
        self.adapter = adapter
        self.mode = mode
        self.answered = 0
        self._stop = threading.Event()
        self.ready = threading.Event()

    def _answer(self, channel, method, properties, body) -> None:
        try:
            email = json.loads(body)["email"]
            reply = reply_for(self.adapter.check(email))
        except (ValueError, KeyError, TypeError):
            reply = b'{"error": "bad request"}'
        except AdapterUnavailable as error:
            reply = json.dumps({"error": str(error)}).encode()
        if self.mode == "slow":
            time.sleep(10)
        if self.mode == "garbage":
            reply = b"<html>502 Bad Gateway</html>"
        channel.basic_publish(exchange="", routing_key=properties.reply_to, body=reply,
                              properties=pika.BasicProperties(
                                  correlation_id=properties.correlation_id,
                                  content_type="application/json"))
        channel.basic_ack(method.delivery_tag)
        self.answered += 1

    def run(self) -> None:
        """Serve until stop() (blocking)."""
        connection = pika.BlockingConnection(self.parameters)
        channel = connection.channel()
        channel.queue_declare(queue=self.queue, auto_delete=True)
        channel.queue_purge(self.queue)
        channel.basic_consume(self.queue, self._answer)
        self.ready.set()
        try:
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.1)
        finally:
            connection.close()

    def start(self) -> threading.Thread:
        """Serve in a background thread; returns once the queue is consumed."""
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the simulator did not connect to the broker")
        return thread

    def stop(self) -> None:
        """Ask the serving loop to end."""
        self._stop.set()


def kufer_simulator(amqp_url: str, vhs: str, database_url: str,
                    mode: str = "normal") -> Simulator:
    """A simulator answering from a KuferSQL-shaped database."""
    adapter = KuferSqlAdapter({"url": database_url}, Context(vhs=vhs))
    return Simulator(amqp_url, vhs, adapter, mode)

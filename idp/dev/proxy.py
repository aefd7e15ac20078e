"""A TCP proxy on loopback in front of a real server (PostgreSQL), to make it fail the
ways a network or a server fails, for the fault tests and bench/hung_database.py."""

from __future__ import annotations

import socket
import threading
import time


class TcpProxy:
    """A TCP proxy on loopback in front of a real server (PostgreSQL), to make it fail the
    ways a network or a server fails: ``cut()`` drops every connection and refuses new
    ones (an outage, a restart); ``freeze()`` keeps connections open but forwards nothing
    (a hung server, like one stopped with SIGSTOP: the kernel still accepts and ACKs)."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.refusing = threading.Event()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while self.frozen.is_set() and self.running:
                    time.sleep(0.05)  # hold the bytes: nothing comes back
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def url(self, database_url) -> str:
        """``database_url`` (a SQLAlchemy URL of the target server) through this proxy."""
        return database_url.set(port=self.port).render_as_string(hide_password=False)

    def freeze(self) -> None:
        """Stop forwarding, keep every connection open."""
        self.frozen.set()

    def thaw(self) -> None:
        """Forward again."""
        self.frozen.clear()

    def cut(self) -> None:
        """Close every connection and refuse new ones."""
        self.refusing.set()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for end in pair:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()
                except OSError:
                    pass

    def restore(self) -> None:
        """Accept and forward connections again."""
        self.refusing.clear()
        self.frozen.clear()

    def stop(self) -> None:
        """Close everything (the test is over)."""
        self.running = False
        self.thaw()
        self.cut()
        self.listener.close()

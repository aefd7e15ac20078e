"""``idp.wsgi:app`` with a tracemalloc snapshot every SOAK_EVERY seconds, for bench/soak.py.

Run with PYTHONTRACEMALLOC=25 so that tracing starts before the provider is imported; each
worker process writes ``snapshot-<pid>-<seconds since start>.pickle`` into SOAK_SNAPSHOTS.
"""

import os
import pickle
import threading
import time
import tracemalloc
from pathlib import Path

from idp.wsgi import app  # noqa: F401 - what granian serves

FOLDER = Path(os.environ["SOAK_SNAPSHOTS"])
EVERY = float(os.environ.get("SOAK_EVERY", "30"))
STARTED = time.monotonic()


def _snapshots() -> None:
    while True:
        time.sleep(EVERY)
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        path = FOLDER / f"snapshot-{os.getpid()}-{time.monotonic() - STARTED:.0f}.pickle"
        with open(path, "wb") as out:
            pickle.dump(snapshot, out)


if tracemalloc.is_tracing():
    threading.Thread(target=_snapshots, daemon=True).start()

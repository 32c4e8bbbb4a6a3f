"""Hand items from an iterator to a worker thread, so producing and consuming overlap.

A snapshot's pages come from an HTTP iterator that spends most of its time waiting on the socket
(the GIL is free then) and its rows go to Parquet encoding (which releases the GIL). Running the
writer in a worker thread hides most of its cost behind the fetches. The iterator itself stays in
the calling thread, so whatever it touches (the HTTP client, Dagster's context) sees one thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


def consume(items: Iterable[T], handle: Callable[[T], Any], depth: int) -> None:
    """Call ``handle(item)`` for each item in order; with ``depth > 0`` in a worker thread.

    At most ``depth`` items wait between the two threads. An exception from either side stops
    both and is raised here; the worker has finished with ``handle`` when this returns or raises.
    """
    if depth <= 0:
        for item in items:
            handle(item)
        return

    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    abort = threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        while True:
            item = handoff.get()
            if item is _STOP:
                return
            if abort.is_set():
                continue  # drain, so the producer never blocks on a full queue
            try:
                handle(item)
            except BaseException as exc:
                failure.append(exc)
                abort.set()

    worker = threading.Thread(target=work, name="cleanlist-storage-writer", daemon=True)
    worker.start()
    try:
        for item in items:
            if abort.is_set():
                break
            handoff.put(item)
    except BaseException:
        abort.set()
        raise
    finally:
        handoff.put(_STOP)
        worker.join()
    if failure:
        raise failure[0]

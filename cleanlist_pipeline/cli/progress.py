"""How far a long command is: a live bar on a terminal, plain periodic lines anywhere else.

A million-row drop is ~1,700 import calls, about an hour at the API's 30 requests/minute; a
command that prints nothing for that hour looks hung. :class:`Progress` shows one unit of work
(chunks of a drop, pages of a snapshot, workflows of an enrichment):

* on a terminal (``stream.isatty()``): a rich progress bar, redrawn in place;
* otherwise (CI, ``| tee``, a log file): one plain line every ``every_s`` seconds or
  ``every_n`` units, and a last one when the work ends — lines a log keeps and grep finds, e.g.
  ``importing big.csv: 412/1,668 chunks (24.7%), 29.0/min, ETA 43 min``.

Both read the same numbers and word them with :mod:`cleanlist_pipeline.eta`. The rate is the
units gained since ``start`` over the time since; ``already`` units (chunks the ledger held, which
take no time) are left out of it, or an hour's work would look like a minute's.

>>> import io
>>> out = io.StringIO()
>>> with Progress("importing a.csv", "chunks", total=3, stream=out, every_s=0) as bar:
...     bar.update(3)
>>> out.getvalue().splitlines()[-1].startswith("importing a.csv: 3/3 chunks (100.0%)")
True
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from cleanlist_pipeline.eta import format_duration, progress_line

__all__ = ["Progress", "is_terminal"]


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal (a stream without ``isatty`` is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _TextOnly:
    """``sys.stdout`` while a bar is live. rich swaps in a proxy that prints whole lines above
    the bar, but ``click.echo`` reaches the real stream through the proxy's ``buffer`` and
    writes over the bar; without a ``buffer`` it writes text, through the proxy."""

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy
        self.encoding = getattr(proxy, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        return int(self._proxy.write(text) or 0)

    def flush(self) -> None:
        self._proxy.flush()

    def isatty(self) -> bool:
        return is_terminal(self._proxy)


class Progress:
    """Progress of one unit of work, shown live on a terminal or as plain periodic lines.

    ``live`` forces the choice (default: ``is_terminal(stream)``); ``clock`` is injectable so a
    test can move time. ``update`` takes the absolute count (what a watcher reads off an event
    log); ``advance`` adds to it.
    """

    def __init__(
        self,
        label: str,
        unit: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        every_s: float = 10.0,
        every_n: int | None = None,
        already: int = 0,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.stream: TextIO = stream if stream is not None else sys.stdout
        self.every_s = every_s
        self.every_n = every_n
        self.live = is_terminal(self.stream) if live is None else live
        self._clock = clock
        self.done = already
        self._baseline = already
        self._started = clock()
        self._last_line_at: float | None = None
        self._last_line_done = 0
        self._bar: Any = None
        self._proxied_stdout: Any = None
        self._task: Any = None
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the clock; on a terminal the bar appears with the first count that is not
        "nothing to do" (no bar for zero workflows)."""
        self._started = self._clock()

    def _start_bar(self) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn
            from rich.progress import Progress as RichProgress

            console = Console(file=self.stream, force_terminal=True)
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                console=console,
                refresh_per_second=4,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, detail=self._detail())
            if sys.stdout is not None and type(sys.stdout).__name__ == "FileProxy":
                self._proxied_stdout = sys.stdout
                sys.stdout = _TextOnly(sys.stdout)  # type: ignore[assignment]

    def close(self) -> None:
        """Stop the bar, or print the last plain line (with the time the work took)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._refresh_bar()
            if self._proxied_stdout is not None:
                sys.stdout = self._proxied_stdout
            self._bar.stop()
            return
        if self.live or (self.total == 0 and self.done == 0):
            return  # there was nothing to do (no workflows to wait for): nothing to say
        took = format_duration(self._clock() - self._started)
        self._write(f"{self.line()} — {took}")

    # --- counting ----------------------------------------------------------------------------

    def update(self, done: int, total: int | None = None) -> None:
        """Set the count (and the total, once known); show it if it is time to."""
        if total is not None:
            self.total = total
        self.done = done
        if self.live and self._bar is None and not (self.total == 0 and done == 0):
            self._start_bar()
        if self._bar is not None:
            self._refresh_bar()
        elif self._due():
            self._write(self.line())

    def skip(self, n: int = 1) -> None:
        """Count ``n`` units that took no time (found in the ledger): done, but not in the rate."""
        self._baseline += n
        self.update(self.done + n)

    def advance(self, n: int = 1) -> None:
        """Add ``n`` finished units."""
        self.update(self.done + n)

    @property
    def per_minute(self) -> float | None:
        """Units per minute since ``start`` (None until one is gained)."""
        elapsed = self._clock() - self._started
        gained = self.done - self._baseline
        if elapsed <= 0 or gained <= 0:
            return None
        return gained / elapsed * 60.0

    def line(self) -> str:
        """The plain line for the current count."""
        return progress_line(
            self.label, self.done, self.total, self.unit, per_minute=self.per_minute
        )

    # --- output ------------------------------------------------------------------------------

    def _detail(self) -> str:
        text = progress_line("", self.done, self.total, self.unit, per_minute=self.per_minute)
        return text[2:]  # without the empty label's ": "

    def _refresh_bar(self) -> None:
        self._bar.update(self._task, completed=self.done, total=self.total, detail=self._detail())
        self._bar.refresh()

    def _due(self) -> bool:
        """A plain line is due every ``every_s`` seconds or ``every_n`` units (default: a fifth
        of the total) — but not for nothing yet unless time has passed, and not at the end,
        where ``close`` prints the last line with the time taken."""
        if self.total is not None and self.done >= self.total:
            return False
        since = self._clock() - (self._last_line_at or self._started)
        if since >= self.every_s:
            return True
        every_n = self.every_n or (max(1, self.total // 5) if self.total else None)
        return bool(every_n) and self.done - self._last_line_done >= every_n

    def _write(self, text: str) -> None:
        self._last_line_at = self._clock()
        self._last_line_done = self.done
        self.stream.write(text + "\n")
        self.stream.flush()

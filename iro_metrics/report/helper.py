"""Helper processes: copies of the notebook's kernel that share its work on the machine's other core.

A build's kernel works on one core while the other mostly waits. On Linux, where a process forks
cheaply, ``setup`` forks the kernel at three points; each copy, a helper, starts from the kernel's
own state, runs the same package code, sends back what it computed, and displays nothing:

- a helper checks the earliest returns while the kernel checks the others and imports the charts'
  libraries (:func:`in_parallel`, given to :func:`~iro_metrics.ingest.load.check_history`): for a
  council, every return but the latest; for a much larger tree, about two in five, as many as
  balance the work (:func:`~iro_metrics.ingest.load.helpers_share`: each return sent back is pickled);
- while the kernel computes the year's own figures, a helper computes the earlier years' (for the
  trends and the change on last year, :func:`in_parallel` again);
- once every figure is computed, a helper runs the notebook's sections in the notebook's order and
  draws every second chart (the even-numbered; the kernel draws the others meanwhile) (:func:`start`).
  The kernel runs its cells as before and, for each chart it is about to draw, takes the helper's
  instead when the helper drew that very chart: the same number, alt text and caption (:func:`chart`).

Whatever a helper could not do (an error, anything printed, a helper that died or is stuck), the
kernel does itself, so that errors and warnings are the kernel's own; a helper that cannot be
started is no helper. The notebook is the same bytes either way (tested). About 1.5 s of what was a
7 s build.

Off unless the kernel was started with ``IRO_METRICS_HELPER=1``: ``build`` and ``verify`` start
their kernels so; batch builds (whose kernels already keep every core busy) and notebooks run by
hand do not. Linux only: Windows cannot fork a process, and on macOS a fork of a process that has
loaded system frameworks is unsafe.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ENV = "IRO_METRICS_HELPER"
T = TypeVar("T")
#: seconds a helper may use no CPU before the kernel takes it to be stuck and does its work itself
WAIT = 20.0


def available() -> bool:
    """Whether this process may start helpers: a kernel started with them on, on Linux, not a helper."""
    return os.environ.get(ENV) == "1" and sys.platform.startswith("linux") and not _in_helper


def helper_draws(number: int) -> bool:
    """Whether chart ``number`` is the chart helper's to draw (the kernel draws the others meanwhile)."""
    return number % 2 == 0


class _Link:
    """The kernel's end of a helper: its process and the pipe it sends on."""

    def __init__(self, process: Any, reader: Any) -> None:
        self.process, self.reader = process, reader

    def receive(self) -> tuple | None:
        """The helper's next message; None once it has died (even part-way through a message), or when
        it has used no CPU for :data:`WAIT` seconds (stuck: a large council's work may take longer than
        that, but not without the CPU)."""
        used, since = _cpu(self.process.pid), time.monotonic()
        while True:
            try:
                if self.reader.poll(0.2):
                    return self.reader.recv()
            except Exception:  # noqa: BLE001 - the end of the pipe (the helper died), or a message cut short
                return None
            now = _cpu(self.process.pid)
            if now != used:
                used, since = now, time.monotonic()
            elif time.monotonic() - since > WAIT:
                return None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.reader.close()
        if self in _running:
            _running.remove(self)


class _Outbox:
    """A helper's end of the pipe: a thread of its own sends, so the helper never waits for the kernel
    to read."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self._messages: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def put(self, message: tuple) -> None:
        self._messages.put(message)

    def close(self) -> None:
        """Send what is left, then close the pipe."""
        self._messages.put(None)
        self._thread.join()

    def _send(self) -> None:
        for message in iter(self._messages.get, None):
            try:
                self.writer.send(message)
            except Exception:  # noqa: BLE001 - the kernel stopped reading, or the value would not pickle:
                break  # the kernel sees the pipe end and does the work itself
        self.writer.close()


def _fork(target: Callable[..., None], *args: object) -> _Link | None:
    """A copy of this process running ``target(*args, outbox, printed)``; None if none can be started
    (out of memory, say)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, args, reader, writer), daemon=True,
                              name="iro-metrics helper")
    try:
        process.start()
    except Exception:  # noqa: BLE001 - out of memory, or (Python 3.12 and later, with warnings made errors)
        reader.close()  # the warning on forking a process with threads: no helper, the kernel does the work
        return None
    finally:
        writer.close()  # the kernel's copy: a helper that dies part-way through a message ends the pipe
    link = _Link(process, reader)
    _running.append(link)
    return link


def _child(target: Callable[..., None], args: tuple, reader: Any, writer: Any) -> None:
    global _in_helper, _helper
    reader.close()
    _in_helper, _helper = True, None
    _running.clear()
    target(*args, _Outbox(writer), _detach())


def _cpu(pid: int) -> int:
    """The CPU time a process has used, in clock ticks (Linux's /proc); -1 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])  # utime, stime


def _detach() -> Callable[[], int]:
    """In a helper, first: the kernel's streams, their file descriptors (which the kernel captures into
    the notebook) and its display publisher all lead to the kernel's sockets, which stay the kernel's
    alone. Everything printed goes to a file instead; returns a function giving how much so far."""
    import tempfile

    printed = tempfile.TemporaryFile()
    for fd in (1, 2):
        os.dup2(printed.fileno(), fd)
    stream = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - for the rest of the process
    sys.stdout = sys.stderr = stream
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.display_pub.publish = lambda *args, **kwargs: None

    def size() -> int:
        stream.flush()
        return os.fstat(1).st_size

    return size


class _Helper:
    """The kernel's side of the chart helper: what it has sent so far."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.sent: dict[int, tuple] = {}  # chart number -> the helper's message about it
        self.ended = False

    def take(self, number: int, alt: str, caption: str) -> str | None:
        """The helper's SVG of chart ``number``, if it drew this very chart (waiting for it if need be)."""
        while number not in self.sent and not self.ended:
            message = self.link.receive()
            if message is None or message[0] == "end":
                self.ended = True
                self.link.stop()
            else:
                self.sent[message[1]] = message
        message = self.sent.pop(number, None)
        if message is not None and message[2:4] == (alt, caption):
            return message[4]
        return None


class _Sender:
    """The chart helper's side: it draws its charts and sends them to the kernel."""

    def __init__(self, messages: _Outbox, printed: Callable[[], int]) -> None:
        self.messages, self.printed = messages, printed

    def chart(self, number: int, alt: str, caption: str, render: Callable[[], str]) -> None:
        if not helper_draws(number):
            return
        before = self.printed()
        try:
            text = render()
        except Exception:  # noqa: BLE001 - the kernel draws it, and meets the error itself
            return
        if self.printed() == before:  # else a warning the kernel's drawing would show in the notebook
            self.messages.put(("chart", number, alt, caption, text))


_running: list[_Link] = []  # in the kernel: every helper started and not yet stopped
_helper: _Helper | None = None  # in the kernel, while a chart helper runs
_sender: _Sender | None = None  # in the chart helper
_in_helper = False  # in any helper


def start(ctx: object, run: Callable[[object], None]) -> None:
    """In a kernel started with helpers on (and on Linux), fork a chart helper that calls ``run(ctx)``:
    the notebook's sections, from this state, in the notebook's order (``setup`` has stopped any
    earlier one, :func:`stop`)."""
    global _helper
    link = _fork(_serve, ctx, run) if available() else None
    _helper = _Helper(link) if link is not None else None


def _serve(ctx: object, run: Callable[[object], None], messages: _Outbox, printed: Callable[[], int]) -> None:
    global _sender
    _sender = _Sender(messages, printed)
    try:
        run(ctx)
    except BaseException:  # noqa: BLE001, S110 - the kernel meets any error in the cell itself
        pass
    finally:
        messages.put(("end",))
        messages.close()


def in_parallel(work: Callable[[], T]) -> Callable[[], T]:
    """Start ``work()`` in a helper (where the kernel may start one) and return a function giving its
    result: the helper's, or, if the helper raised, printed anything, died or was stuck, ``work()`` run
    here (so that errors and warnings are the kernel's own, as without a helper)."""
    link = _fork(_compute, work) if available() else None
    if link is None:
        return work

    def result() -> T:
        message = link.receive()
        link.stop()
        return message[1] if message is not None and message[0] == "done" else work()

    return result


def _compute(work: Callable[[], object], messages: _Outbox, printed: Callable[[], int]) -> None:
    try:
        value = work()
        messages.put(("failed",) if printed() else ("done", value))
    except BaseException:  # noqa: BLE001 - the kernel meets the error itself
        messages.put(("failed",))
    messages.close()


def chart(number: int, alt: str, caption: str, render: Callable[[], str]) -> str | None:
    """Chart ``number``'s SVG: the helper's when it drew this chart, else ``render()``'s. In the chart
    helper itself, the chart is drawn (or left) for the kernel and None returned."""
    if _sender is not None:
        _sender.chart(number, alt, caption, render)
        return None
    if _helper is not None and helper_draws(number):
        text = _helper.take(number, alt, caption)
        if text is not None:
            return text
    return render()


def stop() -> None:
    """Stop every helper still running (``setup`` calls this first, and a kernel reused for another
    notebook between notebooks)."""
    global _helper
    _helper = None
    for link in list(_running):
        link.stop()

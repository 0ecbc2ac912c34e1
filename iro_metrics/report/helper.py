"""Helper processes: copies of the notebook's kernel that share its work on the machine's other core.

A build's kernel works on one core while the other mostly waits. On Linux, where a process forks
cheaply, ``setup`` forks the kernel at three points; each copy, a helper, starts from the kernel's
own state, runs the same package code, sends back what it computed, and displays nothing:

- while the kernel checks the later half of the returns, a helper checks the earlier half
  (:func:`in_parallel`, given to :func:`~iro_metrics.ingest.load.check_history`);
- while the kernel computes the year's own figures, a helper computes the earlier years' (for the
  trends and the change on last year, :func:`in_parallel` again);
- once every figure is computed, a helper runs the notebook's sections in the notebook's order and
  draws every second chart (the even-numbered; the kernel draws the others meanwhile) (:func:`start`).
  The kernel runs its cells as before and, for each chart it is about to draw, takes the helper's
  instead when the helper drew that very chart: the same number, alt text and caption (:func:`chart`).

Whatever a helper could not do (an error, a warning printed, a helper that died or is stuck), the
kernel does itself, so that errors and warnings are the kernel's own. The notebook is the same bytes
either way (tested). About 1 s of a 5-6 s build.

Off unless the kernel was started with ``IRO_METRICS_HELPER=1``: ``build`` and ``verify`` start
their kernels so; batch builds (whose kernels already keep every core busy) and notebooks run by
hand do not. Linux only: Windows cannot fork a process, and on macOS a fork of a process that has
loaded system frameworks is unsafe.
"""

from __future__ import annotations

import io
import os
import queue
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ENV = "IRO_METRICS_HELPER"
T = TypeVar("T")
#: seconds the helper may use no CPU before the kernel takes it to be stuck and does its work itself
WAIT = 20.0


class _Helper:
    """The kernel's side: the helper process and what it has sent so far."""

    def __init__(self, process: Any, messages: Any) -> None:
        self.process, self.messages = process, messages
        self.sent: dict[int, tuple] = {}  # chart number -> the helper's message about it
        self.ended = False

    def take(self, number: int, alt: str, caption: str) -> str | None:
        """The helper's SVG of chart ``number``, if it drew this very chart (waiting for it if need be)."""
        while number not in self.sent and not self.ended:
            message = _receive(self.process, self.messages)
            if message is None or message[0] == "end":
                self.stop()
            else:
                self.sent[message[1]] = message
        message = self.sent.pop(number, None)
        if message is not None and message[0] == "chart" and message[2:4] == (alt, caption):
            return message[4]
        return None

    def stop(self) -> None:
        self.ended = True
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class _Sender:
    """The helper's side: it draws every second chart and sends it to the kernel."""

    def __init__(self, messages: Any, printed: io.StringIO) -> None:
        self.messages, self.printed = messages, printed

    def chart(self, number: int, alt: str, caption: str, render: Callable[[], str]) -> None:
        if number % 2:  # the kernel's to draw
            self.messages.put(("left", number))
            return
        before = self.printed.tell()
        try:
            text = render()
        except Exception:  # noqa: BLE001 - the kernel draws it, and meets the error itself
            self.messages.put(("left", number))
            return
        if self.printed.tell() != before:  # a warning the kernel's drawing would show in the notebook
            self.messages.put(("left", number))
        else:
            self.messages.put(("chart", number, alt, caption, text))


_helper: _Helper | None = None  # in the kernel, while a helper runs
_sender: _Sender | None = None  # in the helper


def _on() -> bool:
    return os.environ.get(ENV) == "1" and sys.platform.startswith("linux") and _sender is None


def _fork(target: Callable[..., None], *args: object) -> tuple[Any, Any]:
    """A copy of this process running ``target(*args, messages)``, and the queue it sends on."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    messages = context.Queue()  # its own thread sends, so the helper never waits for the kernel to read
    process = context.Process(target=target, args=(*args, messages), daemon=True, name="iro-metrics helper")
    with warnings.catch_warnings():
        # Python 3.12 and later warn on forking a process with threads: the helper uses none of the
        # kernel's (its sockets), and writes nothing to its streams
        warnings.simplefilter("ignore", DeprecationWarning)
        process.start()
    return process, messages


def _receive(process: Any, messages: Any) -> tuple | None:
    """The helper's next message; None once it has died, or when it has used no CPU for :data:`WAIT`
    seconds (stuck: a large council's work may take longer than that, but not without the CPU)."""
    used, since = _cpu(process.pid), time.monotonic()
    while True:
        try:
            return messages.get(timeout=0.2)
        except queue.Empty:
            if not process.is_alive() and messages.empty():
                return None
            now = _cpu(process.pid)
            if now != used:
                used, since = now, time.monotonic()
            elif time.monotonic() - since > WAIT:
                return None


def _cpu(pid: int) -> int:
    """The CPU time a process has used, in clock ticks (Linux's /proc); -1 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])  # utime, stime


def _detach() -> io.StringIO:
    """In the helper, first: the kernel's streams and display publisher write to its sockets, which stay
    the kernel's alone. Returns what is printed from now on."""
    printed = io.StringIO()
    sys.stdout = sys.stderr = printed
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.display_pub.publish = lambda *args, **kwargs: None
    return printed


def start(ctx: object, run: Callable[[object], None]) -> None:
    """In a kernel started with the helper on (and on Linux), fork a helper that calls ``run(ctx)``:
    the notebook's sections, from this state, in the notebook's order."""
    global _helper
    stop()
    if _on():
        _helper = _Helper(*_fork(_serve, ctx, run))


def _serve(ctx: object, run: Callable[[object], None], messages: Any) -> None:
    global _sender, _helper
    _helper, _sender = None, _Sender(messages, _detach())
    try:
        run(ctx)
    except BaseException:  # noqa: BLE001, S110 - the kernel meets any error in the cell itself
        pass
    finally:
        messages.put(("end",))


def in_parallel(work: Callable[[], T]) -> Callable[[], T]:
    """Start ``work()`` in a helper (where the kernel has one on) and return a function giving its result:
    the helper's, or, if the helper failed, died or fell silent for :data:`WAIT` seconds, ``work()`` run
    here (so that an error is raised here, as without a helper)."""
    if not _on():
        return work
    process, messages = _fork(_compute, work)

    def result() -> T:
        message = _receive(process, messages)
        if process.is_alive():
            process.kill()
        process.join(5)
        return message[1] if message is not None and message[0] == "done" else work()

    return result


def _compute(work: Callable[[], object], messages: Any) -> None:
    printed = _detach()
    try:
        value = work()
    except BaseException:  # noqa: BLE001 - the kernel meets the error itself
        messages.put(("failed",))
        return
    # a warning printed meanwhile would be an output of the kernel's cell: the kernel does the work
    messages.put(("failed",) if printed.tell() else ("done", value))


def chart(number: int, alt: str, caption: str, render: Callable[[], str]) -> str | None:
    """Chart ``number``'s SVG: the helper's when it drew this chart, else ``render()``'s. In the helper
    itself, the chart is drawn (or left) for the kernel and None returned."""
    if _sender is not None:
        _sender.chart(number, alt, caption, render)
        return None
    if _helper is not None:
        text = _helper.take(number, alt, caption)
        if text is not None:
            return text
    return render()


def stop() -> None:
    """Stop the running helper, if any (a kernel reused for another notebook calls this)."""
    global _helper
    if _helper is not None:
        _helper.stop()
        _helper = None

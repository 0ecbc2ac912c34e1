"""build-all's jobs on an existing Dask distributed cluster: ``--scheduler tcp://HOST:PORT``.

Needs the optional extra (``pip install "iro-metrics[dask]"``) here and on every worker. The workers
must have the same environment (this package, its notebook, a ``python3`` kernel) and see the same
paths as this machine: params, data and ``outputs/`` on shared storage. Each worker thread keeps its
own warm kernel between jobs (``batch.worker_kernel``); the kernels end with the worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from iro_metrics.errors import UsageError

CONNECT_TIMEOUT = "30s"


@contextlib.contextmanager
def connect(address: str) -> Iterator[Callable]:
    """A ``submit(fn, jobs, tags)`` running ``fn(*args)`` for each job on the cluster at ``address``
    (``dask://`` is read as ``tcp://``) and yielding ``(tag, result)`` as each finishes."""
    from iro_metrics.report.batch import outcome

    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError('--scheduler needs Dask: pip install "iro-metrics[dask]"') from None
    if address.startswith("dask://"):
        address = "tcp://" + address.removeprefix("dask://")
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except OSError as e:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {e}") from None

    def submit(fn: Callable, jobs: Sequence[tuple], tags: Sequence) -> Iterator[tuple]:
        futures = [client.submit(fn, *args, pure=False) for args in jobs]
        by_key = {f.key: tag for f, tag in zip(futures, tags)}
        for future in as_completed(futures, loop=client.loop):
            yield by_key[future.key], outcome(future)

    try:
        yield submit
    finally:
        client.close()

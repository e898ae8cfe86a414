"""Running FMUs in a worker process (``isolate=True``), so that one that crashes or hangs cannot
take the caller down with it.

:func:`run_isolated` runs a picklable function (``fmitwin.simulate``, ``System.simulate``) in a
fresh worker process (a new interpreter). The FMU's log messages are sent to the caller as they are
logged, so they survive the worker: a crash (segmentation fault, abort) or a run longer than
``timeout`` becomes an :class:`~fmitwin.FmuError` quoting them. Exceptions raised in the worker
are raised again in the caller with their type and message, and with ``logging=True`` the
FMU's messages reach the caller's ``fmitwin.fmu`` logger; Ctrl-C in the caller stops the
worker. Costs: a process start (about a second: the worker imports fmitwin) and the result
crossing a pipe.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from fmitwin.fmu import FmuError, add_log_tap

_RAISED_AGAIN = {
    "FmuError": FmuError,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "KeyError": KeyError,
    "MemoryError": MemoryError,
    "FileNotFoundError": FileNotFoundError,
}


class _SendRecords(logging.Handler):
    """Sends the worker's ``fmitwin.fmu`` log records (logging=True) to the caller."""

    def __init__(self, connection: Any):
        super().__init__(logging.INFO)
        self.connection = connection

    def emit(self, record: logging.LogRecord) -> None:
        self.connection.send(("record", record.levelno, record.getMessage()))


def serve(request_fd: int, reply_fd: int) -> None:
    """The worker: reads (function, args, kwargs) from ``request_fd``, sends the FMU's log
    lines, its log records and the outcome to ``reply_fd``."""
    with Connection(request_fd, writable=False) as requests:
        function, args, kwargs = requests.recv()
    connection = Connection(reply_fd, readable=False)
    add_log_tap(lambda line: connection.send(("log", line)))
    logger = logging.getLogger("fmitwin.fmu")
    logger.setLevel(logging.INFO)
    logger.addHandler(_SendRecords(connection))
    try:
        outcome: tuple = ("result", function(*args, **kwargs))
    except BaseException as exc:  # everything goes back to the caller
        outcome = ("error", type(exc).__name__, exc.args[0] if exc.args else repr(exc))
    connection.send(outcome)
    connection.close()


def _failure(what: str, why: str, log: collections.deque[str]) -> FmuError:
    message = f"{what}: {why}."
    if log:
        message += " The FMU logged:\n  " + "\n  ".join(log)
    else:
        message += " The FMU logged nothing (logging=True turns its debug log on)."
    return FmuError(message)


def run_isolated(
    function: Callable[..., Any],
    *args: Any,
    what: str,
    timeout: float | None = None,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)`` in a worker process; its result, or its exception raised
    again. ``what`` names the run in errors (e.g. the FMU file). A worker that dies or runs past
    ``timeout`` seconds (None: no limit) gives FmuError with the FMU's last log messages."""
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout: must be a positive number of seconds, got {timeout}")
    # A fresh interpreter (not multiprocessing's spawn, which would run the caller's __main__
    # again): two pipes carry the request and the replies.
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from fmitwin.isolation import serve; serve({request_read}, {reply_write})",
        ],
        pass_fds=(request_read, reply_write),
    )
    os.close(request_read)
    os.close(reply_write)
    receiver = Connection(reply_read, writable=False)
    log: collections.deque[str] = collections.deque(maxlen=50)
    deadline = None if timeout is None else time.monotonic() + timeout
    outcome = None
    try:
        with Connection(request_write, readable=False) as request:
            request.send((function, args, kwargs))
        while outcome is None:
            wait = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            if receiver.poll(wait):
                try:
                    message = receiver.recv()
                except EOFError:  # the worker is gone without a word
                    break
                if message[0] == "log":
                    log.append(message[1])
                elif message[0] == "record":
                    logging.getLogger("fmitwin.fmu").log(message[1], "%s", message[2])
                else:
                    outcome = message
            elif deadline is not None and time.monotonic() >= deadline:
                raise _failure(
                    what, f"the run did not finish within timeout={timeout:g} s (stopped)", log
                )
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        receiver.close()
    if outcome is None:
        code = process.returncode
        if code is not None and code < 0:
            try:
                why = f"the FMU crashed the worker process ({signal.Signals(-code).name})"
            except ValueError:
                why = f"the FMU crashed the worker process (signal {-code})"
        else:
            why = f"the worker process ended unexpectedly (exit code {code})"
        raise _failure(what, why, log)
    if outcome[0] == "result":
        return outcome[1]
    _, name, message = outcome
    raise _RAISED_AGAIN.get(name, RuntimeError)(
        message if name in _RAISED_AGAIN else f"{name}: {message}"
    )

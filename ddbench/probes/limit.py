"""A probe's time limit (``probes[i].time_limit`` in the spec, :data:`DEFAULT_TIME_LIMIT` by default).

A thread cannot be killed in Python, and a probe works on a model that lives in this process, so a
probe is stopped in two stages (docs/science.md, "Probe time limits"):

1. **Interrupt.** At the limit a watchdog thread sends ``SIGALRM`` to the main thread, whose handler
   raises :class:`ProbeTimeout` inside the probe: the probe fails with the reason and the run goes on.
   ``ProbeTimeout`` is a ``BaseException``, so a probe's ``except Exception`` does not swallow it.
   Python runs the handler between bytecodes: a probe in pure Python, or waiting in ``time.sleep`` or
   I/O, stops at once; one inside a long NumPy, TensorFlow or XLA call stops when that call returns.
   Only the main thread can take a signal (the local executor and ``analyse`` probe there); elsewhere
   the second stage is the only one.
2. **Stop.** A probe that has still not returned :func:`grace` seconds later cannot be interrupted
   (it blocks signals, swallows the exception in a loop, or hangs in native code): the caller's
   ``on_stuck`` records the probe as timed out where a resumed run finds it (``execute.work``) and
   ends the process with exit code 130, keeping every committed cell. The same command resumes the
   run, retrains the cell in flight and records that probe as timed out instead of running it again.

Not covered: native code that hangs while holding the GIL stops every thread of the process, the
watchdog included; NumPy, TensorFlow, JAX and PyTorch release the GIL in their long operations.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..spec.limits import DEFAULT_PROBE_TIME_LIMIT

#: seconds a probe may run on one cell unless its spec entry says otherwise
DEFAULT_TIME_LIMIT = DEFAULT_PROBE_TIME_LIMIT
#: the least time an interrupted probe gets to return before the process is stopped
GRACE_MIN_S = 10.0


class ProbeTimeout(BaseException):
    """Raised inside a probe that ran past its time limit."""


def grace(limit: float) -> float:
    """Seconds between the interrupt and the stop: a tenth of the limit, at least :data:`GRACE_MIN_S`."""
    return max(GRACE_MIN_S, 0.1 * limit)


@contextmanager
def time_limit(seconds: float | None, on_stuck: Callable[[], None]) -> Iterator[None]:
    """Run the block under a time limit of ``seconds`` (None or infinite: no limit). Past it,
    :class:`ProbeTimeout` is raised in the block (main thread only); past :func:`grace` more, ``on_stuck()``
    is called from the watchdog thread (it should record the timeout and end the process)."""
    if seconds is None or not math.isfinite(seconds):
        yield
        return
    done, lock = threading.Event(), threading.Lock()
    armed, sent = [False], [False]
    in_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_kill")
    main_id = threading.get_ident()
    previous = None

    def on_alarm(signum: int, frame: object) -> None:
        if armed[0]:
            armed[0] = False
            raise ProbeTimeout(f"did not finish within its time limit of {seconds:g} s")

    def watch() -> None:
        if done.wait(seconds):
            return
        with lock:  # never after the block has ended
            if done.is_set():
                return
            if in_main:
                sent[0] = True
                signal.pthread_kill(main_id, signal.SIGALRM)
        if not done.wait(grace(seconds)):
            on_stuck()

    if in_main:
        previous = signal.signal(signal.SIGALRM, on_alarm)
        armed[0] = True
    watchdog = threading.Thread(target=watch, name="ddbench-probe-limit", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        armed[0] = False
        with lock:
            done.set()
        # a signal sent may still be on its way: then the (disarmed) handler stays, so it never meets SIG_DFL
        if in_main and not sent[0]:
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)

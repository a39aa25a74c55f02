"""The request queue of ``cpp2py serve``: one thread owns the model and runs queued jobs in micro-batches;
request handlers submit a job and wait for its future (see :mod:`cpp2py.serve.app`)."""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from cpp2py.cancel import Cancelled, cancel_scope

log = logging.getLogger("cpp2py.serve")


class QueueFull(Exception):
    """More requests are waiting than ``max_queue`` allows."""


@dataclass(eq=False)  # identity, not field equality: a job is one request
class Job:
    kind: str                          # "translate" or "chat"
    key: Any                           # jobs with equal (kind, key) share one backend call
    payload: Any
    future: Future
    cancelled: threading.Event = field(default_factory=threading.Event)


class BatchWorker:
    """One thread that owns the model: takes queued jobs in micro-batches and runs each group at once.

    ``max_queue`` counts live waiting jobs only: a job given up on (:meth:`cancel`) leaves the count at
    once, even while the worker is still busy and has not popped it; a running group whose jobs are all
    given up on is stopped through :mod:`cpp2py.cancel`.
    """

    def __init__(self, run_group: Callable[[str, Any, list[Any]], list[Any]], *, batch_size: int,
                 batch_wait_s: float, max_queue: int):
        self._run_group = run_group
        self.batch_size = max(1, batch_size)
        self.batch_wait_s = batch_wait_s
        self.max_queue = max_queue
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._waiting: set[Job] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="cpp2py-model", daemon=True)
        self.batches: list[int] = []   # sizes of the backend calls made, for /healthz and tests
        self.cancelled_groups = 0      # backend calls stopped because nobody waited for them any more

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, kind: str, key: Any, payload: Any) -> Job:
        job = Job(kind, key, payload, Future())
        with self._lock:  # check and put together, so the limit holds under concurrent submits
            if len(self._waiting) >= self.max_queue:
                raise QueueFull
            self._waiting.add(job)
        self._queue.put(job)
        return job

    def cancel(self, job: Job) -> None:
        """Give up on ``job``: it leaves the queue count now, and its generation stops if it runs alone."""
        with self._lock:
            if job in self._waiting:  # not claimed yet: its source can go before the worker pops it
                self._waiting.discard(job)
                job.payload = None
            job.cancelled.set()
        job.future.cancel()

    def _claim(self, job: Job) -> bool:
        """Move a popped job from waiting to running; False for one given up on while it waited."""
        with self._lock:
            if job not in self._waiting:
                return False
            self._waiting.discard(job)
            return job.future.set_running_or_notify_cancel()

    def _take_batch(self) -> list[Job] | None:
        batch: list[Job] = []
        while not batch:  # block until one live job arrives
            first = self._queue.get()
            if first is None:
                return None
            if self._claim(first):
                batch.append(first)
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # keep the stop signal for the loop
                break
            if self._claim(job):
                batch.append(job)
        return batch

    def _loop(self) -> None:
        while (batch := self._take_batch()) is not None:
            groups: dict[tuple[str, Any], list[Job]] = {}
            for job in batch:
                groups.setdefault((job.kind, job.key), []).append(job)
            for (kind, key), jobs in groups.items():
                self._run(kind, key, jobs)

    def _run(self, kind: str, key: Any, jobs: list[Job]) -> None:
        self.batches.append(len(jobs))
        try:
            # Stop only when nobody in the group waits: the others still want the shared call's answers.
            with cancel_scope(lambda: all(j.cancelled.is_set() for j in jobs)):
                results = self._run_group(kind, key, [j.payload for j in jobs])
        except Cancelled:
            self.cancelled_groups += 1
            log.info("stopped a backend call of %d request(s) that all timed out or disconnected", len(jobs))
            return
        except BaseException as e:  # the error belongs to these requests; the worker lives on
            log.exception("backend call failed")
            results = [e] * len(jobs)
        for j, r in zip(jobs, results):
            if isinstance(r, BaseException):
                j.future.set_exception(r)
            else:
                j.future.set_result(r)

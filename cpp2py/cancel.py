"""Cooperative cancellation of generation: a caller marks work as no longer wanted, the backend stops.

Run as: (library) ``with cancel_scope(lambda: job_is_gone()): translator.translate_many(...)``

``serve`` gives up on a request at its time limit or when the client disconnects; without this the model
would keep generating for nobody, holding the one worker thread, its memory and the queue behind it.
The scope is ambient (a context variable) rather than an argument so that every layer between the server
and the backend (translator, retries, repair rounds, split pieces) stops without each passing it on.
Backends call :func:`raise_if_cancelled` between batches and at every decoding step; it costs one call
of the predicate, so predicates must be cheap (an ``Event.is_set``).
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

_CHECK: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar("cpp2py_cancel", default=None)


class Cancelled(Exception):
    """The work in progress was cancelled by its caller; nothing waits for its result."""


@contextlib.contextmanager
def cancel_scope(is_cancelled: Callable[[], bool]) -> Iterator[None]:
    """Within the block, :func:`raise_if_cancelled` raises once ``is_cancelled()`` turns true."""
    token = _CHECK.set(is_cancelled)
    try:
        yield
    finally:
        _CHECK.reset(token)


def current_check() -> Callable[[], bool] | None:
    """The predicate of the enclosing scope: for work handed to other threads, which do not inherit it."""
    return _CHECK.get()


def raise_if_cancelled(check: Callable[[], bool] | None = None) -> None:
    check = check or _CHECK.get()
    if check is not None and check():
        raise Cancelled("generation cancelled by its caller")

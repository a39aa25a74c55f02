"""A small thread-safe LRU map, for process-wide caches in a server that lives long (loaded backends,
per-key locks, oracle outputs): the most recently used entries stay, the rest are dropped."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def __setitem__(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def setdefault(self, key: Hashable, make: Callable[[], V]) -> V:
        """The entry for ``key``, made by ``make()`` under the lock when absent: concurrent callers of
        one key get the same value, and it is made once (so ``make`` should be quick, or rare)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            value = make()
            self._put(key, value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def _put(self, key: Hashable, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

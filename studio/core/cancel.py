"""A cancel token shared by workers and whoever may stop them. Pure Python, thread-safe."""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside a job to stop it at once (a step callback, a stopping criterion)."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

"""Admission control for queries: a limit on queries running at once and on queries waiting."""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class GateCounts:
    """Queries running and waiting right now."""

    running: int
    queued: int


class QueryGate:
    """Up to `max_running` queries run at once; up to `max_queued` more wait (FIFO); others are refused.

    Thread-safe: the node's multi-threaded executor calls it from several action/service callbacks.
    """

    def __init__(self, max_running: int, max_queued: int) -> None:
        """Limits must be >= 1 running and >= 0 queued."""
        if max_running < 1:
            raise ValueError(f"agent.max_concurrent_queries must be >= 1, got {max_running}")
        if max_queued < 0:
            raise ValueError(f"agent.max_queued_queries must be >= 0, got {max_queued}")
        self.max_running, self.max_queued = max_running, max_queued
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: list[int] = []   # tickets in arrival order
        self._next_ticket = 0
        self._closed = False

    def counts(self) -> GateCounts:
        """Current numbers of running and waiting queries."""
        with self._cond:
            return GateCounts(self._running, len(self._waiting))

    def try_reserve(self) -> int | None:
        """Reserve a place (running or waiting); None when both are full or the gate is closed."""
        with self._cond:
            if self._closed or self._running + len(self._waiting) >= self.max_running + self.max_queued:
                return None
            ticket = self._next_ticket
            self._next_ticket += 1
            self._waiting.append(ticket)
            return ticket

    def wait_turn(self, ticket: int, stop: threading.Event) -> bool:
        """Block until `ticket` may run (True) or `stop` is set / the gate closes (False, place freed)."""
        with self._cond:
            while True:
                if stop.is_set() or self._closed:
                    self._waiting.remove(ticket)
                    self._cond.notify_all()
                    return False
                if self._running < self.max_running and self._waiting[0] == ticket:
                    self._waiting.pop(0)
                    self._running += 1
                    self._cond.notify_all()
                    return True
                # Woken by release()/close()/kick(); the timeout only bounds a missed kick.
                self._cond.wait(timeout=0.5)

    def cancel_reservation(self, ticket: int) -> None:
        """Give back a place reserved with try_reserve() that will not wait nor run."""
        with self._cond:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        """A running query finished: let the next one in."""
        with self._cond:
            self._running = max(0, self._running - 1)
            self._cond.notify_all()

    def kick(self) -> None:
        """Wake waiters so they re-check their stop events (call after setting one)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Refuse new reservations and send every waiter away."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

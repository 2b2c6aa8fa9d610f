"""Home tabs refreshed at most once per person per window: a burst of events about one
person's requests publishes their tab when the burst begins and once more when it ends,
not once per event (each publish reads their inbox and costs a `views.publish`, which
Slack rate-limits).

A refresh asked for inside the window is due at its end; asked for again before then, it
is already due. The publish at the end reads the store then, so it shows every change of
the window. It needs a process that keeps running between events: the local stack turns
it on (SIGNOFF_HOME_WINDOW_SECONDS); on Lambda, whose container is frozen once its handler
returns, each event publishes (0), and each costs the person's first requests only. A
Home tab is also drawn afresh whenever its person opens it (`app_home_opened`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

HOME_WINDOW = 2.0  # seconds between two publishes of one person's Home tab
_FORGET_AFTER = 1000  # people remembered before those outside the window are forgotten


class Timer(Protocol):
    def __call__(self, delay: float, run: Callable[[], None]) -> object: ...


def thread_timer(delay: float, run: Callable[[], None]) -> object:
    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()
    return timer


class HomeRefresher:
    """Publishes people's Home tabs through `publish`, at most once per `window` each."""

    def __init__(
        self,
        publish: Callable[[str], object],
        window: float = HOME_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        timer: Timer = thread_timer,
    ):
        self._publish = publish
        self._window = window
        self._clock = clock
        self._timer = timer
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # person → when their tab was last published
        self._due: set[str] = set()  # people whose refresh waits for the window's end

    def refresh(self, user: str) -> None:
        with self._lock:
            now = self._clock()
            last = self._last.get(user)
            if last is not None and now - last < self._window:
                if user not in self._due:
                    self._due.add(user)
                    self._timer(last + self._window - now, lambda: self._at_end(user))
                return
            self._last[user] = now
            self._forget(now)
        self._publish(user)

    def _at_end(self, user: str) -> None:
        with self._lock:
            self._due.discard(user)
            self._last[user] = self._clock()
        self._publish(user)

    def _forget(self, now: float) -> None:
        if len(self._last) > _FORGET_AFTER:
            for person, at in list(self._last.items()):
                if now - at >= self._window and person not in self._due:
                    del self._last[person]

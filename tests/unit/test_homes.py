"""Home tabs refreshed once per person per window, on a clock and timers set by the test."""

from __future__ import annotations

from collections.abc import Callable

from signoff.homes import HomeRefresher


class Timers:
    """Timers that fire only when the test says."""

    def __init__(self) -> None:
        self.set: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, run: Callable[[], None]) -> object:
        self.set.append((delay, run))
        return None

    def fire_all(self) -> None:
        waiting, self.set = self.set, []
        for _, run in waiting:
            run()


def refresher() -> tuple[HomeRefresher, list[str], list[float], Timers]:
    published: list[str] = []
    now = [100.0]
    timers = Timers()
    homes = HomeRefresher(published.append, 2.0, clock=lambda: now[0], timer=timers)
    return homes, published, now, timers


def test_a_burst_publishes_each_persons_tab_when_it_begins_and_once_when_it_ends() -> None:
    homes, published, now, timers = refresher()
    for n in range(200):  # 200 events in one second about Alice's and Bob's requests
        now[0] = 100.0 + n / 200
        homes.refresh("U0ALICE")
        homes.refresh("U0BOB")
    assert published == ["U0ALICE", "U0BOB"]  # at once, the first time
    assert [round(delay, 3) for delay, _ in timers.set] == [1.995, 1.995]  # one each
    timers.fire_all()
    assert published == ["U0ALICE", "U0BOB", "U0ALICE", "U0BOB"]


def test_a_refresh_after_the_window_publishes_at_once() -> None:
    homes, published, now, timers = refresher()
    homes.refresh("U0ALICE")
    now[0] += 2.0
    homes.refresh("U0ALICE")
    assert published == ["U0ALICE", "U0ALICE"] and timers.set == []


def test_no_window_publishes_every_time() -> None:
    published: list[str] = []
    homes = HomeRefresher(published.append, 0.0, clock=lambda: 1.0)
    for _ in range(3):
        homes.refresh("U0ALICE")
    assert published == ["U0ALICE"] * 3

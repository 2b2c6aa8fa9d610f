from signoff.workflow import PollSchedule


def test_sleeps_grow_to_the_maximum_and_stay_there_for_a_week_of_polls() -> None:
    schedule = PollSchedule(initial=2, maximum=60, backoff=1.5)
    delays = [schedule.delay(n, seconds_left=10**9) for n in range(1, 12_000)]
    assert delays[:4] == [2, 3, 5, 7]
    assert max(delays) == 60 and delays[-1] == 60  # 12,000 polls: no overflow


def test_a_sleep_never_passes_the_deadline() -> None:
    schedule = PollSchedule(initial=60, maximum=4 * 3600, backoff=2.0)
    assert schedule.delay(10, seconds_left=42.2) == 43
    assert schedule.delay(10, seconds_left=-5) == 1  # past due: look again at once

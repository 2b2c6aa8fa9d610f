from signoff.workflow import Plan, PollSchedule


def test_sleeps_grow_to_the_maximum_and_stay_there_for_a_week_of_polls() -> None:
    schedule = PollSchedule(initial=2, maximum=60, backoff=1.5)
    delays = [schedule.delay(n, seconds_left=10**9) for n in range(1, 12_000)]
    assert delays[:4] == [2, 3, 5, 7]
    assert max(delays) == 60 and delays[-1] == 60  # 12,000 polls: no overflow


def test_a_sleep_never_passes_the_deadline() -> None:
    schedule = PollSchedule(initial=60, maximum=4 * 3600, backoff=2.0)
    assert schedule.delay(10, seconds_left=42.2) == 43
    assert schedule.delay(10, seconds_left=-5) == 1  # past due: look again at once


# -- reminders and escalation ---------------------------------------------------------

HOUR = 3600.0


def test_reminders_are_numbered_by_the_interval_and_stop_before_the_deadline() -> None:
    plan = Plan(created=1000.0, expires=1000.0 + HOUR, remind_every=600.0)
    assert plan.reminder_due(1000.0 + 599.9) == 0
    assert plan.reminder_due(1000.0 + 600.0) == 1
    assert plan.reminder_due(1000.0 + 1250.0) == 2
    assert plan.reminder_due(1000.0 + HOUR) == 5  # none at the deadline itself
    assert Plan(created=0.0, expires=HOUR).reminder_due(HOUR / 2) == 0  # no reminders


def test_the_next_event_is_the_earliest_reminder_escalation_or_deadline() -> None:
    plan = Plan(0.0, HOUR, remind_every=600.0, escalate_after=1500.0, escalate_to="S0X")
    assert plan.next_event(0.0, reminded=0, escalated=False) == 600.0
    assert plan.next_event(1200.0, reminded=2, escalated=False) == 1500.0
    assert plan.next_event(1500.0, reminded=2, escalated=True) == 1800.0
    assert plan.next_event(3000.0, reminded=5, escalated=True) == HOUR
    assert plan.escalation_due(1499.0) is False and plan.escalation_due(1500.0) is True
    assert plan.escalation_due(HOUR) is False  # at the deadline the request expires instead


def test_a_sleep_never_passes_the_next_reminder() -> None:
    schedule = PollSchedule(initial=4 * 3600, maximum=4 * 3600)
    plan = Plan(0.0, 7 * 24 * HOUR, remind_every=1800.0)
    now = 0.0
    for n in range(1, 50):
        wake = now + schedule.delay(n, plan.next_event(now, plan.reminder_due(now), True) - now)
        assert wake <= (plan.reminder_due(now) + 1) * 1800.0 + 1
        now = wake
    assert plan.reminder_due(now) == 49

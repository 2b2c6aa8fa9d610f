"""The ports the local stack starts its servers on: outside the kernel's ephemeral range,
where an outgoing connection's source port cannot take one while its server starts."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from signoff.local import dynamodb
from signoff.local.dynamodb import free_port


def ephemeral_range() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except OSError:
        return range(49152, 65536)
    return range(int(low), int(high) + 1)


def test_a_free_port_is_outside_the_ephemeral_range_and_can_be_bound() -> None:
    drawn = set()
    for _ in range(20):
        random.seed(7)  # as a test may seed the module's generator: the draw does not follow
        port = free_port()
        assert port not in ephemeral_range()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
        drawn.add(port)
    assert len(drawn) > 1  # two workers' servers do not draw the same ports


def test_when_the_quiet_range_is_taken_the_kernel_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        monkeypatch.setattr(dynamodb, "_QUIET_PORTS", range(busy, busy + 1))
        port = free_port()
    assert port != busy

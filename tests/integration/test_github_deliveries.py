"""Webhook deliveries recorded on DynamoDB Local: one first per id, racing or retried."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from signoff.gates.deliveries import DynamoDeliveries
from tests.faultproxy import FaultProxy, amz_target

RACERS = 8


def deliveries(client: Any, name: str) -> DynamoDeliveries:
    return DynamoDeliveries(client, name, timedelta(days=30), lambda: datetime.now(UTC))


def test_a_delivery_is_first_once_and_again_once_handed_back(table: tuple[Any, str]) -> None:
    seen = deliveries(*table)
    assert seen.first("d-1") and not seen.first("d-1")
    seen.forget("d-1")
    assert seen.first("d-1") and not seen.first("d-1")
    assert seen.first("d-2")


def test_racing_redeliveries_have_one_first(table: tuple[Any, str]) -> None:
    seen = deliveries(*table)
    for round_ in range(10):
        start = threading.Barrier(RACERS)

        def race(
            _: int, delivery: str = f"race-{round_}", start: threading.Barrier = start
        ) -> bool:
            start.wait()
            return seen.first(delivery)

        with ThreadPoolExecutor(RACERS) as pool:
            assert sum(pool.map(race, range(RACERS))) == 1


def test_a_put_whose_answer_was_lost_is_still_the_first(
    ddb_endpoint: str, table: tuple[Any, str]
) -> None:
    """The first PutItem is carried out but its answer comes after the client's read
    timeout; botocore retries, the condition fails, and the item holds our own claim."""
    _, name = table
    with FaultProxy(ddb_endpoint) as proxy:
        client = boto3.client(
            "dynamodb",
            endpoint_url=proxy.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 2}),
        )
        proxy.fail(amz_target("PutItem"), times=1, delay=1.5, forward=True)
        seen = deliveries(client, name)
        assert seen.first("lost-answer")
        assert proxy.count(amz_target("PutItem")) == 2
        assert not seen.first("lost-answer")

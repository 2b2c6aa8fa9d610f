"""`signoff dev` is closed to the network and to web pages.

Every socket its processes listen on (its own, moto's, DynamoDB Local's JVM) is bound to
127.0.0.1, read from /proc as `ss -ltnp` reads it. Each server refuses a foreign Host
(421: DNS rebinding) and a page of another site (403) before reading the request; the
stack's own server refuses a body over its limit (413) unread; the local Secrets Manager
serves the Slack secret only to requests signed with the stack's own credentials.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from signoff.local import aws
from tests.e2e.test_dev_stack import Dev

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    stack = Dev(tmp_path_factory.mktemp("network") / "state")
    stack.start()
    yield stack
    stack.stop()


def process_tree(root: int) -> set[int]:
    """`root` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended while we looked
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree = {root}
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return tree


def socket_inodes(pids: set[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {int(link[8:-1]) for link in links if link.startswith("socket:[")}
    return inodes


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    words = b"".join(
        struct.pack("<I", int.from_bytes(raw[i : i + 4], "big")) for i in range(0, len(raw), 4)
    )
    return str(ipaddress.ip_address(words))


def listening(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the processes listen on (`ss -ltn`'s view)."""
    inodes = socket_inodes(pids)
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and inode in inodes:  # LISTEN
                address, port = local.split(":")
                found.append((_address(address), int(port, 16)))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # Java binds 127.0.0.1 on a dual-stack socket as ::ffff:127.0.0.1
    return ip.is_loopback


def status_of(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_every_listening_socket_of_the_stack_is_on_loopback(dev: Dev) -> None:
    assert dev.proc is not None
    config = dev.get("/local/config")
    sockets = listening(process_tree(dev.proc.pid))
    ports = {port for _, port in sockets}
    for endpoint in (dev.url, config["dynamodb_endpoint"], config["aws_endpoint"]):
        assert int(endpoint.rsplit(":", 1)[1]) in ports, (endpoint, sockets)
    exposed = [(address, port) for address, port in sockets if not is_loopback(address)]
    assert exposed == [], sockets


def test_a_foreign_host_is_refused_by_every_server(dev: Dev) -> None:
    config = dev.get("/local/config")
    for base in (dev.url, config["dynamodb_endpoint"], config["aws_endpoint"]):
        assert status_of(base + "/", headers={"Host": "evil.example"}) == 421, base
    assert status_of(f"{dev.url}/local/messages", headers={"Host": "attacker.test:80"}) == 421
    rebound = status_of(
        f"{dev.url}/slack/events",
        data=b"payload=%7B%7D",
        headers={"Host": f"evil.example:{dev.port}"},
    )
    assert rebound == 421
    assert status_of(f"{dev.url}/local/messages", headers={"Host": f"localhost:{dev.port}"}) == 200


def test_a_page_of_another_site_is_refused(dev: Dev) -> None:
    config = dev.get("/local/config")
    page = {"Origin": "http://evil.example"}
    assert status_of(f"{dev.url}/local/channels/approvals/leave", b"", page) == 403
    assert status_of(config["dynamodb_endpoint"] + "/", b"{}", page) == 403
    assert status_of(config["aws_endpoint"] + "/", b"", page) == 403
    channels = dev.get("/local/messages")  # still served to the page's own origin
    assert "messages" in channels


def test_a_10_mb_body_to_the_bolt_endpoint_gets_413_unread(dev: Dev) -> None:
    with socket.create_connection(("127.0.0.1", dev.port), timeout=10) as conn:
        began = time.monotonic()
        conn.sendall(
            (
                "POST /slack/events HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{dev.port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        answer = conn.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert time.monotonic() - began < 5  # answered without waiting for the body


def test_the_slack_secret_is_served_only_to_the_stacks_credentials(dev: Dev) -> None:
    config = dev.get("/local/config")
    credentials = Path(config["aws_credentials_file"])
    assert credentials.stat().st_mode & 0o777 == 0o600
    signed = aws.stack_client(config, "secretsmanager")
    assert "bot_token" in signed.get_secret_value(SecretId=config["secret_id"])["SecretString"]
    with pytest.raises(ClientError) as refused:
        aws.client(config["aws_endpoint"], "secretsmanager").get_secret_value(
            SecretId=config["secret_id"]
        )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert status_of(config["aws_endpoint"] + "/moto-api/data.json") == 403

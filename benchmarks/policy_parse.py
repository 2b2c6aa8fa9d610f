"""Reading a policy document: the largest one accepted, the same one again, and bombs.

Prints, for a document just under the 64 KiB cap (1,100 policies), the first parse
through `FilePolicies.load` (read, hash, check the parser's events, build with the strict
loader, check the rules) with libyaml and without, each beside PyYAML's own load of the
same text without any check as the yardstick, and a later load of the unchanged file
(read and hash only: parsed once per content); then how
long the refusals of hostile documents take: an alias bomb of 9 levels (9**9 strings once
expanded; a few hundred bytes), 60,000 nested brackets, and a 7.7 MB file.

Run: .venv/bin/python -m benchmarks.policy_parse [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from signoff import policy
from signoff.errors import ConfigError
from signoff.policy import FilePolicies, PolicyBook

RULE = "{approvers: [U0ALICE, U0BOB], min_approvals: 2}"


def largest() -> str:
    return "policies:\n" + "".join(f"  p-{i:04d}: {RULE}\n" for i in range(1100))


def laughs(levels: int) -> str:
    lines = ["groups:", '  S0A0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"  S0A{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def timed(call: Callable[[], object], runs: int) -> float:
    """Median milliseconds of `runs` calls."""
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took)


def refused(text: str, source: str = "bomb.yaml") -> Callable[[], object]:
    def call() -> object:
        policy._PARSED.clear()
        try:
            PolicyBook.parse(text, source=source)
        except ConfigError as exc:
            return exc
        raise AssertionError("accepted")

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PyYAML {yaml.__version__}; median of {runs}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policies.yaml"
        text = largest()
        path.write_text(text)
        source = FilePolicies(path)

        def first() -> object:
            policy._PARSED.clear()
            return source.load()

        first_ms = timed(first, runs)
        source.load()
        again_ms = timed(source.load, runs)
        c_ms = timed(lambda: yaml.load(text, Loader=yaml.CSafeLoader), runs)
        plain_ms = timed(lambda: yaml.safe_load(text), runs)
        yaml.__with_libyaml__, with_libyaml = False, yaml.__with_libyaml__
        policy._strict_loader.cache_clear()
        python_ms = timed(first, runs)
        yaml.__with_libyaml__ = with_libyaml
        policy._strict_loader.cache_clear()
        print(f"largest accepted document: {len(text.encode()):,} bytes, 1,100 policies")
        print(f"  first load (read, check events, parse, check rules)  {first_ms:8.1f} ms")
        print(f"    yaml.load with libyaml alone (no checks)           {c_ms:8.1f} ms")
        print(f"  the same without libyaml (pure-Python loader)        {python_ms:8.1f} ms")
        print(f"    yaml.safe_load alone (no checks)                   {plain_ms:8.1f} ms")
        print(
            f"  load again, unchanged (read and hash)                {again_ms:8.2f} ms "
            f"({first_ms / again_ms:,.0f}x faster than the first)"
        )
        big = Path(tmp) / "big.yaml"
        big.write_text("policies:\n" + "".join(f"  p-{i:06d}: {RULE}\n" for i in range(140_000)))
        print("refusals:")
        bomb = laughs(9)
        for name, call in (
            (f"alias bomb, 9 levels ({len(bomb.encode())} bytes)", refused(bomb)),
            ("60,000 nested brackets", refused("a: " + "[" * 60_000)),
            (f"a {big.stat().st_size / 1e6:.1f} MB file", FilePoliciesRefusal(big)),
        ):
            print(f"  {name:<53}{timed(call, runs):8.2f} ms")


class FilePoliciesRefusal:
    def __init__(self, path: Path):
        self._source = FilePolicies(path)

    def __call__(self) -> object:
        try:
            self._source.load()
        except ConfigError as exc:
            return exc
        raise AssertionError("accepted")


if __name__ == "__main__":
    main()

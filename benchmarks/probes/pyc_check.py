"""Checks that every module a probe imported has current byte code; compiles those
that have none (as the interpreter running this would write them on import).

    python benchmarks/probes/pyc_check.py LISTING

LISTING holds one module file per line (a probe's BENCH_MODULES_OUT). Prints one JSON
line: how many sources were listed, how many were compiled now, and any that could not be.
Run by `benchmarks.cold_start` with the probes' own interpreter: byte code is per version.
"""

import importlib.util
import json
import os
import py_compile
import sys


def current(source: str) -> bool:
    """Whether the .pyc for `source` is one the import would use as it stands."""
    try:
        with open(importlib.util.cache_from_source(source), "rb") as cached:
            header = cached.read(16)
        stat = os.stat(source)
    except OSError:
        return False
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(header[4:8], "little")
    if flags & 0b1:  # hash-based: unchecked ones are used as they are (`sam build`'s)
        if flags & 0b10 == 0:
            return True
        with open(source, "rb") as text:
            return header[8:16] == importlib.util.source_hash(text.read())
    mtime = int.from_bytes(header[8:12], "little")
    size = int.from_bytes(header[12:16], "little")
    return mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as listing:
        sources = sorted({line for line in listing.read().splitlines() if line.endswith(".py")})
    stale = [source for source in sources if not current(source)]
    failed = []
    for source in stale:
        try:
            py_compile.compile(source, doraise=True)
        except (OSError, py_compile.PyCompileError):
            failed.append(source)
    failed += [source for source in stale if source not in failed and not current(source)]
    print(json.dumps({"modules": len(sources), "compiled": len(stale), "failed": failed}))


if __name__ == "__main__":
    main()

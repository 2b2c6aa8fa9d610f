"""Cold-start probe: import one module (a handler's), then exit.

    python benchmarks/probes/import_module.py MODULE

The last stdout line is JSON: seconds from the probe's first line to the module imported.
BENCH_MODULES_OUT as in slack_first_request.py.
"""

import time

started = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

importlib.import_module(sys.argv[1])
print(json.dumps({"import": time.perf_counter() - started, "first": time.perf_counter() - started}))
if os.environ.get("BENCH_MODULES_OUT"):
    with open(os.environ["BENCH_MODULES_OUT"], "w", encoding="utf-8") as out:
        out.write(
            "\n".join(
                str(getattr(m, "__file__", None) or "")
                for m in list(sys.modules.values())
                if m is not sys.modules["__main__"]  # a script: always run from source
            )
        )
sys.stdout.flush()
if not os.environ.get("BENCH_TEARDOWN"):
    os._exit(0)  # a sandbox never tears its interpreter down between requests: not timed

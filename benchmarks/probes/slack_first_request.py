"""Cold-start probe: import the Slack handler and answer one signed request, then exit.

Run in a fresh interpreter by `benchmarks.cold_start` (which times the whole process):

    python benchmarks/probes/slack_first_request.py EVENT.json

EVENT.json is a Function URL event signed with the signing secret the handler reads from
Secrets Manager (SIGNOFF_SLACK_SECRET_ID). The answer must be 200. With BENCH_TRACER set,
Powertools Tracer wraps the handler (as `Tracing: Active` would). The last stdout line
is JSON: seconds from the probe's first line to the handler imported and to the answer.
With BENCH_MODULES_OUT set, the files of every module imported are written there (after
the figures are taken), so the caller can check that each has a current .pyc.
"""

import time

started = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

if os.environ.get("BENCH_TRACER"):  # as with `Tracing: Active`: botocore patched first
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="signoff")

import slack_handler.app  # noqa: E402

imported = time.perf_counter()
handler = slack_handler.app.handler
if os.environ.get("BENCH_TRACER"):
    handler = tracer.capture_lambda_handler(handler)


class Context:
    """What the Lambda runtime passes a handler, as far as the handler reads it."""

    function_name = "signoff-bench-slack"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:signoff-bench-slack"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


with open(sys.argv[1], encoding="utf-8") as source:
    event = json.load(source)
result = handler(event, Context())
answered = time.perf_counter()
if result["statusCode"] != 200:
    raise SystemExit(f"the handler answered {result}")
print(json.dumps({"import": imported - started, "first": answered - started}))
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

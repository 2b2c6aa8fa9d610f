"""Cold-start probe, the floor: what any Bolt app on Lambda that writes to DynamoDB pays.

Imports boto3, creates a DynamoDB client, builds a minimal Bolt app with one action
listener and answers one signed request through it (Bolt's own signature check), then
exits. Run by `benchmarks.cold_start` beside the Slack handler's probe:

    python benchmarks/probes/bolt_floor.py EVENT.json

EVENT.json is a Function URL event holding a signed `block_actions` click on
`signoff.approve`, signed with BENCH_SIGNING_SECRET. The answer must be 200. Output and
BENCH_MODULES_OUT as in slack_first_request.py.
"""

import time

started = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
from slack_bolt import App, BoltRequest  # noqa: E402
from slack_bolt.authorization import AuthorizeResult  # noqa: E402

imported = time.perf_counter()

dynamodb = boto3.client("dynamodb")


def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> Any:
    # One workspace, one token: no auth.test round trip (Bolt's single-team default).
    return AuthorizeResult(
        enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token="xoxb-floor"
    )


app = App(
    name="floor",  # without a name Bolt names the app from inspect.stack()
    signing_secret=os.environ["BENCH_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=True,
)


@app.action("signoff.approve")
def approve(ack: Any) -> None:
    ack()


with open(sys.argv[1], encoding="utf-8") as source:
    event = json.load(source)
response = app.dispatch(BoltRequest(body=event["body"], headers=event["headers"]))
answered = time.perf_counter()
if response.status != 200:
    raise SystemExit(f"the floor answered {response.status} {response.body}")
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

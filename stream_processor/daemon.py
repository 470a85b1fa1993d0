"""The KCL MultiLangDaemon (Java) that drives the record processors: its properties file and
command line, used by the container in AWS and by the local stack alike.

There is one launch path: ``settings_for`` (the properties from the processor's
configuration), then ``prepare`` (write them, return the command line), then ``supervise``
(``stream-processor run``) or the harness's own ``Popen`` (``local_stack.harness.kcl``, a test's
daemon with another record processor).

Which properties are written follows ``TOTESYS_CDC_ENVIRONMENT`` (``local`` or ``aws``,
``ProcessorConfig.environment``), never whether an endpoint is set: the endpoints are written
whenever they are given, the local timings and the loopback-only settings only in ``local``.

Against a local emulation (an ``http://`` endpoint) two settings matter: the Kinesis client
then speaks HTTP/2 cleartext, and ``-Daws.cborEnabled=false`` makes it speak JSON, which moto
parses (with CBOR every call fails).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contracts.events import error
from contracts.settings import AWS, ENDPOINT, LOCAL, check_endpoints
from stream_processor.config import KINESIS_ENDPOINT, ProcessorConfig

# The record processor the daemon runs per shard, as ``python -m <module>``.
RECORD_PROCESSOR = "stream_processor.kcl_app"
MAIN_CLASS = "software.amazon.kinesis.multilang.MultiLangDaemon"
# KCL 3's graceful lease handoff, on everywhere (the KCL's default): how long the old owner's
# record processor has to checkpoint before the KCL transfers the lease anyway
# (gracefulLeaseHandoffTimeoutMillis; its default, written so that the lease watch's bound,
# startup.HANDOFF_STUCK_S, follows it).
GRACEFUL_HANDOFF_TIMEOUT_MS = 30_000
# How long a lease lives without renewal (failoverTimeMillis): the KCL's default, not written.
FAILOVER_TIME_MS = 10_000


class DaemonSetupError(RuntimeError):
    """Java or the KCL jars are missing; the message says what to install."""


def jars_dir() -> Path:
    """The KCL jars installed with amazon-kclpy (tools/install-kclpy.sh puts them there)."""
    import amazon_kclpy

    directory = Path(amazon_kclpy.__file__).parent / "jars"
    if not any(directory.glob("amazon-kinesis-client-multilang-*.jar")):
        raise DaemonSetupError(f"the KCL jars are missing from {directory}: run 'make install'")
    return directory


def java() -> str:
    path = shutil.which("java")
    if path is None:
        raise DaemonSetupError(
            "'java' was not found: install Java 17+ (apt install openjdk-17-jre-headless)"
        )
    return path


@dataclass(frozen=True)
class DaemonSettings:
    """One KCL application's properties: polling retrieval and graceful lease handoff
    everywhere; in the ``local`` environment, no CloudWatch metrics, no worker CPU metrics and
    short lease timings so shards are picked up within seconds; in ``aws``, the KCL's own
    defaults for lease and shard-sync timings. The endpoints are written whenever they are
    given, in either (``contracts.settings.check_endpoints``: ``local`` needs one, on loopback;
    ``aws`` takes one, as a test of the AWS properties against the emulation does)."""

    stream_name: str
    application_name: str
    executable: str
    region: str
    environment: str = AWS  # TOTESYS_CDC_ENVIRONMENT: ``aws`` or ``local``
    endpoint: str | None = None  # None: the real AWS endpoints
    kinesis_endpoint: str | None = None  # when Kinesis is reached elsewhere than ``endpoint``
    initial_position: str = "TRIM_HORIZON"
    idle_time_ms: int = 250  # between GetRecords calls on a shard: the polling latency floor
    worker_id: str | None = None  # None: the KCL names the worker (a random UUID)
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_endpoints(
            self.environment, {ENDPOINT: self.endpoint, KINESIS_ENDPOINT: self.kinesis_endpoint}
        )

    def render(self) -> str:
        props = {
            "executableName": self.executable,
            "streamName": self.stream_name,
            "applicationName": self.application_name,
            "AwsCredentialsProvider": "DefaultCredentialsProvider",
            "processingLanguage": "python/3",
            "initialPositionInStream": self.initial_position,
            "regionName": self.region,
            "retrievalMode": "POLLING",
            "idleTimeBetweenReadsInMillis": str(self.idle_time_ms),
            # How long SIGTERM's graceful shutdown may take (the KCL's default, 0, gives none):
            # record processors get shutdown_requested and can flush and checkpoint.
            "shutdownGraceMillis": "30000",
            # process_records is called even with no new records, so an old batch is flushed
            # by age when its shard goes quiet.
            "callProcessRecordsEvenForEmptyRecordList": "true",
            "gracefulLeaseHandoffTimeoutMillis": str(GRACEFUL_HANDOFF_TIMEOUT_MS),
        }
        if self.worker_id:
            props["workerId"] = self.worker_id
        # The endpoints are written whenever they are given, whatever the environment. ``aws``
        # with an http://127.0.0.1 endpoint is allowed on purpose: that is how a test checks
        # the AWS properties against the local emulation. It keeps every AWS setting, so the
        # KCL's own metrics and its CPU probe are on and would leave loopback (the multilang
        # daemon sets no CloudWatch endpoint): ``local`` is what keeps them off.
        if self.kinesis_endpoint or self.endpoint:
            props["kinesisEndpoint"] = self.kinesis_endpoint or self.endpoint
        if self.endpoint:
            props["dynamoDBEndpoint"] = self.endpoint
        if self.environment == LOCAL:
            # Timings for a local stack, where shards must be picked up at once. In AWS none
            # of these is written and the KCL's documented defaults apply
            # (shardSyncIntervalMillis 60 s, leaseAssignmentIntervalMillis twice
            # failoverTimeMillis: "KCL configurations", Amazon Kinesis Data Streams Developer
            # Guide). failoverTimeMillis (how long a lease lives without renewal) keeps its
            # default, 10 s, here too: at 2 s, three workers sharing two cores with the local
            # emulation missed renewals, and the leader moved leases back and forth every
            # few seconds (measured: a lease lost every ~5 s per worker). A restarted worker
            # with the same worker id finds its own leases at once, without waiting for them
            # to expire.
            props |= {
                "leaseAssignmentIntervalMillis": "1000",
                "shardSyncIntervalMillis": "2000",
                "parentShardPollIntervalMillis": "1000",
                # The leader rebalances leases between workers (by CPU, or by throughput where
                # it reads no CPU, as here) every varianceBalancingFrequency-th assignment run:
                # 3 x 20 s in AWS. At 3 x 1 s, leases moved every few seconds as the traffic's
                # throughput per shard wavered; 30 x 1 s keeps a cadence near AWS's.
                "varianceBalancingFrequency": "30",
            }
            # Graceful lease handoff (KCL 3) stays on, as in AWS: the leader moves a live
            # worker's lease by naming the new owner and the old one as checkpointOwner, and
            # the old owner checkpoints and lets go. KCL 3.1.3 can leave one such hand-over
            # unfinished; the lease watch of ``stream-processor run`` ends it
            # (startup.Handoffs, which cites the KCL's fix). What remains local-only is below:
            # the timings above and workerMetricsReporterFreqInMillis (test speed),
            # metricsLevel and disableWorkerMetrics (nothing may leave loopback; the endpoints,
            # above, are on loopback: check_endpoints).
            props |= {
                # The KCL's own CloudWatch metrics: its multilang configuration sets an
                # endpoint for Kinesis and DynamoDB only (MultiLangDaemonConfiguration, KCL
                # 3.1.3), so they would go to AWS's CloudWatch.
                "metricsLevel": "NONE",
                # KCL 3 takes over a stopped worker's leases once that worker's metrics go
                # stale; at the default 30 s reporting interval that takes minutes locally.
                "workerMetricsReporterFreqInMillis": "1000",
                # KCL 3 probes for ECS, EKS and then EC2 to read the worker's CPU, the last by
                # calling the instance metadata address (169.254.169.254); locally nothing may
                # leave loopback, so leases are balanced by throughput alone.
                "disableWorkerMetrics": "true",
            }
        props |= dict(self.extra)
        return "".join(f"{key} = {value}\n" for key, value in props.items())


def settings_for(
    cfg: ProcessorConfig,
    record_processor: str = RECORD_PROCESSOR,
    *,
    worker_id: str | None = None,
) -> DaemonSettings:
    """The daemon's properties for ``cfg``, its record processor run as ``python -m
    record_processor`` by this interpreter; ``worker_id`` overrides ``cfg.worker_id``."""
    return DaemonSettings(
        stream_name=cfg.stream_name,
        application_name=cfg.application_name,
        executable=f"{sys.executable} -m {record_processor}",
        region=cfg.region,
        environment=cfg.environment,
        endpoint=cfg.endpoint_url,
        kinesis_endpoint=cfg.kinesis_endpoint_url,
        idle_time_ms=cfg.kcl_idle_time_ms,
        worker_id=worker_id or cfg.worker_id,
    )


def prepare(settings: DaemonSettings, properties_path: Path, max_heap_mb: int = 512) -> list[str]:
    """Write ``settings`` to ``properties_path`` and return the command line that runs the
    daemon on them (``command``)."""
    properties_path.parent.mkdir(parents=True, exist_ok=True)
    properties_path.write_text(settings.render())
    return command(properties_path, max_heap_mb)


def log_configuration() -> Path:
    """The daemon's logback configuration (``stream_processor/logback.xml``, package data):
    each line a record processor writes on stderr is passed through once, unchanged, instead
    of twice with an ERROR wrapper around one copy (``DrainChildSTDERRTask``); the daemon's own
    lines keep their levels."""
    return Path(__file__).with_name("logback.xml")


def command(properties_path: Path, max_heap_mb: int = 512) -> list[str]:
    """The MultiLangDaemon's command line, its heap capped at ``max_heap_mb``
    (``ProcessorConfig.kcl_max_heap_mb``)."""
    return [
        java(),
        f"-Xmx{max_heap_mb}m",
        "-Daws.cborEnabled=false",
        "-cp",
        f"{jars_dir()}/*",
        MAIN_CLASS,
        "-p",
        str(properties_path),
        "-l",
        str(log_configuration()),
    ]


@dataclass(frozen=True)
class Restarts:
    """How ``supervise`` restarts a daemon that exited without being asked to: after
    ``first_s``, doubling up to ``max_s`` while it keeps exiting; a daemon that ran
    ``healthy_after_s`` starts the count again."""

    first_s: float = 1.0
    max_s: float = 60.0
    healthy_after_s: float = 300.0
    # A daemon that exits this soon after starting, this many times in a row, cannot start at
    # all (bad properties, a broken image): give up, so that ECS sees the task fail (its
    # deployment circuit breaker acts on tasks that fail to start), instead of restarting it
    # forever. A shard stopping on an edge failure exits later: the KCL takes its leases first.
    start_failure_s: float = 10.0
    start_failures: int = 5

    def delay(self, restarts_in_a_row: int) -> float:
        return min(self.first_s * 2 ** (restarts_in_a_row - 1), self.max_s)


def supervise(
    argv: list[str],
    watch: Callable[[threading.Event], None] | None = None,
    *,
    restarts: Restarts | None = None,
) -> int:
    """Run the daemon as a child process, passing SIGTERM and SIGINT on to it, and return its
    exit status as a shell reports it (128 + the signal's number when a signal ended it).
    ``watch``, if given, runs in a thread each time the daemon has started, until the event it
    is given is set when that daemon has exited.

    With ``restarts``, a daemon that exits without having been signalled is started again
    (logged as ``daemon_exited``, an ERROR), until a signal stops it, or until it has exited
    within ``start_failure_s`` of starting ``start_failures`` times in a row
    (``daemon_cannot_start``: its status is returned). This is how a shard that
    stopped (``kcl_app``: its record processor exits, and with it the whole daemon) is read
    again from its checkpoint: the new daemon keeps the worker id, so it takes its own leases
    back at once. A signal during the pause before a restart stops at once.

    The container's entry point needs a parent that outlives the daemon, to release its leases
    afterwards; as PID 1 it must also handle SIGTERM itself (PID 1 ignores unhandled signals).
    A signal that arrives before the daemon has started stops it from starting."""
    received: list[int] = []
    signalled = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        signalled.set()
        if child is not None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    in_a_row = failed_starts = 0
    try:
        while True:
            if received:
                return 128 + received[0]
            started = time.monotonic()
            child = subprocess.Popen(argv)  # noqa: S603 - the daemon's own command line
            for signum in received:  # came while Popen ran, before ``child`` was set
                child.send_signal(signum)
            exited = threading.Event()
            if watch is not None:
                threading.Thread(target=watch, args=(exited,), name="watch", daemon=True).start()
            code = child.wait()
            exited.set()
            status = 128 - code if code < 0 else code
            if received or restarts is None:
                return status
            ran_s = time.monotonic() - started
            in_a_row = 1 if ran_s >= restarts.healthy_after_s else in_a_row + 1
            failed_starts = failed_starts + 1 if ran_s < restarts.start_failure_s else 0
            if failed_starts >= restarts.start_failures:
                error("daemon_cannot_start", status=status, exits=failed_starts)
                return status or 1
            delay = restarts.delay(in_a_row)
            error(
                "daemon_exited",
                status=status,
                ran_s=round(ran_s, 1),
                restarts_in_a_row=in_a_row,
                restart_in_s=delay,
            )
            child = None
            if signalled.wait(delay):
                return 128 + received[0]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

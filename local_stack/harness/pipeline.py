"""The whole pipeline on the local stack, as the processes it runs as in production:

ToteSys database → capture engine → Kinesis → stream processor (the real KCL daemon) → S3 →
SQS → loader runner → warehouse database.

``Pipeline`` supervises those processes (start, SIGKILL, SIGTERM, restart, wait until caught
up). What it runs on is made by ``provision`` (fresh ``Names`` per run), what it has done is
read through ``observe`` (``pipeline.observe``), and the faults the end-to-end tests inject
from outside are in ``faults`` (``pipeline.faults``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdc.simulator import traffic
from local_stack.harness import provision
from local_stack.harness.capture_process import CaptureProcess
from local_stack.harness.faults import Faults
from local_stack.harness.observe import Observer
from local_stack.harness.provision import Names
from local_stack.harness.tcp_proxy import TcpProxy
from local_stack.services import config as stack_config
from local_stack.services.processes import wait_until

# The processor publishes its per-batch figures to (moto's) CloudWatch, where the dashboard
# reads how far behind the stream it is; the namespace is per run.
METRICS_NAMESPACE_PREFIX = "TotesysCDC/Local"


class Pipeline:
    def __init__(
        self,
        cfg: stack_config.StackConfig,
        names: Names,
        *,
        settings: dict[str, str] | None = None,
        kinesis_relay: bool = False,
    ) -> None:
        """``settings``: extra ``TOTESYS_CDC_*`` variables for every process (batch knobs).
        ``kinesis_relay``: reach Kinesis through a ``TcpProxy`` (for ``faults.kinesis_outage``)."""
        self.cfg = dataclasses.replace(cfg, stream_name=names.stream)  # app_env, ensure_stream
        self.names = names
        # Each process connects as its role (docs/database-roles.md): capture as the capture
        # role, the traffic as ToteSys's application, the loader as the loader; the owners
        # only for DDL (set-up, migrations, a test's ALTER TABLE).
        sources = cfg.source_dsns(names.source_db)
        warehouses = cfg.warehouse_dsns(names.warehouse_db)
        self.source_dsn = sources["TOTESYS_CDC_SOURCE_APP_DSN"]
        self.source_owner_dsn = sources["TOTESYS_CDC_SOURCE_OWNER_DSN"]
        self.warehouse_dsn = warehouses["TOTESYS_CDC_WAREHOUSE_DSN"]
        self.warehouse_owner_dsn = warehouses["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"]
        self.metrics_namespace = f"{METRICS_NAMESPACE_PREFIX}/{names.task_id}"
        self.created_at = datetime.now(UTC)
        self.proxy = TcpProxy(cfg.aws_port).start() if kinesis_relay else None
        self.env = stack_config.process_env(
            {
                **stack_config.app_env(self.cfg),
                **sources,
                **warehouses,
                "TOTESYS_CDC_BATCH_BUCKET": names.bucket,
                "TOTESYS_CDC_STATE_TABLE": names.state_table,
                "TOTESYS_CDC_KCL_APPLICATION": names.app,
                "TOTESYS_CDC_CAPTURE_TASK_ID": names.task_id,
                "TOTESYS_CDC_CAPTURE_SLOT": names.slot,
                "TOTESYS_CDC_PUBLISH_METRICS": "1",
                "TOTESYS_CDC_METRICS_NAMESPACE": self.metrics_namespace,
                **(settings or {}),
            }
        )
        if self.proxy is not None:
            self.env["AWS_ENDPOINT_URL_KINESIS"] = self.proxy.url
        self.capture = CaptureProcess(
            self.env, cfg.capture_state_dir, names.task_id, self.log_path("capture")
        )  # capture needs nothing create() adds later
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopped: set[str] = set()  # killed or stopped on purpose, not restarted
        self.observe = Observer(self.cfg, names)
        self.faults = Faults(self.cfg, names, self.proxy)

    def log_path(self, process: str) -> Path:
        return self.cfg.log_dir / f"{self.names.task_id}-{process}.log"

    def create(self, seed: int = 42, scale: int = 1) -> dict[str, int]:
        """Fresh resources for this run (``provision.create``); the source rows per table."""
        written, queue_url = provision.create(self.cfg, self.names, seed, scale)
        self.env["TOTESYS_CDC_LOAD_QUEUE_URL"] = queue_url
        return written

    def destroy(self, *, keep_data: bool = False) -> None:
        provision.destroy(self.cfg, self.names, keep_data=keep_data)

    # --- processes ------------------------------------------------------------------------

    COMMANDS = {
        "processor": ["-m", "stream_processor.cli", "run", "--properties"],
        "loader": ["-m", "warehouse_tools.cli", "run-local"],
    }

    @staticmethod
    def instance(kind: str, number: int) -> str:
        """The name of the ``number``-th ``processor`` or ``loader``: ``processor``,
        ``processor-2``, ``processor-3``…"""
        return kind if number == 1 else f"{kind}-{number}"

    def start_process(
        self,
        name: str,
        *,
        record_processor: str | None = None,
        command: list[str] | None = None,
    ) -> None:
        """``processor`` (a KCL worker: the daemon and its Python record processors) or
        ``loader``, or another instance of either (``processor-2``, ``loader-3``: see
        ``instance``). Every processor is a worker of the one KCL application, named ``name``
        in the lease table, with its own properties file.

        ``record_processor``: a module the daemon runs instead of ``stream_processor.kcl_app``
        (a test's wrapped processor), passed to ``stream-processor run`` as
        ``--record-processor``, so that it is supervised and restarted as production's is.
        ``command``: the interpreter's arguments in place of ``COMMANDS[kind]`` (a test's
        wrapped loader, e.g. ``["-m", "tests.e2e.evolved_design_app", "warehouse-loader",
        "run-local"]``)."""
        kind = name.split("-")[0]
        argv = [sys.executable, *(command or self.COMMANDS[kind])]
        env = dict(self.env)
        if kind == "processor":
            env["TOTESYS_CDC_KCL_WORKER_ID"] = name
            properties = self.cfg.state_dir / "kcl" / f"{self.names.app}-{name}.properties"
            argv.append(str(properties))
            if record_processor is not None:
                argv += ["--record-processor", record_processor]
        self.stopped.discard(name)
        with open(self.log_path(name), "ab") as log:
            self.procs[name] = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start(
        self, *, record_processor: str | None = None, processors: int = 1, loaders: int = 1
    ) -> None:
        """``processors`` KCL workers and ``loaders`` loader runners first (the KCL takes
        ~20 s to take its leases), then capture, which returns once the full load is on the
        stream."""
        for number in range(1, processors + 1):
            self.start_process(
                self.instance("processor", number), record_processor=record_processor
            )
        for number in range(1, loaders + 1):
            self.start_process(self.instance("loader", number))
        self.capture.start()
        self.capture.wait_running()

    def kill(self, name: str) -> None:
        """SIGKILL: ``capture``, a processor (the daemon and its children) or a loader."""
        if name == "capture":
            self.capture.kill()
            return
        self.stopped.add(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_process(self, name: str) -> None:
        """SIGTERM a processor or a loader and wait: the daemon flushes, checkpoints and lets
        its leases go."""
        self.stopped.add(name)
        proc = self.procs[name]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)

    def replay_reset(self, *args: str) -> str:
        """``stream-processor replay reset ARGS`` for this pipeline; returns what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "stream_processor.cli", "replay", "reset", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"replay reset failed: {done.stderr.strip()}")
        return done.stdout

    def restart(self, name: str) -> None:
        if name == "capture":
            self.capture.start()
            self.capture.wait_running()
        else:
            self.start_process(name)

    def alive(self) -> dict[str, bool]:
        return {
            "capture": self.capture.proc is not None and self.capture.proc.poll() is None,
            **{name: p.poll() is None for name, p in self.procs.items()},
        }

    def stop(self) -> None:
        """SIGTERM everything (the daemon flushes and checkpoints), SIGKILL what lingers."""
        if self.capture.proc is not None and self.capture.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.capture.stop()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.proxy is not None:
            self.proxy.stop()

    def traffic(self, **kwargs: Any) -> traffic.TrafficStats:  # noqa: ANN401
        """``cdc.simulator.traffic.run`` against this pipeline's source."""
        return traffic.run(self.source_dsn, **kwargs)

    def raise_if_exited(self) -> None:
        """Fail when a processor or loader has exited that was not stopped on purpose."""
        for name, proc in self.procs.items():
            if proc.poll() is not None and name not in self.stopped:
                raise RuntimeError(f"the {name} exited ({proc.returncode}); see its log")

    def quiesce(self, timeout_s: float = 300) -> None:
        """Until capture has shipped every committed change, the processor has checkpointed
        every record on the stream and the loader has loaded every manifest announced. Call
        once the traffic has stopped."""
        if self.capture.proc is not None and self.capture.proc.poll() is None:
            self.capture.wait_caught_up(self.source_dsn, timeout_s=timeout_s)
        last = self.observe.stream_ends()

        def settled() -> bool:
            self.raise_if_exited()
            return not self.observe.behind(last) and not self.observe.queue_depth()

        wait_until(
            settled,
            what="the processor and loader to catch up",
            timeout_s=timeout_s,
            log_path=self.log_path("processor"),
            interval_s=0.5,
        )

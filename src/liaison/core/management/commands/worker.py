"""`liaison worker [--until-idle]`: run queued tasks and the periodic jobs.

Tasks come from Django's tasks API: django-tasks-db by default, RQ when REDIS_URL is set. Tasks
only wake workers; the state that matters (outbox rows, deadlines) lives in rows that the
periodic jobs sweep, so a lost task or a restart costs latency, never work.

The loop: run the periodic jobs that are due, run every ready task, sleep `--interval`, again.
SIGINT/SIGTERM finish the current task and exit 0; a second signal exits at once.

Run in-process (`call_command("worker", "--until-idle")` in a test), the worker closes database
connections between tasks as a long-running process must: use a transactional test database.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string

from liaison.core.context import Origin, origin

logger = logging.getLogger("liaison.worker")

PERIODIC_SECONDS = 5.0
# A worker given --until-idle stops after this many rounds even if jobs keep finding work.
MAX_IDLE_ROUNDS = 100


@dataclass
class PeriodicJob:
    """A callable run every `every` seconds by every worker, between tasks.

    `target` is a callable or its dotted path (imported on first use, so that this module
    imports no app). A job must be idempotent and safe to run in several workers at once
    (lease rows with select_for_update(skip_locked=True) or a conditional UPDATE). It returns
    how many items it handled (or None); --until-idle keeps going while jobs find work.
    """

    name: str
    target: Callable[[], int | None] | str
    every: float = PERIODIC_SECONDS
    next_run: float = field(default=0.0, compare=False)

    def resolve(self) -> Callable[[], int | None]:
        if isinstance(self.target, str):
            self.target = import_string(self.target)
        return self.target


# Timers are rows swept here, not scheduled tasks: a restart loses nothing. Append
# a PeriodicJob to add one, e.g. PeriodicJob("outbox", "liaison.delivery.outbox.sweep").
PERIODIC_JOBS: list[PeriodicJob] = [
    # Before the outbox in each round: a probe that falls due is queued and sent in one pass.
    PeriodicJob("pingtest-send", "liaison.reachability.services.send_all_due_probes", every=5.0),
    PeriodicJob("outbox", "liaison.delivery.services.deliver_due", every=5.0),
    PeriodicJob(
        "review-reminders", "liaison.directory.staleness.sweep_review_reminders", every=3600.0
    ),
    PeriodicJob("pingtest-followups", "liaison.reachability.followup.sweep_followups", every=60.0),
]


def run_periodic(jobs: list[PeriodicJob], *, force: bool = False) -> int:
    """Run the jobs that are due (all of them with force); the number of items they handled."""
    handled = 0
    now = time.monotonic()
    for job in jobs:
        if not force and now < job.next_run:
            continue
        job.next_run = now + job.every
        try:
            handled += job.resolve()() or 0
        except Exception:
            # One failing job must not stop the others, nor the tasks.
            logger.exception("periodic job %s failed", job.name)
        finally:
            close_old_connections()
    return handled


class DatabaseQueue:
    """django-tasks-db: drain the ready tasks with its own Worker in batch mode."""

    def __init__(self, worker_id: str, interval: float):
        from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
        from django_tasks_db.management.commands.db_worker import Worker

        self.worker = Worker(
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            interval=interval,
            batch=True,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )

        self.stopped = False

    def drain(self) -> int:
        if self.stopped:
            return 0
        before = self.worker._run_tasks
        self.worker.run()
        return self.worker._run_tasks - before

    def stop(self) -> None:
        # The batch loop checks this flag between tasks.
        self.stopped = True
        self.worker.running = False


def _rq_worker_class():
    from rq import SimpleWorker

    class BurstWorker(SimpleWorker):
        """Runs jobs in this process (no fork per job); leaves the signals to `liaison worker`."""

        jobs_run = 0

        def _install_signal_handlers(self) -> None:
            pass

        def execute_job(self, job, queue):
            self.jobs_run += 1
            return super().execute_job(job, queue)

    return BurstWorker


class RedisQueue:
    """django-tasks-rq: an RQ worker in burst mode, once per round."""

    def __init__(self, worker_id: str, interval: float):
        self.worker_id = worker_id
        self.worker_class = _rq_worker_class()
        self.current = None
        self.stopped = False

    def drain(self) -> int:
        import django_rq
        from django_tasks_rq.backend import Job

        if self.stopped:
            return 0
        queues = list(settings.TASKS["default"].get("QUEUES") or ["default"])
        self.current = django_rq.get_worker(
            *queues,
            job_class=Job,
            worker_class=self.worker_class,
            name=f"liaison-{self.worker_id[:12]}-{get_random_string(6)}",
        )
        try:
            self.current.work(burst=True, with_scheduler=True, logging_level="WARNING")
            return self.current.jobs_run
        finally:
            self.current = None

    def stop(self) -> None:
        self.stopped = True
        if self.current is not None:
            # The burst loop checks this between jobs.
            self.current._stop_requested = True


class Runner:
    def __init__(self, *, interval: float = 1.0, jobs: list[PeriodicJob] | None = None):
        self.interval = interval
        self.jobs = PERIODIC_JOBS if jobs is None else jobs
        self.worker_id = get_random_string(32)
        backend = settings.TASKS["default"]["BACKEND"]
        queue_class = RedisQueue if backend.endswith("RQBackend") else DatabaseQueue
        self.queue = queue_class(self.worker_id, interval)
        self.stopping = threading.Event()

    def request_stop(self) -> None:
        self.stopping.set()
        self.queue.stop()

    def run_forever(self) -> None:
        logger.info("worker %s started (%d periodic jobs)", self.worker_id[:8], len(self.jobs))
        while not self.stopping.is_set():
            run_periodic(self.jobs)
            if self.stopping.is_set():
                break
            ran = self.queue.drain()
            if not ran:
                self.stopping.wait(self.interval)
        logger.info("worker %s stopped", self.worker_id[:8])

    def run_until_idle(self) -> int:
        """Rounds of (every periodic job, every ready task) until a round finds nothing."""
        total = 0
        for _ in range(MAX_IDLE_ROUNDS):
            if self.stopping.is_set():
                break
            handled = run_periodic(self.jobs, force=True) + self.queue.drain()
            total += handled
            if not handled:
                break
        return total


# A second signal within this many seconds of the first is the same request: Ctrl-C reaches
# the whole process group, then `liaison serve` also sends SIGTERM to its worker.
REPEAT_SIGNAL_SECONDS = 2.0
_runner: Runner | None = None
_first_signal_at = 0.0


def _on_signal(signum, frame) -> None:
    global _first_signal_at
    if _runner is None:
        raise SystemExit(1)
    if _runner.stopping.is_set():
        if time.monotonic() - _first_signal_at > REPEAT_SIGNAL_SECONDS:
            # The operator does not want to wait for the current task.
            raise SystemExit(1)
        return
    _first_signal_at = time.monotonic()
    logger.info("received %s: stopping after the current task", signal.strsignal(signum))
    _runner.request_stop()


def install_signal_handlers() -> dict[int, object]:
    """Take SIGINT and SIGTERM; returns the previous handlers (none outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


class Command(BaseCommand):
    help = "Run the background worker: queued tasks and periodic jobs (outbox, deadlines)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--until-idle",
            action="store_true",
            help="process what is queued and due, then exit (for scripts and tests)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds to wait when there is nothing to do (default 1)",
        )

    def handle(self, *args, until_idle: bool, interval: float, **options) -> None:
        global _runner
        if interval < 0:
            raise CommandError("--interval must be zero or more seconds")
        # django-tasks-db logs every batch it starts and ends: once a second when idle.
        logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        _runner = Runner(interval=interval)
        previous = install_signal_handlers()
        try:
            with origin(Origin(via="worker")):
                if until_idle:
                    handled = _runner.run_until_idle()
                    if options["verbosity"] > 0:
                        self.stdout.write(f"worker: {handled} item(s) handled, queue idle")
                else:
                    _runner.run_forever()
        finally:
            # Called in-process (call_command, tests), the caller gets its handlers back.
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _runner = None

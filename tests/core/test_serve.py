"""`liaison serve` and `liaison worker`: a real server process, real signals, real tasks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django_tasks import task

from liaison.core.management.commands import worker as worker_command

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60  # a loaded CI machine imports Django slowly
STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def liaison(*args: str) -> list[str]:
    return [sys.executable, "-m", "liaison.cli", *args]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> dict[str, str]:
    """A data directory migrated once for the module's servers (each gets its own port)."""
    env = {**os.environ, "LIAISON_DATA_DIR": str(tmp_path_factory.mktemp("serve") / "data")}
    env.pop("LIAISON_BASE_URL", None)
    subprocess.run(  # noqa: S603 — our own interpreter and module
        liaison("migrate", "-v0"), env=env, check=True, cwd=REPO, timeout=600
    )
    return env


@pytest.fixture
def server_env(migrated) -> dict[str, str]:
    return {**migrated, "LIAISON_ADDR": f"127.0.0.1:{free_port()}"}


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback http
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def wait_until_up(process: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before answering")
        try:
            if get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer within {START_SECONDS}s")


@pytest.fixture
def serve(server_env, tmp_path):
    """Start `liaison serve ARGS…`; yields (process, base URL, log path); always stopped."""
    started: list[subprocess.Popen] = []
    log = tmp_path / "serve.log"

    def start(*args: str):
        with log.open("wb") as fh:
            process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
                liaison("serve", *args), env=server_env, cwd=REPO, stdout=fh, stderr=fh
            )
        started.append(process)
        base = f"http://{server_env['LIAISON_ADDR']}"
        wait_until_up(process, base)
        return process, base, log

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> float:
    began = time.monotonic()
    process.send_signal(sig)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within {STOP_SECONDS}s of {sig.name}")
    return time.monotonic() - began


def test_serve_answers_health_and_static_files_then_stops_on_sigterm(serve):
    process, base, _log = serve()

    status, content_type, body = get(f"{base}/healthz")
    assert status == 200
    assert b"ok" in body
    status, content_type, body = get(f"{base}/static/liaison/liaison.css")
    assert status == 200
    assert content_type.startswith("text/css")
    assert body
    assert get(f"{base}/accounts/login/")[0] == 200

    stop(process)
    assert process.returncode == 0


def test_serve_with_worker_stops_both_on_sigint(serve):
    process, _base, log = serve("--with-worker", "--workers", "2")
    deadline = time.monotonic() + START_SECONDS
    while b"worker started (pid" not in log.read_bytes():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    worker_pid = int(log.read_text().split("worker started (pid ", 1)[1].split(")", 1)[0])
    os.kill(worker_pid, 0)  # running

    stop(process, signal.SIGINT)

    assert process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)  # the worker went with the server


def test_serve_refuses_a_port_in_use(server_env):
    host, port = server_env["LIAISON_ADDR"].rsplit(":", 1)
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        result = subprocess.run(  # noqa: S603 — our own interpreter and module
            liaison("serve"), env=server_env, cwd=REPO, capture_output=True, timeout=120
        )
    assert result.returncode != 0
    assert b"Traceback" not in result.stderr
    assert b"cannot listen on" in result.stderr


# --- the worker ----------------------------------------------------------------------------

RUNS: list[str] = []


@task()
def remember(word: str) -> str:
    RUNS.append(word)
    return word


@pytest.mark.django_db(transaction=True)
def test_worker_until_idle_runs_what_is_queued_then_exits():
    RUNS.clear()
    remember.enqueue("first")
    remember.enqueue("second")

    call_command("worker", "--until-idle", verbosity=0)

    assert sorted(RUNS) == ["first", "second"]


@pytest.mark.django_db(transaction=True)
def test_periodic_jobs_run_until_they_find_nothing():
    pending = [3, 1, 0]
    calls = []

    def sweep():
        calls.append("sweep")
        return pending.pop(0)

    def broken():
        raise RuntimeError("a failing job must not stop the others")

    runner = worker_command.Runner(
        interval=0,
        jobs=[
            worker_command.PeriodicJob("broken", broken),
            worker_command.PeriodicJob("sweep", sweep),
        ],
    )

    assert runner.run_until_idle() == 4
    assert calls == ["sweep", "sweep", "sweep"]


@pytest.mark.django_db(transaction=True)
def test_periodic_jobs_wait_for_their_interval():
    calls = []
    job = worker_command.PeriodicJob("tick", lambda: calls.append(1), every=60)

    worker_command.run_periodic([job])
    worker_command.run_periodic([job])
    assert calls == [1]
    worker_command.run_periodic([job], force=True)
    assert calls == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_periodic_jobs_can_be_given_by_dotted_path():
    job = worker_command.PeriodicJob("path", "tests.core.test_serve.free_port")

    assert worker_command.run_periodic([job], force=True) > 0


@pytest.mark.django_db(transaction=True)
def test_worker_gives_the_signal_handlers_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    call_command("worker", "--until-idle", verbosity=0)

    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before

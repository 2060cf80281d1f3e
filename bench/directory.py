"""Directory benchmark: import of 10,000 contact points, then the list endpoint under load.

Run:  .venv/bin/python bench/directory.py [--rows 10000] [--seconds 8] [--workers 2]
Needs `wrk` (apt-get install wrk). Prints figures; asserts nothing.

Everything goes through the real command line, as an operator would: a fresh data directory,
`liaison migrate`, `liaison network create`, `liaison directory import` (timed), a user and a
token, then `liaison serve`. The list endpoint (page of 50, Bearer token, access check, audit
event per request) is measured against a raw-SQL baseline (src/liaison/core/bench.py) served by
the same server in the same run, alternating rounds so that drift hits both equally.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import phonenumbers

ROOT = Path(__file__).resolve().parent.parent
LIAISON = str(ROOT / ".venv" / "bin" / "liaison")
TYPES = (
    ["police"] * 6
    + ["prosecution"] * 2
    + ["security_service", "ministry_of_justice", "cybersecurity", "other"]
)
SCHEDULES = ["24/7"] * 5 + [
    "Mon-Fri 08:00-18:00",
    "Mon-Fri 09:00-17:00; Sat 09:00-12:00",
    "daily 07:00-23:00",
]
ZONES = [
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Africa/Abidjan",
    "Pacific/Fiji",
    "Europe/Bucharest",
    "America/Lima",
]
LANGS = ["fr", "de", "es", "it", "pt", "ro", "ja", "ar", "ru", "pl"]


def make_csv(path: Path, rows: int) -> None:
    rng = random.Random(10_000)
    regions = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2)
    import pycountry

    regions = [
        r for r in regions if pycountry.countries.get(alpha_2=r) and phonenumbers.example_number(r)
    ]
    header = [
        "member_code",
        "member_name",
        "member_kind",
        "member_status",
        "type",
        "institution",
        "unit",
        "phone",
        "email",
        "availability",
        "timezone",
        "languages",
        "instructions",
        "phone_2",
        "email_2",
        "fax",
        "secure_channel",
    ]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(rows):
            code = regions[i % len(regions)]
            number = phonenumbers.format_number(
                phonenumbers.example_number(code), phonenumbers.PhoneNumberFormat.E164
            )
            writer.writerow(
                [
                    code,
                    pycountry.countries.get(alpha_2=code).name,
                    "state",
                    "party",
                    rng.choice(TYPES),
                    f"Bench Institution {i}",
                    f"Unit {i % 7}",
                    number,
                    f"desk{i}@{code.lower()}.example",
                    rng.choice(SCHEDULES),
                    rng.choice(ZONES),
                    f"en,{rng.choice(LANGS)}",
                    "Call first, then e-mail.",
                    "",
                    "",
                    "",
                    "",
                ]
            )


def run(*args: str, env: dict, capture: bool = True) -> str:
    result = subprocess.run(
        [LIAISON, *args], env=env, capture_output=capture, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"`liaison {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, seconds: int, headers: list[str]) -> dict:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": int(non2xx.group(1)) if non2xx else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    data = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "LIAISON_DATA_DIR": str(data),
        "LIAISON_ADDR": f"127.0.0.1:{port}",
        "LIAISON_BENCH": "1",
    }
    print(f"data directory: {data}  database: {env.get('DATABASE_URL', 'SQLite (WAL)')}")
    run("migrate", "-v0", env=env)
    run("network", "create", "bench", "--name", "Bench network", env=env)
    csv_path = data / "directory.csv"
    make_csv(csv_path, args.rows)

    started = time.perf_counter()
    run("directory", "import", "--network", "bench", str(csv_path), env=env)
    import_cold = time.perf_counter() - started
    started = time.perf_counter()
    run("directory", "import", "--network", "bench", str(csv_path), env=env)
    import_replace = time.perf_counter() - started
    started = time.perf_counter()
    run("help", env=env)
    run("check", env=env)
    startup = time.perf_counter() - started

    run(
        "user",
        "add",
        "bench@agency.example",
        "--network",
        "bench",
        "--role",
        "officer",
        "--member",
        "FR",
        env=env,
    )
    token = run("token", "create", "bench@agency.example", "--days", "1", env=env).strip()

    server = subprocess.Popen(
        [LIAISON, "serve", "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("server did not start")
        page = max(1, args.rows // 50 // 2)
        api = f"{base}/api/v1/networks/bench/contact-points?page={page}&page_size=50"
        raw = f"{base}/bench/bench/contact-points?page={page}&page_size=50"
        auth = [f"Authorization: Bearer {token}"]
        # Check both answer the same page before loading them.
        req = urllib.request.Request(api, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        body = urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - loopback
        assert b'"results"' in body, body[:200]
        wrk(raw, 2, [])  # warm-up
        wrk(api, 2, auth)
        results = {"raw": [], "api": []}
        for _ in range(args.rounds):
            results["raw"].append(wrk(raw, args.seconds, []))
            results["api"].append(wrk(api, args.seconds, auth))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    def mean(key, name):
        return sum(r[key] for r in results[name]) / len(results[name])

    raw_rps, api_rps = mean("rps", "raw"), mean("rps", "api")
    print()
    print(f"import of {args.rows} rows, empty network:   {import_cold:6.2f} s  (whole CLI run)")
    print(f"import of {args.rows} rows, replacing all:   {import_replace:6.2f} s  (whole CLI run)")
    print(f"  of which CLI start-up (liaison help + check): {startup / 2:5.2f} s each")
    print(f"list endpoint, page {page} of 50, {args.workers} granian workers, wrk -t2 -c16:")
    for name in ("raw", "api"):
        for i, r in enumerate(results[name]):
            print(
                f"  {name:3} round {i + 1}: {r['rps']:8.1f} req/s  p50 {r['p50']:>8}  "
                f"p99 {r['p99']:>8}  non-2xx {r['errors']}"
            )
    print(f"  raw-SQL baseline: {raw_rps:8.1f} req/s")
    print(f"  API endpoint:     {api_rps:8.1f} req/s")
    print(f"  ratio API / baseline: {api_rps / raw_rps:.2f}  (target >= 0.5, aim 0.7)")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

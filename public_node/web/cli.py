"""``public-node serve``: the platform under uvicorn (uvloop + httptools), with several workers; SIGTERM
stops accepting connections and drains the requests in flight before the workers exit."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from nodekit.cli import NodeContext, pass_node_context
from nodekit.home import HOME_ENV
from nodekit.sdnotify import ServiceManager
from public_node.web import service as service_probe


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--graceful-timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
    help="Seconds SIGTERM waits for requests in flight before closing them.",
)  # fmt: skip
@click.option(
    "--worker-healthcheck", default=60, show_default=True, type=click.IntRange(1, 3600),
    help="Seconds a worker may take to answer the supervisor's health check before it is replaced.",
)  # fmt: skip
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@pass_node_context
def serve_cmd(
    nctx: NodeContext,
    host: str,
    port: int,
    workers: int,
    graceful_timeout: int,
    worker_healthcheck: int,
    access_log: bool,
) -> None:
    """Serve the public credit platform (pages and the /api/v1 JSON API) until SIGTERM or Ctrl-C.

    Under systemd (Type=notify) it reports ready, and feeds WatchdogSec, while /healthz answers."""
    from public_node.web.audit import ensure_key
    from public_node.web.config import load_web_config
    from public_node.web.db import cursor_secret, upgrade_web_database, web_engine

    node = nctx.node()  # the published database must be current: the platform reads it as it is
    config = load_web_config(node.config)
    node.close()
    engine = web_engine(config.web_database_url)
    try:  # migrate the web database once, here, before any worker starts
        upgrade_web_database(engine)
        cursor_secret(engine)
        ensure_key(node.config.home, node.config.name, datetime.now(UTC))
    finally:
        engine.dispose()
    os.environ[HOME_ENV] = str(node.config.home)
    serving = f"serving http://{host}:{port}/ with {workers} worker{'s' if workers != 1 else ''}"
    click.echo(f"{serving}; stop with SIGTERM or Ctrl-C", err=True)
    service = ServiceManager()
    watchdog = service_probe.start(service, host, port, serving)
    try:
        _run(host, port, workers, graceful_timeout, worker_healthcheck, access_log)
    finally:
        if watchdog is not None:
            watchdog.set()
        service.stopping()


def _run(host: str, port: int, workers: int, graceful_timeout: int, worker_healthcheck: int, access_log: bool) -> None:
    import uvicorn

    uvicorn.run(
        "public_node.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=graceful_timeout,
        # uvicorn's default (5 s) replaces a worker that is merely slow to answer (busy, or starting
        # on a loaded machine: seen killing healthy workers, and their requests, at load 15 on 2 cores)
        timeout_worker_healthcheck=worker_healthcheck,
        proxy_headers=False,  # X-Forwarded-For is read only from the trusted proxies (Platform.trusted_proxies)
        server_header=False,
        access_log=access_log,
    )

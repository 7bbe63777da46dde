#!/usr/bin/python3
"""Celery 5 baseline on the same RabbitMQ broker as weft's cluster mode.

prefork pool, acks_late, prefetch 1, persistent messages, a no-op task, and
results reported back (rpc:// backend), so each job makes the same trip as a
weft cluster job.  Usage:
  celery_bench.py worker BROKER_URL WORKERS   (runs a worker; killed by the caller)
  celery_bench.py submit BROKER_URL JOBS      (submits, waits for every result, prints JSON)
"""
import json
import sys
import time

from celery import Celery
from celery.result import ResultSet

BROKER = sys.argv[2] if len(sys.argv) > 2 else "amqp://guest:guest@127.0.0.1:5672//"
app = Celery("weftbench", broker=BROKER, backend="rpc://")
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_default_delivery_mode="persistent",
    task_default_queue="weftbench.celery",
    broker_connection_retry_on_startup=True,
    result_persistent=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop():
    return None


def main():
    mode = sys.argv[1]
    if mode == "worker":
        workers = sys.argv[3]
        app.worker_main(["worker", "--pool=prefork", f"--concurrency={workers}",
                         "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                         "--without-heartbeat"])
        return
    jobs = int(sys.argv[3])
    # One warm-up round trip so that connection set-up is not timed.
    noop.delay().get(timeout=60)
    t0 = time.perf_counter()
    results = ResultSet([noop.delay() for _ in range(jobs)])
    # join_native consumes result messages as they come, in any order; a
    # get() per result in submission order would time the client, not Celery.
    results.join_native(timeout=600)
    wall = time.perf_counter() - t0
    print(json.dumps({"baseline": "celery", "jobs": jobs, "wall_seconds": wall,
                      "jobs_per_second": jobs / wall}))


if __name__ == "__main__":
    main()

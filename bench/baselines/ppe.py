#!/usr/bin/python3
"""ProcessPoolExecutor baseline: N no-op tasks on W worker processes.

The mechanism Taipy's standalone mode is built on.  Prints one JSON object
with jobs_per_second, measured from the first submit to the last result.
Usage: ppe.py JOBS WORKERS
"""
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def noop():
    return None


def main():
    jobs, workers = int(sys.argv[1]), int(sys.argv[2])
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        # Start the workers before timing, as weft's pool is started before submit.
        list(pool.map(noop_arg, range(workers)))
        t0 = time.perf_counter()
        futures = [pool.submit(noop) for _ in range(jobs)]
        for f in futures:
            f.result()
        wall = time.perf_counter() - t0
    print(json.dumps({"baseline": "ProcessPoolExecutor", "jobs": jobs, "workers": workers,
                      "wall_seconds": wall, "jobs_per_second": jobs / wall}))


def noop_arg(_):
    return None


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pandas_task.py - weft's overhead on a pandas task against calling it directly.

The task reads a 10 MB CSV (a DataFrame), adds a column and returns the
frame, which is written as a pickle.  Both sides use the same module, the
same file and warm interpreters (pandas already imported):
  weft    `weft run --mode standalone --workers 1` of REPS + 1 independent
          tasks; the first job, which starts the worker's interpreter and
          imports pandas, is left out; each job's duration_ms as stored
          (RUNNING to COMPLETED: the CSV read into memory, decoded by
          pandas, the function, the pickle written atomically and fsynced)
  direct  in this process, REPS times: pandas.read_csv(path), the
          function, pickle.dump to a file (no fsync: what a script does);
          and again writing as weft does (a temporary file, fsync, rename),
          which tells the cost of durability from the rest
REPS is split over four rounds of each, in a rotating order.  Prints one JSON object
with both medians and weft / direct - 1.
Usage: pandas_task.py WEFT_BINARY WORK_DIR REPS
"""
import json
import os
import pickle
import statistics
import subprocess
import sys
import time

MODULE = '''# weft bench: the pandas task of bench/baselines/pandas_task.py
def enrich(orders):
    return orders.assign(revenue=orders.units * orders.unit_price)
'''


def make_csv(path, target_bytes=10 * 1024 * 1024):
    """About 10 MB of orders from a fixed seed: the same file on every run."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(10)
    n = 200000
    while True:
        df = pd.DataFrame({
            "order": np.arange(n),
            "region": rng.choice(["North", "South", "East", "West"], n),
            "product": rng.choice(["Espresso Beans 1kg", "Paper Filters", "Burr Grinder", "Milk Jug"], n),
            "units": rng.integers(1, 12, n),
            "unit_price": rng.choice([18.5, 4.25, 129.99, 12.0], n),
        })
        df.to_csv(path, index=False)
        size = os.path.getsize(path)
        if size >= target_bytes:
            return size
        n = int(n * target_bytes / size) + 1000


def config(reps):
    lines = ['[CORE]\nstorage_folder = ".weft/"\n[JOB]\nmode = "standalone"\nmax_nb_of_workers = "1:int"\n',
             '[DATA_NODE.orders]\nstorage_type = "csv"\nscope = "GLOBAL:SCOPE"\ndefault_path = "orders.csv"\n']
    tasks = []
    for i in range(reps + 1):
        lines.append(f'[DATA_NODE.out{i}]\nstorage_type = "pickle"\nscope = "GLOBAL:SCOPE"\n'
                     f'default_path = "out/{i}.p"\n')
        lines.append(f'[TASK.t{i}]\nfunction = "bench_pandas.enrich:function"\n'
                     f'inputs = ["orders:SECTION"]\noutputs = ["out{i}:SECTION"]\n')
        tasks.append(f'"t{i}:SECTION"')
    lines.append('[SCENARIO.s]\ntasks = [' + ", ".join(tasks) + ']\n')
    return "".join(lines)


def weft_durations(weft, work, reps):
    subprocess.run(["rm", "-rf", os.path.join(work, ".weft"), os.path.join(work, "out")], check=True)
    with open(os.path.join(work, "config.toml"), "w") as f:
        f.write(config(reps))
    subprocess.run([weft, "run", "-c", "config.toml"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    jobs = json.loads(subprocess.run([weft, "jobs", "-c", "config.toml", "--json"], cwd=work, check=True,
                                     capture_output=True).stdout)
    bad = [j for j in jobs if j["status"] != "COMPLETED"]
    if bad:
        sys.exit(f"pandas_task: job {bad[0]['id']} is {bad[0]['status']}: {bad[0]['error']}")
    jobs.sort(key=lambda j: j["status_times"]["RUNNING"])
    return [j["duration_ms"] / 1000 for j in jobs[1:]]  # the first one imported pandas


def direct_durations(work, reps, durable):
    """`durable`: written as weft writes, to a temporary file fsynced and renamed."""
    sys.path.insert(0, work)
    import pandas as pd
    import bench_pandas
    out = []
    for i in range(reps):
        t0 = time.perf_counter()
        r = bench_pandas.enrich(pd.read_csv(os.path.join(work, "orders.csv")))
        path = os.path.join(work, f"direct{i}.p")
        with open(path + ".tmp" if durable else path, "wb") as f:
            pickle.dump(r, f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if durable:
            os.rename(path + ".tmp", path)
        out.append(time.perf_counter() - t0)
    return out


def main():
    weft, work, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(work, exist_ok=True)
    size = make_csv(os.path.join(work, "orders.csv"))
    with open(os.path.join(work, "bench_pandas.py"), "w") as f:
        f.write(MODULE)
    # Four rounds in a rotating order, so that a change of the machine's
    # load, or the write-back of the previous side's files, weighs on
    # every side alike.
    w, d, dd = [], [], []
    n = max(reps // 4, 1)
    sides = [lambda: w.extend(weft_durations(weft, work, n)),
             lambda: d.extend(direct_durations(work, n, False)),
             lambda: dd.extend(direct_durations(work, n, True))]
    for r in range(4):
        for k in range(3):
            sides[(r + k) % 3]()
    wm, dm, ddm = statistics.median(w), statistics.median(d), statistics.median(dd)
    print(json.dumps({"csv_bytes": size, "reps": len(w), "weft_seconds": w, "direct_seconds": d,
                      "direct_durable_seconds": dd, "weft_median_seconds": wm,
                      "direct_median_seconds": dm, "direct_durable_median_seconds": ddm,
                      "overhead": wm / dm - 1, "overhead_vs_durable": wm / ddm - 1,
                      # the least disturbed repetition of each, for a loaded machine
                      "overhead_of_minimums": min(w) / min(d) - 1}))


if __name__ == "__main__":
    main()

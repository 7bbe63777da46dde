# SPDX-License-Identifier: MIT
"""run.py - the taipy-sales example driven from Python through the `weft`
package instead of the `weft` command: check the config, run the scenario,
follow its jobs, read what it wrote as the objects a task would get.

    PYTHONPATH=build/python /usr/bin/python3 examples/taipy-sales/run.py

The mode is the config's ([JOB] mode), as for `weft run`.
"""
import os
import sys

import weft

here = os.path.dirname(os.path.abspath(__file__))
cfg = weft.Config.load(os.path.join(here, "config.toml"))
for warning in cfg.check():
    print(warning, file=sys.stderr)

finished = []
with weft.Orchestrator(cfg) as orch:
    # job events carry a job_status; submission events do not
    orch.subscribe(lambda ev: ev.job_status in (weft.Status.COMPLETED, weft.Status.FAILED)
                   and finished.append(ev.task_config_id))
    scenario = orch.create_scenario("sales")
    sub = scenario.submit(wait=True, timeout=300)
    for job in sub.jobs:
        print(f"{job.task_config_id:13} {job.status.name}")
    if not sub.is_completed():
        sys.exit(f"run.py: submission {sub.id} ended {sub.status.name}")
    summary = orch.read("summary")        # json node: a dict
    months = orch.read("months")          # sql_table node: a pandas DataFrame
    print(f"{len(finished)} jobs reported finished to the subscriber")
    print(f"summary: revenue {summary['revenue']:,.2f}, best region {summary['best_region']}")
    print(f"months: {len(months)} rows, columns {', '.join(months.columns)}")

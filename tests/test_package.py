# SPDX-License-Identifier: MIT
# test_package.py - the weft Python package end to end, run by tests/python.sh
# with /usr/bin/python3 and PYTHONPATH=build/python: configs good and bad
# (ConfigError's diagnostics with their line and column), Python tasks in
# development and standalone modes, statuses with Taipy's names, data nodes
# read as Python objects, subscribers, cancel, submit with a timeout, sequences
# and the job and submission lists.  Each test works in its own temporary
# folder.  The last line is "python: N passed, N failed".
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import weft

passed = 0
failed = 0
PER_TEST_SECONDS = 60  # times TEST_TIMEOUT_SCALE


def check(cond, what, got=None):
    """One assertion: counted, and printed with the value it saw when it fails."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        frame = sys._getframe(1)
        print(f"FAIL {frame.f_code.co_name}:{frame.f_lineno}: {what}" +
              ("" if got is None else f" (got {got!r})"))


ALGO = '''
import time
def double(x):
    return [v * 2 for v in x]
def table(x):
    return [{"v": v, "sq": v * v} for v in x]
def shout(x):
    return " ".join(str(v) for v in x).upper() + "!"
def boom(x):
    raise ValueError("no good value in " + repr(x))
def spin(x):
    end = time.time() + float(x)
    while time.time() < end:
        pass
    return "spun"
def nap(x):
    time.sleep(float(x))
    return "woke"
def draw():
    import random
    return random.getrandbits(64)
'''

HEAD = '[CORE]\nstorage_folder = ".weft/"\n[JOB]\nmode = "{mode}"\n'

PIPELINE = '''
[DATA_NODE.nums]
storage_type = "json"
default_path = "nums.json"
[DATA_NODE.doubled]
storage_type = "pickle"
default_path = "doubled.p"
[DATA_NODE.rows]
storage_type = "csv"
default_path = "rows.csv"
[DATA_NODE.words]
storage_type = "text"
default_path = "words.txt"
[DATA_NODE.bad]
storage_type = "text"
default_path = "bad.txt"
[TASK.double]
function = "algo.double"
inputs = ["nums:SECTION"]
outputs = ["doubled:SECTION"]
[TASK.table]
function = "algo.table"
inputs = ["doubled:SECTION"]
outputs = ["rows:SECTION"]
[TASK.shout]
function = "algo.shout"
inputs = ["doubled:SECTION"]
outputs = ["words:SECTION"]
[TASK.boom]
function = "algo.boom"
inputs = ["nums:SECTION"]
outputs = ["bad:SECTION"]
[DATA_NODE.after]
storage_type = "text"
default_path = "after.txt"
[DATA_NODE.once_out]
storage_type = "text"
default_path = "once.txt"
[TASK.after_boom]
function = "algo.shout"
inputs = ["bad:SECTION"]
outputs = ["after:SECTION"]
[TASK.once]
function = "algo.shout"
inputs = ["nums:SECTION"]
outputs = ["once_out:SECTION"]
skippable = "True:bool"
[SCENARIO.main]
tasks = ["double:SECTION", "table:SECTION", "shout:SECTION"]
[SCENARIO.skippy]
tasks = ["once:SECTION"]
[SCENARIO.main.sequences]
first = ["double:SECTION"]
[SCENARIO.failing]
tasks = ["boom:SECTION", "after_boom:SECTION"]
'''

SLEEPY = '''
[DATA_NODE.secs]
storage_type = "text"
default_path = "secs.txt"
[DATA_NODE.slept]
storage_type = "text"
default_path = "slept.txt"
[TASK.nap]
function = "algo.nap"
inputs = ["secs:SECTION"]
outputs = ["slept:SECTION"]
[TASK.spin]
function = "algo.spin"
inputs = ["secs:SECTION"]
outputs = ["slept:SECTION"]
[DATA_NODE.again]
storage_type = "text"
default_path = "again.txt"
[TASK.then]
function = "algo.nap"
inputs = ["slept:SECTION"]
outputs = ["again:SECTION"]
[SCENARIO.sleepy]
tasks = ["nap:SECTION"]
[SCENARIO.spinning]
tasks = ["spin:SECTION", "then:SECTION"]
'''


def app(mode, body, files=None):
    """A temporary application folder with algo.py and config.toml; returns its path."""
    d = tempfile.mkdtemp(prefix="weft-py-")
    with open(os.path.join(d, "algo.py"), "w") as f:
        f.write(ALGO)
    with open(os.path.join(d, "config.toml"), "w") as f:
        f.write(HEAD.format(mode=mode) + body)
    for name, text in (files or {}).items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


def test_good_config():
    d = app("standalone", PIPELINE)
    cfg = weft.Config.load(os.path.join(d, "config.toml"))
    warnings = cfg.check()
    check(isinstance(warnings, list), "check() returns a list", warnings)
    check(cfg.mode == "standalone", "mode", cfg.mode)
    check(cfg.scenario_ids == ["main", "skippy", "failing"], "scenario ids", cfg.scenario_ids)
    check(cfg.get("TASK.double", "function") == "algo.double", "function", cfg.get("TASK.double", "function"))
    check(cfg.get("TASK.table", "inputs") == ["doubled"], "a list value", cfg.get("TASK.table", "inputs"))
    check(cfg.application_path == d, "application path", cfg.application_path)


def test_bad_config():
    text = ('[JOB]\nmode = "devel"\n'                      # line 2: unknown mode at col 8
            '[TASK.t]\nfunction = "algo.double"\n'
            'inputs = ["nowhere:SECTION"]\n'               # line 5: unknown data node
            '[SCENARIO.s]\ntasks = ["t:SECTION"]\n')
    d = app("development", "", {"bad.toml": text})
    path = os.path.join(d, "bad.toml")
    try:
        cfg = weft.Config.load(path)
        cfg.check()
        check(False, "a bad config raises ConfigError")
        return
    except weft.ConfigError as e:
        check(isinstance(e, weft.Error), "ConfigError is a weft.Error")
        diags = e.diagnostics
        where = [(os.path.basename(x.file), x.line, x.col, x.severity) for x in diags]
        check(("bad.toml", 2, 8, "error") in where, "mode diagnostic at 2:8", where)
        check(any(x.line == 5 and "nowhere" in x.message for x in diags),
              "the unknown reference is reported at line 5", where)
        check("bad.toml:2:8" in str(e) or "bad.toml:5:" in str(e), "message has file:line:col", str(e))
    # TOML syntax: the position of the mistake.
    try:
        weft.Config.load_string('[JOB]\nmode = "development"\nx = = 1\n', "syn.toml")
        check(False, "a syntax error raises ConfigError")
    except weft.ConfigError as e:
        check(str(e).startswith("syn.toml:3:"), "syntax error at line 3", str(e))
        check(e.code == 4, "code WEFT_ESYNTAX", e.code)
    # Task functions: a module that cannot be found, one that fails to import.
    d2 = app("development", '[TASK.t]\nfunction = "ghost.f"\n[TASK.u]\nfunction = "broken.f"\n'
             '[SCENARIO.s]\ntasks = ["t:SECTION", "u:SECTION"]\n',
             {"broken.py": "x = 1\nraise RuntimeError('cannot import me')\n"})
    cfg = weft.Config.load(os.path.join(d2, "config.toml"))
    cfg.check()
    try:
        cfg.check(functions=True)
        check(False, "a missing module raises ConfigError")
    except weft.ConfigError as e:
        where = [(x.line, x.col) for x in e.errors]
        check(where == [(6, 12)], "the missing module at its function key", (where, e.errors))
        check("ghost" in e.errors[0].message, "it names the module", e.errors[0].message)
    cfg = weft.Config.load(os.path.join(d2, "config.toml"))  # errors of a check stay with a config
    try:
        cfg.check(import_modules=True)
        check(False, "a module failing to import raises ConfigError")
    except weft.ConfigError as e:
        msgs = [x.message for x in e.errors]
        check(any("broken.py:2" in m and "cannot import me" in m for m in msgs),
              "the import error with its file:line", msgs)
    # A missing file is an Error, not a ConfigError.
    try:
        weft.Config.load(os.path.join(d, "missing.toml"))
        check(False, "a missing file raises")
    except weft.ConfigError as e:
        check(False, "a missing file is not a ConfigError", e)
    except weft.Error as e:
        check("missing.toml" in str(e), "the message names the file", str(e))


def test_development_run():
    d = app("development", PIPELINE, {"nums.json": "[1, 2, 3]"})
    seen = []
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        check(orch.mode == "development", "mode", orch.mode)
        orch.subscribe(lambda ev: seen.append(ev))
        sc = orch.create_scenario("main")
        check(sc.id.startswith("SCENARIO_main_"), "scenario id", sc.id)
        sub = sc.submit(wait=True)
        check(sub.submission_status == weft.SubmissionStatus.COMPLETED, "submission completed",
              sub.submission_status)
        check(sub.is_completed() and sub.is_finished(), "submission is_completed/is_finished")
        jobs = sub.jobs
        check([j.task_config_id for j in jobs] == ["double", "table", "shout"], "jobs in order",
              [j.task_config_id for j in jobs])
        for j in jobs:
            check(j.status == weft.Status.COMPLETED, "job COMPLETED", j.status)
            check(j.is_completed() and j.is_finished(), "is_completed, is_finished", j)
            check(not (j.is_failed() or j.is_canceled() or j.is_running() or j.is_pending() or
                       j.is_blocked() or j.is_skipped() or j.is_abandoned() or j.is_submitted()),
                  "no other is_*", j)
            check(j.run_at is not None and j.finished_at >= j.run_at, "run and finish times", j.status_times)
        check(orch.read("doubled") == [2, 4, 6], "pickle node as a list", orch.read("doubled"))
        rows = orch.read("rows")
        check(type(rows).__name__ == "DataFrame", "csv node as a DataFrame", type(rows))
        check(list(rows.columns) == ["v", "sq"] and list(rows["sq"]) == [4, 16, 36], "its content", rows)
        check(orch.read("words") == "2 4 6!", "text node as str", orch.read("words"))
        check(orch.read("nums") == [1, 2, 3], "json node as a list", orch.read("nums"))
        check(orch.data_node("doubled").read_bytes()[:1] == b"\x80", "raw pickle bytes")
        job_events = [e for e in seen if e.job_id == jobs[0].id]
        st = [e.job_status for e in job_events]
        check(weft.Status.RUNNING in st and weft.Status.COMPLETED in st, "events RUNNING and COMPLETED", st)
        check(st.index(weft.Status.RUNNING) < st.index(weft.Status.COMPLETED), "RUNNING before COMPLETED", st)
        check(seen[-1].job_id is None and seen[-1].submission_status == weft.SubmissionStatus.COMPLETED,
              "the submission's COMPLETED comes last", seen[-1])
        st0 = [e.job_status for e in seen if e.job_id == jobs[0].id]
        st1 = [e.job_status for e in seen if e.job_id == jobs[1].id]
        check(st0[:3] == [weft.Status.SUBMITTED, weft.Status.PENDING, weft.Status.RUNNING],
              "the first job: SUBMITTED, PENDING, RUNNING", st0)
        check(st1[:2] == [weft.Status.SUBMITTED, weft.Status.BLOCKED], "the second waits BLOCKED", st1)
        # A skippable task whose output is up to date is SKIPPED the second time.
        sk = orch.submit(orch.create_scenario("skippy"), wait=True)
        again = orch.submit(orch.scenarios()[-1], wait=True)
        check(sk.jobs[0].is_completed(), "first run COMPLETED", sk.jobs)
        j = again.jobs[0]
        check(j.is_skipped() and j.status == weft.Status.SKIPPED and j.is_finished(), "then SKIPPED", j)
        check(again.is_completed(), "a skipped job completes its submission", again)


def test_failure_and_errors():
    d = app("development", PIPELINE, {"nums.json": "[7]"})
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        sub = orch.submit(orch.create_scenario("failing"), wait=True)
        check(sub.is_failed(), "submission FAILED", sub)
        job, after = sub.jobs
        check(job.is_failed() and job.status == weft.Status.FAILED, "job FAILED", job)
        check(after.is_abandoned() and after.status == weft.Status.ABANDONED and after.is_finished(),
              "its downstream job ABANDONED", after)
        check(any("ValueError: no good value in [7]" in l for l in job.stacktrace),
              "the traceback is the job's error", job.stacktrace)
        try:
            orch.cancel(job)
            check(False, "canceling a finished job raises")
        except weft.Error as e:
            check("already FAILED" in str(e) and e.code == 10, "WEFT_ESTATE, saying why", (str(e), e.code))
        try:
            orch.create_scenario("nope")
            check(False, "an unknown scenario config raises")
        except weft.ConfigError:
            check(False, "an unknown scenario is not a ConfigError")
        except weft.Error as e:
            check("nope" in str(e), "the message names it", str(e))
        try:
            orch.read("bad")
            check(False, "reading a node never written raises")
        except weft.Error as e:
            check(e.code == 17, "WEFT_EDATA", (e.code, str(e)))
    check(orch._o.closed, "closed by the with block")
    try:
        orch.jobs()
        check(False, "a closed orchestrator raises")
    except weft.Error as e:
        check("closed" in str(e), "saying it is closed", str(e))


def test_sequence_and_lists():
    d = app("development", PIPELINE, {"nums.json": "[1, 2]"})
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        sc = orch.create_scenario("main")
        seq = sc.sequence("first")
        check(seq.id == "SEQUENCE_first_" + sc.id, "Taipy's sequence id", seq.id)
        s1 = seq.submit(wait=True)
        check([j.task_config_id for j in s1.jobs] == ["double"], "the sequence runs its task only",
              [j.task_config_id for j in s1.jobs])
        s2 = sc.submit(wait=True)
        subs = orch.submissions()
        check([s.id for s in subs] == [s1.id, s2.id], "submissions, oldest first", subs)
        check(s2.counts == {weft.Status.COMPLETED: 3}, "counts per status", s2.counts)
        check(len(orch.jobs()) == 4, "all jobs", len(orch.jobs()))
        check(len(orch.jobs(submission=s2)) == 3, "jobs of a submission", orch.jobs(submission=s2))
        check(len(orch.jobs(status=weft.Status.COMPLETED)) == 4, "jobs by status")
        check(orch.jobs(status=weft.Status.FAILED) == [], "no failed job")
        j = orch.job(s1.jobs[0].id)
        check(j.submit_id == s1.id and j.submit_entity_id == seq.id, "job's submission and entity",
              (j.submit_id, j.submit_entity_id))
        check([s.id for s in orch.scenarios()] == [sc.id], "scenarios", orch.scenarios())
        try:
            orch.config.set("JOB", "mode", "standalone")
            check(False, "the config of an open orchestrator cannot change")
        except weft.Error as e:
            check("open Orchestrator" in str(e) and e.code == 10, "WEFT_ESTATE, saying why", str(e))
    orch.config.set("JOB", "mode", "standalone")  # closed: free again
    check(orch.config.get("JOB", "mode") == "standalone", "set after close", orch.config.get("JOB", "mode"))


def test_standalone_callback_thread():
    d = app("standalone", PIPELINE, {"nums.json": "[5]"})
    seen = []
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        orch.subscribe(lambda ev: seen.append((ev, threading.get_ident())))
        sub = orch.create_scenario("main").submit(wait=True, timeout=60)
        check(sub.is_completed(), "standalone submission completed", sub)
        check(orch.read("doubled") == [10], "output written by a worker process", orch.read("doubled"))
        check(all(j.worker and j.worker.startswith("pid ") for j in sub.jobs), "run by workers",
              [j.worker for j in sub.jobs])
        st = [e.job_status for e, _ in seen if e.task_config_id == "double"]
        check(weft.Status.RUNNING in st and st[-1] == weft.Status.COMPLETED, "events", st)
        # SUBMITTED is stored by submit() in this thread; the rest by the dispatcher thread.
        threads = {t for e, t in seen if e.job_status in (weft.Status.RUNNING, weft.Status.COMPLETED)}
        check(threads and threading.get_ident() not in threads, "RUNNING, COMPLETED on weft's thread",
              threads)


def test_workers_draw_their_own_random_numbers():
    # Workers are forks of this process: Python's at-fork callbacks run in
    # them, as after os.fork(), so the random module is reseeded there.
    d = app("standalone", '''
[DATA_NODE.r]
storage_type = "pickle"
default_path = "r.p"
[TASK.draw]
function = "algo.draw"
outputs = ["r:SECTION"]
[SCENARIO.s]
tasks = ["draw:SECTION"]
''')
    import random
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        orch.start()  # the workers' copy of this process is taken now
        mine = random.getrandbits(64)
        sub = orch.create_scenario("s").submit(wait=True, timeout=60)
        check(sub.is_completed(), "the draw ran", [(j.status, j.error) for j in sub.jobs])
        theirs = orch.read("r") if sub.is_completed() else None
        check(isinstance(theirs, int) and theirs != mine, "a worker's draw is not this process's next",
              (theirs, mine))


def test_timeout_and_cancel():
    d = app("standalone", SLEEPY, {"secs.txt": "30"})
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        t0 = time.monotonic()
        sub = orch.create_scenario("sleepy").submit(wait=True, timeout=0.5)
        took = time.monotonic() - t0
        check(0.45 <= took < 5, "submit returns after the timeout", took)
        check(not sub.is_finished(), "the submission runs on", sub)
        deadline = time.monotonic() + 10
        while not sub.jobs[0].is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        check(sub.jobs[0].is_running(), "job RUNNING", sub.jobs[0])
        check(orch.wait(sub, timeout=0.2) is False, "wait times out", None)
        t0 = time.monotonic()
        orch.cancel(sub)
        check(orch.wait(sub, timeout=10) is True, "canceled within 10 s")
        took = time.monotonic() - t0
        check(took < 5, "cancel stops a sleeping job", took)
        job = sub.jobs[0]
        check(job.is_canceled() and job.status == weft.Status.CANCELED, "job CANCELED", job)
        check(sub.refresh().is_canceled(), "submission CANCELED", sub)


def test_ctrl_c_cancels_the_wait():
    d = app("standalone", SLEEPY, {"secs.txt": "30"})
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        sc = orch.create_scenario("sleepy")
        timer = threading.Timer(0.7, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        t0 = time.monotonic()
        try:
            sc.submit(wait=True)
            check(False, "SIGINT interrupts submit(wait=True)")
        except KeyboardInterrupt:
            took = time.monotonic() - t0
            check(0.6 < took < 3, "interrupted at the signal", took)
        timer.join()
        subs = orch.submissions()
        check(len(subs) == 1, "one submission", subs)
        check(orch.wait(subs[0], timeout=10), "it ends")
        check(subs[0].refresh().is_canceled(), "canceled by the interrupt", subs[0])


def test_ctrl_c_in_development_mode():
    # The job runs inside submit(), in this thread: Ctrl-C stops it and raises.
    d = app("development", SLEEPY, {"secs.txt": "30"})
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        sc = orch.create_scenario("spinning")
        timer = threading.Timer(0.7, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        t0 = time.monotonic()
        try:
            sc.submit(wait=True)
            check(False, "SIGINT interrupts a development-mode submit")
        except KeyboardInterrupt:
            took = time.monotonic() - t0
            check(0.6 < took < 3, "interrupted at the signal", took)
        timer.join()
        sub = orch.submissions()[-1]
        check(sub.is_finished() and not sub.is_completed(), "the submission ended", sub)
        spin, then = sub.jobs
        check(spin.is_canceled(), "the spinning job CANCELED", (spin, spin.error))
        check(then.status in (weft.Status.CANCELED, weft.Status.ABANDONED), "the next one never ran", then)
        # The handler is Python's again: a later SIGINT raises KeyboardInterrupt as usual.
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
            check(False, "Python's handler is back")
        except KeyboardInterrupt:
            check(True, "Python's handler is back")


def test_more_storage_types():
    d = app("development", '''
[DATA_NODE.n]
storage_type = "json"
default_path = "n.json"
[DATA_NODE.blob]
storage_type = "binary"
default_path = "blob.bin"
[DATA_NODE.arr]
storage_type = "csv"
default_path = "arr.csv"
exposed_type = "numpy"
[DATA_NODE.mem]
storage_type = "in_memory"
[TASK.kinds]
function = "kinds.f"
inputs = ["n:SECTION"]
outputs = ["blob:SECTION", "arr:SECTION", "mem:SECTION"]
[SCENARIO.s]
tasks = ["kinds:SECTION"]
''', {"n.json": "2", "kinds.py": "class Box:\n    pass\n"
                         "def f(n):\n    b = Box()\n    b.n = n\n"
                         "    return bytes([0, n]) + b'weft', [[1, n], [3, 4]], b\n"})
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        sub = orch.create_scenario("s").submit(wait=True)
        check(sub.is_completed(), "completed", [(j.status, j.error) for j in sub.jobs])
        check(orch.read("blob") == b"\x00\x02weft", "binary as bytes", orch.read("blob"))
        arr = orch.read("arr")
        check(type(arr).__name__ == "ndarray" and arr.tolist() == [[1, 2], [3, 4]],
              "csv with exposed_type numpy as an array", arr)
        mem = orch.read("mem")
        check(type(mem).__name__ == "Box" and mem.n == 2, "in_memory as the object", mem)


def test_c_task_module():
    # A C task function from the application's shared object calls libweft's
    # weft_* functions, which the package carries.
    apps = os.environ.get("WEFT_TEST_APPS", "")
    so = os.path.join(apps, "clifns.so")
    check(os.path.isfile(so), "tests/apps/clifns.so is built (make tests)", so)
    if not os.path.isfile(so):
        return
    d = app("development", '[DATA_NODE.a]\nstorage_type = "text"\ndefault_path = "a.txt"\n'
            '[TASK.seed]\nfunction = "clifns.seed"\noutputs = ["a:SECTION"]\n'
            '[SCENARIO.s]\ntasks = ["seed:SECTION"]\n')
    shutil.copy(so, d)
    with weft.Orchestrator(os.path.join(d, "config.toml")) as orch:
        job = orch.create_scenario("s").submit(wait=True).jobs[0]
        check(job.is_completed(), "the C task ran", (job.status, job.error))
        check(orch.read("a") == "hello\n", "and wrote its output", orch.read("a") if job.is_completed() else None)


def test_exit_closes_open_orchestrators():
    # A program that ends with an orchestrator open and a job running: the
    # job finishes and its events reach the subscriber before the interpreter goes.
    d = app("standalone", SLEEPY, {"secs.txt": "0.5"})
    prog = ("import weft\n"
            "o = weft.Orchestrator('config.toml')\n"
            "o.subscribe(lambda e: print('event', e.job_status and e.job_status.name, flush=True))\n"
            "o.create_scenario('sleepy').submit()\n"
            "print('leaving', flush=True)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(weft.__file__))))
    r = subprocess.run([sys.executable, "-c", prog], cwd=d, env=env, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "exits 0", (r.returncode, r.stderr[-500:]))
    lines = r.stdout.splitlines()
    check("leaving" in lines and "event COMPLETED" in lines and
          lines.index("event COMPLETED") > lines.index("leaving"), "COMPLETED after leaving", lines)
    with open(os.path.join(d, "slept.txt")) as f:
        check(f.read() == "woke", "the job wrote its output")


def test_close_while_another_thread_waits():
    d = app("standalone", SLEEPY, {"secs.txt": "1"})
    orch = weft.Orchestrator(os.path.join(d, "config.toml"))
    sc = orch.create_scenario("sleepy")
    got = {}

    def waiter():
        got["sub"] = sc.submit(wait=True)
        got["returned"] = time.monotonic()
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)
    orch.close()  # waits for the call in progress, then closes
    closed_at = time.monotonic()
    th.join()
    check("sub" in got and got["sub"].is_completed(), "the waiting submit completed", got.get("sub"))
    check(got.get("returned", closed_at + 1) <= closed_at, "close() returned after it", got)
    try:
        orch.submit(sc)
        check(False, "a closed orchestrator refuses submit")
    except weft.Error as e:
        check("closed" in str(e), "saying it is closed", str(e))
    orch.close()  # twice is fine


def main():
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    only = sys.argv[1:]
    # Python leaves SIGINT ignored when it starts ignored (a job started in
    # the background by a shell without job control): the Ctrl-C tests need
    # its usual handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A test that hangs prints every thread's stack and ends the run (exit
    # status 1), instead of holding the suite until CI's own limit.
    limit = PER_TEST_SECONDS * max(1, int(os.environ.get("TEST_TIMEOUT_SCALE", "1") or 1))
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.monotonic()
        faulthandler.dump_traceback_later(limit, exit=True)
        try:
            t()
        except Exception:
            global failed
            failed += 1
            print(f"FAIL {t.__name__}: raised")
            traceback.print_exc(file=sys.stdout)
        faulthandler.cancel_dump_traceback_later()
        print(f"  {t.__name__} ({time.monotonic() - t0:.2f} s)")
    print(f"python: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

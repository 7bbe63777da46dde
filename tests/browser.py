#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# browser.py - drives the `weft ui` page in headless Chromium through the
# DevTools protocol over --remote-debugging-pipe (file descriptors 3 and 4,
# NUL-separated JSON; no WebSocket, no package beyond Python's standard
# library).  tests/browser.sh runs it.
#
# It starts a real `weft ui` on a free loopback port over a fresh store,
# then checks what a person would do: open the overview; start a scenario
# of four 1 s jobs with the Run button and watch its DAG nodes turn RUNNING
# then COMPLETED with no reload; cancel a running job with its button and
# see CANCELED; open a CSV node's preview; and, with the test broker
# (WEFT_TEST_BROKER_URL; without it that check fails), the overview of a
# cluster-mode store showing a running `weft run-worker`.  Screenshots go to
# BUILD/browser/*.png.  Prints "browser: N passed, N failed" last.
import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
WEFT = os.path.join(BUILD, "weft")
SHOTS = os.path.join(BUILD, "browser")

CONFIG = """[CORE]
storage_folder = ".weft/"
[JOB]
mode = "development"
[DATA_NODE.sales]
storage_type = "csv"
scope = "GLOBAL:SCOPE"
default_path = "sales.csv"
has_header = "True:bool"
[DATA_NODE.out]
storage_type = "text"
[TASK.touch]
function = "weft.noop"
inputs = ["sales:SECTION"]
outputs = ["out:SECTION"]
[TASK.nap1]
function = "weft.sleep"
duration = "1"
[TASK.nap2]
function = "weft.sleep"
duration = "1"
[TASK.nap3]
function = "weft.sleep"
duration = "1"
[TASK.nap4]
function = "weft.sleep"
duration = "1"
[TASK.long]
function = "weft.sleep"
duration = "30"
[SCENARIO.quick]
tasks = ["touch:SECTION"]
[SCENARIO.four]
tasks = ["nap1:SECTION", "nap2:SECTION", "nap3:SECTION", "nap4:SECTION"]
[SCENARIO.long_run]
tasks = ["long:SECTION"]
"""


class Browser:
    """One headless Chromium and one page, spoken to over the pipe."""

    def __init__(self, profile):
        r3, self.w = os.pipe()  # we write commands to its fd 3
        self.r, w4 = os.pipe()  # it writes answers to its fd 4
        # Moved above 10 first, so that placing them at 3 and 4 in the child
        # cannot overwrite one with the other; pass_fds keeps 3 and 4 open.
        hi_r, hi_w = fcntl.fcntl(r3, fcntl.F_DUPFD, 10), fcntl.fcntl(w4, fcntl.F_DUPFD, 10)
        os.close(r3)
        os.close(w4)
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-pipe",
             "--window-size=1280,900", "--user-data-dir=" + profile, "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(hi_r, 3), os.dup2(hi_w, 4)))
        os.close(hi_r)
        os.close(hi_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, params=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            m = json.loads(raw)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait(self, expr, timeout=15.0, what=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.eval(f"!!({expr})"):  # an element comes back by value as {}
                    return True
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or expr}")

    def goto(self, url):
        self.call("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete'")

    def shot(self, name):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(os.path.join(SHOTS, name), "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def start_ui(folder):
    out = open(os.path.join(folder, "ui.out"), "w+")
    proc = subprocess.Popen([WEFT, "ui", "--listen", "127.0.0.1:0"], cwd=folder,
                            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while time.time() < deadline:
        out.seek(0)
        m = re.search(r"http://127\.0\.0\.1:\d+/", out.read())
        if m:
            return proc, m.group(0)
        time.sleep(0.05)
    raise RuntimeError("weft ui printed no URL")


# ---- the checks ----

def overview(b, url):
    b.goto(url)
    b.wait("document.querySelector('#count-COMPLETED .n')", what="the status cards")
    assert b.eval("document.querySelector('#count-COMPLETED .n').textContent") == "1"
    assert b.eval("!!document.querySelector('svg.chart')"), "no throughput chart"
    b.wait("!document.getElementById('live').classList.contains('off')", what="the event stream")
    b.shot("overview.png")


def run_button_live_dag(b, url):
    b.goto(url + "#/scenarios")
    b.wait("document.querySelector('button[data-action=run][data-id=four]')", what="the Run button")
    b.eval("window.__noReload = 1; document.querySelector('button[data-action=run][data-id=four]').click()")
    b.wait("location.hash.startsWith('#/submission/SUBMISSION_')", what="the submission page")
    b.wait("document.querySelectorAll('#graph g.job').length === 4", what="the 4 job nodes")
    b.wait("document.querySelector('#graph g.job.st-RUNNING')", what="a RUNNING node")
    b.shot("submission-running.png")
    seen_running = b.eval("document.querySelector('#graph g.job.st-RUNNING').id")
    b.wait("document.querySelectorAll('#graph g.job.st-COMPLETED').length === 4", timeout=20,
           what="4 COMPLETED nodes")
    assert b.eval("window.__noReload") == 1, "the page was reloaded"
    assert seen_running.startswith("JOB_nap"), seen_running
    b.wait("document.querySelector('#head .badge').textContent === 'COMPLETED'", what="the status")
    b.shot("submission-completed.png")


def cancel_button(b, url):
    b.goto(url + "#/scenarios")
    b.wait("document.querySelector('button[data-action=run][data-id=long_run]')")
    b.eval("document.querySelector('button[data-action=run][data-id=long_run]').click()")
    b.wait("document.querySelector('#graph g.job.st-RUNNING')", what="the long job RUNNING")
    b.eval("document.querySelector('#graph g.job.st-RUNNING').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    b.wait("location.hash.startsWith('#/job/JOB_long_')", what="the job page")
    b.wait("document.querySelector('button[data-action=cancel-job]')", what="the Cancel button")
    b.shot("job-running.png")
    b.eval("window.__noReload = 2; document.querySelector('button[data-action=cancel-job]').click()")
    b.wait("document.querySelector('main .badge') && document.querySelector('main .badge').textContent === 'CANCELED'",
           timeout=10, what="CANCELED")
    assert b.eval("window.__noReload") == 2, "the page was reloaded"
    assert not b.eval("!!document.querySelector('button[data-action=cancel-job]')"), "Cancel still shown"
    b.shot("job-canceled.png")


def csv_preview(b, url):
    b.goto(url + "#/datanodes")
    b.wait("[...document.querySelectorAll('main td')].some(td => td.textContent === 'sales')")
    b.eval("[...document.querySelectorAll('main tr')].find(tr => tr.children[1] && "
           "tr.children[1].textContent === 'sales').querySelector('a').click()")
    b.wait("document.querySelector('table.preview')", what="the preview table")
    cells = b.eval("[...document.querySelectorAll('table.preview td')].map(td => td.textContent)")
    assert cells == ["North", "3", "West, far", "4"], cells
    heads = b.eval("[...document.querySelectorAll('table.preview th')].map(th => th.textContent)")
    assert heads == ["region", "units"], heads
    b.shot("datanode-csv.png")


def cluster_overview(b, url):
    broker = os.environ.get("WEFT_TEST_BROKER_URL")
    if not broker:
        raise AssertionError("WEFT_TEST_BROKER_URL is not set (scripts/broker start DIR)")
    folder = tempfile.mkdtemp(prefix="weft-browser-cluster-")
    queue = f"weft.test.browser.{os.getpid()}"
    with open(os.path.join(folder, "config.toml"), "w") as f:
        f.write(f'[CORE]\nstorage_folder = ".weft/"\n[JOB]\nmode = "cluster"\nbroker_url = "{broker}"\n'
                f'queue = "{queue}"\n[TASK.t]\nfunction = "weft.noop"\n[SCENARIO.s]\ntasks = ["t:SECTION"]\n')
    worker = subprocess.Popen([WEFT, "run-worker", "--application-path", folder, "--concurrency", "4"],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ui, curl = start_ui(folder)
    try:
        b.goto(curl)
        b.wait("document.querySelector('#workers tbody tr')", timeout=30, what="the workers table")
        cells = b.eval("[...document.querySelectorAll('#workers tbody td')].map(td => td.textContent)")
        assert cells[0].endswith(f":{worker.pid}") and cells[1] == "up" and cells[2] == "0 / 4", cells
        assert b.eval("document.querySelector('#queue-load').textContent").startswith("0 ready, 1 consumers")
        b.shot("overview-cluster.png")
    finally:
        for p in (ui, worker):
            p.terminate()
            p.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="weft-browser-")
    with open(os.path.join(folder, "config.toml"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(folder, "sales.csv"), "w") as f:
        f.write('region,units\nNorth,3\n"West, far",4\n')
    subprocess.run([WEFT, "run", "-s", "quick", "-q"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ui, url = start_ui(folder)
    b = Browser(os.path.join(folder, "profile"))
    passed = failed = 0
    try:
        for check in (overview, run_button_live_dag, cancel_button, csv_preview, cluster_overview):
            t0 = time.time()
            try:
                check(b, url)
                print(f"ok   browser.{check.__name__} ({time.time() - t0:.2f}s)")
                passed += 1
            except Exception as e:  # one failure must not hide the others
                print(f"FAIL browser.{check.__name__}: {e}")
                try:
                    b.shot(f"FAILED-{check.__name__}.png")
                except Exception:
                    pass
                failed += 1
    finally:
        b.close()
        ui.terminate()
        ui.wait()
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")
    print(f"screenshots in {SHOTS}")
    print(f"browser: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

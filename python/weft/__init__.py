# SPDX-License-Identifier: MIT
# __init__.py - the weft package: Python classes over libweft (weft._weft),
# named as in taipy.core where the concept exists there (Status, Job,
# Submission, Scenario, DataNode.read(), submit(wait=, timeout=)).
"""Drive the weft job orchestration engine from Python.  See docs/PYTHON.md."""

import atexit as _atexit
import datetime as _dt
import enum as _enum
import os as _os
import sys as _sys
import weakref as _weakref

from ._errors import ConfigError, Diagnostic, Error

# RTLD_GLOBAL: the application's C task modules (dlopen()ed by weft) call
# libweft's weft_* functions, which live in _weft.so.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_GLOBAL)
try:
    from . import _weft
finally:
    _sys.setdlopenflags(_flags)

__all__ = ["Config", "ConfigError", "DataNode", "Diagnostic", "Error", "Event", "Job",
           "Orchestrator", "Scenario", "Sequence", "Status", "Submission", "SubmissionStatus",
           "version"]


def version():
    """The version of libweft in this package, e.g. "0.1.0"."""
    return _weft.version()


class Status(_enum.Enum):
    """A job's status, with Taipy's names and values."""

    SUBMITTED = 1
    BLOCKED = 2
    PENDING = 3
    RUNNING = 4
    CANCELED = 5
    FAILED = 6
    COMPLETED = 7
    SKIPPED = 8
    ABANDONED = 9

    def __repr__(self):
        return self.name


class SubmissionStatus(_enum.Enum):
    """A submission's status, with Taipy's names and values (weft never reports UNDEFINED)."""

    SUBMITTED = 0
    UNDEFINED = 1
    BLOCKED = 2
    PENDING = 3
    RUNNING = 4
    CANCELED = 5
    FAILED = 6
    COMPLETED = 7

    def __repr__(self):
        return self.name


# Orchestrators still open at exit are closed before the interpreter
# finalizes: weft's threads must not call a subscriber (take the GIL) once
# finalizing has begun, when CPython ends any thread that tries.
_open_orchestrators = _weakref.WeakSet()


@_atexit.register
def _close_all():
    for orch in list(_open_orchestrators):
        orch.close()


_FINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELED, Status.SKIPPED, Status.ABANDONED)


def _time(t):
    return None if t is None else _dt.datetime.fromtimestamp(t)


def _id(entity):
    return entity if isinstance(entity, str) else entity.id


class Config:
    """A configuration: Taipy's config.toml format.  `Config.load(path)` reads one."""

    def __init__(self):
        self._c = _weft.Config()

    @classmethod
    def load(cls, path):
        """A new config read from `path`; ConfigError lists every problem of the file."""
        cfg = cls()
        cfg._c.load(_os.fspath(path))
        return cfg

    @classmethod
    def load_string(cls, text, name="<string>"):
        """A new config read from TOML text; `name` appears in diagnostics."""
        cfg = cls()
        cfg._c.load_string(text, name)
        return cfg

    def check(self, functions=False, import_modules=False):
        """Validates the whole config (references, cycles, types, ENV[...]); with
        `functions`, also that each task function can be found (`weft check`), and with
        `import_modules` imports the Python modules to look the functions up.  Raises
        ConfigError on any error; returns the warnings (a list of Diagnostic)."""
        return self._c.check(functions=functions, import_modules=import_modules)

    @property
    def diagnostics(self):
        """Every Diagnostic found by loading and checking so far."""
        return self._c.diagnostics

    @property
    def mode(self):
        """"development", "standalone" or "cluster"."""
        return self._c.mode

    @property
    def storage_folder(self):
        return self._c.storage_folder

    @property
    def application_path(self):
        return self._c.application_path

    @property
    def file(self):
        return self._c.file

    def get(self, section, key):
        """The effective value of `key` in `section` ("TASK.t", "JOB", ...) as text
        without its type suffix (a list of texts for a list), None when unset."""
        return self._c.get(section, key)

    def set(self, section, key, value):
        """Sets a key from code, in typed-string syntax ("8:int")."""
        self._c.set(section, key, value)

    @property
    def data_node_ids(self):
        return self._c.ids("data_node")

    @property
    def task_ids(self):
        return self._c.ids("task")

    @property
    def scenario_ids(self):
        return self._c.ids("scenario")


class Job:
    """A snapshot of a job (Taipy's Job); refresh() reads it again."""

    def __init__(self, orchestrator, d):
        self._orch = orchestrator
        self._set(d)

    def _set(self, d):
        self._d = d
        self.id = d["id"]
        self.task_id = d["task_id"]
        self.task_config_id = d["task_config_id"]
        self.submit_id = d["submission_id"]
        self.submit_entity_id = d["entity_id"]
        self.status = Status[d["status"]]
        self.attempt = d["attempt"]
        self.error = d["error"]
        self.exit_code = d["exit_code"]
        self.signal = d["signal"]
        self.log = d["log_tail"]
        self.worker = d["worker"]
        self.status_times = {Status[k]: _time(v) for k, v in d["status_times"].items()}

    def refresh(self):
        """Reads the job's current state from the store; returns self."""
        self._set(self._orch._o.job(self.id))
        return self

    @property
    def creation_date(self):
        return self.status_times.get(Status.SUBMITTED)

    submitted_at = creation_date

    @property
    def run_at(self):
        return self.status_times.get(Status.RUNNING)

    @property
    def finished_at(self):
        return next((self.status_times[s] for s in _FINAL if s in self.status_times), None)

    @property
    def execution_duration(self):
        """Seconds from RUNNING to the end, None while not both happened."""
        if self.run_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.run_at).total_seconds()

    @property
    def stacktrace(self):
        """The error's lines (a Python task's traceback), [] when none."""
        return self.error.splitlines() if self.error else []

    def cancel(self):
        self._orch.cancel(self.id)

    def is_submitted(self):
        return self.status == Status.SUBMITTED

    def is_blocked(self):
        return self.status == Status.BLOCKED

    def is_pending(self):
        return self.status == Status.PENDING

    def is_running(self):
        return self.status == Status.RUNNING

    def is_canceled(self):
        return self.status == Status.CANCELED

    def is_failed(self):
        return self.status == Status.FAILED

    def is_completed(self):
        return self.status == Status.COMPLETED

    def is_skipped(self):
        return self.status == Status.SKIPPED

    def is_abandoned(self):
        return self.status == Status.ABANDONED

    def is_finished(self):
        return self.status in _FINAL

    def __repr__(self):
        return f"Job({self.id!r}, {self.status.name})"


class Submission:
    """A snapshot of a submission (Taipy's Submission); refresh() reads it again."""

    def __init__(self, orchestrator, d):
        self._orch = orchestrator
        self._set(d)

    def _set(self, d):
        self.id = d["id"]
        self.entity_id = d["entity_id"]
        self.entity_config_id = d["entity_config_id"]
        self.submission_status = SubmissionStatus[d["status"]]
        self.creation_date = _time(d["created_at"])
        self.finished_at = _time(d["finished_at"])
        self.counts = {Status[k]: v for k, v in d["counts"].items()}

    @property
    def status(self):
        return self.submission_status

    def refresh(self):
        """Reads the submission's current state from the store; returns self."""
        self._set(self._orch._o.submission(self.id))
        return self

    @property
    def jobs(self):
        """Its jobs, read now, in creation order."""
        return self._orch.jobs(submission=self.id)

    def wait(self, timeout=None):
        """Waits until it is finished; False when `timeout` seconds passed first."""
        return self._orch.wait(self, timeout)

    def cancel(self):
        self._orch.cancel(self.id)

    def is_finished(self):
        return self.submission_status in (SubmissionStatus.COMPLETED, SubmissionStatus.FAILED,
                                          SubmissionStatus.CANCELED)

    def is_completed(self):
        return self.submission_status == SubmissionStatus.COMPLETED

    def is_canceled(self):
        return self.submission_status == SubmissionStatus.CANCELED

    def is_failed(self):
        return self.submission_status == SubmissionStatus.FAILED

    def __repr__(self):
        return f"Submission({self.id!r}, {self.submission_status.name})"


class Event:
    """A status change, as subscribers receive it: a job's (job_id set) or a
    submission's (job_id None).  Times are datetimes."""

    def __init__(self, d):
        self.submission_id = d["submission_id"]
        self.job_id = d["job_id"]
        self.task_config_id = d["task_config_id"]
        self.job_status = Status[d["job_status"]] if d["job_status"] else None
        self.submission_status = SubmissionStatus[d["submission_status"]]
        self.at = _time(d["at"])
        self.error = d["error"]

    def __repr__(self):
        what = self.job_status.name if self.job_id else self.submission_status.name
        return f"Event({self.job_id or self.submission_id!r}, {what})"


class DataNode:
    """A data node, by instance id (DATANODE_...) or by config id when the store
    holds one instance of it."""

    def __init__(self, orchestrator, id):
        self._orch = orchestrator
        self.id = id

    def read(self):
        """The content as a Python task gets it: pickle -> the object, json -> the
        decoded value, text -> str, binary -> bytes, csv -> a pandas DataFrame (a numpy
        array with exposed_type = "numpy"), in_memory -> the object."""
        return self._orch._o.read_object(self.id)

    def read_bytes(self):
        """The content as stored (weft_data_read)."""
        return self._orch._o.read_data(self.id)

    def __repr__(self):
        return f"DataNode({self.id!r})"


class Sequence:
    """A sequence of a scenario instance ([SCENARIO.x.sequences] name = [tasks])."""

    def __init__(self, scenario, name):
        self.scenario = scenario
        self.name = name
        self.id = _weft.sequence_id(scenario.id, name)

    def submit(self, force=False, wait=False, timeout=None):
        return self.scenario._orch.submit(self.id, force=force, wait=wait, timeout=timeout)


class Scenario:
    """A scenario instance."""

    def __init__(self, orchestrator, id, config_id):
        self._orch = orchestrator
        self.id = id
        self.config_id = config_id

    def submit(self, force=False, wait=False, timeout=None):
        """Submits every task of the scenario; see Orchestrator.submit."""
        return self._orch.submit(self.id, force=force, wait=wait, timeout=timeout)

    def sequence(self, name):
        return Sequence(self, name)

    def data_node(self, config_id):
        """Its data node `config_id`.  weft's C API reads a node by config id only
        while the store holds one instance of it (one scenario, or a GLOBAL node)."""
        return DataNode(self._orch, config_id)

    def __repr__(self):
        return f"Scenario({self.id!r})"


class Orchestrator:
    """An orchestrator over the store of `config` (a Config or a path to a config.toml,
    loaded and checked here).  Only one read-write orchestrator per storage folder at a
    time.  Use it as a context manager, or call close()."""

    def __init__(self, config, app_path=None, storage_folder=None, read_only=False):
        if not isinstance(config, Config):
            config = Config.load(config)
            config.check()
        self.config = config
        self._o = _weft.Orchestrator(config._c, _os.fspath(app_path) if app_path else None,
                                     _os.fspath(storage_folder) if storage_folder else None,
                                     read_only)
        _open_orchestrators.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def mode(self):
        return self._o.mode

    def run(self):
        """Starts the dispatcher and the workers (standalone: forks the worker processes
        now, from this process as it is).  submit() does it when needed."""
        self._o.start()

    start = run

    def stop(self, cancel_running=False):
        """Stops the service: waits for the submitted jobs, or cancels them."""
        self._o.stop(cancel_running=cancel_running)

    def close(self):
        """Stops (waiting for the jobs) and closes the store.  Safe to call twice."""
        self._o.close()

    def create_scenario(self, config_id):
        """A new instance of SCENARIO.<config_id>."""
        return Scenario(self, self._o.create_scenario(config_id), config_id)

    def scenarios(self):
        return [Scenario(self, i, c) for i, c in self._o.scenarios()]

    def submit(self, entity, force=False, wait=False, timeout=None):
        """Submits a Scenario, a Sequence, or a scenario/sequence/task id; returns the
        Submission.  With `wait`, returns once it is finished or, with `timeout`
        (seconds), once that much time passed (as Taipy: no exception; the submission
        runs on).  Development mode always runs the jobs before returning."""
        return Submission(self, self._o.submit(_id(entity), force=force, wait=wait, timeout=timeout))

    def wait(self, submission, timeout=None):
        """Waits for a submission; False when `timeout` seconds passed first."""
        return self._o.wait(_id(submission), timeout)

    def cancel(self, entity):
        """Cancels a job, or every unfinished job of a submission (Job, Submission or id)."""
        self._o.cancel(_id(entity))

    def subscribe(self, callback):
        """Calls callback(Event) after each job and submission status change is stored.
        It runs on the thread that stored the change (the submitting thread in
        development mode, weft's dispatcher thread otherwise), holding the GIL and the
        orchestrator's lock: it may query and cancel, not submit or wait."""
        self._o.subscribe(lambda d: callback(Event(d)))

    def jobs(self, submission=None, status=None):
        """Jobs, in creation order: all, or of a submission, or in a Status."""
        st = status.name if isinstance(status, Status) else status
        sub = _id(submission) if submission is not None else None
        return [Job(self, d) for d in self._o.jobs(sub, st)]

    def job(self, id):
        return Job(self, self._o.job(id))

    def submissions(self):
        return [Submission(self, d) for d in self._o.submissions()]

    def submission(self, id):
        return Submission(self, self._o.submission(id))

    def data_node(self, id):
        return DataNode(self, id)

    def read(self, data_node_id):
        """Shorthand for data_node(id).read()."""
        return self._o.read_object(data_node_id)

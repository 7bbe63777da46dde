/* SPDX-License-Identifier: MIT */
/*
 * python.c - Python task functions run by the CPython embedded in this
 * process (see python.h).  One interpreter per process, started by the
 * first Python job (pthread_once) and kept, so a worker pays its imports
 * once.  After starting it the GIL is released; each job takes it in the
 * thread that runs the job, and no other weft thread ever runs Python.
 *
 * The Python side is a small module (HELPER below, run once into the
 * module `_weft`): it turns the bytes of each input into what Taipy hands
 * a task (pickle, json, str, bytes, a pandas DataFrame or a numpy array),
 * calls the function, checks the count of returned values and encodes
 * each output to bytes.  Every output is encoded before the first is
 * written, so a wrong count or a value that cannot be stored writes
 * nothing; the bytes go through weft_dn_write(), the atomic writer every
 * other task uses.  A pickle or csv output is instead streamed by
 * pickle.dump or to_csv into the temporary file of that same writer
 * (weft__afile), renamed into place once every output is encoded: a
 * 10 MB frame is not copied into bytes and then through C.
 */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for "y#" */
#include <Python.h>

#include "job/python.h"
#include "util/defaults.h"
#include "util/util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static const char HELPER[] =
    "import sys, io, importlib, traceback\n"
    "_mem = {}\n"
    "class WeftError(Exception):\n"
    "    pass\n"
    "def setup(path):\n"
    "    if not sys.path or sys.path[0] != path:\n"
    "        if path in sys.path: sys.path.remove(path)\n"
    "        sys.path.insert(0, path)\n"
    "def need(name):\n"
    "    try:\n"
    "        return importlib.import_module(name)\n"
    "    except ImportError as e:\n"
    "        raise WeftError(f\"the Python module '{name}' is missing ({e})\") from None\n"
    "def resolve(path, name):\n"
    "    setup(path)\n"
    "    mod, _, attr = name.rpartition('.')\n"
    "    m = importlib.import_module(mod)\n"
    "    try:\n"
    "        return getattr(m, attr)\n"
    "    except AttributeError:\n"
    "        raise WeftError(f\"module '{mod}' ({getattr(m, '__file__', '?')}) has no function '{attr}'\") from None\n"
    "_path = ['']\n"
    "def pyfn(name):\n"
    "    if name.endswith(':function'): name = name[:-9]\n"
    "    return resolve(_path[0], name)\n"
    "def fargs(a):\n"
    "    return [] if a is None else list(a) if isinstance(a, (list, tuple)) else [a]\n"
    "def to_df(pd, v):\n"
    "    if isinstance(v, (pd.DataFrame, pd.Series)): return v\n"
    "    return pd.DataFrame(v)\n"
    "def numpy_of(r):\n"
    "    need('numpy')\n"
    "    return {k: v.to_numpy() for k, v in r.items()} if isinstance(r, dict) else r.to_numpy()\n"
    "def decode(kind, data, nid, header, exposed, extra):\n"
    "    if kind == 'in_memory' and nid in _mem: return _mem[nid]\n"
    "    path = extra.get('path')\n"
    "    if kind == 'pickle' and path:\n"
    "        import pickle\n"
    "        with open(path, 'rb') as f: return pickle.load(f)\n"
    "    if kind in ('pickle', 'in_memory'):\n"
    "        import pickle; return pickle.loads(data)\n"
    "    if kind == 'json':\n"
    "        import json; return json.loads(data.decode())\n"
    "    if kind == 'text': return data.decode()\n"
    "    if kind == 'binary': return bytes(data)\n"
    "    if kind == 'csv':\n"
    "        if exposed == 'numpy': need('numpy')\n"
    "        pd = need('pandas')\n"
    "        src = path or io.BytesIO(data)\n"
    "        try: df = pd.read_csv(src, header=0 if header else None)\n"
    "        except pd.errors.EmptyDataError: df = pd.DataFrame()\n"
    "        return df.to_numpy() if exposed == 'numpy' else df\n"
    "    if kind == 'excel':\n"
    "        pd = need('pandas'); need('openpyxl')\n"
    "        r = pd.read_excel(path or io.BytesIO(data), sheet_name=extra.get('sheet_name'), engine='openpyxl',\n"
    "                          header=0 if header else None)\n"
    "        return numpy_of(r) if exposed == 'numpy' else r\n"
    "    if kind in ('sql_table', 'sql'):\n"
    "        import json; pd = need('pandas')\n"
    "        df = pd.DataFrame(json.loads(data.decode()))\n"
    "        return df.to_numpy() if exposed == 'numpy' else df\n"
    "    if kind == 'generic':\n"
    "        if not extra.get('read_fct'): return bytes(data)\n"
    "        return pyfn(extra['read_fct'])(*fargs(extra.get('read_fct_args')))\n"
    "    raise WeftError(f\"storage type {kind} is not available to Python tasks\")\n"
    "def excel_bytes(value, nid, header, extra):\n"
    "    pd = need('pandas'); need('openpyxl')\n"
    "    b = io.BytesIO()\n"
    "    sheet = extra.get('sheet_name')\n"
    "    if not isinstance(value, dict) and isinstance(sheet, (list, tuple)):\n"
    "        if len(sheet) > 1:\n"
    "            raise WeftError(f\"data node {nid}: sheet_name lists {len(sheet)} sheets but the task \"\n"
    "                            \"returned one table; return a dict of sheet name to table\")\n"
    "        sheet = sheet[0] if sheet else None\n"
    "    sheets = value if isinstance(value, dict) else {sheet or 'Sheet1': value}\n"
    "    if not sheets: raise WeftError(f\"data node {nid}: an Excel workbook needs at least one sheet\")\n"
    "    with pd.ExcelWriter(b, engine='openpyxl') as w:\n"
    "        for k, v in sheets.items():\n"
    "            to_df(pd, v).to_excel(w, sheet_name=str(k), index=False, header=bool(header))\n"
    "    return b.getvalue()\n"
    "def sink(extra):\n"
    "    import os\n"
    "    return os.fdopen(os.dup(extra['fd']), 'wb')\n"
    "def encode(kind, value, nid, header, exposed, extra):\n"
    "    import pickle\n"
    "    if kind == 'pickle' and 'fd' in extra:\n"
    "        with sink(extra) as f: pickle.dump(value, f)\n"
    "        return None\n"
    "    if kind == 'pickle': return pickle.dumps(value)\n"
    "    if kind == 'in_memory':\n"
    "        _mem[nid] = value\n"
    "        try: return pickle.dumps(value)\n"
    "        except Exception: return b''\n"
    "    if kind == 'json':\n"
    "        import json; return json.dumps(value).encode()\n"
    "    if kind == 'text': return str(value).encode()\n"
    "    if kind == 'binary': return bytes(value)\n"
    "    if kind == 'csv':\n"
    "        pd = need('pandas')\n"
    "        df = value if isinstance(value, pd.DataFrame) else pd.DataFrame(value)\n"
    "        if header and not isinstance(value, pd.DataFrame): df.columns = [str(c) for c in df.columns]\n"
    "        if 'fd' not in extra: return df.to_csv(index=False, header=header).encode()\n"
    "        with sink(extra) as f: df.to_csv(f, index=False, header=header)\n"
    "        return None\n"
    "    if kind == 'excel': return excel_bytes(value, nid, header, extra)\n"
    "    if kind in ('sql_table', 'sql'):\n"
    "        pd = need('pandas')\n"
    "        return to_df(pd, value).to_json(orient='records', date_format='iso').encode()\n"
    "    if kind == 'generic':\n"
    "        if extra.get('write_fct'):\n"
    "            fn = pyfn(extra['write_fct'])\n"
    "            return lambda: fn(value, *fargs(extra.get('write_fct_args')))\n"
    "        return value.encode() if isinstance(value, str) else bytes(value)\n"
    "    raise WeftError(f\"storage type {kind} is not available to Python tasks\")\n"
    "def run(path, name, task, inputs, outputs):\n"
    "    out = io.StringIO()\n"
    "    saved = sys.stdout, sys.stderr\n"
    "    sys.stdout = sys.stderr = out\n"
    "    try:\n"
    "        _path[0] = path\n"
    "        fn = resolve(path, name)\n"
    "        args = [decode(*i) for i in inputs]\n"
    "        r = fn(*args)\n"
    "        n = len(outputs)\n"
    "        if n == 0: vals = []\n"
    "        elif n == 1: vals = [r]\n"
    "        else:\n"
    "            if not isinstance(r, (tuple, list)) or len(r) != n:\n"
    "                got = len(r) if isinstance(r, (tuple, list)) else 1\n"
    "                raise WeftError(f\"task {task}: function {name} returned {got} value\"\n"
    "                                f\"{'' if got == 1 else 's'} for {n} outputs\")\n"
    "            vals = list(r)\n"
    "        enc = [encode(o[0], v, *o[1:]) for o, v in zip(outputs, vals)]\n"
    "        for i, e in enumerate(enc):\n"
    "            if callable(e): e(); enc[i] = None\n"
    "        return (None, enc, out.getvalue())\n"
    "    except WeftError as e:\n"
    "        return (str(e), None, out.getvalue())\n"
    "    except BaseException as e:\n"
    "        if isinstance(e, KeyboardInterrupt) and e.args == ('weft',): return ('', None, out.getvalue())\n"
    "        tb = traceback.format_exc()\n"
    "        return (tb.rstrip(), None, out.getvalue())\n"
    "    finally:\n"
    "        sys.stdout, sys.stderr = saved\n"
    "def find(path, name):\n"
    "    import os, importlib.machinery as mach\n"
    "    mod = name.rpartition('.')[0]\n"
    "    rel = os.path.join(path, *mod.split('.'))\n"
    "    if os.path.isfile(rel + '.py') or os.path.isdir(rel): return True\n"
    "    d, base = os.path.split(rel)\n"
    "    if os.path.isdir(d) and any(f.startswith(base + '.') and f.endswith('.so') for f in os.listdir(d)): return True\n"
    "    top = mod.split('.')[0]\n"
    "    if top in sys.builtin_module_names: return True\n"
    "    return mach.PathFinder.find_spec(top, [p for p in sys.path if p]) is not None\n"
    "def check_need(path, name):\n"
    "    setup(path)\n"
    "    try:\n"
    "        need(name)\n"
    "        return None\n"
    "    except WeftError as e:\n"
    "        return str(e)\n"
    "def check_import(path, name):\n"
    "    try:\n"
    "        resolve(path, name)\n"
    "        return None\n"
    "    except WeftError as e:\n"
    "        return str(e)\n"
    "    except SyntaxError as e:\n"
    "        return f\"{e.filename}:{e.lineno}: {type(e).__name__}: {e.msg}\"\n"
    "    except BaseException as e:\n"
    "        tb = traceback.extract_tb(e.__traceback__)\n"
    "        where = next((f'{f.filename}:{f.lineno}: ' for f in reversed(tb) if '<frozen' not in f.filename), '')\n"
    "        return f\"{where}{type(e).__name__}: {e}\"\n";

static pthread_once_t py_once = PTHREAD_ONCE_INIT;
static PyObject *helper;      /* the dict of module _weft; NULL when it failed */
static char py_start_err[256]; /* why, when helper is NULL */
static unsigned long py_main_tid; /* the thread that started the interpreter */

/* Starts the interpreter: no signal handlers of Python's (the process's
 * owner decides about SIGINT and SIGTERM), no argv parsing, the standard
 * library of the linked Python (WEFT__PYTHON_HOME). */
static bool py_init(void)
{
    PyConfig c;
    PyConfig_InitPythonConfig(&c);
    c.install_signal_handlers = 0;
    c.parse_argv = 0;
    PyStatus st = PyStatus_Ok();
    if (!getenv("PYTHONHOME")) st = PyConfig_SetBytesString(&c, &c.home, WEFT__PYTHON_HOME);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st)) {
        snprintf(py_start_err, sizeof py_start_err, "cannot start the Python interpreter: %s",
                 st.err_msg ? st.err_msg : "unknown error");
        return false;
    }
    return true;
}

/* The ident of the interpreter's main thread, the one that runs pending
 * calls, when someone else started the interpreter (0 when unknown: jobs
 * are then watched by the trace function). */
static unsigned long main_thread_ident(void)
{
    PyObject *th = PyImport_ImportModule("threading");
    PyObject *mt = th ? PyObject_CallMethod(th, "main_thread", NULL) : NULL;
    PyObject *id = mt ? PyObject_GetAttrString(mt, "ident") : NULL;
    unsigned long tid = id ? PyLong_AsUnsignedLong(id) : 0;
    if (PyErr_Occurred()) tid = 0;
    PyErr_Clear();
    Py_XDECREF(id);
    Py_XDECREF(mt);
    Py_XDECREF(th);
    return tid;
}

/* Either starts the interpreter (then releases the GIL it holds), or finds
 * one already running: libweft loaded into python3 by the `weft` package,
 * or by an embedder.  Then it takes the GIL the way any other thread does,
 * and gives it back as it found it. */
static void py_start(void)
{
    bool ours = !Py_IsInitialized();
    if (ours && !py_init()) return;
    PyGILState_STATE g = ours ? PyGILState_UNLOCKED : PyGILState_Ensure();
    py_main_tid = ours ? PyThread_get_thread_ident() : main_thread_ident();
    PyObject *m = PyImport_AddModule("_weft");   /* borrowed */
    PyObject *d = m ? PyModule_GetDict(m) : NULL;
    PyObject *r = d ? PyRun_String(HELPER, Py_file_input, d, d) : NULL;
    if (r) {
        Py_DECREF(r);
        Py_INCREF(d);
        helper = d;
    } else {
        snprintf(py_start_err, sizeof py_start_err, "cannot start the Python interpreter");
        PyErr_Clear();
    }
    if (ours)
        PyEval_SaveThread(); /* the GIL is taken per job, in the job's thread */
    else
        PyGILState_Release(g);
}

/* Starts the interpreter if needed and takes the GIL; false with `err` set
 * (the GIL not taken) when the interpreter could not start. */
static bool py_enter(PyGILState_STATE *g, char *err)
{
    pthread_once(&py_once, py_start);
    if (!helper) {
        weft__err(err, WEFT_EIO, "%s", py_start_err);
        return false;
    }
    *g = PyGILState_Ensure();
    return true;
}

/* Calls helper function `fn` with the built arguments (stolen); new reference or NULL. */
static PyObject *helper_call(const char *fn, PyObject *args)
{
    PyObject *f = PyDict_GetItemString(helper, fn); /* borrowed */
    PyObject *r = f && args ? PyObject_CallObject(f, args) : NULL;
    Py_XDECREF(args);
    return r;
}

/* The pending Python exception as text (for errors of our own calls). */
static void py_error_text(char *buf, size_t size)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyObject *s = v ? PyObject_Str(v) : NULL;
    const char *u = s ? PyUnicode_AsUTF8(s) : NULL;
    snprintf(buf, size, "%s", u ? u : "Python error");
    Py_XDECREF(s);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    PyErr_Clear();
}

/* ---- cancel and deadline ----
 *
 * Both are polled in the job's own thread, as the cancel hook is not
 * thread-safe (development mode reads the orchestrator's store).  In the
 * interpreter's main thread (the `weft` command, every worker process) a
 * watcher thread (one per process, kept) queues Py_AddPendingCall() every
 * WEFT__PY_CANCEL_POLL_MS while a job runs:
 * CPython runs pending calls at its eval breaker, which even
 * `while True: pass` (a jump to itself) checks, at no cost to the job in
 * between.  CPython runs pending calls only in the main thread, so a job
 * run by an embedder in another thread is watched by a C trace function
 * instead: it sees every new line and backward jump (not a one-line loop)
 * and slows pure-Python code.  A stop raises KeyboardInterrupt("weft"), no
 * Exception, so `except Exception` in the task does not swallow it; it is
 * raised again at each poll until the job leaves.  A job blocked inside a C
 * call (time.sleep) stops when the call returns; in a worker process the
 * pool's SIGTERM/SIGKILL stops it anyway.
 */

typedef struct watch {
    const weft__run_hooks *hooks;
    int64_t deadline;
    int64_t next_poll; /* the trace asks the cancel hook at most this often */
    unsigned long tid; /* the job's thread */
    weft__py_end why;  /* DONE while nothing asked to stop */
} watch;

static watch *cur_watch;          /* the running job's, or NULL; guarded by the GIL */

/* Whether to stop; raises KeyboardInterrupt("weft") and returns -1 if so. */
static int watch_poll(watch *w, bool ask_hook)
{
    int64_t now = weft__mono_ns();
    if (w->why == WEFT__PY_DONE && w->deadline && now >= w->deadline) w->why = WEFT__PY_EXPIRED;
    if (w->why == WEFT__PY_DONE && ask_hook && w->hooks && w->hooks->canceled &&
        w->hooks->canceled(w->hooks->ud))
        w->why = WEFT__PY_CANCELED;
    if (w->why == WEFT__PY_DONE) return 0;
    PyObject *e = PyObject_CallFunction(PyExc_KeyboardInterrupt, "s", "weft");
    if (e) {
        PyErr_SetObject(PyExc_KeyboardInterrupt, e);
        Py_DECREF(e);
    }
    return -1;
}

/* A pending call: runs in the main thread with the GIL, maybe after the
 * job it was queued for ended (then cur_watch is another's or NULL). */
static int pending_poll(void *arg)
{
    (void)arg;
    watch *w = cur_watch;
    if (!w || w->tid != PyThread_get_thread_ident()) return 0;
    return watch_poll(w, true);
}

static int trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)frame;
    (void)what;
    (void)arg;
    watch *w = PyCapsule_GetPointer(obj, "weft.watch");
    if (!w) return -1;
    int64_t now = weft__mono_ns();
    bool ask = now >= w->next_poll;
    if (ask) w->next_poll = now + (int64_t)WEFT__PY_CANCEL_POLL_MS * 1000000;
    return watch_poll(w, ask);
}

/* The watcher thread, one per process, started by the first job of the
 * interpreter's main thread and kept (a thread per job cost a create, a
 * join and two context switches, a third of a no-op job's time on a
 * loaded machine).  Every WEFT__PY_CANCEL_POLL_MS it wakes; while a job is
 * `active` it queues a pending call and takes the GIL only to hand it
 * back.  Idle, it costs ten wake-ups a second. */
static struct {
    pthread_mutex_t mu;
    bool active;  /* guarded by mu */
    bool started; /* set once, by the first main-thread job, with the GIL */
} watcher = {PTHREAD_MUTEX_INITIALIZER, false, false};

static void *watcher_main(void *arg)
{
    (void)arg;
    pthread_cond_t cv; /* never signaled: a sleep that pthread_mutex_t can time */
    pthread_cond_init(&cv, NULL);
    pthread_mutex_lock(&watcher.mu);
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)WEFT__PY_CANCEL_POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cv, &watcher.mu, &ts);
        if (!watcher.active) continue;
        Py_AddPendingCall(pending_poll, NULL); /* a full queue: next time */
        /* CPython 3.11 arms its eval breaker for a pending call only when
         * the thread that adds it may run it; taking and giving back the
         * GIL makes the job's thread recompute the breaker as it takes
         * the GIL again.  pending_poll() finds the job through cur_watch,
         * so a call that runs after the job ended does nothing. */
        pthread_mutex_unlock(&watcher.mu);
        PyGILState_STATE g = PyGILState_Ensure();
        PyGILState_Release(g);
        pthread_mutex_lock(&watcher.mu);
    }
    return NULL;
}

/* Starts the watcher thread with every signal blocked (they are the main
 * thread's); false when it cannot start. */
static bool watcher_start(void)
{
    pthread_t th;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_create(&th, NULL, watcher_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ok) pthread_detach(th);
    return ok;
}

/* Starts watching `w` (GIL held): the watcher thread in the main thread,
 * the trace function elsewhere or when the thread cannot start.  True
 * when the watcher watches. */
static bool watch_start(watch *w, PyObject *cap)
{
    w->tid = PyThread_get_thread_ident();
    cur_watch = w;
    if (w->tid == py_main_tid && !watcher.started) watcher.started = watcher_start();
    bool by_watcher = w->tid == py_main_tid && watcher.started;
    if (by_watcher) {
        pthread_mutex_lock(&watcher.mu);
        watcher.active = true;
        pthread_mutex_unlock(&watcher.mu);
    } else {
        PyEval_SetTrace(trace, cap);
    }
    return by_watcher;
}

static void watch_stop(bool by_watcher)
{
    cur_watch = NULL;
    if (by_watcher) {
        pthread_mutex_lock(&watcher.mu);
        watcher.active = false;
        pthread_mutex_unlock(&watcher.mu);
    } else {
        PyEval_SetTrace(NULL, NULL);
    }
}

/* ---- fork (see python.h) ---- */

void weft__py_fork_before(weft__py_fork *f)
{
    f->on = Py_IsInitialized();
    if (!f->on) return;
    f->gil = (int)PyGILState_Ensure();
    PyOS_BeforeFork();
    /* The watcher never waits for the GIL while it holds its lock, so
     * taking it with the GIL held cannot deadlock. */
    pthread_mutex_lock(&watcher.mu);
}

void weft__py_fork_after(weft__py_fork *f, bool in_child)
{
    if (!f->on) return;
    if (in_child) {
        /* This thread is the only one here: no watcher thread, no job
         * of another thread.  The lock is ours, taken before the fork. */
        watcher.active = false;
        watcher.started = false;
        cur_watch = NULL;
        pthread_mutex_unlock(&watcher.mu);
        PyOS_AfterFork_Child();
    } else {
        pthread_mutex_unlock(&watcher.mu);
        PyOS_AfterFork_Parent();
    }
    PyGILState_Release((PyGILState_STATE)f->gil);
}

/* ---- a job ---- */

/* A config value as a Python object (new reference): a list stays a list,
 * numbers and booleans keep their type, anything else is its text. */
static PyObject *value_to_py(const weft_value *v)
{
    if (!v) Py_RETURN_NONE;
    switch (weft_value_type_of(v)) {
    case WEFT_VALUE_LIST: {
        PyObject *l = PyList_New(0);
        for (size_t i = 0; l && i < weft_value_len(v); i++) {
            PyObject *x = value_to_py(weft_value_at(v, i));
            if (!x || PyList_Append(l, x) < 0) {
                Py_XDECREF(x);
                Py_DECREF(l);
                return NULL;
            }
            Py_DECREF(x);
        }
        return l;
    }
    case WEFT_VALUE_INT: return PyLong_FromLongLong((long long)weft_value_int(v));
    case WEFT_VALUE_FLOAT: return PyFloat_FromDouble(weft_value_float(v));
    case WEFT_VALUE_BOOL: return PyBool_FromLong(weft_value_bool(v));
    default: {
        const char *t = weft_value_text(v);
        return PyUnicode_FromString(t ? t : "");
    }
    }
}

/* Sets d[key] = v, stealing v; false when v is NULL or on failure. */
static bool dict_put(PyObject *d, const char *key, PyObject *v)
{
    bool ok = v && PyDict_SetItemString(d, key, v) == 0;
    Py_XDECREF(v);
    return ok;
}

/* The generic node's `key` function ("read_fct", "write_fct") when it is
 * a Python function; NULL when unset or a C function (then weft_dn_read()
 * and weft_dn_write() call it, and the task sees bytes). */
static const char *py_generic_fn(weft__app *app, weft_data_node *dn, const char *key)
{
    const char *name = weft_value_text(weft_dn_property(dn, key));
    weft_task_fn fn = NULL;
    bool python = false;
    char err[WEFT_ERRBUF_SIZE];
    if (!name || !*name) return NULL;
    return weft__resolve_task(app, name, &fn, &python, err) == WEFT_OK && python ? name : NULL;
}

/* What decode() and encode() need beyond the type: an excel node's
 * sheet_name; a generic node's Python read_fct/write_fct and their args. */
static PyObject *node_extra(weft__app *app, weft_data_node *dn)
{
    PyObject *x = PyDict_New();
    const char *type = weft_dn_storage_type(dn);
    bool ok = x != NULL;
    if (ok && strcmp(type, "excel") == 0)
        ok = dict_put(x, "sheet_name", value_to_py(weft_dn_property(dn, "sheet_name")));
    if (ok && strcmp(type, "generic") == 0) {
        static const char *const keys[2][2] = {{"read_fct", "read_fct_args"},
                                               {"write_fct", "write_fct_args"}};
        for (int i = 0; ok && i < 2; i++) {
            const char *fn = py_generic_fn(app, dn, keys[i][0]);
            if (fn)
                ok = dict_put(x, keys[i][0], PyUnicode_FromString(fn)) &&
                     dict_put(x, keys[i][1], value_to_py(weft_dn_property(dn, keys[i][1])));
        }
    }
    if (!ok) Py_CLEAR(x);
    return x;
}

/* (storage type, instance id, has_header, exposed_type, extra) of a node. */
static PyObject *node_desc(weft__app *app, weft_data_node *dn)
{
    const char *exposed = weft_value_text(weft_dn_property(dn, "exposed_type"));
    PyObject *extra = node_extra(app, dn);
    PyObject *d = extra ? Py_BuildValue("(ssOsO)", weft_dn_storage_type(dn), weft_dn_id(dn),
                                        weft__dn_bool_property(dn, "has_header", true) ? Py_True
                                                                                       : Py_False,
                                        exposed ? exposed : "pandas", extra)
                        : NULL;
    Py_XDECREF(extra);
    return d;
}

/* Whether decode() reads the node's file itself: pandas parses a CSV
 * from its path about 15% faster than from bytes handed over (measured on
 * 10 MB: no copy into C and then into Python, its own buffering), and an
 * unpickler reads a file without the two copies.  Only when the file
 * exists: without it weft_dn_read() falls back on default_data. */
static bool read_by_path(weft_data_node *dn)
{
    static const char *const kinds[] = {"csv", "excel", "pickle"};
    const char *type = weft_dn_storage_type(dn), *path = weft_dn_path(dn);
    struct stat st;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(type, kinds[i]) == 0)
            return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
    return false;
}

/* The content decode() turns into the task's argument: nothing when it
 * reads the file itself (the path is in extra) or a Python read_fct reads
 * a generic node, what weft_dn_read() gives otherwise.  An excel node's
 * file must exist (weft_dn_read() may see it otherwise for C tasks). */
static weft_err input_bytes(weft_data_node *dn, PyObject *desc, char **data, size_t *len, char *err)
{
    const char *type = weft_dn_storage_type(dn), *path = weft_dn_path(dn);
    PyObject *extra = PyTuple_GET_ITEM(desc, 4);
    if (read_by_path(dn)) {
        PyObject *p = PyUnicode_DecodeFSDefault(path);
        bool ok = p && PyDict_SetItemString(extra, "path", p) == 0;
        Py_XDECREF(p);
        return ok ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    if (strcmp(type, "excel") == 0)
        return weft__err(err, WEFT_EDATA, "%s does not exist", path ? path : "the file");
    if (strcmp(type, "generic") == 0 && PyDict_GetItemString(extra, "read_fct")) return WEFT_OK;
    return weft_dn_read(dn, data, len, err);
}

/* The inputs as decode() arguments: (kind, bytes, id, header, exposed, extra). */
static PyObject *input_list(weft__app *app, weft_ctx *ctx, char *msg)
{
    size_t n = weft_ctx_ninputs(ctx);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        weft_data_node *dn = weft_ctx_input(ctx, i);
        char err[WEFT_ERRBUF_SIZE], *data = NULL;
        size_t len = 0;
        PyObject *d = node_desc(app, dn), *item = NULL;
        if (d && input_bytes(dn, d, &data, &len, err)) {
            snprintf(msg, WEFT__ERROR_MAX, "input '%s': %s", weft_dn_config_id(dn), err);
            Py_DECREF(d);
            Py_DECREF(list);
            return NULL;
        }
        if (d)
            item = Py_BuildValue("(Oy#OOOO)", PyTuple_GET_ITEM(d, 0), data ? data : "",
                                 (Py_ssize_t)len, PyTuple_GET_ITEM(d, 1), PyTuple_GET_ITEM(d, 2),
                                 PyTuple_GET_ITEM(d, 3), PyTuple_GET_ITEM(d, 4));
        free(data);
        Py_XDECREF(d);
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* Whether encode() streams the output into its temporary file itself
 * (pickle.dump, DataFrame.to_csv): no encoded copy goes through C. */
static bool streamed(weft_data_node *dn)
{
    const char *type = weft_dn_storage_type(dn);
    return weft_dn_path(dn) && (strcmp(type, "pickle") == 0 || strcmp(type, "csv") == 0);
}

/* The outputs as encode() arguments; a streamed output's temporary file is
 * opened into afs[i] (committed by write_outputs(), else aborted by the
 * caller) and its descriptor is extra["fd"]. */
static PyObject *output_list(weft__app *app, weft_ctx *ctx, weft__afile **afs, char *msg)
{
    size_t n = weft_ctx_noutputs(ctx);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        weft_data_node *dn = weft_ctx_output(ctx, i);
        PyObject *d = node_desc(app, dn), *fd = NULL;
        char err[WEFT_ERRBUF_SIZE];
        FILE *f;
        if (d && streamed(dn)) {
            if (weft__afile_open(weft_dn_path(dn), &afs[i], &f, err)) {
                snprintf(msg, WEFT__ERROR_MAX, "output '%s': %s", weft_dn_config_id(dn), err);
                Py_CLEAR(d);
            } else if (!(fd = PyLong_FromLong(fileno(f))) ||
                       PyDict_SetItemString(PyTuple_GET_ITEM(d, 4), "fd", fd) < 0) {
                Py_CLEAR(d);
            }
            Py_XDECREF(fd);
        }
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    return list;
}

/* Replaces an excel node's file by the workbook encode() made, atomically. */
static weft_err write_excel(weft_data_node *dn, const char *data, size_t len, char *err)
{
    const char *path = weft_dn_path(dn);
    weft__afile *af;
    FILE *f;
    if (!path) return weft__err(err, WEFT_EINVAL, "data node %s has no path", weft_dn_id(dn));
    weft_err e = weft__afile_open(path, &af, &f, err);
    if (e) return e;
    if (len && fwrite(data, 1, len, f) != len) {
        weft__afile_abort(af);
        return weft__err(err, WEFT_EIO, "cannot write %s", path);
    }
    if (!(e = weft__afile_commit(af, err))) weft__dn_mark_written(dn);
    return e;
}

/* Writes each encoded output (None: a Python write_fct wrote it already,
 * or encode() streamed it into afs[i], committed here); false with msg set
 * at the first failure. */
static bool write_outputs(weft_ctx *ctx, PyObject *enc, weft__afile **afs, char *msg)
{
    for (Py_ssize_t i = 0; i < PyList_Size(enc); i++) {
        char *data;
        Py_ssize_t len;
        char err[WEFT_ERRBUF_SIZE];
        weft_data_node *dn = weft_ctx_output(ctx, (size_t)i);
        PyObject *item = PyList_GET_ITEM(enc, i);
        if (item == Py_None && afs[i]) {
            weft__afile *af = afs[i];
            afs[i] = NULL; /* freed by the commit, whatever it says */
            if (weft__afile_commit(af, err)) {
                snprintf(msg, WEFT__ERROR_MAX, "output '%s': %s", weft_dn_config_id(dn), err);
                return false;
            }
        }
        if (item == Py_None) {
            weft__dn_mark_written(dn);
            continue;
        }
        if (PyBytes_AsStringAndSize(item, &data, &len) < 0) {
            py_error_text(msg, WEFT__ERROR_MAX);
            return false;
        }
        weft_err e = strcmp(weft_dn_storage_type(dn), "excel") == 0
                         ? write_excel(dn, data, (size_t)len, err)
                         : weft_dn_write(dn, data, (size_t)len, err);
        if (e) {
            snprintf(msg, WEFT__ERROR_MAX, "output '%s': %s", weft_dn_config_id(dn), err);
            return false;
        }
    }
    return true;
}

/* Takes the verdict of run() = (error or None, encoded outputs, printed). */
static weft__py_end judge(weft_ctx *ctx, PyObject *r, const watch *w, weft__buf *log,
                          weft__afile **afs, char *msg)
{
    PyObject *perr = PyTuple_GET_ITEM(r, 0), *enc = PyTuple_GET_ITEM(r, 1);
    Py_ssize_t plen = 0;
    const char *printed = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(r, 2), &plen);
    if (printed && plen) weft__tail_add(log, printed, (size_t)plen);
    PyErr_Clear();
    if (w->why != WEFT__PY_DONE) return w->why;
    if (perr != Py_None) {
        const char *t = PyUnicode_AsUTF8(perr);
        snprintf(msg, WEFT__ERROR_MAX, "%s", t ? t : "Python error");
        return WEFT__PY_FAILED;
    }
    return write_outputs(ctx, enc, afs, msg) ? WEFT__PY_DONE : WEFT__PY_FAILED;
}

weft_err weft__py_run(weft__app *app, weft_ctx *ctx, const weft__job_spec *spec,
                      const weft__run_hooks *hooks, const char *fname, int64_t deadline_ns,
                      weft__buf *log, weft__py_end *end, char *msg)
{
    PyGILState_STATE g;
    char err[WEFT_ERRBUF_SIZE];
    *end = WEFT__PY_FAILED;
    if (!py_enter(&g, err)) {
        snprintf(msg, WEFT__ERROR_MAX, "%s", err);
        return WEFT_OK;
    }
    watch w = {hooks, deadline_ns, 0, 0, WEFT__PY_DONE};
    size_t nout = weft_ctx_noutputs(ctx);
    weft__afile **afs = calloc(nout + 1, sizeof *afs); /* the streamed outputs' files */
    PyObject *cap = PyCapsule_New(&w, "weft.watch", NULL), *r = NULL;
    PyObject *in = afs ? input_list(app, ctx, msg) : NULL;
    PyObject *out = in ? output_list(app, ctx, afs, msg) : NULL;
    if (in && out && cap) {
        bool by_watcher = watch_start(&w, cap);
        r = helper_call("run", Py_BuildValue("(sssOO)", weft__app_path(app), fname,
                                              spec->task_config_id, in, out));
        watch_stop(by_watcher);
    }
    if (w.why != WEFT__PY_DONE) *end = w.why; /* the interrupt may leave run() itself */
    else if (r && PyTuple_Check(r) && PyTuple_Size(r) == 3) *end = judge(ctx, r, &w, log, afs, msg);
    else if (!msg[0]) py_error_text(msg, WEFT__ERROR_MAX);
    PyErr_Clear();
    for (size_t i = 0; afs && i < nout; i++) weft__afile_abort(afs[i]); /* not committed */
    free(afs);
    Py_XDECREF(r);
    Py_XDECREF(in);
    Py_XDECREF(out);
    Py_XDECREF(cap);
    PyGILState_Release(g);
    /* As for C tasks (runner.c): a job that failed once it was asked to
     * stop was canceled; e.g. by the KeyboardInterrupt of a Ctrl-C that
     * also interrupted its submission (the weft package, development mode). */
    if (*end == WEFT__PY_FAILED && hooks && hooks->canceled && hooks->canceled(hooks->ud))
        *end = WEFT__PY_CANCELED;
    return WEFT_OK;
}

/* ---- weft check ---- */

/* Calls find() or check_import(); their result decides. */
static weft_err check_call(weft__app *app, const char *fn, const char *fname, char *err)
{
    PyGILState_STATE g;
    if (!py_enter(&g, err)) return WEFT_EIO;
    weft_err e = WEFT_OK;
    PyObject *r = helper_call(fn, Py_BuildValue("(ss)", weft__app_path(app), fname));
    char text[WEFT__ERROR_MAX];
    if (!r) {
        py_error_text(text, sizeof text);
        e = weft__err(err, WEFT_ENOTFOUND, "%s", text);
    } else if (r == Py_False) {
        const char *dot = strrchr(fname, '.');
        e = weft__err(err, WEFT_ENOTFOUND,
                      "no Python module '%.*s' (no .py file, package folder or extension module "
                      "in %s, nor on the Python path)",
                      (int)(dot ? dot - fname : 0), fname, weft__app_path(app));
    } else if (PyUnicode_Check(r)) {
        const char *t = PyUnicode_AsUTF8(r);
        e = weft__err(err, WEFT_ENOTFOUND, "%s", t ? t : "?");
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
    return e;
}

weft_err weft__py_find_module(weft__app *app, const char *fname, char *err)
{
    return check_call(app, "find", fname, err);
}

weft_err weft__py_import(weft__app *app, const char *fname, char *err)
{
    return check_call(app, "check_import", fname, err);
}

weft_err weft__py_need(weft__app *app, const char *module, char *err)
{
    return check_call(app, "check_need", module, err);
}

/* ---- the weft Python package ---- */

/* A bool key of DATA_NODE.<id> as the data node reads it (True/true/1). */
static bool cfg_bool(const weft_config *cfg, const char *section, const char *key, bool def)
{
    const weft_value *v = weft_config_lookup(cfg, section, key);
    if (!v) return def;
    if (weft_value_type_of(v) == WEFT_VALUE_BOOL) return weft_value_bool(v);
    const char *t = weft_value_text(v);
    return t && (strcasecmp(t, "true") == 0 || strcmp(t, "1") == 0);
}

void *weft__py_data_object(const weft_config *cfg, const char *config_id, const char *instance_id,
                           const char *data, size_t len)
{
    Py_BEGIN_ALLOW_THREADS /* another thread may hold py_once, waiting for the GIL */
    pthread_once(&py_once, py_start);
    Py_END_ALLOW_THREADS
    if (!helper) {
        PyErr_SetString(PyExc_RuntimeError, py_start_err);
        return NULL;
    }
    char section[WEFT__ERROR_MAX];
    snprintf(section, sizeof section, "DATA_NODE.%s", config_id);
    const char *kind = weft_value_text(weft_config_lookup(cfg, section, "storage_type"));
    const char *exposed = weft_value_text(weft_config_lookup(cfg, section, "exposed_type"));
    PyObject *extra = PyDict_New(); /* an excel node's sheet_name, as for a task */
    if (extra && kind && strcmp(kind, "excel") == 0 &&
        !dict_put(extra, "sheet_name", value_to_py(weft_config_lookup(cfg, section, "sheet_name"))))
        Py_CLEAR(extra);
    PyObject *args = extra ? Py_BuildValue("(sy#sOsO)", kind ? kind : "pickle", data, (Py_ssize_t)len,
                                           instance_id, cfg_bool(cfg, section, "has_header", true)
                                           ? Py_True : Py_False, exposed ? exposed : "pandas", extra)
                           : NULL;
    Py_XDECREF(extra);
    PyObject *r = helper_call("decode", args);
    if (!r && !PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "weft's helper has no decode()");
    if (r || !PyErr_ExceptionMatches(PyDict_GetItemString(helper, "WeftError"))) return r;
    char msg[WEFT__ERROR_MAX]; /* helper's own WeftError: its message is the whole story */
    py_error_text(msg, sizeof msg);
    PyErr_SetString(PyExc_ValueError, msg);
    return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * orchestrator.c - weft._weft.Orchestrator, the native half of
 * weft.Orchestrator: open a store for a config, create scenarios, submit,
 * wait, cancel, subscribe a callable to status changes, query jobs and
 * submissions, read data nodes.
 *
 * The GIL.  Every call into the orchestrator is made with the GIL released:
 * the orchestrator's lock is held while subscribers run, and a subscriber
 * (on the dispatcher thread in standalone mode, on the caller's in
 * development mode, where Python tasks also run) takes the GIL; a thread
 * that held the GIL while waiting for that lock would deadlock with it.
 * One exception: starting a standalone orchestrator forks its fork server,
 * which is done with the GIL held, so that no other Python thread holds it
 * in the copy (worker processes run Python tasks in that copy's thread).
 *
 * Closing.  Calls run without the GIL, so another Python thread may call
 * close() while one is in weft_submit(): every call counts itself in
 * `busy` (weft_py_orch_enter/leave), and close() refuses new calls, waits
 * for those in progress to leave, and only then closes the handle.
 */
#include "python/ext.h"

#include "job/python.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* A subscribed callable, kept alive until the orchestrator is closed. */
typedef struct subscriber {
    PyObject *fn;
    struct subscriber *next;
} subscriber;

typedef struct pyorch {
    PyObject_HEAD
    weft_orchestrator *o;
    pyconfig *config; /* a reference: the config outlives the orchestrator */
    subscriber *subs;
    bool started;
    pthread_mutex_t mu; /* guards o, closing and busy; never held while waiting for the GIL */
    pthread_cond_t idle;
    bool closing, closed; /* close() began, ended */
    int busy; /* calls using `o` now */
} pyorch;

weft_orchestrator *weft_py_orch_enter(PyObject *obj)
{
    pyorch *self = (pyorch *)obj;
    pthread_mutex_lock(&self->mu);
    weft_orchestrator *o = self->closing ? NULL : self->o;
    if (o) self->busy++;
    pthread_mutex_unlock(&self->mu);
    if (!o) weft_py_raise(WEFT_ESTATE, "the orchestrator is closed");
    return o;
}

void weft_py_orch_leave(PyObject *obj)
{
    pyorch *self = (pyorch *)obj;
    pthread_mutex_lock(&self->mu);
    if (--self->busy == 0) pthread_cond_broadcast(&self->idle);
    pthread_mutex_unlock(&self->mu);
}

static PyObject *orch_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    pyorch *self = (pyorch *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->idle, NULL);
    return (PyObject *)self;
}

static int orch_init(pyorch *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"config", "app_path", "storage_folder", "read_only", NULL};
    PyObject *config;
    const char *app_path = NULL, *storage = NULL;
    int read_only = 0;
    char err[WEFT_ERRBUF_SIZE];
    if (self->o || self->closing) {
        PyErr_SetString(PyExc_RuntimeError, "an Orchestrator is opened once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|zzp", names, &weft_py_config_type, &config,
                                     &app_path, &storage, &read_only))
        return -1;
    weft_orchestrator_opts opts = {.application_path = app_path, .storage_folder = storage,
                                   .read_only = read_only};
    const weft_config *cfg = ((pyconfig *)config)->cfg;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_orchestrator_open(cfg, &opts, &self->o, err);
    Py_END_ALLOW_THREADS
    if (e) {
        if (e == WEFT_ECONFIG) weft_py_raise_config(cfg, e, err);
        else weft_py_raise(e, err);
        return -1;
    }
    Py_INCREF(config);
    self->config = (pyconfig *)config;
    self->config->users++; /* borrowed by the handle: frozen until close */
    return 0;
}

/* Closes the handle once the calls in progress left (waiting for its
 * jobs), then drops the subscribers.  A call made while another closes
 * returns when that one is done (its subscribers may still be called until
 * then). */
static void orch_shut(pyorch *self)
{
    weft_orchestrator *o = NULL;
    bool mine = false;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->mu);
    if (!self->closing) {
        mine = self->closing = true;
        while (self->busy > 0) pthread_cond_wait(&self->idle, &self->mu);
        o = self->o;
        self->o = NULL;
    } else {
        while (!self->closed) pthread_cond_wait(&self->idle, &self->mu);
    }
    pthread_mutex_unlock(&self->mu);
    weft_orchestrator_close(o); /* NULL is ignored */
    Py_END_ALLOW_THREADS
    if (!mine) return;
    while (self->subs) {
        subscriber *s = self->subs;
        self->subs = s->next;
        Py_DECREF(s->fn);
        free(s);
    }
    if (self->config) self->config->users--;
    Py_CLEAR(self->config);
    pthread_mutex_lock(&self->mu);
    self->closed = true;
    pthread_cond_broadcast(&self->idle);
    pthread_mutex_unlock(&self->mu);
}

static void orch_dealloc(pyorch *self)
{
    orch_shut(self);
    pthread_cond_destroy(&self->idle);
    pthread_mutex_destroy(&self->mu);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *orch_close(pyorch *self, PyObject *noargs)
{
    orch_shut(self);
    Py_RETURN_NONE;
}

/* Starts the service once (see the file comment for the GIL). */
static bool ensure_started(pyorch *self, weft_orchestrator *o)
{
    if (self->started) return true;
    char err[WEFT_ERRBUF_SIZE];
    weft_err e;
    if (weft_orchestrator_mode(o) == WEFT_MODE_STANDALONE) {
        e = weft_orchestrator_start(o, err);
    } else {
        Py_BEGIN_ALLOW_THREADS
        e = weft_orchestrator_start(o, err);
        Py_END_ALLOW_THREADS
    }
    if (e) {
        weft_py_raise(e, err);
        return false;
    }
    self->started = true;
    return true;
}

static PyObject *orch_start(pyorch *self, PyObject *noargs)
{
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    bool ok = ensure_started(self, o);
    weft_py_orch_leave((PyObject *)self);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyObject *orch_stop(pyorch *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"cancel_running", NULL};
    int cancel = 0;
    char err[WEFT_ERRBUF_SIZE];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", names, &cancel)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_orchestrator_stop(o, cancel, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave((PyObject *)self);
    if (e) return weft_py_raise(e, err);
    Py_RETURN_NONE;
}

static PyObject *orch_create_scenario(pyorch *self, PyObject *args)
{
    const char *config_id;
    char err[WEFT_ERRBUF_SIZE], *id = NULL;
    if (!PyArg_ParseTuple(args, "s", &config_id)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_scenario_create(o, config_id, &id, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave((PyObject *)self);
    if (e) return weft_py_raise(e, err);
    PyObject *r = PyUnicode_FromString(id);
    free(id);
    return r;
}

/* Waits for a submission in slices of at most 100 ms, so that Ctrl-C (a
 * KeyboardInterrupt raised by Python's own handler) is seen: the
 * submission is then canceled and the exception propagates.  1 finished,
 * 0 timed out, -1 with an exception set. */
static int wait_sliced(weft_orchestrator *o, const char *sub, double timeout)
{
    char err[WEFT_ERRBUF_SIZE];
    double left = timeout;
    for (;;) {
        int64_t slice = 100;
        if (timeout >= 0 && left * 1000 < slice) slice = left * 1000 < 1 ? 1 : (int64_t)(left * 1000);
        weft_err e;
        Py_BEGIN_ALLOW_THREADS
        e = weft_submission_wait(o, sub, slice, err);
        Py_END_ALLOW_THREADS
        if (e == WEFT_OK) return 1;
        if (e != WEFT_ETIMEDOUT) {
            weft_py_raise(e, err);
            return -1;
        }
        if (PyErr_CheckSignals() < 0) {
            Py_BEGIN_ALLOW_THREADS
            weft_cancel(o, sub, NULL);
            Py_END_ALLOW_THREADS
            return -1;
        }
        left -= (double)slice / 1000;
        if (timeout >= 0 && left <= 0) return 0;
    }
}

/* ---- Ctrl-C in development mode ----
 *
 * There the jobs run inside weft_submit() in the calling thread, and
 * Python's SIGINT handler only sets a flag that no Python code checks
 * until submit returns.  So while the main thread runs a submission, a
 * handler of ours sets weft's interrupt flag (weft_submit_opts.interrupt:
 * running jobs are stopped, the rest canceled, WEFT_ECANCELED) and then
 * calls Python's, and submit raises KeyboardInterrupt.  Only the main
 * thread, which alone runs Python's signal handlers, does this: one
 * submission at a time, so the state below is not shared. */
static volatile sig_atomic_t dev_interrupt;
static struct sigaction prev_sigint;

static void on_sigint(int sig, siginfo_t *si, void *uc)
{
    dev_interrupt = 1;
    if (prev_sigint.sa_flags & SA_SIGINFO)
        prev_sigint.sa_sigaction(sig, si, uc);
    else if (prev_sigint.sa_handler != SIG_DFL && prev_sigint.sa_handler != SIG_IGN)
        prev_sigint.sa_handler(sig);
}

/* Whether this is the interpreter's main thread and Python handles SIGINT. */
static bool may_catch_sigint(void)
{
    PyObject *th = PyImport_ImportModule("threading");
    PyObject *mt = th ? PyObject_CallMethod(th, "main_thread", NULL) : NULL;
    PyObject *id = mt ? PyObject_GetAttrString(mt, "ident") : NULL;
    bool main = id && PyLong_AsUnsignedLong(id) == PyThread_get_thread_ident();
    PyErr_Clear();
    Py_XDECREF(id);
    Py_XDECREF(mt);
    Py_XDECREF(th);
    struct sigaction cur;
    return main && sigaction(SIGINT, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
           cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN;
}

/* weft_submit() without the GIL, with our SIGINT handler around it when
 * `catch_int`; a Ctrl-C leaves KeyboardInterrupt raised (and -1). */
static int submit_dev_aware(weft_orchestrator *o, const char *entity, weft_submit_opts *opts,
                            bool catch_int, char **sub, char *err)
{
    struct sigaction sa = {.sa_sigaction = on_sigint, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (catch_int) {
        dev_interrupt = 0;
        opts->interrupt = &dev_interrupt;
        catch_int = sigaction(SIGINT, &sa, &prev_sigint) == 0;
    }
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_submit(o, entity, opts, sub, err);
    Py_END_ALLOW_THREADS
    if (catch_int) sigaction(SIGINT, &prev_sigint, NULL);
    if (e == WEFT_ECANCELED && catch_int && dev_interrupt) {
        if (PyErr_CheckSignals() == 0) PyErr_SetNone(PyExc_KeyboardInterrupt);
        return -1;
    }
    if (e) weft_py_raise(e, err);
    return e ? -1 : 0;
}

/* The submission as a dict, read before the call leaves (a close() from
 * another thread then waits for it); NULL with an exception set. */
static PyObject *submission_now(weft_orchestrator *o, const char *id)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_submission_info *info = NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_submission_get(o, id, &info, err);
    Py_END_ALLOW_THREADS
    if (e) return weft_py_raise(e, err);
    PyObject *d = weft_py_submission_dict(info);
    weft_submission_info_free(info);
    return d;
}

/* submit(entity_id, force=False, wait=False, timeout=None) -> submission dict.
 * As Taipy's, a wait that times out returns (the submission runs on). */
static PyObject *orch_submit(pyorch *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"entity_id", "force", "wait", "timeout", NULL};
    const char *entity;
    int force = 0, wait = 0;
    PyObject *timeout_obj = Py_None;
    char err[WEFT_ERRBUF_SIZE], *sub = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ppO", names, &entity, &force, &wait, &timeout_obj))
        return NULL;
    double timeout = timeout_obj == Py_None ? -1 : PyFloat_AsDouble(timeout_obj);
    if (timeout_obj != Py_None && (PyErr_Occurred() || timeout < 0))
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "timeout must be >= 0");
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    PyObject *r = NULL;
    if (ensure_started(self, o)) {
        weft_submit_opts opts = {.force = force};
        bool dev = weft_orchestrator_mode(o) == WEFT_MODE_DEVELOPMENT;
        if (submit_dev_aware(o, entity, &opts, dev && may_catch_sigint(), &sub, err) == 0 &&
            (!wait || wait_sliced(o, sub, timeout) >= 0))
            r = submission_now(o, sub);
    }
    weft_py_orch_leave((PyObject *)self);
    free(sub);
    return r;
}

/* wait(submission_id, timeout=None) -> True when finished, False on timeout. */
static PyObject *orch_wait(pyorch *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"submission_id", "timeout", NULL};
    const char *sub;
    PyObject *timeout_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O", names, &sub, &timeout_obj)) return NULL;
    double timeout = timeout_obj == Py_None ? -1 : PyFloat_AsDouble(timeout_obj);
    if (PyErr_Occurred()) return NULL;
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    int r = wait_sliced(o, sub, timeout);
    weft_py_orch_leave((PyObject *)self);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

static PyObject *orch_cancel(pyorch *self, PyObject *args)
{
    const char *id;
    char err[WEFT_ERRBUF_SIZE];
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_cancel(o, id, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave((PyObject *)self);
    if (e) return weft_py_raise(e, err);
    Py_RETURN_NONE;
}

/* Runs on whichever thread stored the change (see weft_subscribe). */
static void on_event(const weft_event *ev, void *userdata)
{
    subscriber *s = userdata;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = weft_py_event_dict(ev);
    PyObject *r = d ? PyObject_CallFunctionObjArgs(s->fn, d, NULL) : NULL;
    if (!r) PyErr_WriteUnraisable(s->fn); /* a subscriber's exception has no caller to go to */
    Py_XDECREF(r);
    Py_XDECREF(d);
    PyGILState_Release(g);
}

static PyObject *orch_subscribe(pyorch *self, PyObject *args)
{
    PyObject *fn;
    char err[WEFT_ERRBUF_SIZE] = "";
    if (!PyArg_ParseTuple(args, "O", &fn)) return NULL;
    if (!PyCallable_Check(fn)) return PyErr_Format(PyExc_TypeError, "subscribe: not callable");
    subscriber *s = malloc(sizeof *s);
    if (!s) return PyErr_NoMemory();
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) {
        free(s);
        return NULL;
    }
    Py_INCREF(fn);
    s->fn = fn;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_subscribe(o, on_event, s);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave((PyObject *)self);
    if (e) {
        Py_DECREF(fn);
        free(s);
        return weft_py_raise(e, err);
    }
    s->next = self->subs;
    self->subs = s;
    Py_RETURN_NONE;
}

static PyObject *orch_mode(pyorch *self, void *closure)
{
    weft_orchestrator *o = weft_py_orch_enter((PyObject *)self);
    if (!o) return NULL;
    PyObject *r = PyUnicode_FromString(weft_mode_name(weft_orchestrator_mode(o)));
    weft_py_orch_leave((PyObject *)self);
    return r;
}

static PyObject *orch_closed(pyorch *self, void *closure)
{
    pthread_mutex_lock(&self->mu);
    bool closed = self->closing || !self->o;
    pthread_mutex_unlock(&self->mu);
    return PyBool_FromLong(closed);
}

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef orch_methods[] = {
    {"close", (PyCFunction)orch_close, METH_NOARGS, "Stop (waiting for jobs) and close."},
    {"start", (PyCFunction)orch_start, METH_NOARGS, "Start the dispatcher and workers."},
    {"stop", KW orch_stop, METH_VARARGS | METH_KEYWORDS, "stop(cancel_running=False)."},
    {"create_scenario", (PyCFunction)orch_create_scenario, METH_VARARGS,
     "create_scenario(config_id) -> scenario id."},
    {"submit", KW orch_submit, METH_VARARGS | METH_KEYWORDS,
     "submit(entity_id, force=False, wait=False, timeout=None) -> submission dict."},
    {"wait", KW orch_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(submission_id, timeout=None) -> True when finished."},
    {"cancel", (PyCFunction)orch_cancel, METH_VARARGS, "cancel(job or submission id)."},
    {"subscribe", (PyCFunction)orch_subscribe, METH_VARARGS,
     "subscribe(fn): fn(event dict) on every status change."},
    {"jobs", KW weft_py_orch_jobs, METH_VARARGS | METH_KEYWORDS,
     "jobs(submission_id=None, status=None) -> list of job dicts."},
    {"job", weft_py_orch_job, METH_VARARGS, "job(id) -> job dict."},
    {"submissions", weft_py_orch_submissions, METH_NOARGS, "submissions() -> list of dicts."},
    {"submission", weft_py_orch_submission, METH_VARARGS, "submission(id) -> dict."},
    {"scenarios", weft_py_orch_scenarios, METH_NOARGS, "scenarios() -> [(id, config_id)]."},
    {"read_data", weft_py_orch_read_data, METH_VARARGS, "read_data(id) -> bytes."},
    {"read_object", weft_py_orch_read_object, METH_VARARGS,
     "read_object(id) -> the object a Python task would get."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef orch_getset[] = {
    {"mode", (getter)orch_mode, NULL, "The execution mode.", NULL},
    {"closed", (getter)orch_closed, NULL, "Whether close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

const weft_config *weft_py_orch_config(PyObject *self)
{
    pyorch *p = (pyorch *)self;
    return p->config ? p->config->cfg : NULL;
}

PyTypeObject weft_py_orchestrator_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "weft._weft.Orchestrator",
    .tp_basicsize = sizeof(pyorch),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An orchestrator over one store (native half of weft.Orchestrator).",
    .tp_new = orch_new,
    .tp_init = (initproc)orch_init,
    .tp_dealloc = (destructor)orch_dealloc,
    .tp_methods = orch_methods,
    .tp_getset = orch_getset,
};

/* SPDX-License-Identifier: MIT */
/*
 * ext.h - what the files of the weft._weft extension module share: the
 * Config and Orchestrator types (config.c, orchestrator.c), the exception
 * classes and how a weft error becomes one (module.c), and the conversion
 * of job and submission snapshots and of events to Python (convert.c),
 * the orchestrator's queries and data node reads (query.c).
 */
#ifndef WEFT_PYTHON_EXT_H
#define WEFT_PYTHON_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "weft.h"

/* weft.Config's native half: owns the weft_config.  An orchestrator holds
 * a reference to it, so the config outlives every orchestrator opened on
 * it (weft_orchestrator_open borrows it until close). */
typedef struct pyconfig {
    PyObject_HEAD
    weft_config *cfg;
    int users; /* open orchestrators using it (changed with the GIL held) */
} pyconfig;

extern PyTypeObject weft_py_config_type;
extern PyTypeObject weft_py_orchestrator_type;

/* weft.Error, weft.ConfigError and weft.Diagnostic, from weft/_errors.py. */
extern PyObject *weft_py_error, *weft_py_config_error, *weft_py_diagnostic;

/* Raises weft.Error("message") for code `e` (err holds the message);
 * returns NULL for `return weft_py_raise(...)`. */
PyObject *weft_py_raise(weft_err e, const char *err);

/* Raises weft.ConfigError with every diagnostic of `cfg`; returns NULL. */
PyObject *weft_py_raise_config(const weft_config *cfg, weft_err e, const char *err);

/* The diagnostics of `cfg` as a list of weft.Diagnostic; new reference. */
PyObject *weft_py_diagnostics(const weft_config *cfg);

/* Snapshots as dicts (new references, NULL with an exception set). */
PyObject *weft_py_job_dict(const weft_job_info *j);
PyObject *weft_py_submission_dict(const weft_submission_info *s);
PyObject *weft_py_event_dict(const weft_event *ev);

/* The handle of a weft._weft.Orchestrator for one call: NULL with
 * weft.Error raised once it is closed (or closing); otherwise the caller
 * uses it (the GIL released) and then calls weft_py_orch_leave(), which
 * close() waits for. */
weft_orchestrator *weft_py_orch_enter(PyObject *self);
void weft_py_orch_leave(PyObject *self);
/* Its config (borrowed; valid while the object lives). */
const weft_config *weft_py_orch_config(PyObject *self);

/* Its query methods (query.c). */
PyObject *weft_py_orch_jobs(PyObject *self, PyObject *args, PyObject *kw);
PyObject *weft_py_orch_job(PyObject *self, PyObject *args);
PyObject *weft_py_orch_submissions(PyObject *self, PyObject *noargs);
PyObject *weft_py_orch_submission(PyObject *self, PyObject *args);
PyObject *weft_py_orch_scenarios(PyObject *self, PyObject *noargs);
PyObject *weft_py_orch_read_data(PyObject *self, PyObject *args);
PyObject *weft_py_orch_read_object(PyObject *self, PyObject *args);

/* The module's entry point (module.c). */
PyMODINIT_FUNC PyInit__weft(void);

/* Module-level functions of convert.c. */
PyObject *weft_py_sequence_id(PyObject *self, PyObject *args);

#endif

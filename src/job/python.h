/* SPDX-License-Identifier: MIT */
/*
 * python.h - Python task functions (python.c): the embedded CPython
 * interpreter of this process, started on the first Python job and kept
 * until exit, Taipy's calling convention (one argument per input, the
 * return value spread over the outputs), and the conversion of data node
 * content to and from the Python objects Taipy exposes.  runner.c calls it
 * for a `function` that is neither registered nor in a shared object;
 * core/ and the CLI call the module checks of `weft check`.
 */
#ifndef WEFT_JOB_PYTHON_H
#define WEFT_JOB_PYTHON_H

#include "job/runner.h"

/* How a Python job ended. */
typedef enum weft__py_end {
    WEFT__PY_DONE,     /* returned, every output written */
    WEFT__PY_FAILED,   /* msg says why (traceback, wrong count, missing module) */
    WEFT__PY_CANCELED, /* the cancel hook asked */
    WEFT__PY_EXPIRED,  /* the deadline passed */
} weft__py_end;

/*
 * Runs `fname` ("pkg.mod.fn") with the inputs of `ctx` decoded to Python
 * objects and writes its return value to the outputs of `ctx` (each set
 * in `written` through weft_dn_write).  What the function printed is
 * appended to `log`.  Cancel and deadline are polled from the running
 * thread between Python lines (a C trace function), so a job stuck in
 * Python code stops within milliseconds; one blocked inside a C call (a
 * sleep) stops when the call returns.  `msg` (size WEFT__ERROR_MAX) is set
 * unless WEFT__PY_DONE.  Returns WEFT_ENOMEM only when nothing can be said.
 */
weft_err weft__py_run(weft__app *app, weft_ctx *ctx, const weft__job_spec *spec,
                      const weft__run_hooks *hooks, const char *fname, int64_t deadline_ns,
                      struct weft__buf *log, weft__py_end *end, char *msg);

/*
 * `weft check`: whether the module of `fname` can be found without
 * importing anything of the user's: a .py file, a package folder or an
 * extension module under the application path, or a top-level module on
 * the interpreter's path (importlib's PathFinder, which reads folders
 * only).  WEFT_ENOTFOUND with a message naming the module otherwise
 * ("no Python module 'pkg.mod' (...)", without the function's name: the
 * caller says where it comes from).
 */
weft_err weft__py_find_module(weft__app *app, const char *fname, char *err);

/*
 * `weft check --import`: imports the module of `fname` and looks up the
 * function.  WEFT_ENOTFOUND with Python's message and, for an error in
 * the module (a SyntaxError, an exception while importing), the
 * file:line inside it; a missing attribute is named.
 */
weft_err weft__py_import(weft__app *app, const char *fname, char *err);

/*
 * `weft check --import`: imports the library `module` ("openpyxl") that a
 * data node of a Python task needs.  WEFT_ENOTFOUND with "the Python
 * module 'openpyxl' is missing (...)", the job's own message, otherwise.
 */
weft_err weft__py_need(weft__app *app, const char *module, char *err);

/*
 * For the weft Python package (python/): `len` bytes of content of a data
 * node of DATA_NODE.<config_id> in `cfg` (instance `instance_id`) as the
 * object a Python task would get as input: pickle.loads, json.loads, str,
 * bytes, a pandas DataFrame or numpy array for csv.  The caller holds the
 * GIL of the running interpreter (python3's); weft's helper module is set
 * up in it on first use.  Returns a new reference (a PyObject *; void *
 * so that this header needs no Python.h), or NULL with a Python exception
 * set (ValueError for a storage type Python tasks cannot read).
 */
void *weft__py_data_object(const weft_config *cfg, const char *config_id, const char *instance_id,
                           const char *data, size_t len);

/*
 * A fork of this process while an interpreter runs in it (libweft loaded
 * into python3 by the weft package, or a Python job already ran here): the
 * standalone fork server is forked from the embedding program, and its
 * workers from it.  Such a fork follows Python's own protocol, as
 * os.fork() does: PyOS_BeforeFork() with the GIL, PyOS_AfterFork_Child()
 * in the child, so that Python's locks are fresh there and its at-fork
 * callbacks run (the `random` module reseeds: two workers do not draw the
 * same numbers).  It also holds the lock of weft's cancel watcher thread
 * across the fork, and resets the watcher in the child, where that thread
 * does not exist: a lock copied while the thread held it would block the
 * child's first Python job for good.  Nothing is done when no interpreter
 * runs.  Call before() right before fork(), after() right after it, in
 * both processes; `f` carries the state between the two.
 */
typedef struct weft__py_fork {
    bool on;
    int gil; /* a PyGILState_STATE */
} weft__py_fork;

void weft__py_fork_before(weft__py_fork *f);
void weft__py_fork_after(weft__py_fork *f, bool in_child);

#endif

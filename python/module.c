/* SPDX-License-Identifier: MIT */
/*
 * module.c - the weft._weft extension module: its definition and
 * initialisation, and how a weft error code becomes a Python exception
 * (weft.Error, or weft.ConfigError carrying the config's diagnostics).
 * The classes themselves are Python (weft/_errors.py), so that they can
 * be documented, subclassed and pickled like any other.
 */
#include "python/ext.h"

PyObject *weft_py_error, *weft_py_config_error, *weft_py_diagnostic;

PyObject *weft_py_raise(weft_err e, const char *err)
{
    PyObject *x = PyObject_CallFunction(weft_py_error, "si", err && err[0] ? err : weft_strerror(e),
                                        (int)e);
    if (x) {
        PyErr_SetObject(weft_py_error, x);
        Py_DECREF(x);
    }
    return NULL;
}

PyObject *weft_py_diagnostics(const weft_config *cfg)
{
    size_t n = weft_config_ndiags(cfg);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        const weft_diag *d = weft_config_diag(cfg, i);
        PyObject *item = PyObject_CallFunction(
            weft_py_diagnostic, "siiss", d->file ? d->file : "", d->line, d->col,
            d->message ? d->message : "", d->severity == WEFT_SEVERITY_ERROR ? "error" : "warning");
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

PyObject *weft_py_raise_config(const weft_config *cfg, weft_err e, const char *err)
{
    PyObject *diags = weft_py_diagnostics(cfg);
    if (!diags) return NULL;
    PyObject *x = PyObject_CallFunction(weft_py_config_error, "siO",
                                        err && err[0] ? err : weft_strerror(e), (int)e, diags);
    Py_DECREF(diags);
    if (x) {
        PyErr_SetObject(weft_py_config_error, x);
        Py_DECREF(x);
    }
    return NULL;
}

static PyObject *py_version(PyObject *self, PyObject *noargs)
{
    return PyUnicode_FromString(weft_version());
}

static PyObject *py_strerror(PyObject *self, PyObject *args)
{
    int code;
    if (!PyArg_ParseTuple(args, "i", &code)) return NULL;
    return PyUnicode_FromString(weft_strerror((weft_err)code));
}

static PyMethodDef methods[] = {
    {"version", py_version, METH_NOARGS, "The version of libweft linked in."},
    {"strerror", py_strerror, METH_VARARGS, "The message of a weft error code."},
    {"sequence_id", weft_py_sequence_id, METH_VARARGS,
     "sequence_id(scenario_id, name): the id of a scenario's sequence, as Taipy forms it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "weft._weft", "Native half of the weft package (libweft).", -1,
    methods, NULL, NULL, NULL, NULL,
};

/* Takes the three classes of weft._errors; false with an exception set. */
static bool import_errors(void)
{
    PyObject *m = PyImport_ImportModule("weft._errors");
    if (!m) return false;
    weft_py_error = PyObject_GetAttrString(m, "Error");
    weft_py_config_error = weft_py_error ? PyObject_GetAttrString(m, "ConfigError") : NULL;
    weft_py_diagnostic = weft_py_config_error ? PyObject_GetAttrString(m, "Diagnostic") : NULL;
    Py_DECREF(m);
    return weft_py_diagnostic != NULL;
}

PyMODINIT_FUNC PyInit__weft(void)
{
    if (!import_errors()) return NULL;
    if (PyType_Ready(&weft_py_config_type) < 0 || PyType_Ready(&weft_py_orchestrator_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&weft_py_config_type);
    Py_INCREF(&weft_py_orchestrator_type);
    if (PyModule_AddObject(m, "Config", (PyObject *)&weft_py_config_type) < 0 ||
        PyModule_AddObject(m, "Orchestrator", (PyObject *)&weft_py_orchestrator_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

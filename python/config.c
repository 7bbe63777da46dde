/* SPDX-License-Identifier: MIT */
/*
 * config.c - weft._weft.Config, the native half of weft.Config: a
 * weft_config loaded from a file or a string, checked, and read back.
 * Problems come back as weft.ConfigError with every diagnostic
 * (file, line, col, message, severity), not only the first.
 */
#include "python/ext.h"

#include <string.h>

static PyObject *config_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    pyconfig *self = (pyconfig *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (!(self->cfg = weft_config_new())) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void config_dealloc(pyconfig *self)
{
    weft_config_free(self->cfg);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* weft_orchestrator_open() borrows the config "valid and unchanged" until
 * close: refuse to change one that an open orchestrator uses. */
static bool frozen(pyconfig *self)
{
    if (self->users == 0) return false;
    weft_py_raise(WEFT_ESTATE, "this config is used by an open Orchestrator: close it before "
                               "changing the config, or load a new Config");
    return true;
}

/* A failed load: the file's problems as ConfigError, the rest as Error. */
static PyObject *load_failed(pyconfig *self, weft_err e, const char *err)
{
    if (e == WEFT_ESYNTAX || e == WEFT_ECONFIG || e == WEFT_ELIMIT)
        return weft_py_raise_config(self->cfg, e, err);
    return weft_py_raise(e, err);
}

static PyObject *config_load(pyconfig *self, PyObject *args)
{
    PyObject *path;
    char err[WEFT_ERRBUF_SIZE];
    if (frozen(self) || !PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path)) return NULL;
    weft_err e = weft_config_load(self->cfg, PyBytes_AS_STRING(path), err);
    Py_DECREF(path);
    if (e) return load_failed(self, e, err);
    Py_RETURN_NONE;
}

static PyObject *config_load_string(pyconfig *self, PyObject *args)
{
    const char *text, *name = "<string>";
    Py_ssize_t len;
    char err[WEFT_ERRBUF_SIZE];
    if (frozen(self) || !PyArg_ParseTuple(args, "s#|s", &text, &len, &name)) return NULL;
    weft_err e = weft_config_load_string(self->cfg, text, (size_t)len, name, err);
    if (e) return load_failed(self, e, err);
    Py_RETURN_NONE;
}

/* check(functions=False, import_modules=False): the diagnostics (warnings
 * only, then) on success. */
static PyObject *config_check(pyconfig *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"functions", "import_modules", NULL};
    int functions = 0, import_modules = 0;
    char err[WEFT_ERRBUF_SIZE];
    if (frozen(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "|pp", names, &functions, &import_modules))
        return NULL;
    weft_err e = weft_config_check(self->cfg, err);
    if (e) return e == WEFT_ECONFIG ? weft_py_raise_config(self->cfg, e, err) : weft_py_raise(e, err);
    if (functions || import_modules) {
        /* It may start weft's use of the interpreter, which takes the GIL. */
        Py_BEGIN_ALLOW_THREADS
        e = weft_config_check_functions(self->cfg, NULL, import_modules, err);
        Py_END_ALLOW_THREADS
        if (e) return weft_py_raise(e, err);
        if (weft_config_nerrors(self->cfg) > 0) {
            const weft_diag *d = NULL;
            for (size_t i = 0; i < weft_config_ndiags(self->cfg) && !d; i++)
                if (weft_config_diag(self->cfg, i)->severity == WEFT_SEVERITY_ERROR)
                    d = weft_config_diag(self->cfg, i);
            snprintf(err, sizeof err, "%s:%d:%d: %s", d->file, d->line, d->col, d->message);
            return weft_py_raise_config(self->cfg, WEFT_ECONFIG, err);
        }
    }
    return weft_py_diagnostics(self->cfg);
}

static PyObject *config_diagnostics(pyconfig *self, void *closure)
{
    return weft_py_diagnostics(self->cfg);
}

static PyObject *str_or_none(const char *s)
{
    if (s) return PyUnicode_FromString(s);
    Py_RETURN_NONE;
}

static PyObject *config_get(pyconfig *self, PyObject *args)
{
    const char *section, *key;
    if (!PyArg_ParseTuple(args, "ss", &section, &key)) return NULL;
    const weft_value *v = weft_config_lookup(self->cfg, section, key);
    if (!v) Py_RETURN_NONE;
    if (weft_value_type_of(v) != WEFT_VALUE_LIST) return str_or_none(weft_value_text(v));
    size_t n = weft_value_len(v);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *s = str_or_none(weft_value_text(weft_value_at(v, i)));
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    return list;
}

static PyObject *config_set(pyconfig *self, PyObject *args)
{
    const char *section, *key, *value;
    char err[WEFT_ERRBUF_SIZE];
    if (frozen(self) || !PyArg_ParseTuple(args, "sss", &section, &key, &value)) return NULL;
    weft_err e = weft_config_set(self->cfg, section, key, value, err);
    if (e) return weft_py_raise(e, err);
    Py_RETURN_NONE;
}

static PyObject *config_ids(pyconfig *self, PyObject *args)
{
    const char *kind;
    if (!PyArg_ParseTuple(args, "s", &kind)) return NULL;
    weft_section_kind k;
    if (strcmp(kind, "data_node") == 0) k = WEFT_SECTION_DATA_NODE;
    else if (strcmp(kind, "task") == 0) k = WEFT_SECTION_TASK;
    else if (strcmp(kind, "scenario") == 0) k = WEFT_SECTION_SCENARIO;
    else return PyErr_Format(PyExc_ValueError, "kind must be data_node, task or scenario, not %s", kind);
    size_t n = weft_config_count(self->cfg, k);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *s = PyUnicode_FromString(weft_config_id_at(self->cfg, k, i));
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    return list;
}

static PyObject *config_mode(pyconfig *self, void *closure)
{
    return str_or_none(weft_mode_name(weft_config_mode(self->cfg)));
}

static PyObject *config_storage_folder(pyconfig *self, void *closure)
{
    return str_or_none(weft_config_storage_folder(self->cfg));
}

static PyObject *config_application_path(pyconfig *self, void *closure)
{
    return str_or_none(weft_config_application_path(self->cfg));
}

static PyObject *config_file(pyconfig *self, void *closure)
{
    return str_or_none(weft_config_file(self->cfg));
}

static PyMethodDef config_methods[] = {
    {"load", (PyCFunction)config_load, METH_VARARGS, "load(path): read a config.toml."},
    {"load_string", (PyCFunction)config_load_string, METH_VARARGS,
     "load_string(text, name='<string>'): read TOML text."},
    {"check", (PyCFunction)(void (*)(void))config_check, METH_VARARGS | METH_KEYWORDS,
     "check(functions=False, import_modules=False): validate; returns the warnings."},
    {"get", (PyCFunction)config_get, METH_VARARGS, "get(section, key): the value's text, or None."},
    {"set", (PyCFunction)config_set, METH_VARARGS, "set(section, key, value): set from code."},
    {"ids", (PyCFunction)config_ids, METH_VARARGS, "ids(kind): section ids of a kind."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef config_getset[] = {
    {"diagnostics", (getter)config_diagnostics, NULL, "Every diagnostic so far.", NULL},
    {"mode", (getter)config_mode, NULL, "development, standalone or cluster.", NULL},
    {"storage_folder", (getter)config_storage_folder, NULL, "[CORE] storage_folder.", NULL},
    {"application_path", (getter)config_application_path, NULL, "Where modules are found.", NULL},
    {"file", (getter)config_file, NULL, "The last file loaded, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject weft_py_config_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "weft._weft.Config",
    .tp_basicsize = sizeof(pyconfig),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A weft configuration (native half of weft.Config).",
    .tp_new = config_new,
    .tp_dealloc = (destructor)config_dealloc,
    .tp_methods = config_methods,
    .tp_getset = config_getset,
};

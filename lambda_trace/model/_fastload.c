/* The loader's hot loop in C: `_Loader._fast` of load.py, event for event.
 *
 * load.py keeps the pure-Python loop as the reference and the fallback (module not built, or
 * LAMBDA_TRACE_PURE=1); tests/model/test_fastload.py loads the same traces both ways and compares
 * everything the loader builds. The Python loop spends most of its time on bytecode dispatch and
 * on array.append parsing its argument; here the event columns and spans are collected in plain
 * int64 buffers and handed to the arrays with one frombytes() per batch, and the rest goes
 * through the same Python objects (dicts, lists, arrays) with the C API.
 *
 * scan(loader, lines, lo, consts) -> index of the first line not taken. `consts` is the tuple
 * built by load.py's `_scan_consts()`. Lines the structs refuse, lines out of order, a step or a
 * done of unknown work, and payload fields make it stop there, before changing anything for that
 * line, exactly as `_fast` does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* -- growable int64 buffers, flushed into array('q') / array('b') ---------------------------- */

typedef struct {
    int64_t *v;
    Py_ssize_t n, cap;
} Buf;

static int buf_push(Buf *b, int64_t x) {
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 4096;
        int64_t *v = PyMem_Realloc(b->v, (size_t)cap * sizeof(int64_t));
        if (v == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = x;
    return 0;
}

/* Append the buffer to `array` (typecode 'q', or 'b' when `narrow`), then empty the buffer. */
static int buf_flush(Buf *b, PyObject *array, int narrow) {
    if (b->n == 0)
        return 0;
    PyObject *bytes;
    if (narrow) {
        bytes = PyBytes_FromStringAndSize(NULL, b->n);
        if (bytes == NULL)
            return -1;
        char *p = PyBytes_AS_STRING(bytes);
        for (Py_ssize_t i = 0; i < b->n; i++)
            p[i] = (char)b->v[i];
    } else {
        bytes = PyBytes_FromStringAndSize((const char *)b->v, b->n * (Py_ssize_t)sizeof(int64_t));
        if (bytes == NULL)
            return -1;
    }
    PyObject *r = PyObject_CallMethod(array, "frombytes", "O", bytes);
    Py_DECREF(bytes);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    b->n = 0;
    return 0;
}

/* -- small helpers ---------------------------------------------------------------------------- */

static PyObject *s_ok, *s_env_id, *s_capacity, *s_grow, *s_append, *s_last_seq, *s_last_ts;

/* int64 of an int object (struct-decoded ints are within 64 bits); -1 with an error set on
 * failure, so callers check PyErr_Occurred() only when they get -1. */
static inline int64_t as_i64(PyObject *o) { return (int64_t)PyLong_AsLongLong(o); }

/* attribute as int64, None -> `none`; returns 0, or -1 on error. */
static int attr_i64(PyObject *obj, PyObject *name, int64_t none, int64_t *out, int *is_none) {
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    if (v == Py_None) {
        *out = none;
        if (is_none)
            *is_none = 1;
    } else {
        int64_t x = as_i64(v);
        if (x == -1 && PyErr_Occurred()) {
            Py_DECREF(v);
            return -1;
        }
        *out = x;
        if (is_none)
            *is_none = 0;
    }
    Py_DECREF(v);
    return 0;
}

/* seq[k] of an array('q') as int64 (through the sequence protocol: no buffer is held, so the
 * Python callbacks may grow the arrays). */
static int get_i64(PyObject *seq, Py_ssize_t k, int64_t *out) {
    PyObject *v = PySequence_GetItem(seq, k);
    if (v == NULL)
        return -1;
    *out = as_i64(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int set_i64(PyObject *seq, Py_ssize_t k, int64_t x) {
    PyObject *v = PyLong_FromLongLong(x);
    if (v == NULL)
        return -1;
    int r = PySequence_SetItem(seq, k, v);
    Py_DECREF(v);
    return r;
}

static int append_i64(PyObject *seq, int64_t x) {
    PyObject *v = PyLong_FromLongLong(x);
    if (v == NULL)
        return -1;
    PyObject *r = PyObject_CallMethodOneArg(seq, s_append, v);
    Py_DECREF(v);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* sys.intern(s): a new reference to the interned string. */
static PyObject *intern(PyObject *s) {
    if (!PyUnicode_CheckExact(s)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return NULL;
    }
    Py_INCREF(s);
    PyUnicode_InternInPlace(&s);
    return s;
}

/* -- struct fields read from their slots ------------------------------------------------------
 *
 * The msgspec structs keep each field in a slot; reading it through PyObject_GetAttr costs a type
 * lookup through the MRO each time (a tenth of the load). `prepare()` records, once per struct
 * type, the slot offset of every field the loop reads (-1: the type has no such field, read as
 * None), its kind code and its payload field names. */

enum {
    F_SEQ, F_TS, F_INV, F_WORK, F_PARENT, F_CREATED_IN, F_ROLE, F_REF, F_TYPE, F_NAME, F_SITE,
    F_STACK, F_DELAY_NS, F_STATUS, F_ERROR_TYPE, F_ERROR_MESSAGE, F_TEXT, F_REQUEST_ID, NFIELDS
};
static const char *FIELD_NAMES[NFIELDS] = {
    "seq", "ts", "inv", "work", "parent", "created_in", "role", "ref", "type", "name", "site",
    "stack", "delay_ns", "status", "error_type", "error_message", "text", "request_id"};

#define MAX_TYPES 64
typedef struct {
    PyTypeObject *type; /* strong reference */
    long code;
    PyObject *raw; /* tuple of payload field names (strong) */
    Py_ssize_t offset[NFIELDS];
} TypeInfo;
static TypeInfo types[MAX_TYPES];
static int ntypes = 0;

static PyObject *prepare(PyObject *Py_UNUSED(module), PyObject *structs) {
    if (!PyTuple_Check(structs) || PyTuple_GET_SIZE(structs) > MAX_TYPES) {
        PyErr_SetString(PyExc_TypeError, "prepare(tuple of struct types)");
        return NULL;
    }
    for (int i = 0; i < ntypes; i++) {
        Py_CLEAR(types[i].type);
        Py_CLEAR(types[i].raw);
    }
    ntypes = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(structs); i++) {
        PyObject *t = PyTuple_GET_ITEM(structs, i);
        if (!PyType_Check(t)) {
            PyErr_SetString(PyExc_TypeError, "prepare: not a type");
            return NULL;
        }
        TypeInfo *ti = &types[ntypes];
        PyObject *code = PyObject_GetAttrString(t, "code");
        if (code == NULL)
            return NULL;
        ti->code = PyLong_AsLong(code);
        Py_DECREF(code);
        if (ti->code == -1 && PyErr_Occurred())
            return NULL;
        PyObject *raw = PyObject_GetAttrString(t, "raw");
        if (raw == NULL)
            return NULL;
        if (!PyTuple_Check(raw)) {
            Py_DECREF(raw);
            PyErr_SetString(PyExc_TypeError, "prepare: raw is not a tuple");
            return NULL;
        }
        PyObject *dict = ((PyTypeObject *)t)->tp_dict;
        for (int f = 0; f < NFIELDS; f++) {
            PyObject *d = PyDict_GetItemString(dict, FIELD_NAMES[f]); /* borrowed */
            ti->offset[f] = -1;
            if (d != NULL && Py_IS_TYPE(d, &PyMemberDescr_Type)) {
                PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
                if (m->type == T_OBJECT_EX || m->type == T_OBJECT)
                    ti->offset[f] = m->offset;
            }
        }
        Py_INCREF(t);
        ti->type = (PyTypeObject *)t;
        ti->raw = raw;
        ntypes++;
    }
    Py_RETURN_NONE;
}

static TypeInfo *type_info(PyObject *e) {
    PyTypeObject *t = Py_TYPE(e);
    for (int i = 0; i < ntypes; i++)
        if (types[i].type == t)
            return &types[i];
    PyErr_Format(PyExc_TypeError, "scan: %s is not a prepared struct", t->tp_name);
    return NULL;
}

/* Field f of e, borrowed; None when the type has no such field. NULL (AttributeError) if unset. */
static PyObject *field(PyObject *e, TypeInfo *ti, int f) {
    Py_ssize_t off = ti->offset[f];
    if (off < 0)
        return Py_None;
    PyObject *v = *(PyObject **)((char *)e + off);
    if (v == NULL)
        PyErr_Format(PyExc_AttributeError, "struct field %s is unset", FIELD_NAMES[f]);
    return v;
}

static PyObject *field_new(PyObject *e, TypeInfo *ti, int f) {
    PyObject *v = field(e, ti, f);
    Py_XINCREF(v);
    return v;
}

/* Field f as int64, None -> `none` (and *is_none = 1); 0, or -1 on error. */
static int field_i64(PyObject *e, TypeInfo *ti, int f, int64_t none, int64_t *out, int *is_none) {
    PyObject *v = field(e, ti, f);
    if (v == NULL)
        return -1;
    if (is_none)
        *is_none = v == Py_None;
    if (v == Py_None) {
        *out = none;
        return 0;
    }
    *out = as_i64(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* -- the loop --------------------------------------------------------------------------------- */

typedef struct {
    Buf ts, kind, inv, work, first, last;
    PyObject *a_ts, *a_kind, *a_inv, *a_work, *a_first, *a_last;
} Pending;

static int flush_all(Pending *p) {
    if (buf_flush(&p->ts, p->a_ts, 0) < 0 || buf_flush(&p->kind, p->a_kind, 1) < 0 ||
        buf_flush(&p->inv, p->a_inv, 0) < 0 || buf_flush(&p->work, p->a_work, 0) < 0 ||
        buf_flush(&p->first, p->a_first, 0) < 0 || buf_flush(&p->last, p->a_last, 0) < 0)
        return -1;
    return 0;
}

static int push_event(Pending *p, int64_t ts, int64_t code, int64_t inv, int64_t work) {
    if (buf_push(&p->ts, ts) < 0 || buf_push(&p->kind, code) < 0 || buf_push(&p->inv, inv) < 0 ||
        buf_push(&p->work, work) < 0)
        return -1;
    return 0;
}

static int push_span(Pending *p, int64_t first, int64_t last) {
    if (buf_push(&p->first, first) < 0 || buf_push(&p->last, last) < 0)
        return -1;
    return 0;
}

/* row of work `wid` in rows (a dict), or -1 when absent; -2 on error. */
static Py_ssize_t row_of(PyObject *rows, PyObject *wid) {
    PyObject *k = PyDict_GetItemWithError(rows, wid); /* borrowed */
    if (k == NULL)
        return PyErr_Occurred() ? -2 : -1;
    Py_ssize_t r = PyLong_AsSsize_t(k);
    if (r == -1 && PyErr_Occurred())
        return -2;
    return r;
}

/* `open_ev` is a list: the begin event index of the step running now, or -1. */
static int open_get(PyObject *open_ev, Py_ssize_t k, int64_t *out) {
    if (k < 0 || k >= PyList_GET_SIZE(open_ev)) {
        PyErr_SetString(PyExc_IndexError, "open_ev row out of range");
        return -1;
    }
    *out = as_i64(PyList_GET_ITEM(open_ev, k));
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int open_set(PyObject *open_ev, Py_ssize_t k, int64_t x) {
    PyObject *v = PyLong_FromLongLong(x);
    if (v == NULL)
        return -1;
    return PyList_SetItem(open_ev, k, v); /* steals v */
}

static PyObject *get(PyObject *obj, const char *name) { return PyObject_GetAttrString(obj, name); }

static PyObject *scan(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "scan(loader, lines, lo, consts)");
        return NULL;
    }
    PyObject *self = args[0], *lines = args[1], *consts = args[3];
    Py_ssize_t lo = PyLong_AsSsize_t(args[2]);
    if (lo == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_Check(lines) || !PyTuple_Check(consts) || PyTuple_GET_SIZE(consts) != 10) {
        PyErr_SetString(PyExc_TypeError, "scan: lines must be a list, consts a 10-tuple");
        return NULL;
    }
    PyObject *decode = PyTuple_GET_ITEM(consts, 0), *loads = PyTuple_GET_ITEM(consts, 1);
    PyObject *type_codes = PyTuple_GET_ITEM(consts, 2);
    long c_begin = PyLong_AsLong(PyTuple_GET_ITEM(consts, 3));
    long c_end = PyLong_AsLong(PyTuple_GET_ITEM(consts, 4));
    long c_create = PyLong_AsLong(PyTuple_GET_ITEM(consts, 5));
    long c_done = PyLong_AsLong(PyTuple_GET_ITEM(consts, 6));
    long c_log = PyLong_AsLong(PyTuple_GET_ITEM(consts, 7));
    long f_ref = PyLong_AsLong(PyTuple_GET_ITEM(consts, 8));
    long f_role = PyLong_AsLong(PyTuple_GET_ITEM(consts, 9));
    if (PyErr_Occurred())
        return NULL;

    Pending p;
    memset(&p, 0, sizeof p);
    PyObject *cols = NULL, *spans = NULL, *table = NULL, *rows = NULL, *open_ev = NULL,
             *ran_last = NULL, *ran_first = NULL, *created_in = NULL, *done_ns = NULL,
             *status_col = NULL, *ids = NULL, *parent_c = NULL, *created_ns = NULL, *env_c = NULL,
             *flags_c = NULL, *names = NULL, *sites = NULL, *stacks_c = NULL, *delay_d = NULL,
             *stacks = NULL, *other = NULL, *ran = NULL, *log_note = NULL, *handler_created = NULL,
             *done_extra = NULL, *result = NULL;
    PyObject *e = NULL;

#define FAIL goto done
#define NEED(x, expr)       \
    do {                    \
        x = (expr);         \
        if (x == NULL)      \
            FAIL;           \
    } while (0)

    NEED(cols, get(self, "cols"));
    NEED(spans, get(self, "spans"));
    NEED(table, get(self, "table"));
    NEED(p.a_ts, get(cols, "ts"));
    NEED(p.a_kind, get(cols, "kind"));
    NEED(p.a_inv, get(cols, "inv"));
    NEED(p.a_work, get(cols, "work"));
    NEED(p.a_first, get(spans, "first"));
    NEED(p.a_last, get(spans, "last"));
    NEED(rows, get(table, "row"));
    NEED(open_ev, get(table, "open_ev"));
    NEED(ran_last, get(table, "ran_last"));
    NEED(ran_first, get(table, "ran_first"));
    NEED(created_in, get(table, "created_in"));
    NEED(done_ns, get(table, "done_ns"));
    NEED(status_col, get(table, "status"));
    NEED(ids, get(table, "id"));
    NEED(parent_c, get(table, "parent"));
    NEED(created_ns, get(table, "created_ns"));
    NEED(env_c, get(table, "env"));
    NEED(flags_c, get(table, "flags"));
    NEED(names, get(table, "name"));
    NEED(sites, get(table, "site"));
    NEED(stacks_c, get(table, "stack"));
    NEED(delay_d, get(table, "delay_ns"));
    NEED(stacks, get(self, "stacks"));
    NEED(other, get(self, "_other"));
    NEED(ran, get(self, "_ran"));
    NEED(log_note, get(self, "_log_note"));
    NEED(handler_created, get(self, "_handler_created"));
    NEED(done_extra, get(self, "_done_extra"));
    if (!PyDict_Check(rows) || !PyList_Check(open_ev) || !PyDict_Check(stacks) ||
        !PyList_Check(names) || !PyList_Check(sites) || !PyList_Check(stacks_c) ||
        !PyDict_Check(delay_d) || !PyDict_Check(type_codes)) {
        PyErr_SetString(PyExc_TypeError, "scan: unexpected loader state");
        FAIL;
    }

    int64_t last_seq, last_ts, env_id, capacity;
    if (attr_i64(self, s_last_seq, -1, &last_seq, NULL) < 0 ||
        attr_i64(self, s_last_ts, -1, &last_ts, NULL) < 0 ||
        attr_i64(self, s_env_id, -1, &env_id, NULL) < 0 ||
        attr_i64(table, s_capacity, -1, &capacity, NULL) < 0)
        FAIL;
    Py_ssize_t start = PyObject_Length(p.a_ts);
    if (start < 0)
        FAIL;
    int64_t index = start;
    Py_ssize_t n = PyList_GET_SIZE(lines);

    for (Py_ssize_t i = lo; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        e = PyObject_CallOneArg(decode, line);
        if (e == NULL) {
            /* DecodeError, ValidationError, RecursionError: the slow path takes the line. */
            if (!PyErr_ExceptionMatches(PyExc_Exception))
                FAIL;
            PyErr_Clear();
            break;
        }
        TypeInfo *ti = type_info(e);
        if (ti == NULL)
            FAIL;
        int64_t seq, ts, code, inv, wid;
        int inv_none, wid_none;
        if (field_i64(e, ti, F_SEQ, -1, &seq, NULL) < 0 || field_i64(e, ti, F_TS, -1, &ts, NULL) < 0)
            FAIL;
        if (seq <= last_seq || ts < last_ts)
            break;
        code = ti->code;
        if (field_i64(e, ti, F_INV, -1, &inv, &inv_none) < 0)
            FAIL;
        if (code == c_begin) {
            PyObject *w = field_new(e, ti, F_WORK);
            if (w == NULL)
                FAIL;
            Py_ssize_t k = row_of(rows, w);
            wid = as_i64(w);
            Py_DECREF(w);
            if (k == -2 || (wid == -1 && PyErr_Occurred()))
                FAIL;
            if (k == -1)
                break;
            if (push_event(&p, ts, code, inv, wid) < 0 || open_set(open_ev, k, index) < 0)
                FAIL;
            if (!inv_none) {
                int64_t r;
                if (get_i64(ran_last, k, &r) < 0)
                    FAIL;
                if (r != inv) {
                    int64_t c;
                    if (get_i64(created_in, k, &c) < 0)
                        FAIL;
                    if (r < 0 && c == inv) { /* first step, where created */
                        if (set_i64(ran_first, k, inv) < 0 || set_i64(ran_last, k, inv) < 0)
                            FAIL;
                    } else {
                        PyObject *rr = PyObject_CallFunction(ran, "nLL", k, (long long)inv,
                                                             (long long)ts);
                        if (rr == NULL)
                            FAIL;
                        Py_DECREF(rr);
                    }
                }
            }
        } else if (code == c_end) {
            PyObject *w = field_new(e, ti, F_WORK);
            if (w == NULL)
                FAIL;
            Py_ssize_t k = row_of(rows, w);
            wid = as_i64(w);
            Py_DECREF(w);
            if (k == -2 || (wid == -1 && PyErr_Occurred()))
                FAIL;
            if (push_event(&p, ts, code, inv, wid) < 0)
                FAIL;
            if (k >= 0) {
                int64_t b;
                if (open_get(open_ev, k, &b) < 0)
                    FAIL;
                if (b >= 0 && (push_span(&p, b, index) < 0 || open_set(open_ev, k, -1) < 0))
                    FAIL;
            }
        } else if (code == c_create) {
            PyObject *w = field_new(e, ti, F_WORK);
            if (w == NULL)
                FAIL;
            wid = as_i64(w);
            int known = PyDict_Contains(rows, w);
            if ((wid == -1 && PyErr_Occurred()) || known < 0 ||
                push_event(&p, ts, code, inv, wid) < 0) {
                Py_DECREF(w);
                FAIL;
            }
            if (!known) { /* a second work.create for one id: the first wins */
                Py_ssize_t k = PyObject_Length(ids);
                if (k < 0) {
                    Py_DECREF(w);
                    FAIL;
                }
                if (k >= capacity) {
                    PyObject *g = PyObject_CallMethodNoArgs(table, s_grow);
                    if (g == NULL || attr_i64(table, s_capacity, -1, &capacity, NULL) < 0) {
                        Py_XDECREF(g);
                        Py_DECREF(w);
                        FAIL;
                    }
                    Py_DECREF(g);
                }
                int64_t parent, c, delay;
                int role_none, delay_none;
                PyObject *role = NULL, *ref = NULL, *type = NULL, *tc = NULL, *s = NULL,
                         *raw = NULL, *stack = NULL, *kk = NULL;
                int ok = 0;
                do {
                    if (append_i64(ids, wid) < 0 || field_i64(e, ti, F_PARENT, -1, &parent, NULL) < 0 ||
                        append_i64(parent_c, parent) < 0 ||
                        field_i64(e, ti, F_CREATED_IN, -1, &c, NULL) < 0 ||
                        append_i64(created_in, c) < 0 || append_i64(created_ns, ts) < 0 ||
                        append_i64(env_c, env_id) < 0)
                        break;
                    if ((role = field_new(e, ti, F_ROLE)) == NULL ||
                        (ref = field_new(e, ti, F_REF)) == NULL ||
                        (type = field_new(e, ti, F_TYPE)) == NULL)
                        break;
                    role_none = role == Py_None;
                    if ((tc = PyDict_GetItemWithError(type_codes, type)) == NULL) {
                        if (!PyErr_Occurred())
                            PyErr_SetObject(PyExc_KeyError, type);
                        break;
                    }
                    long flags = PyLong_AsLong(tc);
                    if (flags == -1 && PyErr_Occurred())
                        break;
                    if (!role_none)
                        flags |= f_role;
                    if (ref != Py_False)
                        flags |= f_ref;
                    if (append_i64(flags_c, flags) < 0)
                        break;
                    if ((s = field_new(e, ti, F_NAME)) == NULL)
                        break;
                    PyObject *is = intern(s);
                    Py_CLEAR(s);
                    if (is == NULL)
                        break;
                    int r1 = PyList_Append(names, is);
                    Py_DECREF(is);
                    if (r1 < 0 || (s = field_new(e, ti, F_SITE)) == NULL)
                        break;
                    is = intern(s);
                    Py_CLEAR(s);
                    if (is == NULL)
                        break;
                    r1 = PyList_Append(sites, is);
                    Py_DECREF(is);
                    if (r1 < 0 || (raw = field_new(e, ti, F_STACK)) == NULL)
                        break;
                    /* many works share a stack: hold one per distinct */
                    stack = PyDict_GetItemWithError(stacks, raw);
                    if (stack != NULL) {
                        Py_INCREF(stack);
                    } else {
                        if (PyErr_Occurred() || !PyTuple_Check(raw))
                            break;
                        Py_ssize_t m = PyTuple_GET_SIZE(raw);
                        if ((stack = PyTuple_New(m)) == NULL)
                            break;
                        int bad = 0;
                        for (Py_ssize_t j = 0; j < m; j++) {
                            PyObject *x = intern(PyTuple_GET_ITEM(raw, j));
                            if (x == NULL) {
                                bad = 1;
                                break;
                            }
                            PyTuple_SET_ITEM(stack, j, x);
                        }
                        if (bad || PyDict_SetItem(stacks, raw, stack) < 0)
                            break;
                    }
                    if (PyList_Append(stacks_c, stack) < 0)
                        break;
                    if ((kk = PyLong_FromSsize_t(k)) == NULL || PyDict_SetItem(rows, w, kk) < 0)
                        break;
                    if (field_i64(e, ti, F_DELAY_NS, 0, &delay, &delay_none) < 0)
                        break;
                    if (!delay_none) {
                        PyObject *d = PyLong_FromLongLong(delay);
                        if (d == NULL)
                            break;
                        int r2 = PyDict_SetItem(delay_d, kk, d);
                        Py_DECREF(d);
                        if (r2 < 0)
                            break;
                    }
                    if (!role_none) {
                        PyObject *h = inv_none ? PyObject_CallFunction(handler_created, "OO", w,
                                                                        Py_None)
                                               : PyObject_CallFunction(handler_created, "OL", w,
                                                                        (long long)inv);
                        if (h == NULL)
                            break;
                        Py_DECREF(h);
                    }
                    ok = 1;
                } while (0);
                Py_XDECREF(role);
                Py_XDECREF(ref);
                Py_XDECREF(type);
                Py_XDECREF(raw);
                Py_XDECREF(stack);
                Py_XDECREF(kk);
                if (!ok) {
                    Py_DECREF(w);
                    FAIL;
                }
            }
            Py_DECREF(w);
        } else if (code == c_done) {
            PyObject *w = field_new(e, ti, F_WORK);
            if (w == NULL)
                FAIL;
            Py_ssize_t k = row_of(rows, w);
            wid = as_i64(w);
            Py_DECREF(w);
            if (k == -2 || (wid == -1 && PyErr_Occurred()))
                FAIL;
            if (k == -1)
                break;
            if (push_event(&p, ts, code, inv, wid) < 0)
                FAIL;
            int64_t b, d;
            if (open_get(open_ev, k, &b) < 0)
                FAIL;
            if (b >= 0 && (push_span(&p, b, index) < 0 || open_set(open_ev, k, -1) < 0))
                FAIL;
            if (get_i64(done_ns, k, &d) < 0)
                FAIL;
            if (d < 0) {
                if (set_i64(done_ns, k, ts) < 0)
                    FAIL;
                PyObject *st = field_new(e, ti, F_STATUS);
                PyObject *et = st ? field_new(e, ti, F_ERROR_TYPE) : NULL;
                PyObject *em = et ? field_new(e, ti, F_ERROR_MESSAGE) : NULL;
                int r = -1;
                if (em != NULL) {
                    int is_ok = PyUnicode_Check(st) && PyUnicode_Compare(st, s_ok) == 0;
                    if (is_ok && et == Py_None && em == Py_None) {
                        r = set_i64(status_col, k, 1);
                    } else {
                        PyObject *x = PyObject_CallFunction(done_extra, "nO(OO)", k, st, et, em);
                        r = x == NULL ? -1 : 0;
                        Py_XDECREF(x);
                    }
                }
                Py_XDECREF(st);
                Py_XDECREF(et);
                Py_XDECREF(em);
                if (r < 0)
                    FAIL;
            }
        } else if (code == c_log) {
            if (field_i64(e, ti, F_WORK, -1, &wid, &wid_none) < 0)
                FAIL;
            if (push_event(&p, ts, code, inv, wid) < 0)
                FAIL;
            if (!wid_none && !inv_none && inv >= 1) {
                PyObject *w = PyLong_FromLongLong(wid);
                if (w == NULL)
                    FAIL;
                Py_ssize_t k = row_of(rows, w);
                Py_DECREF(w);
                if (k == -2)
                    FAIL;
                if (k >= 0) {
                    int64_t c;
                    if (get_i64(created_in, k, &c) < 0)
                        FAIL;
                    if (c >= 1 && c != inv) {
                        PyObject *text = field_new(e, ti, F_TEXT);
                        PyObject *rid = text ? field_new(e, ti, F_REQUEST_ID) : NULL;
                        PyObject *x = rid ? PyObject_CallFunction(log_note, "nOOLL", k, text, rid,
                                                                  (long long)ts, (long long)inv)
                                          : NULL;
                        Py_XDECREF(text);
                        Py_XDECREF(rid);
                        if (x == NULL)
                            FAIL;
                        Py_DECREF(x);
                    }
                }
            }
        } else {
            PyObject *raw = ti->raw;
            Py_INCREF(raw);
            int payload = 0;
            if (PyTuple_Check(raw)) {
                for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(raw) && !payload; j++) {
                    PyObject *v = PyObject_GetAttr(e, PyTuple_GET_ITEM(raw, j));
                    if (v == NULL) {
                        payload = -1;
                        break;
                    }
                    payload = PyObject_IsTrue(v);
                    Py_DECREF(v);
                }
            }
            Py_DECREF(raw);
            if (payload < 0)
                FAIL;
            if (payload)
                break;
            /* `other` may add spans and rows itself: keep their order. */
            if (buf_push(&p.ts, ts) < 0 || buf_push(&p.kind, code) < 0 ||
                buf_push(&p.inv, inv) < 0 || flush_all(&p) < 0)
                FAIL;
            PyObject *obj = PyObject_CallOneArg(loads, line);
            if (obj == NULL)
                FAIL;
            PyObject *x = inv_none
                              ? PyObject_CallFunction(other, "LOLOL", (long long)code, obj,
                                                      (long long)ts, Py_None, (long long)index)
                              : PyObject_CallFunction(other, "LOLLL", (long long)code, obj,
                                                      (long long)ts, (long long)inv,
                                                      (long long)index);
            Py_DECREF(obj);
            if (x == NULL)
                FAIL;
            wid = as_i64(x);
            Py_DECREF(x);
            if ((wid == -1 && PyErr_Occurred()) || buf_push(&p.work, wid) < 0)
                FAIL;
            if (attr_i64(self, s_env_id, -1, &env_id, NULL) < 0 ||
                attr_i64(table, s_capacity, -1, &capacity, NULL) < 0)
                FAIL;
        }
        Py_CLEAR(e);
        index++;
        last_seq = seq;
        last_ts = ts;
    }
    Py_CLEAR(e);
    if (flush_all(&p) < 0)
        FAIL;
    {
        PyObject *a = PyLong_FromLongLong(last_seq), *b = PyLong_FromLongLong(last_ts);
        int r = (a && b && PyObject_SetAttr(self, s_last_seq, a) == 0 &&
                 PyObject_SetAttr(self, s_last_ts, b) == 0)
                    ? 0
                    : -1;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (r < 0)
            FAIL;
    }
    result = PyLong_FromSsize_t(lo + (Py_ssize_t)(index - start)); /* one event per line taken */

done:
    Py_XDECREF(e);
    PyMem_Free(p.ts.v);
    PyMem_Free(p.kind.v);
    PyMem_Free(p.inv.v);
    PyMem_Free(p.work.v);
    PyMem_Free(p.first.v);
    PyMem_Free(p.last.v);
    PyObject *owned[] = {cols,       spans,     table,     p.a_ts,     p.a_kind,     p.a_inv,
                         p.a_work,   p.a_first, p.a_last,  rows,       open_ev,      ran_last,
                         ran_first,  created_in, done_ns,  status_col, ids,          parent_c,
                         created_ns, env_c,     flags_c,   names,      sites,        stacks_c,
                         delay_d,    stacks,    other,     ran,        log_note,     handler_created,
                         done_extra};
    for (size_t j = 0; j < sizeof owned / sizeof owned[0]; j++)
        Py_XDECREF(owned[j]);
    return result;
#undef NEED
#undef FAIL
}

static PyMethodDef methods[] = {
    {"prepare", prepare, METH_O, "prepare(struct types): record their field slots"},
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(loader, lines, lo, consts) -> index of the first line not taken"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastload",
                                    "The loader's hot loop in C (see load.py's _fast).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fastload(void) {
#define S(var, text)                                     \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return NULL;
    S(s_ok, "ok") S(s_env_id, "env_id") S(s_capacity, "capacity") S(s_grow, "grow");
    S(s_append, "append") S(s_last_seq, "last_seq") S(s_last_ts, "last_ts");
#undef S
    return PyModule_Create(&module);
}

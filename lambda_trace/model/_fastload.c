/* The loader's hot loop in C: `_Loader._fast` of load.py, event for event.
 *
 * load.py keeps the pure-Python loop as the reference and the fallback (module not built, or
 * LAMBDA_TRACE_PURE=1); tests/model/test_load.py loads the same traces both ways and compares
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

static PyObject *s_ok, *s_env_id, *s_capacity, *s_grow, *s_last_seq, *s_last_ts;

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
        for (int f = 0; f < NFIELDS; f++) {
            /* Looked up on the class, through the MRO as attribute access would: a field is a
             * member descriptor; `work` of a kind without one is a class attribute None. Any
             * other thing under a field's name would be read differently here than in Python. */
            ti->offset[f] = -1;
            PyObject *d = PyObject_GetAttrString(t, FIELD_NAMES[f]);
            if (d == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                    Py_DECREF(raw);
                    return NULL;
                }
                PyErr_Clear();
                if (f > F_INV)
                    continue; /* every event has seq, ts and inv */
                d = Py_NewRef(Py_False);
            }
            if (Py_IS_TYPE(d, &PyMemberDescr_Type) &&
                (((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX ||
                 ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT))
                ti->offset[f] = ((PyMemberDescrObject *)d)->d_member->offset;
            int ok = ti->offset[f] >= 0 || (f == F_WORK && d == Py_None);
            Py_DECREF(d);
            if (!ok || (f <= F_INV && ti->offset[f] < 0)) {
                Py_DECREF(raw);
                PyErr_Format(PyExc_TypeError, "prepare: %s.%s is not a struct field",
                             ((PyTypeObject *)t)->tp_name, FIELD_NAMES[f]);
                return NULL;
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

/* -- the loop --------------------------------------------------------------------------------- *
 *
 * While no Python code runs, the loop reads and writes the table's int columns through buffer
 * views (an item assignment through the sequence protocol parses its argument like append does),
 * and buffers what it appends. Before any call back into Python (which may read those columns or
 * grow them) it flushes the buffers and drops the views (`before_python`), and takes them again
 * after (`after_python`).
 */

typedef struct {
    PyObject *obj; /* the array (strong) */
    Py_buffer view;
    int held;
} View;

static int view_take(View *v) {
    if (v->held)
        return 0;
    if (PyObject_GetBuffer(v->obj, &v->view, PyBUF_WRITABLE | PyBUF_FORMAT) < 0)
        return -1;
    v->held = 1;
    return 0;
}

static void view_drop(View *v) {
    if (v->held) {
        PyBuffer_Release(&v->view);
        v->held = 0;
    }
}

static int64_t *q_at(View *v, Py_ssize_t k) {
    if (k < 0 || k >= v->view.len / (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_IndexError, "table row out of range");
        return NULL;
    }
    return (int64_t *)v->view.buf + k;
}

enum { C_TS, C_KIND, C_INV, C_WORK, C_FIRST, C_LAST, NEVENTCOLS };
enum { T_ID, T_PARENT, T_CREATED_IN, T_CREATED_NS, T_ENV, T_FLAGS, NROWCOLS };
enum { V_CREATED_IN, V_RAN_FIRST, V_RAN_LAST, V_DONE_NS, V_STATUS, NVIEWS };

typedef struct {
    Buf ev[NEVENTCOLS];
    PyObject *ev_arr[NEVENTCOLS];
    Buf row[NROWCOLS];
    PyObject *row_arr[NROWCOLS];
    View views[NVIEWS];
    Py_ssize_t rows_flushed; /* len(table.id) when the row buffers were last flushed */
} State;

static int flush_rows(State *s) {
    for (int c = 0; c < NROWCOLS; c++)
        if (buf_flush(&s->row[c], s->row_arr[c], c == T_FLAGS) < 0)
            return -1;
    Py_ssize_t n = PyObject_Length(s->row_arr[T_ID]);
    if (n < 0)
        return -1;
    s->rows_flushed = n;
    return 0;
}

static int flush_events(State *s) {
    for (int c = 0; c < NEVENTCOLS; c++)
        if (buf_flush(&s->ev[c], s->ev_arr[c], c == C_KIND) < 0)
            return -1;
    return 0;
}

/* Before calling Python: rows out of the buffers, no views held. */
static int before_python(State *s) {
    for (int v = 0; v < NVIEWS; v++)
        view_drop(&s->views[v]);
    return flush_rows(s);
}

static int after_python(State *s) {
    /* Python may have added rows itself (`_other` -> `WorkTable.add`). */
    Py_ssize_t n = PyObject_Length(s->row_arr[T_ID]);
    if (n < 0)
        return -1;
    s->rows_flushed = n;
    for (int v = 0; v < NVIEWS; v++)
        if (view_take(&s->views[v]) < 0)
            return -1;
    if (s->views[V_STATUS].view.itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "scan: table.status is not a byte array");
        return -1;
    }
    for (int v = 0; v < V_STATUS; v++)
        if (s->views[v].view.itemsize != (Py_ssize_t)sizeof(int64_t)) {
            PyErr_SetString(PyExc_TypeError, "scan: a table column is not an int64 array");
            return -1;
        }
    return 0;
}

/* created_in of row k: flushed rows from the view, newer ones from the buffer. */
static int created_in_at(State *s, Py_ssize_t k, int64_t *out) {
    if (k >= s->rows_flushed) {
        Py_ssize_t j = k - s->rows_flushed;
        if (j >= s->row[T_CREATED_IN].n) {
            PyErr_SetString(PyExc_IndexError, "table row out of range");
            return -1;
        }
        *out = s->row[T_CREATED_IN].v[j];
        return 0;
    }
    int64_t *p = q_at(&s->views[V_CREATED_IN], k);
    if (p == NULL)
        return -1;
    *out = *p;
    return 0;
}

static int push_event(State *s, int64_t ts, int64_t code, int64_t inv, int64_t work) {
    if (buf_push(&s->ev[C_TS], ts) < 0 || buf_push(&s->ev[C_KIND], code) < 0 ||
        buf_push(&s->ev[C_INV], inv) < 0 || buf_push(&s->ev[C_WORK], work) < 0)
        return -1;
    return 0;
}

static int push_span(State *s, int64_t first, int64_t last) {
    if (buf_push(&s->ev[C_FIRST], first) < 0 || buf_push(&s->ev[C_LAST], last) < 0)
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
    if (k < 0 || k >= PyList_GET_SIZE(open_ev)) {
        PyErr_SetString(PyExc_IndexError, "open_ev row out of range");
        return -1;
    }
    PyObject *v = PyLong_FromLongLong(x);
    if (v == NULL)
        return -1;
    return PyList_SetItem(open_ev, k, v); /* steals v */
}

static PyObject *get(PyObject *obj, const char *name) { return PyObject_GetAttrString(obj, name); }

/* Call back into Python with the rows flushed and no views held; NULL on error. */
#define CALLBACK(result, call)                    \
    do {                                          \
        if (before_python(&st) < 0)                       \
            goto fail;                            \
        result = (call);                          \
        if (after_python(&st) < 0) {                    \
            Py_XDECREF(result);                   \
            goto fail;                            \
        }                                         \
        if (result == NULL)                       \
            goto fail;                            \
    } while (0)

static PyObject *scan(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "scan(loader, lines, lo, consts)");
        return NULL;
    }
    PyObject *self = args[0], *lines = args[1], *consts = args[3];
    Py_ssize_t lo = PyLong_AsSsize_t(args[2]);
    if (lo == -1 && PyErr_Occurred())
        return NULL;
    if (lo < 0) {
        PyErr_SetString(PyExc_ValueError, "scan: lo must be >= 0");
        return NULL;
    }
    if (!PyList_Check(lines) || !PyTuple_Check(consts) || PyTuple_GET_SIZE(consts) != 10) {
        PyErr_SetString(PyExc_TypeError, "scan: lines must be a list, consts a 10-tuple");
        return NULL;
    }
    PyObject *decode = PyTuple_GET_ITEM(consts, 0), *loads = PyTuple_GET_ITEM(consts, 1);
    PyObject *type_codes = PyTuple_GET_ITEM(consts, 2);
    long c[7]; /* kind codes of begin, end, create, done, log; the REF and ROLE flags */
    for (int j = 0; j < 7; j++) {
        c[j] = PyLong_AsLong(PyTuple_GET_ITEM(consts, 3 + j));
        if (c[j] == -1 && PyErr_Occurred())
            return NULL;
    }
    long c_begin = c[0], c_end = c[1], c_create = c[2], c_done = c[3], c_log = c[4];
    long f_ref = c[5], f_role = c[6];
    State st;
    memset(&st, 0, sizeof st);
    PyObject *cols = NULL, *spans = NULL, *table = NULL, *rows = NULL, *open_ev = NULL,
             *names = NULL, *sites = NULL, *stacks_c = NULL, *delay_d = NULL, *stacks = NULL,
             *other = NULL, *ran = NULL, *log_note = NULL, *handler_created = NULL,
             *done_extra = NULL, *result = NULL, *e = NULL, *w = NULL, *x = NULL, *line = NULL;

#define NEED(var, expr)     \
    do {                    \
        var = (expr);       \
        if (var == NULL)    \
            goto fail;      \
    } while (0)

    NEED(cols, get(self, "cols"));
    NEED(spans, get(self, "spans"));
    NEED(table, get(self, "table"));
    static const char *EV_NAMES[NEVENTCOLS] = {"ts", "kind", "inv", "work", "first", "last"};
    for (int c = 0; c < NEVENTCOLS; c++)
        NEED(st.ev_arr[c], get(c < C_FIRST ? cols : spans, EV_NAMES[c]));
    static const char *ROW_NAMES[NROWCOLS] = {"id", "parent", "created_in", "created_ns",
                                              "env", "flags"};
    for (int c = 0; c < NROWCOLS; c++)
        NEED(st.row_arr[c], get(table, ROW_NAMES[c]));
    static const char *VIEW_NAMES[NVIEWS] = {"created_in", "ran_first", "ran_last", "done_ns",
                                             "status"};
    for (int v = 0; v < NVIEWS; v++)
        NEED(st.views[v].obj, get(table, VIEW_NAMES[v]));
    NEED(rows, get(table, "row"));
    NEED(open_ev, get(table, "open_ev"));
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
#undef NEED
    if (!PyDict_Check(rows) || !PyList_Check(open_ev) || !PyDict_Check(stacks) ||
        !PyList_Check(names) || !PyList_Check(sites) || !PyList_Check(stacks_c) ||
        !PyDict_Check(delay_d) || !PyDict_Check(type_codes)) {
        PyErr_SetString(PyExc_TypeError, "scan: unexpected loader state");
        goto fail;
    }

    int64_t last_seq, last_ts, env_id, capacity;
    if (attr_i64(self, s_last_seq, -1, &last_seq, NULL) < 0 ||
        attr_i64(self, s_last_ts, -1, &last_ts, NULL) < 0 ||
        attr_i64(self, s_env_id, -1, &env_id, NULL) < 0 ||
        attr_i64(table, s_capacity, -1, &capacity, NULL) < 0)
        goto fail;
    Py_ssize_t start = PyObject_Length(st.ev_arr[C_TS]);
    if (start < 0 || flush_rows(&st) < 0 || after_python(&st) < 0)
        goto fail;
    int64_t index = start;

    /* The callbacks cannot change `lines`, but nothing here relies on it: the size is read each
     * time and the line held. */
    for (Py_ssize_t i = lo; i < PyList_GET_SIZE(lines); i++) {
        Py_XSETREF(line, Py_NewRef(PyList_GET_ITEM(lines, i)));
        e = PyObject_CallOneArg(decode, line);
        if (e == NULL) {
            /* DecodeError, ValidationError, RecursionError: the slow path takes the line. */
            if (!PyErr_ExceptionMatches(PyExc_Exception))
                goto fail;
            PyErr_Clear();
            break;
        }
        TypeInfo *ti = type_info(e);
        if (ti == NULL)
            goto fail;
        int64_t seq, ts, inv, wid;
        int inv_none, wid_none;
        if (field_i64(e, ti, F_SEQ, -1, &seq, NULL) < 0 ||
            field_i64(e, ti, F_TS, -1, &ts, NULL) < 0)
            goto fail;
        if (seq <= last_seq || ts < last_ts)
            break;
        int64_t code = ti->code;
        if (field_i64(e, ti, F_INV, -1, &inv, &inv_none) < 0)
            goto fail;
        if (code == c_begin || code == c_end || code == c_done) {
            w = field_new(e, ti, F_WORK);
            if (w == NULL)
                goto fail;
            Py_ssize_t k = row_of(rows, w);
            wid = as_i64(w);
            Py_CLEAR(w);
            if (k == -2 || (wid == -1 && PyErr_Occurred()))
                goto fail;
            if (k == -1 && code != c_end)
                break; /* a step or done of unknown work: the careful loop adds its row */
            if (push_event(&st, ts, code, inv, wid) < 0)
                goto fail;
            if (code == c_begin) {
                if (open_set(open_ev, k, index) < 0)
                    goto fail;
                if (!inv_none) {
                    int64_t *r = q_at(&st.views[V_RAN_LAST], k), c;
                    if (r == NULL)
                        goto fail;
                    if (*r != inv) {
                        if (created_in_at(&st, k, &c) < 0)
                            goto fail;
                        if (*r < 0 && c == inv) { /* first step, where created */
                            int64_t *f = q_at(&st.views[V_RAN_FIRST], k);
                            if (f == NULL)
                                goto fail;
                            *f = inv;
                            *r = inv;
                        } else {
                            CALLBACK(x, PyObject_CallFunction(ran, "nLL", k, (long long)inv,
                                                              (long long)ts));
                            Py_CLEAR(x);
                        }
                    }
                }
            } else if (k >= 0) { /* end (of known work) or done: close the running span */
                int64_t b;
                if (open_get(open_ev, k, &b) < 0)
                    goto fail;
                if (b >= 0 && (push_span(&st, b, index) < 0 || open_set(open_ev, k, -1) < 0))
                    goto fail;
                if (code == c_done) {
                    int64_t *d = q_at(&st.views[V_DONE_NS], k);
                    if (d == NULL)
                        goto fail;
                    if (*d < 0) {
                        *d = ts;
                        PyObject *sts = field(e, ti, F_STATUS),
                                 *et = sts ? field(e, ti, F_ERROR_TYPE) : NULL,
                                 *em = et ? field(e, ti, F_ERROR_MESSAGE) : NULL;
                        if (em == NULL)
                            goto fail;
                        int is_ok = PyUnicode_Check(sts) && PyUnicode_Compare(sts, s_ok) == 0;
                        if (is_ok && et == Py_None && em == Py_None) {
                            if (k >= st.views[V_STATUS].view.len) {
                                PyErr_SetString(PyExc_IndexError, "table row out of range");
                                goto fail;
                            }
                            ((int8_t *)st.views[V_STATUS].view.buf)[k] = 1;
                        } else {
                            CALLBACK(x, PyObject_CallFunction(done_extra, "nO(OO)", k, sts, et,
                                                              em));
                            Py_CLEAR(x);
                        }
                    }
                }
            }
        } else if (code == c_create) {
            w = field_new(e, ti, F_WORK);
            if (w == NULL)
                goto fail;
            wid = as_i64(w);
            int known = PyDict_Contains(rows, w);
            if ((wid == -1 && PyErr_Occurred()) || known < 0 ||
                push_event(&st, ts, code, inv, wid) < 0)
                goto fail;
            if (!known) { /* a second work.create for one id: the first wins */
                Py_ssize_t k = st.rows_flushed + st.row[T_ID].n;
                if (k >= capacity) {
                    CALLBACK(x, PyObject_CallMethodNoArgs(table, s_grow));
                    Py_CLEAR(x);
                    if (attr_i64(table, s_capacity, -1, &capacity, NULL) < 0)
                        goto fail;
                }
                int64_t parent, c, delay;
                int delay_none;
                if (field_i64(e, ti, F_PARENT, -1, &parent, NULL) < 0 ||
                    field_i64(e, ti, F_CREATED_IN, -1, &c, NULL) < 0)
                    goto fail;
                PyObject *role = field(e, ti, F_ROLE), *ref = role ? field(e, ti, F_REF) : NULL,
                         *type = ref ? field(e, ti, F_TYPE) : NULL;
                if (type == NULL)
                    goto fail;
                PyObject *tc = PyDict_GetItemWithError(type_codes, type); /* borrowed */
                if (tc == NULL) {
                    if (!PyErr_Occurred())
                        PyErr_SetObject(PyExc_KeyError, type);
                    goto fail;
                }
                long flags = PyLong_AsLong(tc);
                if (flags == -1 && PyErr_Occurred())
                    goto fail;
                if (role != Py_None)
                    flags |= f_role;
                if (ref != Py_False)
                    flags |= f_ref;
                if (buf_push(&st.row[T_ID], wid) < 0 || buf_push(&st.row[T_PARENT], parent) < 0 ||
                    buf_push(&st.row[T_CREATED_IN], c) < 0 ||
                    buf_push(&st.row[T_CREATED_NS], ts) < 0 ||
                    buf_push(&st.row[T_ENV], env_id) < 0 || buf_push(&st.row[T_FLAGS], flags) < 0)
                    goto fail;
                PyObject *str = field(e, ti, F_NAME);
                if (str == NULL || (x = intern(str)) == NULL || PyList_Append(names, x) < 0)
                    goto fail;
                Py_CLEAR(x);
                str = field(e, ti, F_SITE);
                if (str == NULL || (x = intern(str)) == NULL || PyList_Append(sites, x) < 0)
                    goto fail;
                Py_CLEAR(x);
                /* many works share a stack: hold one per distinct */
                PyObject *raw = field(e, ti, F_STACK);
                if (raw == NULL)
                    goto fail;
                x = PyDict_GetItemWithError(stacks, raw);
                if (x != NULL) {
                    Py_INCREF(x);
                } else {
                    if (PyErr_Occurred())
                        goto fail;
                    if (!PyTuple_Check(raw)) {
                        PyErr_SetString(PyExc_TypeError, "scan: a stack is not a tuple");
                        goto fail;
                    }
                    Py_ssize_t m = PyTuple_GET_SIZE(raw);
                    if ((x = PyTuple_New(m)) == NULL)
                        goto fail;
                    for (Py_ssize_t j = 0; j < m; j++) {
                        PyObject *item = intern(PyTuple_GET_ITEM(raw, j));
                        if (item == NULL)
                            goto fail;
                        PyTuple_SET_ITEM(x, j, item);
                    }
                    if (PyDict_SetItem(stacks, raw, x) < 0)
                        goto fail;
                }
                if (PyList_Append(stacks_c, x) < 0)
                    goto fail;
                Py_CLEAR(x);
                if ((x = PyLong_FromSsize_t(k)) == NULL || PyDict_SetItem(rows, w, x) < 0)
                    goto fail;
                if (field_i64(e, ti, F_DELAY_NS, 0, &delay, &delay_none) < 0)
                    goto fail;
                if (!delay_none) {
                    PyObject *d = PyLong_FromLongLong(delay);
                    if (d == NULL)
                        goto fail;
                    int r = PyDict_SetItem(delay_d, x, d);
                    Py_DECREF(d);
                    if (r < 0)
                        goto fail;
                }
                Py_CLEAR(x);
                if (role != Py_None) {
                    if (inv_none)
                        CALLBACK(x, PyObject_CallFunction(handler_created, "OO", w, Py_None));
                    else
                        CALLBACK(x, PyObject_CallFunction(handler_created, "OL", w,
                                                          (long long)inv));
                    Py_CLEAR(x);
                }
            }
            Py_CLEAR(w);
        } else if (code == c_log) {
            if (field_i64(e, ti, F_WORK, -1, &wid, &wid_none) < 0 ||
                push_event(&st, ts, code, inv, wid) < 0)
                goto fail;
            if (!wid_none && !inv_none && inv >= 1) {
                Py_ssize_t k = row_of(rows, field(e, ti, F_WORK));
                if (k == -2)
                    goto fail;
                int64_t c;
                if (k >= 0 && created_in_at(&st, k, &c) < 0)
                    goto fail;
                if (k >= 0 && c >= 1 && c != inv) {
                    PyObject *text = field(e, ti, F_TEXT),
                             *rid = text ? field(e, ti, F_REQUEST_ID) : NULL;
                    if (rid == NULL)
                        goto fail;
                    CALLBACK(x, PyObject_CallFunction(log_note, "nOOLL", k, text, rid,
                                                      (long long)ts, (long long)inv));
                    Py_CLEAR(x);
                }
            }
        } else {
            int payload = 0;
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(ti->raw) && !payload; j++) {
                PyObject *v = PyObject_GetAttr(e, PyTuple_GET_ITEM(ti->raw, j));
                if (v == NULL)
                    goto fail;
                payload = PyObject_IsTrue(v);
                Py_DECREF(v);
                if (payload < 0)
                    goto fail;
            }
            if (payload)
                break;
            /* `other` may add spans and rows itself: keep their order. */
            if (buf_push(&st.ev[C_TS], ts) < 0 || buf_push(&st.ev[C_KIND], code) < 0 ||
                buf_push(&st.ev[C_INV], inv) < 0 || flush_events(&st) < 0)
                goto fail;
            PyObject *obj = PyObject_CallOneArg(loads, line);
            if (obj == NULL)
                goto fail;
            if (inv_none)
                CALLBACK(x, PyObject_CallFunction(other, "LOLOL", (long long)code, obj,
                                                  (long long)ts, Py_None, (long long)index));
            else
                CALLBACK(x, PyObject_CallFunction(other, "LOLLL", (long long)code, obj,
                                                  (long long)ts, (long long)inv,
                                                  (long long)index));
            Py_DECREF(obj);
            wid = as_i64(x);
            Py_CLEAR(x);
            if ((wid == -1 && PyErr_Occurred()) || buf_push(&st.ev[C_WORK], wid) < 0)
                goto fail;
            if (attr_i64(self, s_env_id, -1, &env_id, NULL) < 0 ||
                attr_i64(table, s_capacity, -1, &capacity, NULL) < 0)
                goto fail;
        }
        Py_CLEAR(e);
        index++;
        last_seq = seq;
        last_ts = ts;
    }
    Py_CLEAR(e);
    if (before_python(&st) < 0 || flush_events(&st) < 0)
        goto fail;
    {
        PyObject *a = PyLong_FromLongLong(last_seq), *b = PyLong_FromLongLong(last_ts);
        int r = (a && b && PyObject_SetAttr(self, s_last_seq, a) == 0 &&
                 PyObject_SetAttr(self, s_last_ts, b) == 0)
                    ? 0
                    : -1;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (r < 0)
            goto fail;
    }
    result = PyLong_FromSsize_t(lo + (Py_ssize_t)(index - start)); /* one event per line taken */

fail:
    Py_XDECREF(line);
    Py_XDECREF(e);
    Py_XDECREF(w);
    Py_XDECREF(x);
    for (int v = 0; v < NVIEWS; v++) {
        view_drop(&st.views[v]);
        Py_XDECREF(st.views[v].obj);
    }
    for (int c = 0; c < NEVENTCOLS; c++) {
        PyMem_Free(st.ev[c].v);
        Py_XDECREF(st.ev_arr[c]);
    }
    for (int c = 0; c < NROWCOLS; c++) {
        PyMem_Free(st.row[c].v);
        Py_XDECREF(st.row_arr[c]);
    }
    PyObject *owned[] = {cols,    spans,  table, rows,     open_ev,         names,
                         sites,   stacks_c, delay_d, stacks, other,         ran,
                         log_note, handler_created, done_extra};
    for (size_t j = 0; j < sizeof owned / sizeof owned[0]; j++)
        Py_XDECREF(owned[j]);
    return result;
}
#undef CALLBACK

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
    S(s_last_seq, "last_seq") S(s_last_ts, "last_ts");
#undef S
    return PyModule_Create(&module);
}

/* Optional accelerator of the recorder's hot paths (see docs/PERFORMANCE.md, figure 5).
 *
 * ClockBase: the state of EmulatedClock as C fields, so the writer reads the time without a call.
 * Core:      the writer's seq, last_ts and line buffer; TraceWriter hands its ordering to it.
 * StepRunner: runs one task step as TracedLoop._run_task_step does (begin, current work, step,
 *            restore, tick, end), then hands a finished task back to Python.
 * CallSoon:  the loop's call_soon for task steps and asyncio's done-callbacks of tasks (run as
 *            the current work by RunAs); anything else goes to the Python method.
 * TaskFactory: the loop's task factory for user coroutines on the loop thread (creation site
 *            cached per user frame chain); anything else goes to TracedLoop._make_task.
 * WorkInfoBase: the tracer's WorkInfo fields as C members, filled by TaskFactory.
 *
 * Every entry point runs holding the GIL and never releases it between reading and bumping seq,
 * so a C emit is atomic with respect to any other emit (Python threads call the same methods).
 * The only Python code called from an emit is the writer's drain (file write, under its lock),
 * and only after the line is in the buffer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>
#include <time.h>

/* ---- ClockBase ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    char virtual_;
    long long virtual_ns;
    long long origin;
    long long offset_ns;
} ClockObject;

static PyMemberDef clock_members[] = {
    {"virtual", T_BOOL, offsetof(ClockObject, virtual_), 0, NULL},
    {"_virtual_ns", T_LONGLONG, offsetof(ClockObject, virtual_ns), 0, NULL},
    {"_origin", T_LONGLONG, offsetof(ClockObject, origin), 0, NULL},
    {"_offset_ns", T_LONGLONG, offsetof(ClockObject, offset_ns), 0, NULL},
    {NULL},
};

static PyTypeObject ClockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.ClockBase",
    .tp_basicsize = sizeof(ClockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "EmulatedClock's state as C fields (read by Core without a call).",
    .tp_members = clock_members,
    .tp_new = PyType_GenericNew,
};

static inline long long clock_now(ClockObject *c) {
    if (c->virtual_) {
        return c->virtual_ns;
    }
    /* time.monotonic_ns() reads the same clock on Linux. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - c->origin + c->offset_ns;
}

/* ---- Core ----------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    ClockObject *clock;
    PyObject *drain; /* callable: writes the buffer out (None: never called) */
    char *buf;
    Py_ssize_t len;
    Py_ssize_t cap;
    Py_ssize_t flush_bytes;
    long long seq;
    long long last_ts;
    long long next_id;
    long long tick_ns;
    char stopped;
} CoreObject;

static PyTypeObject CoreType;

static int core_reserve(CoreObject *self, Py_ssize_t extra) {
    if (self->len + extra <= self->cap) {
        return 0;
    }
    Py_ssize_t cap = self->cap ? self->cap : 4096;
    while (cap < self->len + extra) {
        cap *= 2;
    }
    char *buf = PyMem_Realloc(self->buf, cap);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->buf = buf;
    self->cap = cap;
    return 0;
}

/* Room a line needs: its literal text plus LL_CHARS for each number ("-9223372036854775808"). */
#define LL_CHARS 20
#define LIT_LEN(s) ((Py_ssize_t)sizeof(s) - 1)

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal of v, two digits per division (seq, ts and ids on every line). */
static inline char *put_ll(char *p, long long v) {
    unsigned long long u;
    if (v < 0) {
        *p++ = '-';
        u = 0ULL - (unsigned long long)v;
    } else {
        u = (unsigned long long)v;
    }
    int n = 1;
    for (unsigned long long t = u; t >= 10; t /= 10) {
        n++;
    }
    char *q = p + n;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        q -= 2;
        q[0] = digit_pairs[2 * r];
        q[1] = digit_pairs[2 * r + 1];
    }
    if (u >= 10) {
        q -= 2;
        q[0] = digit_pairs[2 * u];
        q[1] = digit_pairs[2 * u + 1];
    } else {
        *--q = (char)('0' + u);
    }
    return p + n;
}

static inline char *put(char *p, const char *s, Py_ssize_t n) {
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, s) put((p), (s), (Py_ssize_t)sizeof(s) - 1)

/* seq and ts for a new line (ts never goes backwards). */
static inline void core_stamp(CoreObject *self, long long ts, long long *seq, long long *now) {
    *seq = self->seq++;
    if (ts < self->last_ts) {
        ts = self->last_ts;
    } else {
        self->last_ts = ts;
    }
    *now = ts;
}

/* A core made without __init__ (Core.__new__) or cleared by the collector has no clock. */
static int core_ready(CoreObject *self) {
    if (self->clock == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "trace writer core has no clock (not initialised)");
        return -1;
    }
    return 0;
}

/* After appending: drain when the buffer is big enough, keeping a pending exception intact. */
static int core_after_append(CoreObject *self) {
    /* NULL: `del core.drain`, or cleared by the collector; treated as None. */
    if (self->len < self->flush_bytes || self->drain == NULL || self->drain == Py_None) {
        return 0;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *drain = Py_NewRef(self->drain); /* the call may replace the attribute */
    PyObject *r = PyObject_CallNoArgs(drain);
    Py_DECREF(drain);
    if (r == NULL) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    Py_DECREF(r);
    PyErr_Restore(type, value, tb);
    return 0;
}

/* {"seq":S,"ts":T,"kind":"<kind>","inv":<inv>,"work":W}\n */
static int core_work_line(CoreObject *self, const char *kind, Py_ssize_t kind_len, const char *inv,
                          Py_ssize_t inv_len, long long work) {
    if (self->stopped) {
        return 0;
    }
    if (core_ready(self) < 0) {
        return -1;
    }
    if (core_reserve(self, LIT_LEN("{\"seq\":,\"ts\":,\"kind\":\"\",\"inv\":,\"work\":}\n") +
                               3 * LL_CHARS + kind_len + inv_len) < 0) {
        return -1;
    }
    long long seq, now;
    core_stamp(self, clock_now(self->clock), &seq, &now);
    char *p = self->buf + self->len;
    p = PUT_LIT(p, "{\"seq\":");
    p = put_ll(p, seq);
    p = PUT_LIT(p, ",\"ts\":");
    p = put_ll(p, now);
    p = PUT_LIT(p, ",\"kind\":\"");
    p = put(p, kind, kind_len);
    p = PUT_LIT(p, "\",\"inv\":");
    p = put(p, inv, inv_len);
    p = PUT_LIT(p, ",\"work\":");
    p = put_ll(p, work);
    p = PUT_LIT(p, "}\n");
    self->len = p - self->buf;
    return core_after_append(self);
}

static int core_init(CoreObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"clock", "seq", "last_ts", "next_id", "tick_ns", "flush_bytes", NULL};
    PyObject *clock;
    long long seq, last_ts, next_id, tick_ns;
    Py_ssize_t flush_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!LLLLn", kwlist, &ClockType, &clock, &seq,
                                     &last_ts, &next_id, &tick_ns, &flush_bytes)) {
        return -1;
    }
    Py_INCREF(clock);
    Py_XSETREF(self->clock, (ClockObject *)clock);
    if (self->drain == NULL) {
        self->drain = Py_NewRef(Py_None);
    }
    self->seq = seq;
    self->last_ts = last_ts;
    self->next_id = next_id;
    self->tick_ns = tick_ns;
    self->flush_bytes = flush_bytes;
    return 0;
}

static void core_dealloc(CoreObject *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->drain);
    PyMem_Free(self->buf);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int core_traverse(CoreObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->clock);
    Py_VISIT(self->drain);
    return 0;
}

static int core_clear(CoreObject *self) {
    Py_CLEAR(self->clock);
    Py_CLEAR(self->drain);
    return 0;
}

static PyObject *core_emit_work(CoreObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "emit_work(kind: bytes, inv: bytes, work: int)");
        return NULL;
    }
    long long work = PyLong_AsLongLong(args[2]);
    if (work == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (core_work_line(self, PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]),
                       PyBytes_AS_STRING(args[1]), PyBytes_GET_SIZE(args[1]), work) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *core_emit_raw(CoreObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"head", "tail", "ts", NULL};
    PyObject *head, *tail, *ts_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "SS|$O", kwlist, &head, &tail, &ts_obj)) {
        return NULL;
    }
    if (self->stopped) {
        return PyLong_FromLong(-1);
    }
    if (core_ready(self) < 0) {
        return NULL;
    }
    long long ts;
    if (ts_obj == Py_None) {
        ts = clock_now(self->clock);
    } else {
        ts = PyLong_AsLongLong(ts_obj);
        if (ts == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    Py_ssize_t hn = PyBytes_GET_SIZE(head), tn = PyBytes_GET_SIZE(tail);
    if (core_reserve(self, LIT_LEN("{\"seq\":,\"ts\":,") + 2 * LL_CHARS + hn + tn) < 0) {
        return NULL;
    }
    long long seq, now;
    core_stamp(self, ts, &seq, &now);
    char *p = self->buf + self->len;
    p = PUT_LIT(p, "{\"seq\":");
    p = put_ll(p, seq);
    p = PUT_LIT(p, ",\"ts\":");
    p = put_ll(p, now);
    *p++ = ',';
    p = put(p, PyBytes_AS_STRING(head), hn);
    p = put(p, PyBytes_AS_STRING(tail), tn);
    self->len = p - self->buf;
    if (core_after_append(self) < 0) {
        return NULL;
    }
    return PyLong_FromLongLong(seq);
}

static PyObject *core_take(CoreObject *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *data = PyBytes_FromStringAndSize(self->buf, self->len);
    if (data != NULL) {
        self->len = 0;
    }
    return data;
}

static PyObject *core_alloc_id(CoreObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(self->next_id++);
}

static PyMethodDef core_methods[] = {
    {"emit_work", (PyCFunction)(void (*)(void))core_emit_work, METH_FASTCALL,
     "TraceWriter.emit_work: a work.begin/work.end line."},
    {"emit_raw", (PyCFunction)(void (*)(void))core_emit_raw, METH_VARARGS | METH_KEYWORDS,
     "TraceWriter.emit_raw: a line from pre-encoded JSON; returns its seq (-1: stopped)."},
    {"take", (PyCFunction)core_take, METH_NOARGS, "The buffered bytes, emptying the buffer."},
    {"alloc_id", (PyCFunction)core_alloc_id, METH_NOARGS, "The next work id."},
    {NULL},
};

static PyMemberDef core_members[] = {
    {"seq", T_LONGLONG, offsetof(CoreObject, seq), READONLY, NULL},
    {"last_ts", T_LONGLONG, offsetof(CoreObject, last_ts), READONLY, NULL},
    {"next_id", T_LONGLONG, offsetof(CoreObject, next_id), READONLY, NULL},
    {"buffered", T_PYSSIZET, offsetof(CoreObject, len), READONLY, NULL},
    {"stopped", T_BOOL, offsetof(CoreObject, stopped), 0, NULL},
    {"drain", T_OBJECT_EX, offsetof(CoreObject, drain), 0, NULL},
    {NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.Core",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A trace writer's seq, last_ts and line buffer.",
    .tp_init = (initproc)core_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_traverse = (traverseproc)core_traverse,
    .tp_clear = (inquiry)core_clear,
    .tp_methods = core_methods,
    .tp_members = core_members,
};

/* ---- StepRunner ----------------------------------------------------------------------------- */

static PyObject *str_lt_work, *str_current_work, *str_inv_b, *str_done, *str_self, *str_closed;
static PyObject *str_cancelled, *str_exception, *str_live, *str_lt_listened, *str_cr_code,
    *str_qualname, *str_task, *kw_loop_context;

/* The tracer's hot attributes (current_work, inv_b, live) read and written in its instance dict:
 * the same as getattr/setattr when its type defines none of them (no property in the way) and
 * uses the generic attribute access, which is checked once per type; else the generic calls. */
static PyObject *direct_tracer_type = NULL; /* a strong reference: the address stays its own */
static unsigned int direct_tracer_version = 0;  /* its version tag when checked: a change to the
                                                  * class (a property patched in) re-checks */

static PyObject **tracer_dict(PyObject *tracer) {
    PyTypeObject *tp = Py_TYPE(tracer);
    if ((PyObject *)tp != direct_tracer_type || !(tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ||
        tp->tp_version_tag != direct_tracer_version) {
        if (tp->tp_getattro != PyObject_GenericGetAttr ||
            tp->tp_setattro != PyObject_GenericSetAttr ||
            _PyType_Lookup(tp, str_current_work) != NULL || _PyType_Lookup(tp, str_inv_b) != NULL ||
            _PyType_Lookup(tp, str_live) != NULL) {
            return NULL;
        }
        Py_XSETREF(direct_tracer_type, Py_NewRef(tp));
        direct_tracer_version =
            (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? tp->tp_version_tag : 0;
    }
    PyObject **dp = _PyObject_GetDictPtr(tracer);
    return dp != NULL && *dp != NULL && PyDict_CheckExact(*dp) ? dp : NULL;
}

static PyObject *tracer_get(PyObject *tracer, PyObject *name) {
    PyObject **dp = tracer_dict(tracer);
    if (dp != NULL) {
        PyObject *v = PyDict_GetItemWithError(*dp, name);
        if (v != NULL) {
            return Py_NewRef(v);
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return PyObject_GetAttr(tracer, name);
}

static int tracer_set(PyObject *tracer, PyObject *name, PyObject *value) {
    PyObject **dp = tracer_dict(tracer);
    if (dp != NULL) {
        return PyDict_SetItem(*dp, name, value);
    }
    return PyObject_SetAttr(tracer, name, value);
}

/* The tracer's inv_b (its setter keeps it current), or NULL with an exception set. */
static PyObject *tracer_inv(PyObject *tracer) {
    PyObject *inv = tracer_get(tracer, str_inv_b);
    if (inv != NULL && !PyBytes_Check(inv)) {
        PyErr_SetString(PyExc_TypeError, "tracer.inv_b must be bytes");
        Py_CLEAR(inv);
    }
    return inv;
}

/* Tracer.done(work, "ok") for a task that finished without error: drop it from `live` and write
 * its work.done (nothing when it was not live, as in Python). */
static int tracer_done_ok(CoreObject *core, PyObject *tracer, PyObject *work_obj, long long work) {
    PyObject *live = tracer_get(tracer, str_live);
    if (live == NULL) {
        return -1;
    }
    if (!PyDict_Check(live)) {
        Py_DECREF(live);
        PyErr_SetString(PyExc_TypeError, "tracer.live must be a dict");
        return -1;
    }
    PyObject *info = PyDict_GetItemWithError(live, work_obj);
    if (info == NULL) {
        Py_DECREF(live);
        return PyErr_Occurred() ? -1 : 0;
    }
    int r = PyDict_DelItem(live, work_obj);
    Py_DECREF(live);
    if (r < 0) {
        return -1;
    }
    PyObject *inv = tracer_inv(tracer);
    if (inv == NULL) {
        return -1;
    }
    if (core->stopped) {
        Py_DECREF(inv);
        return 0;
    }
    if (core_ready(core) < 0) {
        Py_DECREF(inv);
        return -1;
    }
    if (core_reserve(core,
                     LIT_LEN("{\"seq\":,\"ts\":,\"kind\":\"work.done\",\"inv\":,\"work\":,"
                             "\"status\":\"ok\"}\n") +
                         3 * LL_CHARS + PyBytes_GET_SIZE(inv)) < 0) {
        Py_DECREF(inv);
        return -1;
    }
    long long seq, now;
    core_stamp(core, clock_now(core->clock), &seq, &now);
    char *p = core->buf + core->len;
    p = PUT_LIT(p, "{\"seq\":");
    p = put_ll(p, seq);
    p = PUT_LIT(p, ",\"ts\":");
    p = put_ll(p, now);
    p = PUT_LIT(p, ",\"kind\":\"work.done\",\"inv\":");
    p = put(p, PyBytes_AS_STRING(inv), PyBytes_GET_SIZE(inv));
    Py_DECREF(inv);
    p = PUT_LIT(p, ",\"work\":");
    p = put_ll(p, work);
    p = PUT_LIT(p, ",\"status\":\"ok\"}\n");
    core->len = p - core->buf;
    return core_after_append(core);
}

/* TracedLoop._task_finished when the task neither was cancelled nor failed (1: done here); 0: the
 * Python method has to do it. */
static int task_finished_fast(CoreObject *core, PyObject *tracer, PyObject *task,
                              PyObject *work_obj, long long work) {
    PyObject *c = PyObject_CallMethodNoArgs(task, str_cancelled);
    if (c == NULL) {
        return -1;
    }
    int cancelled = PyObject_IsTrue(c);
    Py_DECREF(c);
    if (cancelled != 0) {
        return cancelled < 0 ? -1 : 0;
    }
    PyObject *exc = PyObject_GetAttr(task, str_exception); /* not .exception(): no "retrieved" */
    if (exc == NULL) {
        return -1;
    }
    int failed = exc != Py_None;
    Py_DECREF(exc);
    if (failed) {
        return 0;
    }
    return tracer_done_ok(core, tracer, work_obj, work) < 0 ? -1 : 1;
}

typedef struct {
    PyObject_HEAD
    CoreObject *core;
    PyObject *tracer;
    PyObject *finished; /* finished(task, work): the task's work.done and failure bookkeeping */
    vectorcallfunc vectorcall;
} RunnerObject;

static PyObject *runner_vectorcall(RunnerObject *self, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 2 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "StepRunner(task, step, *args)");
        return NULL;
    }
    PyObject *task = args[0], *step = args[1];
    PyObject *work_obj = PyObject_GetAttr(task, str_lt_work);
    if (work_obj == NULL) {
        return NULL;
    }
    long long work = PyLong_AsLongLong(work_obj);
    if (work == -1 && PyErr_Occurred()) {
        Py_DECREF(work_obj);
        return NULL;
    }
    /* The invocation as the tracer has it now (its setter keeps inv_b current). */
    PyObject *inv = tracer_get(self->tracer, str_inv_b);
    if (inv == NULL || !PyBytes_Check(inv)) {
        if (inv != NULL) {
            PyErr_SetString(PyExc_TypeError, "tracer.inv_b must be bytes");
            Py_DECREF(inv);
        }
        Py_DECREF(work_obj);
        return NULL;
    }
    if (core_work_line(self->core, "work.begin", 10, PyBytes_AS_STRING(inv),
                       PyBytes_GET_SIZE(inv), work) < 0) {
        Py_DECREF(inv);
        Py_DECREF(work_obj);
        return NULL;
    }
    Py_DECREF(inv);
    PyObject *previous = tracer_get(self->tracer, str_current_work);
    if (previous == NULL) {
        Py_DECREF(work_obj);
        return NULL;
    }
    if (tracer_set(self->tracer, str_current_work, work_obj) < 0) {
        Py_DECREF(previous);
        Py_DECREF(work_obj);
        return NULL;
    }
    PyObject *result = PyObject_Vectorcall(step, args + 2, nargs - 2, NULL);

    /* As the Python `finally`: restore, tick, work.end, whether the step raised or not; an
     * exception of the step stays the one that propagates. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    int failed = tracer_set(self->tracer, str_current_work, previous) < 0;
    Py_DECREF(previous);
    if (!failed && core_ready(self->core) < 0) {
        failed = 1;
    }
    if (!failed) {
        ClockObject *clock = self->core->clock;
        if (clock->virtual_) {
            clock->virtual_ns += self->core->tick_ns;
        }
        inv = tracer_get(self->tracer, str_inv_b);
        if (inv == NULL || !PyBytes_Check(inv)) {
            if (inv != NULL) {
                PyErr_SetString(PyExc_TypeError, "tracer.inv_b must be bytes");
                Py_DECREF(inv);
            }
            failed = 1;
        } else {
            failed = core_work_line(self->core, "work.end", 8, PyBytes_AS_STRING(inv),
                                    PyBytes_GET_SIZE(inv), work) < 0;
            Py_DECREF(inv);
        }
    }
    if (failed) {
        /* Like an exception raised in a `finally`: it replaces the step's, chained to it. */
        if (type != NULL) {
            _PyErr_ChainExceptions(type, value, tb);
        }
        Py_XDECREF(result);
        Py_DECREF(work_obj);
        return NULL;
    }
    PyErr_Restore(type, value, tb);
    if (result == NULL) {
        Py_DECREF(work_obj);
        return NULL;
    }
    Py_DECREF(result);

    PyObject *done = PyObject_CallMethodNoArgs(task, str_done);
    if (done == NULL) {
        Py_DECREF(work_obj);
        return NULL;
    }
    int is_done = PyObject_IsTrue(done);
    Py_DECREF(done);
    if (is_done < 0) {
        Py_DECREF(work_obj);
        return NULL;
    }
    if (is_done) {
        int fast = task_finished_fast(self->core, self->tracer, task, work_obj, work);
        if (fast != 0) {
            Py_DECREF(work_obj);
            if (fast < 0) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
        PyObject *fargs[2] = {task, work_obj};
        PyObject *r = PyObject_Vectorcall(self->finished, fargs, 2, NULL);
        Py_DECREF(work_obj);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
    } else {
        Py_DECREF(work_obj);
    }
    Py_RETURN_NONE;
}

static int runner_init(RunnerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"core", "tracer", "finished", NULL};
    PyObject *core, *tracer, *finished;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO", kwlist, &CoreType, &core, &tracer,
                                     &finished)) {
        return -1;
    }
    Py_INCREF(core);
    Py_XSETREF(self->core, (CoreObject *)core);
    Py_INCREF(tracer);
    Py_XSETREF(self->tracer, tracer);
    Py_INCREF(finished);
    Py_XSETREF(self->finished, finished);
    self->vectorcall = (vectorcallfunc)runner_vectorcall;
    return 0;
}

static void runner_dealloc(RunnerObject *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->core);
    Py_CLEAR(self->tracer);
    Py_CLEAR(self->finished);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int runner_traverse(RunnerObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->core);
    Py_VISIT(self->tracer);
    Py_VISIT(self->finished);
    return 0;
}

static int runner_clear(RunnerObject *self) {
    Py_CLEAR(self->core);
    Py_CLEAR(self->tracer);
    Py_CLEAR(self->finished);
    return 0;
}

static PyTypeObject RunnerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.StepRunner",
    .tp_basicsize = sizeof(RunnerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Runs one task step as TracedLoop._run_task_step does.",
    .tp_vectorcall_offset = offsetof(RunnerObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_init = (initproc)runner_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)runner_dealloc,
    .tp_traverse = (traverseproc)runner_traverse,
    .tp_clear = (inquiry)runner_clear,
};

/* ---- RunAs --------------------------------------------------------------------------------- */

/* TracedLoop._run_as: an asyncio-internal callback run with `work` current. */
typedef struct {
    PyObject_HEAD
    PyObject *tracer;
    vectorcallfunc vectorcall;
} RunAsObject;

static PyObject *runas_vectorcall(RunAsObject *self, PyObject *const *args, size_t nargsf,
                                  PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 2 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "RunAs(work, callback, *args)");
        return NULL;
    }
    PyObject *previous = tracer_get(self->tracer, str_current_work);
    if (previous == NULL) {
        return NULL;
    }
    if (tracer_set(self->tracer, str_current_work, args[0]) < 0) {
        Py_DECREF(previous);
        return NULL;
    }
    PyObject *result = PyObject_Vectorcall(args[1], args + 2, nargs - 2, NULL);
    /* As the Python `finally`: restore whether it raised or not. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    int failed = tracer_set(self->tracer, str_current_work, previous) < 0;
    Py_DECREF(previous);
    if (failed) {
        if (type != NULL) {
            _PyErr_ChainExceptions(type, value, tb);
        }
        Py_XDECREF(result);
        return NULL;
    }
    PyErr_Restore(type, value, tb);
    if (result == NULL) {
        return NULL;
    }
    Py_DECREF(result);
    Py_RETURN_NONE;
}

static int runas_init(RunAsObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"tracer", NULL};
    PyObject *tracer;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &tracer)) {
        return -1;
    }
    Py_XSETREF(self->tracer, Py_NewRef(tracer));
    self->vectorcall = (vectorcallfunc)runas_vectorcall;
    return 0;
}

static int runas_traverse(RunAsObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->tracer);
    return 0;
}

static int runas_clear(RunAsObject *self) {
    Py_CLEAR(self->tracer);
    return 0;
}

static void runas_dealloc(RunAsObject *self) {
    PyObject_GC_UnTrack(self);
    runas_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject RunAsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.RunAs",
    .tp_basicsize = sizeof(RunAsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "TracedLoop._run_as(work, callback, *args).",
    .tp_vectorcall_offset = offsetof(RunAsObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_init = (initproc)runas_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)runas_dealloc,
    .tp_traverse = (traverseproc)runas_traverse,
    .tp_clear = (inquiry)runas_clear,
};

/* ---- CallSoon ------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *loop;
    PyObject *runner;
    PyObject *task_type;
    PyObject *handle_type;
    PyObject *ready; /* the loop's deque (never replaced) */
    PyObject *fallback; /* the Python call_soon, bound to the loop */
    PyObject *append; /* ready.append */
    PyObject *tracer;
    PyObject *run_as; /* a RunAs for the tracer */
    unsigned long loop_thread;
    vectorcallfunc vectorcall;
} SoonObject;

/* _is_internal_callback for a plain function: its module is asyncio's or the runtime's. */
static int internal_function(PyObject *fn) {
    static const char *prefixes[] = {"asyncio.", "_asyncio", "concurrent.futures",
                                     "lambda_trace.runtime."};
    PyObject *module = PyFunction_GET_MODULE(fn);
    if (module == NULL || !PyUnicode_Check(module)) {
        return -1; /* unusual: let Python decide */
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const char *p = prefixes[i];
        Py_ssize_t n = (Py_ssize_t)strlen(p);
        if (PyUnicode_GET_LENGTH(module) < n || !PyUnicode_IS_ASCII(module)) {
            continue;
        }
        if (memcmp(PyUnicode_DATA(module), p, n) == 0) {
            return 1;
        }
    }
    return PyUnicode_IS_ASCII(module) ? 0 : -1;
}

/* A Handle(callback, args, loop, context) appended to the ready queue. */
static PyObject *soon_append(SoonObject *self, PyObject *callback, PyObject *hargs,
                             PyObject *context) {
    PyObject *cargs[4] = {callback, hargs, self->loop, context};
    PyObject *handle = PyObject_Vectorcall(self->handle_type, cargs, 4, NULL);
    if (handle == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_Vectorcall(self->append, &handle, 1, NULL);
    if (r == NULL) {
        Py_DECREF(handle);
        return NULL;
    }
    Py_DECREF(r);
    return handle;
}

/* The loop's `_closed` as 0/1, or -1 with RuntimeError("Event loop is closed") or another error. */
static int soon_check_closed(SoonObject *self) {
    PyObject *closed = PyObject_GetAttr(self->loop, str_closed);
    if (closed == NULL) {
        return -1;
    }
    int is_closed = PyObject_IsTrue(closed);
    Py_DECREF(closed);
    if (is_closed > 0) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return is_closed;
}

/* call_soon(fn, task, context=...) of asyncio for a task that finished (a done-callback, e.g.
 * gather's): as the Python method, the task is marked listened and, on the loop thread with a
 * unit of work current, the callback runs as that work. NULL without an exception: not this
 * case, use the Python method. */
static PyObject *soon_internal(SoonObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *context) {
    PyObject *callback = args[0];
    if (self->run_as == Py_None || nargs < 2 || Py_TYPE(args[1]) != (PyTypeObject *)self->task_type
        || PyThread_get_thread_ident() != self->loop_thread || internal_function(callback) != 1) {
        return NULL;
    }
    PyObject *current = tracer_get(self->tracer, str_current_work);
    if (current == NULL) {
        PyErr_Clear(); /* the Python method raises it again */
        return NULL;
    }
    if (current == Py_None) {
        Py_DECREF(current);
        return NULL;
    }
    if (PyObject_SetAttr(args[1], str_lt_listened, Py_True) < 0) {
        Py_DECREF(current);
        return NULL;
    }
    if (soon_check_closed(self) < 0) {
        Py_DECREF(current);
        return NULL;
    }
    PyObject *hargs = PyTuple_New(nargs + 1);
    if (hargs == NULL) {
        Py_DECREF(current);
        return NULL;
    }
    PyTuple_SET_ITEM(hargs, 0, current); /* steals */
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(hargs, i + 1, Py_NewRef(args[i]));
    }
    PyObject *handle = soon_append(self, self->run_as, hargs, context);
    Py_DECREF(hargs);
    return handle;
}

static PyObject *soon_vectorcall(SoonObject *self, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
    }
    PyObject *context = Py_None;
    if (kwnames != NULL) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < nk; i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (PyUnicode_CompareWithASCIIString(k, "context") != 0) {
                return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
            }
            context = args[nargs + i];
        }
    }
    if (PyFunction_Check(args[0])) {
        /* No __self__: not a task step (looking it up would raise and catch AttributeError). */
        PyObject *handle = soon_internal(self, args, nargs, context);
        if (handle != NULL || PyErr_Occurred()) {
            return handle;
        }
        return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
    }
    PyObject *owner = PyObject_GetAttr(args[0], str_self);
    if (owner == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
    }
    if ((PyObject *)Py_TYPE(owner) != self->task_type) {
        Py_DECREF(owner);
        return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
    }
    /* A task step or wakeup: a Handle running it through the step runner. */
    if (soon_check_closed(self) < 0) {
        Py_DECREF(owner);
        return NULL;
    }
    PyObject *hargs = PyTuple_New(nargs + 1);
    if (hargs == NULL) {
        Py_DECREF(owner);
        return NULL;
    }
    PyTuple_SET_ITEM(hargs, 0, owner); /* steals */
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(hargs, i + 1, Py_NewRef(args[i]));
    }
    PyObject *handle = soon_append(self, self->runner, hargs, context);
    Py_DECREF(hargs);
    return handle;
}

static int soon_init(SoonObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"loop", "runner", "task_type", "handle_type", "ready", "fallback",
                             "tracer", "run_as", "loop_thread", NULL};
    PyObject *loop, *runner, *task_type, *handle_type, *ready, *fallback, *tracer = Py_None,
             *run_as = Py_None;
    unsigned long loop_thread = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO|$OOk", kwlist, &loop, &runner,
                                     &task_type, &handle_type, &ready, &fallback, &tracer,
                                     &run_as, &loop_thread)) {
        return -1;
    }
    Py_XSETREF(self->tracer, Py_NewRef(tracer));
    Py_XSETREF(self->run_as, Py_NewRef(run_as));
    self->loop_thread = loop_thread;
    PyObject *append = PyObject_GetAttrString(ready, "append");
    if (append == NULL) {
        return -1;
    }
    Py_XSETREF(self->append, append);
    Py_XSETREF(self->loop, Py_NewRef(loop));
    Py_XSETREF(self->runner, Py_NewRef(runner));
    Py_XSETREF(self->task_type, Py_NewRef(task_type));
    Py_XSETREF(self->handle_type, Py_NewRef(handle_type));
    Py_XSETREF(self->ready, Py_NewRef(ready));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    self->vectorcall = (vectorcallfunc)soon_vectorcall;
    return 0;
}

static int soon_traverse(SoonObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->loop);
    Py_VISIT(self->runner);
    Py_VISIT(self->task_type);
    Py_VISIT(self->handle_type);
    Py_VISIT(self->ready);
    Py_VISIT(self->fallback);
    Py_VISIT(self->append);
    Py_VISIT(self->tracer);
    Py_VISIT(self->run_as);
    return 0;
}

static int soon_clear(SoonObject *self) {
    Py_CLEAR(self->loop);
    Py_CLEAR(self->runner);
    Py_CLEAR(self->task_type);
    Py_CLEAR(self->handle_type);
    Py_CLEAR(self->ready);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->append);
    Py_CLEAR(self->tracer);
    Py_CLEAR(self->run_as);
    return 0;
}

static void soon_dealloc(SoonObject *self) {
    PyObject_GC_UnTrack(self);
    soon_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SoonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.CallSoon",
    .tp_basicsize = sizeof(SoonObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "TracedLoop.call_soon for task steps; other callbacks go to the Python method.",
    .tp_vectorcall_offset = offsetof(SoonObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_init = (initproc)soon_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)soon_dealloc,
    .tp_traverse = (traverseproc)soon_traverse,
    .tp_clear = (inquiry)soon_clear,
};

/* ---- WorkInfoBase --------------------------------------------------------------------------- */

/* Tracer.WorkInfo's fields as C members, so the task factory fills one without running __init__. */
typedef struct {
    PyObject_HEAD
    PyObject *site;
    PyObject *id;
    PyObject *type;
    PyObject *name;
    PyObject *created_in;
    PyObject *ref;
} WorkInfoObject;

static PyMemberDef workinfo_members[] = {
    {"site", T_OBJECT_EX, offsetof(WorkInfoObject, site), 0, NULL},
    {"id", T_OBJECT_EX, offsetof(WorkInfoObject, id), 0, NULL},
    {"type", T_OBJECT_EX, offsetof(WorkInfoObject, type), 0, NULL},
    {"name", T_OBJECT_EX, offsetof(WorkInfoObject, name), 0, NULL},
    {"created_in", T_OBJECT_EX, offsetof(WorkInfoObject, created_in), 0, NULL},
    {"ref", T_OBJECT_EX, offsetof(WorkInfoObject, ref), 0, NULL},
    {NULL},
};

static void workinfo_dealloc(WorkInfoObject *self) {
    Py_CLEAR(self->site);
    Py_CLEAR(self->id);
    Py_CLEAR(self->type);
    Py_CLEAR(self->name);
    Py_CLEAR(self->created_in);
    Py_CLEAR(self->ref);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject WorkInfoType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.WorkInfoBase",
    .tp_basicsize = sizeof(WorkInfoObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "WorkInfo's fields as C members (it holds ints, strs and bools: no GC).",
    .tp_members = workinfo_members,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)workinfo_dealloc,
};

/* ---- TaskFactory ---------------------------------------------------------------------------- */

/* TracedLoop._make_task for a coroutine of user code created on the loop thread with user frames
 * on the stack: the creation site comes from a cache keyed on the user frames' (code, offset)
 * pairs (plus the name), so the walk costs no Python and the JSON of name/site/stack is encoded
 * once per site. Anything else goes to the Python method, which writes the same bytes. */

#define MAX_DEPTH 8
#define SITE_SLOTS 4096 /* power of two; filled to 3/4 at most (creation sites, not tasks) */
#define KIND_SLOTS 1024

typedef struct {
    PyObject *name; /* NULL: empty slot */
    Py_hash_t hash;
    int n;
    PyObject *codes[MAX_DEPTH];
    int lastis[MAX_DEPTH];
    PyObject *site;
    PyObject *what;
} SiteEntry;

typedef struct {
    PyObject *code; /* NULL: empty slot; a strong reference, so the address stays its own */
    int kind;
} KindEntry;

typedef struct {
    PyObject_HEAD
    PyObject *loop;
    PyObject *tracer;
    CoreObject *core;
    PyObject *task_type;
    PyObject *fallback;  /* the Python _make_task, bound */
    PyObject *code_kind; /* tracer._code_kind */
    PyObject *site_what; /* tracer._site_what */
    PyObject *created_in_var;
    PyObject *work_info;
    unsigned long loop_thread;
    int depth;
    int fill_info; /* work_info is a WorkInfoBase adding no fields: filled in place */
    SiteEntry *sites;
    Py_ssize_t nsites;
    KindEntry *kinds;
    Py_ssize_t nkinds;
    vectorcallfunc vectorcall;
} FactoryObject;

static inline size_t ptr_hash(const void *p) {
    size_t h = (size_t)p;
    return (h >> 4) ^ (h >> 17);
}

/* 0 user code, 1 internal, 2 the runtime's own (Tracer._code_kind, remembered per code). */
static int factory_kind(FactoryObject *self, PyObject *code) {
    size_t mask = KIND_SLOTS - 1, i = ptr_hash(code) & mask;
    while (self->kinds[i].code != NULL) {
        if (self->kinds[i].code == code) {
            return self->kinds[i].kind;
        }
        i = (i + 1) & mask;
    }
    PyObject *r = PyObject_CallOneArg(self->code_kind, code);
    if (r == NULL) {
        return -1;
    }
    long kind = PyLong_AsLong(r);
    Py_DECREF(r);
    if (kind == -1 && PyErr_Occurred()) {
        return -1;
    }
    /* The call may have run a finalizer that created a task and filled slots: probe again. */
    i = ptr_hash(code) & mask;
    while (self->kinds[i].code != NULL && self->kinds[i].code != code) {
        i = (i + 1) & mask;
    }
    if (self->kinds[i].code == NULL && self->nkinds < KIND_SLOTS * 3 / 4) {
        self->kinds[i].code = Py_NewRef(code);
        self->kinds[i].kind = (int)kind;
        self->nkinds++;
    }
    return (int)kind;
}

static void factory_drop_caches(FactoryObject *self) {
    if (self->sites != NULL) {
        for (Py_ssize_t i = 0; i < SITE_SLOTS; i++) {
            SiteEntry *e = &self->sites[i];
            if (e->name == NULL) {
                continue;
            }
            Py_CLEAR(e->name);
            for (int k = 0; k < e->n; k++) {
                Py_CLEAR(e->codes[k]);
            }
            Py_CLEAR(e->site);
            Py_CLEAR(e->what);
        }
        self->nsites = 0;
    }
    if (self->kinds != NULL) {
        for (Py_ssize_t i = 0; i < KIND_SLOTS; i++) {
            Py_CLEAR(self->kinds[i].code);
        }
        self->nkinds = 0;
    }
}

static PyObject *factory_vectorcall(FactoryObject *self, PyObject *const *args, size_t nargsf,
                                    PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context = Py_None;
    if (nargs != 2 || self->depth > MAX_DEPTH || self->depth < 1 ||
        PyThread_get_thread_ident() != self->loop_thread) {
        goto fallback;
    }
    if (kwnames != NULL) {
        if (PyTuple_GET_SIZE(kwnames) != 1 ||
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "context") != 0) {
            goto fallback;
        }
        context = args[2];
    }
    PyObject *coro = args[1];
    /* Only what the fast path can write: a coroutine of user code with a plain str name, an int
     * or None as parent and created_in. Errors here are left for the Python method to raise. */
    PyObject *code = PyObject_GetAttr(coro, str_cr_code);
    if (code == NULL) {
        PyErr_Clear();
        goto fallback;
    }
    int kind = PyCode_Check(code) ? factory_kind(self, code) : 1;
    Py_DECREF(code);
    if (kind != 0) {
        PyErr_Clear();
        goto fallback;
    }
    PyObject *name = PyObject_GetAttr(coro, str_qualname);
    if (name == NULL) {
        PyErr_Clear();
        goto fallback;
    }
    if (!PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0) {
        Py_DECREF(name);
        goto fallback;
    }
    PyObject *parent = tracer_get(self->tracer, str_current_work);
    if (parent == NULL) {
        PyErr_Clear();
        Py_DECREF(name);
        goto fallback;
    }
    PyObject *created_in = NULL;
    if ((parent != Py_None && !PyLong_CheckExact(parent)) ||
        PyContextVar_Get(self->created_in_var, NULL, &created_in) < 0 || created_in == NULL ||
        (created_in != Py_None && !PyLong_CheckExact(created_in))) {
        PyErr_Clear();
        Py_XDECREF(created_in);
        Py_DECREF(parent);
        Py_DECREF(name);
        goto fallback;
    }
    PyObject *inv = tracer_inv(self->tracer);
    if (inv == NULL) {
        PyErr_Clear();
        Py_DECREF(created_in);
        Py_DECREF(parent);
        Py_DECREF(name);
        goto fallback;
    }

    /* The walk of Tracer.site_and_stack, keeping (code, offset) of the user frames. */
    PyFrameObject *start = PyEval_GetFrame(); /* borrowed: the caller, running */
    PyObject *codes[MAX_DEPTH];
    int lastis[MAX_DEPTH];
    int n = 0;
    int walk_failed = 0;
    PyFrameObject *f = (PyFrameObject *)Py_XNewRef(start);
    while (f != NULL && n < self->depth) {
        PyObject *fcode = (PyObject *)PyFrame_GetCode(f);
        int k = factory_kind(self, fcode);
        if (k < 0) {
            Py_DECREF(fcode);
            walk_failed = 1;
            break;
        }
        if (k == 0) {
            codes[n] = fcode; /* owned until the end of this call */
            lastis[n] = PyFrame_GetLasti(f);
            n++;
        } else {
            Py_DECREF(fcode);
            if (n > 0 || k == 2) {
                break; /* above the user's frames, or the runtime itself */
            }
        }
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
        if (back == NULL && PyErr_Occurred()) {
            walk_failed = 1;
        }
    }
    Py_XDECREF(f);
    PyObject *site = NULL, *what = NULL, *result = NULL;
    if (walk_failed || n == 0) {
        /* No user frame: the Python method looks at the parent's site. */
        PyErr_Clear();
        goto release_fallback;
    }

    Py_hash_t h = PyObject_Hash(name);
    if (h == -1) {
        PyErr_Clear();
        goto release_fallback;
    }
    size_t hh = (size_t)h;
    for (int k = 0; k < n; k++) {
        hh = (hh ^ ptr_hash(codes[k])) * 1000003u;
        hh = (hh ^ (size_t)lastis[k]) * 1000003u;
    }
    size_t mask = SITE_SLOTS - 1, i = hh & mask;
    SiteEntry *e;
    for (;; i = (i + 1) & mask) {
        e = &self->sites[i];
        if (e->name == NULL) {
            break;
        }
        if (e->hash != (Py_hash_t)hh || e->n != n) {
            continue;
        }
        int same = 1;
        for (int k = 0; k < n && same; k++) {
            same = e->codes[k] == codes[k] && e->lastis[k] == lastis[k];
        }
        if (same && e->name != name) {
            int eq = PyUnicode_Compare(e->name, name);
            if (eq == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                same = 0;
            } else {
                same = eq == 0;
            }
        }
        if (same) {
            site = Py_NewRef(e->site);
            what = Py_NewRef(e->what);
            break;
        }
    }
    if (site == NULL) {
        PyObject *sargs[3] = {str_task, name, (PyObject *)start};
        PyObject *pair = PyObject_Vectorcall(self->site_what, sargs, 3, NULL);
        if (pair == NULL) {
            goto release; /* as the Python method would raise it */
        }
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(pair, 0)) ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 1))) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_TypeError, "_site_what must return (str, bytes)");
            goto release;
        }
        site = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
        what = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
        Py_DECREF(pair);
        if (self->nsites < SITE_SLOTS * 3 / 4 && e->name == NULL) {
            /* e is the empty slot the probe ended on (still empty: the Python call above cannot
             * reach this factory, but an entry is never overwritten whatever happens). */
            e->name = Py_NewRef(name);
            e->hash = (Py_hash_t)hh;
            e->n = n;
            for (int k = 0; k < n; k++) {
                e->codes[k] = Py_NewRef(codes[k]);
                e->lastis[k] = lastis[k];
            }
            e->site = Py_NewRef(site);
            e->what = Py_NewRef(what);
            self->nsites++;
        }
    }

    /* Tracer.create: id, live[id] = WorkInfo(...), the work.create line. */
    {
        CoreObject *core = self->core;
        /* parent and created_in beyond 64 bits: Python writes them; checked before any effect. */
        long long parent_v = parent == Py_None ? 0 : PyLong_AsLongLong(parent);
        long long created_v = created_in == Py_None ? 0 : PyLong_AsLongLong(created_in);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            Py_CLEAR(site);
            Py_CLEAR(what);
            goto release_fallback;
        }
        long long work = core->next_id++;
        PyObject *work_obj = PyLong_FromLongLong(work);
        if (work_obj == NULL) {
            goto release;
        }
        PyObject *info;
        if (self->fill_info) {
            /* WorkInfo(work, "task", name, created_in, True, site) without its __init__. */
            PyTypeObject *tp = (PyTypeObject *)self->work_info;
            info = tp->tp_alloc(tp, 0);
            if (info != NULL) {
                WorkInfoObject *wi = (WorkInfoObject *)info;
                wi->site = Py_NewRef(site);
                wi->id = Py_NewRef(work_obj);
                wi->type = Py_NewRef(str_task);
                wi->name = Py_NewRef(name);
                wi->created_in = Py_NewRef(created_in);
                wi->ref = Py_NewRef(Py_True);
            }
        } else {
            PyObject *iargs[6] = {work_obj, str_task, name, created_in, Py_True, site};
            info = PyObject_Vectorcall(self->work_info, iargs, 6, NULL);
        }
        if (info == NULL) {
            Py_DECREF(work_obj);
            goto release;
        }
        PyObject *live = tracer_get(self->tracer, str_live);
        int r = live == NULL ? -1 : PyObject_SetItem(live, work_obj, info);
        Py_XDECREF(live);
        Py_DECREF(info);
        if (r < 0) {
            Py_DECREF(work_obj);
            goto release;
        }
        if (!core->stopped) {
            if (core_ready(core) < 0) {
                Py_DECREF(work_obj);
                goto release;
            }
            Py_ssize_t wn = PyBytes_GET_SIZE(what), in = PyBytes_GET_SIZE(inv);
            if (core_reserve(core, LIT_LEN("{\"seq\":,\"ts\":,\"kind\":\"work.create\",\"inv\":,"
                                           "\"work\":,\"parent\":,,\"created_in\":}\n") +
                                       5 * LL_CHARS + wn + in) < 0) {
                Py_DECREF(work_obj);
                goto release;
            }
            long long seq, now;
            core_stamp(core, clock_now(core->clock), &seq, &now);
            char *p = core->buf + core->len;
            p = PUT_LIT(p, "{\"seq\":");
            p = put_ll(p, seq);
            p = PUT_LIT(p, ",\"ts\":");
            p = put_ll(p, now);
            p = PUT_LIT(p, ",\"kind\":\"work.create\",\"inv\":");
            p = put(p, PyBytes_AS_STRING(inv), in);
            p = PUT_LIT(p, ",\"work\":");
            p = put_ll(p, work);
            p = PUT_LIT(p, ",\"parent\":");
            if (parent == Py_None) {
                p = PUT_LIT(p, "null");
            } else {
                p = put_ll(p, parent_v);
            }
            *p++ = ',';
            p = put(p, PyBytes_AS_STRING(what), wn);
            p = PUT_LIT(p, ",\"created_in\":");
            if (created_in == Py_None) {
                p = PUT_LIT(p, "null");
            } else {
                p = put_ll(p, created_v);
            }
            p = PUT_LIT(p, "}\n");
            core->len = p - core->buf;
            if (core_after_append(core) < 0) {
                Py_DECREF(work_obj);
                goto release;
            }
        }
        /* TracedTask(coro, loop=loop, context=context); its first step reads _lt_work only when
         * it runs. */
        PyObject *targs[3] = {coro, self->loop, context};
        PyObject *task = PyObject_Vectorcall(self->task_type, targs, 1, kw_loop_context);
        if (task == NULL) {
            Py_DECREF(work_obj);
            goto release;
        }
        r = PyObject_SetAttr(task, str_lt_work, work_obj);
        Py_DECREF(work_obj);
        if (r < 0) {
            Py_DECREF(task);
            goto release;
        }
        result = task;
    }
release:
    for (int k = 0; k < n; k++) {
        Py_DECREF(codes[k]);
    }
    Py_XDECREF(site);
    Py_XDECREF(what);
    Py_DECREF(inv);
    Py_DECREF(created_in);
    Py_DECREF(parent);
    Py_DECREF(name);
    return result;
release_fallback:
    for (int k = 0; k < n; k++) {
        Py_DECREF(codes[k]);
    }
    Py_DECREF(inv);
    Py_DECREF(created_in);
    Py_DECREF(parent);
    Py_DECREF(name);
fallback:
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static int factory_init(FactoryObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"loop", "tracer", "core", "task_type", "fallback", "created_in_var",
                             "work_info", "loop_thread", "depth", NULL};
    PyObject *loop, *tracer, *core, *task_type, *fallback, *var, *work_info;
    unsigned long loop_thread;
    int depth;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!OOO!Oki", kwlist, &loop, &tracer,
                                     &CoreType, &core, &task_type, &fallback,
                                     &PyContextVar_Type, &var, &work_info, &loop_thread,
                                     &depth)) {
        return -1;
    }
    PyObject *code_kind = PyObject_GetAttrString(tracer, "_code_kind");
    if (code_kind == NULL) {
        return -1;
    }
    PyObject *site_what = PyObject_GetAttrString(tracer, "_site_what");
    if (site_what == NULL) {
        Py_DECREF(code_kind);
        return -1;
    }
    factory_drop_caches(self);
    if (self->sites == NULL || self->kinds == NULL) {
        if (self->sites == NULL) {
            self->sites = PyMem_Calloc(SITE_SLOTS, sizeof(SiteEntry));
        }
        if (self->kinds == NULL) {
            self->kinds = PyMem_Calloc(KIND_SLOTS, sizeof(KindEntry));
        }
        if (self->sites == NULL || self->kinds == NULL) {
            Py_DECREF(code_kind);
            Py_DECREF(site_what);
            PyErr_NoMemory();
            return -1;
        }
    }
    Py_XSETREF(self->code_kind, code_kind);
    Py_XSETREF(self->site_what, site_what);
    Py_XSETREF(self->loop, Py_NewRef(loop));
    Py_XSETREF(self->tracer, Py_NewRef(tracer));
    Py_XSETREF(self->core, (CoreObject *)Py_NewRef(core));
    Py_XSETREF(self->task_type, Py_NewRef(task_type));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    Py_XSETREF(self->created_in_var, Py_NewRef(var));
    Py_XSETREF(self->work_info, Py_NewRef(work_info));
    self->loop_thread = loop_thread;
    self->depth = depth;
    /* Its __init__ only stores the six fields (tracer.WorkInfo), so filling them is the same. */
    self->fill_info =
        PyType_Check(work_info) && PyType_IsSubtype((PyTypeObject *)work_info, &WorkInfoType) &&
        ((PyTypeObject *)work_info)->tp_basicsize == (Py_ssize_t)sizeof(WorkInfoObject);
    self->vectorcall = (vectorcallfunc)factory_vectorcall;
    return 0;
}

static int factory_traverse(FactoryObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->loop);
    Py_VISIT(self->tracer);
    Py_VISIT(self->core);
    Py_VISIT(self->task_type);
    Py_VISIT(self->fallback);
    Py_VISIT(self->code_kind);
    Py_VISIT(self->site_what);
    Py_VISIT(self->created_in_var);
    Py_VISIT(self->work_info);
    if (self->sites != NULL) {
        for (Py_ssize_t i = 0; i < SITE_SLOTS; i++) {
            SiteEntry *e = &self->sites[i];
            if (e->name != NULL) {
                for (int k = 0; k < e->n; k++) {
                    Py_VISIT(e->codes[k]);
                }
            }
        }
    }
    if (self->kinds != NULL) {
        for (Py_ssize_t i = 0; i < KIND_SLOTS; i++) {
            Py_VISIT(self->kinds[i].code);
        }
    }
    return 0;
}

static int factory_clear(FactoryObject *self) {
    factory_drop_caches(self);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->tracer);
    Py_CLEAR(self->core);
    Py_CLEAR(self->task_type);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->code_kind);
    Py_CLEAR(self->site_what);
    Py_CLEAR(self->created_in_var);
    Py_CLEAR(self->work_info);
    return 0;
}

static void factory_dealloc(FactoryObject *self) {
    PyObject_GC_UnTrack(self);
    factory_clear(self);
    PyMem_Free(self->sites);
    PyMem_Free(self->kinds);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject FactoryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lambda_trace.runtime._fastrec.TaskFactory",
    .tp_basicsize = sizeof(FactoryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "TracedLoop._make_task for user coroutines on the loop thread.",
    .tp_vectorcall_offset = offsetof(FactoryObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_init = (initproc)factory_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)factory_dealloc,
    .tp_traverse = (traverseproc)factory_traverse,
    .tp_clear = (inquiry)factory_clear,
};

/* ---- module --------------------------------------------------------------------------------- */

static struct PyModuleDef fastrec_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lambda_trace.runtime._fastrec",
    .m_doc = "C paths of the recorder (optional: the pure-Python paths write the same bytes).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fastrec(void) {
    if (PyType_Ready(&ClockType) < 0 || PyType_Ready(&CoreType) < 0 ||
        PyType_Ready(&RunnerType) < 0 || PyType_Ready(&SoonType) < 0 ||
        PyType_Ready(&RunAsType) < 0 || PyType_Ready(&FactoryType) < 0 ||
        PyType_Ready(&WorkInfoType) < 0) {
        return NULL;
    }
#define INTERN(var, s)                                                                            \
    if ((var = PyUnicode_InternFromString(s)) == NULL) return NULL;
    INTERN(str_lt_work, "_lt_work");
    INTERN(str_current_work, "current_work");
    INTERN(str_inv_b, "inv_b");
    INTERN(str_done, "done");
    INTERN(str_self, "__self__");
    INTERN(str_closed, "_closed");
    INTERN(str_cancelled, "cancelled");
    INTERN(str_exception, "_exception");
    INTERN(str_live, "live");
    INTERN(str_lt_listened, "_lt_listened");
    INTERN(str_cr_code, "cr_code");
    INTERN(str_qualname, "__qualname__");
    INTERN(str_task, "task");
    if ((kw_loop_context = Py_BuildValue("(ss)", "loop", "context")) == NULL) return NULL;
#undef INTERN
    PyObject *m = PyModule_Create(&fastrec_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "ClockBase", (PyObject *)&ClockType) < 0 ||
        PyModule_AddObjectRef(m, "Core", (PyObject *)&CoreType) < 0 ||
        PyModule_AddObjectRef(m, "StepRunner", (PyObject *)&RunnerType) < 0 ||
        PyModule_AddObjectRef(m, "CallSoon", (PyObject *)&SoonType) < 0 ||
        PyModule_AddObjectRef(m, "RunAs", (PyObject *)&RunAsType) < 0 ||
        PyModule_AddObjectRef(m, "TaskFactory", (PyObject *)&FactoryType) < 0 ||
        PyModule_AddObjectRef(m, "WorkInfoBase", (PyObject *)&WorkInfoType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

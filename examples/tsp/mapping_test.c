/*
 * The TSP shim's portable part (tsp_core) against the simulator, with this program
 * playing TAPI: it opens the lines, makes the TSPI calls, receives LINEEVENT and
 * ASYNC_COMPLETION, and checks what a TSP owes TAPI on every message:
 *   - a completion for every request that was accepted, exactly once, and none for a
 *     refused one; never two calls into "TAPI" at once;
 *   - LINE_NEWCALL before any other message of a call TAPI did not make;
 *   - nothing about a call made by lineMakeCall/linePickup before its completion, and
 *     nothing at all if that completion failed;
 *   - nothing about a call after TAPI closed it, nothing about a line not open.
 * and then the message sequences of each scenario (see main).
 *
 * Usage: mapping_test URL   (URL with reconnect_ms=3000; the simulator's phones 100-109,
 * 102 talking to 103 before the start). It prints a line at each step where the driver
 * (tests/tests/tsp.rs) acts on the simulator, and waits for its go-ahead:
 *   DTMF          the driver checks that the digits 12# 100 dialed reached 101
 *   CALL a b      the driver makes phone a call phone b
 *   DROP          the driver drops every AMI connection
 * and "done" at the end. With TSP_DUMP_ALL set it prints every TAPI message it got at
 * the end (on stderr).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsp_core.h"

#define FAIL(...)                                                  \
    do {                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                              \
        fprintf(stderr, "\n");                                     \
        dump_log();                                                \
        exit(1);                                                   \
    } while (0)
#define CHECK(cond)                                                \
    do {                                                           \
        if (!(cond)) FAIL("check failed: %s", #cond);              \
    } while (0)
#define CHECK_EQ(got, want)                                                              \
    do {                                                                                 \
        long long g_ = (long long)(got), w_ = (long long)(want);                         \
        if (g_ != w_) FAIL("%s is %lld (0x%llx), want %lld (0x%llx)", #got, g_,          \
                           (unsigned long long)g_, w_, (unsigned long long)w_);          \
    } while (0)

enum { NLINES = 10, BASE = 1000, WAIT_MS = 15000 };
#define HT_LINE(i) ((uintptr_t)0x1000u + (uintptr_t)(i))

/* ---- the fake TAPI ------------------------------------------------------------ */

/* A TAPI call: one line's view of a PBX call, as TAPI holds it. */
typedef struct {
    bool used;
    bool made;      /* by lineMakeCall/linePickup: it waits for its completion */
    bool closed;    /* lineCloseCall done */
    int line;
    uintptr_t ht;
    uint32_t hd;
    uint32_t req;
    uint32_t states[48];
    uint32_t modes[48];
    int nstates;
    uint32_t info_flags; /* LINECALLINFOSTATE_* seen */
    int newcall_at;      /* log index of its LINE_NEWCALL (-1: made by TAPI) */
    int first_state_at;
} tcall_t;

typedef struct {
    bool issued;
    bool completed;
    int32_t result;
    int at; /* log index */
} treq_t;

typedef struct {
    bool completion;
    int line;
    uintptr_t ht;
    uint32_t msg;
    uintptr_t p1, p2, p3;
    uint32_t req;
    int32_t result;
} entry_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    pthread_mutex_t busy; /* held during each call into "TAPI": a second one fails */
    bool open[NLINES];
    char ext[NLINES][TSP_EXT_MAX];
    tcall_t calls[512];
    treq_t reqs[256];
    entry_t log[8192];
    int nlog;
    uintptr_t next_ht;
    uint32_t next_req;
} T;

static pthread_mutex_t core_locks[2];
static tsp_core *core;

/* The platform's work items (tsp_core_run_deferred), each a thread, joined at the end. */
static struct {
    pthread_mutex_t mu;
    pthread_t threads[64];
    int n;
} W = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static void dump_log(void) {
    int from = getenv("TSP_DUMP_ALL") ? 0 : T.nlog > 60 ? T.nlog - 60 : 0;
    fprintf(stderr, "last TAPI messages:\n");
    for (int i = from; i < T.nlog; i++) {
        entry_t *e = &T.log[i];
        if (e->completion)
            fprintf(stderr, "  %4d completion req=%u result=0x%x\n", i, e->req, (unsigned)e->result);
        else
            fprintf(stderr, "  %4d line=%s ht=%#lx msg=%u p1=%#lx p2=%#lx p3=%#lx\n", i,
                    e->line >= 0 ? T.ext[e->line] : "?", (unsigned long)e->ht, e->msg,
                    (unsigned long)e->p1, (unsigned long)e->p2, (unsigned long)e->p3);
    }
}

static void plat_lock(void *ctx, int which) {
    (void)ctx;
    pthread_mutex_lock(&core_locks[which]);
}

static void plat_unlock(void *ctx, int which) {
    (void)ctx;
    pthread_mutex_unlock(&core_locks[which]);
}

static tcall_t *call_by_ht(uintptr_t ht) {
    for (size_t i = 0; i < sizeof T.calls / sizeof T.calls[0]; i++)
        if (T.calls[i].used && T.calls[i].ht == ht) return &T.calls[i];
    return NULL;
}

static tcall_t *new_tcall(int line) {
    for (size_t i = 0; i < sizeof T.calls / sizeof T.calls[0]; i++) {
        tcall_t *c = &T.calls[i];
        if (c->used) continue;
        memset(c, 0, sizeof *c);
        c->used = true;
        c->line = line;
        c->ht = T.next_ht++;
        c->newcall_at = c->first_state_at = -1;
        return c;
    }
    FAIL("too many TAPI calls");
}

static entry_t *log_add(void) {
    if (T.nlog == (int)(sizeof T.log / sizeof T.log[0])) FAIL("log full");
    entry_t *e = &T.log[T.nlog++];
    memset(e, 0, sizeof *e);
    return e;
}

static void enter_tapi(void) {
    if (pthread_mutex_trylock(&T.busy) != 0) FAIL("two calls into TAPI at once");
}

static void plat_line_event(void *ctx, uintptr_t ht_line, uintptr_t ht_call, uint32_t msg,
                            uintptr_t p1, uintptr_t p2, uintptr_t p3) {
    (void)ctx;
    enter_tapi();
    pthread_mutex_lock(&T.mu);
    int line = (int)(ht_line - HT_LINE(0));
    if (ht_line < HT_LINE(0) || line >= NLINES || !T.open[line]) FAIL("message %u for a line not open (%#lx)", msg, (unsigned long)ht_line);
    entry_t *e = log_add();
    e->line = line;
    e->ht = ht_call;
    e->msg = msg;
    e->p1 = p1;
    e->p2 = p2;
    e->p3 = p3;
    if (msg == TSP_LINE_NEWCALL) {
        CHECK(ht_call == 0 && p1 != 0 && p2 != 0);
        for (size_t i = 0; i < sizeof T.calls / sizeof T.calls[0]; i++)
            if (T.calls[i].used && !T.calls[i].closed && T.calls[i].hd == (uint32_t)p1)
                FAIL("LINE_NEWCALL with the handle of a call TAPI holds");
        tcall_t *c = new_tcall(line);
        c->hd = (uint32_t)p1;
        c->newcall_at = T.nlog - 1;
        *(uintptr_t *)p2 = c->ht;
        e->ht = c->ht;
    } else if (msg == TSP_LINE_CALLSTATE || msg == TSP_LINE_CALLINFO) {
        tcall_t *c = call_by_ht(ht_call);
        if (!c) FAIL("message %u for a call TAPI does not know (%#lx)", msg, (unsigned long)ht_call);
        if (c->closed) FAIL("message %u for a call TAPI closed", msg);
        if (c->line != line) FAIL("message for a call of another line");
        if (c->made) {
            treq_t *r = &T.reqs[c->req];
            if (!r->completed) FAIL("message %u of a made call before its completion", msg);
            if (r->result != 0) FAIL("message %u of a call whose creation failed", msg);
        }
        if (msg == TSP_LINE_CALLSTATE) {
            if (c->nstates == 48) FAIL("too many states");
            if (c->nstates == 0) {
                c->first_state_at = T.nlog - 1;
                /* The first state carries the media mode. */
                CHECK_EQ(p3, TSP_LINEMEDIAMODE_INTERACTIVEVOICE);
            }
            if (c->nstates && c->states[c->nstates - 1] == TSP_LINECALLSTATE_IDLE)
                FAIL("a state after IDLE");
            c->states[c->nstates] = (uint32_t)p1;
            c->modes[c->nstates++] = (uint32_t)p2;
        } else {
            c->info_flags |= (uint32_t)p1;
        }
    } else if (msg == TSP_LINE_LINEDEVSTATE || msg == TSP_LINE_ADDRESSSTATE) {
        CHECK(ht_call == 0);
    } else {
        FAIL("unexpected message %u", msg);
    }
    pthread_cond_broadcast(&T.changed);
    pthread_mutex_unlock(&T.mu);
    pthread_mutex_unlock(&T.busy);
}

static void plat_completion(void *ctx, uint32_t request_id, int32_t result) {
    (void)ctx;
    enter_tapi();
    pthread_mutex_lock(&T.mu);
    if (request_id >= sizeof T.reqs / sizeof T.reqs[0] || !T.reqs[request_id].issued)
        FAIL("completion of request %u that was never accepted", request_id);
    treq_t *r = &T.reqs[request_id];
    if (r->completed) FAIL("request %u completed twice", request_id);
    entry_t *e = log_add();
    e->completion = true;
    e->line = -1;
    e->req = request_id;
    e->result = result;
    r->completed = true;
    r->result = result;
    r->at = T.nlog - 1;
    pthread_cond_broadcast(&T.changed);
    pthread_mutex_unlock(&T.mu);
    pthread_mutex_unlock(&T.busy);
}

static void *deferred_work(void *arg) {
    (void)arg;
    tsp_core_run_deferred(core);
    return NULL;
}

/* Called with the core's STATE held: only starts the thread. */
static void plat_defer(void *ctx) {
    (void)ctx;
    pthread_mutex_lock(&W.mu);
    if (W.n == (int)(sizeof W.threads / sizeof W.threads[0])) FAIL("too many work items");
    if (pthread_create(&W.threads[W.n++], NULL, deferred_work, NULL) != 0) FAIL("pthread_create");
    pthread_mutex_unlock(&W.mu);
}

static void join_work(void) {
    pthread_mutex_lock(&W.mu);
    for (int i = 0; i < W.n; i++) pthread_join(W.threads[i], NULL);
    W.n = 0;
    pthread_mutex_unlock(&W.mu);
}

/* ---- waiting ----------------------------------------------------------------- */

static struct timespec deadline(int ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits (T.mu held) for the next change; fails after the deadline. */
static void wait_change(const struct timespec *until, const char *what) {
    if (pthread_cond_timedwait(&T.changed, &T.mu, until) != 0) FAIL("timed out waiting for %s", what);
}

static int line_of(const char *ext) {
    for (int i = 0; i < NLINES; i++)
        if (strcmp(T.ext[i], ext) == 0) return i;
    FAIL("no line %s", ext);
}

/* The next call announced on a line (LINE_NEWCALL at or after log index `from`). */
static tcall_t *wait_newcall(const char *ext, int from) {
    int line = line_of(ext);
    struct timespec until = deadline(WAIT_MS);
    pthread_mutex_lock(&T.mu);
    for (;;) {
        for (int i = from; i < T.nlog; i++)
            if (!T.log[i].completion && T.log[i].msg == TSP_LINE_NEWCALL && T.log[i].line == line) {
                tcall_t *c = call_by_ht(T.log[i].ht);
                pthread_mutex_unlock(&T.mu);
                return c;
            }
        wait_change(&until, "LINE_NEWCALL");
    }
}

static uint32_t last_state(const tcall_t *c) { return c->nstates ? c->states[c->nstates - 1] : 0; }

static void wait_state(tcall_t *c, uint32_t state) {
    struct timespec until = deadline(WAIT_MS);
    pthread_mutex_lock(&T.mu);
    while (last_state(c) != state) {
        char what[96];
        snprintf(what, sizeof what, "state %#x on line %s", state, T.ext[c->line]);
        wait_change(&until, what);
    }
    pthread_mutex_unlock(&T.mu);
}

static bool had_state(const tcall_t *c, uint32_t state) {
    for (int i = 0; i < c->nstates; i++)
        if (c->states[i] == state) return true;
    return false;
}

static int log_len(void) {
    pthread_mutex_lock(&T.mu);
    int n = T.nlog;
    pthread_mutex_unlock(&T.mu);
    return n;
}

/* Waits for a line message (LINEDEVSTATE/ADDRESSSTATE) with p1/p2 at or after `from`;
 * returns its log index. */
static int wait_line_msg(const char *ext, uint32_t msg, uintptr_t p1, uintptr_t p2, int from) {
    int line = line_of(ext);
    struct timespec until = deadline(WAIT_MS);
    pthread_mutex_lock(&T.mu);
    for (;;) {
        for (int i = from; i < T.nlog; i++) {
            entry_t *e = &T.log[i];
            if (!e->completion && e->line == line && e->msg == msg && e->p1 == p1 && e->p2 == p2) {
                pthread_mutex_unlock(&T.mu);
                return i;
            }
        }
        wait_change(&until, "a line message");
    }
}

/* ---- requests ---------------------------------------------------------------- */

static uint32_t req_begin(void) {
    pthread_mutex_lock(&T.mu);
    uint32_t id = T.next_req++;
    if (id >= sizeof T.reqs / sizeof T.reqs[0]) FAIL("too many requests");
    /* Registered first: a completion may come before the TSPI function returns. */
    T.reqs[id].issued = true;
    pthread_mutex_unlock(&T.mu);
    return id;
}

/* The function refused the request: no completion may ever come for it. */
static void req_refused(uint32_t id) {
    pthread_mutex_lock(&T.mu);
    CHECK(!T.reqs[id].completed);
    T.reqs[id].issued = false;
    pthread_mutex_unlock(&T.mu);
}

static int32_t wait_completion(uint32_t id) {
    struct timespec until = deadline(WAIT_MS);
    pthread_mutex_lock(&T.mu);
    while (!T.reqs[id].completed) wait_change(&until, "a completion");
    int32_t r = T.reqs[id].result;
    pthread_mutex_unlock(&T.mu);
    return r;
}

/* ---- TSPI calls as TAPI makes them ---------------------------------------------- */

static uint32_t hd_line[NLINES];

static uint32_t hd_of(const char *ext) { return hd_line[line_of(ext)]; }

/* lineMakeCall: TAPI names the call first and gets the provider's handle back. */
static tcall_t *make_call(const char *from, const char *to, uint32_t *req_out) {
    pthread_mutex_lock(&T.mu);
    tcall_t *c = new_tcall(line_of(from));
    c->made = true;
    pthread_mutex_unlock(&T.mu);
    uint32_t req = req_begin();
    c->req = req;
    uint32_t hd = 0;
    int32_t r = tsp_core_make_call(core, req, hd_of(from), c->ht, to, &hd);
    if (r != 0) FAIL("lineMakeCall %s -> %s: %#x", from, to, (unsigned)r);
    CHECK(hd != 0);
    c->hd = hd;
    *req_out = req;
    return c;
}

typedef int32_t (*call_fn)(tsp_core *, uint32_t, uint32_t);

/* An asynchronous function on a call; returns its completion's result. */
static int32_t on_call(call_fn f, tcall_t *c) {
    uint32_t req = req_begin();
    int32_t r = f(core, req, c->hd);
    if (r != 0) {
        req_refused(req);
        return r;
    }
    return wait_completion(req);
}

static int32_t on_call_to(int32_t (*f)(tsp_core *, uint32_t, uint32_t, const char *), tcall_t *c,
                          const char *to) {
    uint32_t req = req_begin();
    int32_t r = f(core, req, c->hd, to);
    if (r != 0) {
        req_refused(req);
        return r;
    }
    return wait_completion(req);
}

/* lineCloseCall of every call that is IDLE, as TAPI does once applications let go. */
static void close_idle_calls(void) {
    pthread_mutex_lock(&T.mu);
    for (size_t i = 0; i < sizeof T.calls / sizeof T.calls[0]; i++) {
        tcall_t *c = &T.calls[i];
        if (!c->used || c->closed || last_state(c) != TSP_LINECALLSTATE_IDLE) continue;
        c->closed = true;
        pthread_mutex_unlock(&T.mu);
        CHECK_EQ(tsp_core_close_call(core, c->hd), 0);
        /* The handle is dead now. */
        CHECK_EQ(tsp_core_close_call(core, c->hd), TSP_LINEERR_INVALCALLHANDLE);
        pthread_mutex_lock(&T.mu);
    }
    pthread_mutex_unlock(&T.mu);
}

/* Waits until no call but `keep` is active on any line, then closes the idle ones. */
static void settle(const tcall_t *keep1, const tcall_t *keep2) {
    struct timespec until = deadline(WAIT_MS);
    pthread_mutex_lock(&T.mu);
    for (;;) {
        bool busy = false;
        for (size_t i = 0; i < sizeof T.calls / sizeof T.calls[0]; i++) {
            tcall_t *c = &T.calls[i];
            if (!c->used || c->closed || c == keep1 || c == keep2) continue;
            if (c->made && T.reqs[c->req].completed && T.reqs[c->req].result != 0) continue;
            if (last_state(c) != TSP_LINECALLSTATE_IDLE) busy = true;
        }
        if (!busy) break;
        wait_change(&until, "every call to end");
    }
    pthread_mutex_unlock(&T.mu);
    close_idle_calls();
}

static void step(const char *what) {
    char line[64];
    printf("%s\n", what);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) FAIL("the driver went away at %s", what);
}

static void expect_states(const tcall_t *c, const uint32_t *want, int n) {
    bool same = c->nstates == n;
    for (int i = 0; same && i < n; i++) same = c->states[i] == want[i];
    if (same) return;
    fprintf(stderr, "line %s: states", T.ext[c->line]);
    for (int i = 0; i < c->nstates; i++) fprintf(stderr, " %#x", c->states[i]);
    fprintf(stderr, ", want");
    for (int i = 0; i < n; i++) fprintf(stderr, " %#x", want[i]);
    FAIL("wrong state sequence");
}

static void expect_normal_clearing(const tcall_t *c) {
    for (int i = 0; i < c->nstates; i++)
        if (c->states[i] == TSP_LINECALLSTATE_DISCONNECTED) CHECK_EQ(c->modes[i], TSP_LINEDISCONNECTMODE_NORMAL);
    CHECK(c->nstates >= 2 && c->states[c->nstates - 2] != TSP_LINECALLSTATE_BUSY);
}

static tsp_call_info info_of(const tcall_t *c) {
    tsp_call_info ci;
    CHECK_EQ(tsp_core_call_info(core, c->hd, &ci), 0);
    return ci;
}

/* ---- the parts that need no PBX ------------------------------------------------- */

static void pure_functions(void) {
    uint32_t v = 0;
    CHECK_EQ(tsp_negotiate_version(0x00010003, 0x00030001, &v), 0);
    CHECK_EQ(v, 0x00020002);
    CHECK_EQ(tsp_negotiate_version(0x00020000, 0x00020001, &v), 0);
    CHECK_EQ(v, 0x00020001);
    CHECK_EQ(tsp_negotiate_version(0x00010003, 0x00010004, &v), TSP_LINEERR_INCOMPATIBLEAPIVERSION);
    CHECK_EQ(tsp_negotiate_version(0x00030000, 0x00030001, &v), TSP_LINEERR_INCOMPATIBLEAPIVERSION);

    char out[TSP_ADDRESS_MAX];
    CHECK(tsp_normalize_address("T0,30 123-456", out, sizeof out) && strcmp(out, "030123456") == 0);
    CHECK(tsp_normalize_address("+49 (30) 1234|55^Bob", out, sizeof out) && strcmp(out, "+49301234") == 0);
    CHECK(tsp_normalize_address("9W5551234", out, sizeof out) && strcmp(out, "95551234") == 0);
    CHECK(tsp_normalize_address("paul.smith", out, sizeof out) && strcmp(out, "paul.smith") == 0);
    CHECK(tsp_normalize_address("*8#", out, sizeof out) && strcmp(out, "*8#") == 0);
    CHECK(!tsp_normalize_address("  ", out, sizeof out));
    CHECK(!tsp_normalize_address("12345", out, 3));

    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_OK, false), 0);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_INVALID_ARGUMENT, true), TSP_LINEERR_INVALADDRESS);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_INVALID_ARGUMENT, false), TSP_LINEERR_INVALPARAM);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_UNKNOWN_CALL, false), TSP_LINEERR_INVALCALLHANDLE);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_NOT_ALLOWED, false), TSP_LINEERR_INVALCALLSTATE);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_UNSUPPORTED, false), TSP_LINEERR_OPERATIONUNAVAIL);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_LINK_DOWN, false), TSP_LINEERR_RESOURCEUNAVAIL);
    CHECK_EQ(tsp_lineerr(CTILINK_RESULT_PBX_REFUSED, false), TSP_LINEERR_OPERATIONFAILED);
    CHECK_EQ(tsp_lineerr((ctilink_result)555, false), TSP_LINEERR_OPERATIONFAILED);

    CHECK_EQ(tsp_permanent_line_id("100"), tsp_permanent_line_id("100"));
    CHECK(tsp_permanent_line_id("100") != tsp_permanent_line_id("101"));
}

/* ---- scenarios --------------------------------------------------------------- */

static tcall_t *existing102, *existing103;

/* The lines open while 102 talks to 103: both lines announce the call, connected. */
static void open_lines(void) {
    CHECK_EQ(tsp_core_line_count(core), NLINES);
    tsp_core_set_device_id_base(core, BASE);
    char ext[TSP_EXT_MAX];
    CHECK_EQ(tsp_core_line_ext(core, BASE - 1, ext, sizeof ext), TSP_LINEERR_BADDEVICEID);
    CHECK_EQ(tsp_core_line_ext(core, BASE + NLINES, ext, sizeof ext), TSP_LINEERR_BADDEVICEID);
    for (int i = 0; i < NLINES; i++) {
        CHECK_EQ(tsp_core_line_ext(core, BASE + (uint32_t)i, T.ext[i], TSP_EXT_MAX), 0);
        char want[8];
        snprintf(want, sizeof want, "%d", 100 + i);
        CHECK(strcmp(T.ext[i], want) == 0);
    }
    int from = log_len();
    for (int i = 0; i < NLINES; i++) {
        pthread_mutex_lock(&T.mu);
        T.open[i] = true;
        pthread_mutex_unlock(&T.mu);
        CHECK_EQ(tsp_core_line_open(core, BASE + (uint32_t)i, HT_LINE(i), &hd_line[i]), 0);
        uint32_t again = 0;
        CHECK_EQ(tsp_core_line_open(core, BASE + (uint32_t)i, HT_LINE(i), &again), TSP_LINEERR_RESOURCEUNAVAIL);
        CHECK_EQ(tsp_core_set_status_messages(core, hd_line[i],
                                              TSP_LINEDEVSTATE_INSERVICE | TSP_LINEDEVSTATE_OUTOFSERVICE,
                                              TSP_LINEADDRESSSTATE_FORWARD),
                 0);
        CHECK_EQ(tsp_core_set_media_detection(core, hd_line[i], TSP_LINEMEDIAMODE_INTERACTIVEVOICE), 0);
        /* As the TSP's work item does once lineOpen has returned. */
        tsp_core_line_opened(core, hd_line[i]);
    }
    CHECK_EQ(tsp_core_set_media_detection(core, hd_line[0], 0x10), TSP_LINEERR_INVALMEDIAMODE);
    existing102 = wait_newcall("102", from);
    existing103 = wait_newcall("103", from);
    wait_state(existing102, TSP_LINECALLSTATE_CONNECTED);
    wait_state(existing103, TSP_LINECALLSTATE_CONNECTED);
    tsp_call_info a = info_of(existing102), b = info_of(existing103);
    CHECK(strcmp(a.caller.number, "102") == 0 && strcmp(a.called.number, "103") == 0);
    CHECK_EQ(a.origin, TSP_LINECALLORIGIN_OUTBOUND);
    CHECK_EQ(b.origin, TSP_LINECALLORIGIN_INTERNAL);
    CHECK_EQ(a.call_id, b.call_id); /* one PBX call, two lines */
    CHECK(strcmp(a.ctilink_id, b.ctilink_id) == 0);
    CHECK_EQ(a.line_device_id, BASE + 2);
    tsp_line_status ls;
    CHECK_EQ(tsp_core_line_status(core, hd_of("102"), &ls), 0);
    CHECK_EQ(ls.active_calls, 1);
    CHECK_EQ(ls.status_flags, TSP_LINEDEVSTATUSFLAGS_CONNECTED | TSP_LINEDEVSTATUSFLAGS_INSERVICE);
    CHECK_EQ(tsp_core_line_status(core, 0, &ls), TSP_LINEERR_INVALLINEHANDLE);

    tsp_device_id id;
    CHECK_EQ(tsp_core_get_id(core, hd_of("102"), 0, 0, TSP_LINECALLSELECT_LINE, "tapi/line", &id), 0);
    CHECK(!id.is_string && id.value == BASE + 2);
    CHECK_EQ(tsp_core_get_id(core, hd_of("102"), 0, 0, TSP_LINECALLSELECT_ADDRESS, "CTILINK/device", &id), 0);
    CHECK(id.is_string && strcmp(id.text, "102") == 0);
    CHECK_EQ(tsp_core_get_id(core, 0, 0, existing103->hd, TSP_LINECALLSELECT_CALL, "ctilink/call", &id), 0);
    CHECK(id.is_string && strcmp(id.text, a.ctilink_id) == 0);
    CHECK_EQ(tsp_core_get_id(core, hd_of("102"), 0, 0, TSP_LINECALLSELECT_LINE, "wave/in", &id),
             TSP_LINEERR_INVALDEVICECLASS);
    CHECK_EQ(tsp_core_get_id(core, hd_of("102"), 1, 0, TSP_LINECALLSELECT_ADDRESS, "tapi/line", &id),
             TSP_LINEERR_INVALADDRESSID);
    CHECK_EQ(tsp_core_get_id(core, 0, 0, 12345, TSP_LINECALLSELECT_CALL, "tapi/line", &id),
             TSP_LINEERR_INVALCALLHANDLE);
}

/* lineMakeCall 100 -> 101: the completion first, then DIALTONE (100 rings for
 * click-to-dial), PROCEEDING (100 picked up), RINGBACK (101 rings), CONNECTED; 101 sees
 * a new call OFFERING with 100's number. Then DTMF, hold, unhold, drop, and a drop of
 * a call that is already gone. */
static void make_call_answered(void) {
    int from = log_len();
    uint32_t req = 0;
    tcall_t *c = make_call("100", "101", &req);
    tcall_t *in = wait_newcall("101", from);
    wait_state(c, TSP_LINECALLSTATE_CONNECTED);
    wait_state(in, TSP_LINECALLSTATE_CONNECTED);
    CHECK_EQ(wait_completion(req), 0);
    pthread_mutex_lock(&T.mu);
    CHECK(T.reqs[req].at < c->first_state_at);
    static const uint32_t out_states[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_PROCEEDING,
                                          TSP_LINECALLSTATE_RINGBACK, TSP_LINECALLSTATE_CONNECTED};
    expect_states(c, out_states, 4);
    static const uint32_t in_states[] = {TSP_LINECALLSTATE_OFFERING, TSP_LINECALLSTATE_CONNECTED};
    expect_states(in, in_states, 2);
    CHECK_EQ(in->modes[0], TSP_LINEOFFERINGMODE_ACTIVE);
    CHECK_EQ(c->modes[0], TSP_LINEDIALTONEMODE_UNAVAIL);
    CHECK_EQ(c->modes[3], TSP_LINECONNECTEDMODE_ACTIVE);
    CHECK(in->newcall_at < in->first_state_at);
    CHECK(in->info_flags & TSP_LINECALLINFOSTATE_CALLERID);
    CHECK(c->info_flags & TSP_LINECALLINFOSTATE_CONNECTEDID);
    pthread_mutex_unlock(&T.mu);
    tsp_call_info ci = info_of(in);
    CHECK(strcmp(ci.caller.number, "100") == 0);
    CHECK(strcmp(ci.called.number, "101") == 0);
    CHECK_EQ(ci.origin, TSP_LINECALLORIGIN_INTERNAL);
    CHECK_EQ(ci.state, TSP_LINECALLSTATE_CONNECTED);
    ci = info_of(c);
    CHECK_EQ(ci.origin, TSP_LINECALLORIGIN_OUTBOUND);
    CHECK(strcmp(ci.connected.number, "101") == 0);
    CHECK_EQ(ci.features, TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_HOLD | TSP_LINECALLFEATURE_BLINDTRANSFER |
                              TSP_LINECALLFEATURE_DIAL | TSP_LINECALLFEATURE_SETUPTRANSFER);
    CHECK_EQ(ci.call_id, info_of(in).call_id);

    /* lineDial on a connected call sends DTMF. */
    CHECK_EQ(on_call_to(tsp_core_dial, c, "1 2 #"), 0);
    CHECK_EQ(on_call_to(tsp_core_dial, c, "12E"), TSP_LINEERR_INVALADDRESS);
    step("DTMF");

    CHECK_EQ(on_call(tsp_core_hold, c), 0);
    wait_state(c, TSP_LINECALLSTATE_ONHOLD);
    tsp_line_status ls;
    CHECK_EQ(tsp_core_line_status(core, hd_of("100"), &ls), 0);
    CHECK_EQ(ls.onhold_calls, 1);
    CHECK_EQ(ls.active_calls, 0);
    CHECK_EQ(info_of(c).features, TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_UNHOLD);
    CHECK_EQ(on_call(tsp_core_unhold, c), 0);
    wait_state(c, TSP_LINECALLSTATE_CONNECTED);

    CHECK_EQ(on_call(tsp_core_drop, c), 0);
    wait_state(c, TSP_LINECALLSTATE_IDLE);
    wait_state(in, TSP_LINECALLSTATE_IDLE);
    CHECK(!had_state(c, TSP_LINECALLSTATE_BUSY));
    /* Which phone's hangup the PBX reports first varies; a line that hears of the
     * other's first shows DISCONNECTED (normal clearing) before IDLE. */
    expect_normal_clearing(c);
    expect_normal_clearing(in);
    /* Gone at the PBX and IDLE on the line: dropping it again succeeds. */
    CHECK_EQ(on_call(tsp_core_drop, in), 0);
    CHECK_EQ(on_call(tsp_core_drop, c), 0);
    /* Only a drop is accepted on an idle call. */
    CHECK_EQ(on_call(tsp_core_hold, c), TSP_LINEERR_INVALCALLSTATE);
    CHECK_EQ(info_of(c).features, 0);
    settle(existing102, existing103);
    CHECK_EQ(on_call(tsp_core_drop, c), TSP_LINEERR_INVALCALLHANDLE); /* closed */
}

/* 103 is talking to 102: a call to it fails BUSY, never CONNECTED, then goes IDLE. */
static void make_call_busy(void) {
    uint32_t req = 0;
    tcall_t *c = make_call("100", "103", &req);
    wait_state(c, TSP_LINECALLSTATE_IDLE);
    CHECK_EQ(wait_completion(req), 0);
    CHECK(had_state(c, TSP_LINECALLSTATE_BUSY));
    CHECK(!had_state(c, TSP_LINECALLSTATE_CONNECTED));
    CHECK_EQ(c->states[c->nstates - 2], TSP_LINECALLSTATE_BUSY);
    CHECK_EQ(c->modes[c->nstates - 2], TSP_LINEBUSYMODE_UNAVAIL);
    /* Refused at once, no completion: no number, or an invalid one. */
    uint32_t r2 = req_begin(), hd = 0;
    CHECK_EQ(tsp_core_make_call(core, r2, hd_of("100"), 0x9999, "", &hd), TSP_LINEERR_INVALADDRESS);
    req_refused(r2);
    r2 = req_begin();
    CHECK_EQ(tsp_core_make_call(core, r2, hd_of("100"), 0x9999, "10\x01" "1", &hd), TSP_LINEERR_INVALADDRESS);
    req_refused(r2);
    settle(existing102, existing103);
}

/* 101 calls 100: LINE_NEWCALL, OFFERING, LINE_CALLINFO with the caller id; the phone
 * answers; a blind transfer hands 101 to 104 and 100's call goes IDLE. */
static void incoming_and_blind_transfer(void) {
    int from = log_len();
    step("CALL 101 100");
    tcall_t *c = wait_newcall("100", from);
    wait_state(c, TSP_LINECALLSTATE_CONNECTED);
    pthread_mutex_lock(&T.mu);
    CHECK_EQ(c->states[0], TSP_LINECALLSTATE_OFFERING);
    /* NEWCALL, then OFFERING, then the caller id. */
    int n = c->newcall_at;
    CHECK(T.log[n + 1].msg == TSP_LINE_CALLSTATE && T.log[n + 1].p1 == TSP_LINECALLSTATE_OFFERING);
    CHECK(T.log[n + 2].msg == TSP_LINE_CALLINFO && (T.log[n + 2].p1 & TSP_LINECALLINFOSTATE_CALLERID));
    pthread_mutex_unlock(&T.mu);
    tsp_call_info ci = info_of(c);
    CHECK(strcmp(ci.caller.number, "101") == 0);
    CHECK(strcmp(ci.caller.name, "Phone 101") == 0);
    CHECK_EQ(ci.origin, TSP_LINECALLORIGIN_INTERNAL);

    /* 101's own line sees the call it placed. */
    pthread_mutex_lock(&T.mu);
    tcall_t *caller = NULL;
    for (int i = from; i < T.nlog && !caller; i++)
        if (!T.log[i].completion && T.log[i].msg == TSP_LINE_NEWCALL && T.log[i].line == line_of("101"))
            caller = call_by_ht(T.log[i].ht);
    pthread_mutex_unlock(&T.mu);
    CHECK(caller != NULL);
    wait_state(caller, TSP_LINECALLSTATE_CONNECTED);

    from = log_len();
    CHECK_EQ(on_call_to(tsp_core_blind_transfer, c, "104"), 0);
    wait_state(c, TSP_LINECALLSTATE_IDLE);
    tcall_t *t = wait_newcall("104", from);
    wait_state(t, TSP_LINECALLSTATE_CONNECTED);
    CHECK_EQ(t->states[0], TSP_LINECALLSTATE_OFFERING);
    tsp_call_info tci = info_of(t);
    CHECK(strcmp(tci.caller.number, "101") == 0);
    /* The transferred party (101) never saw its call end: it hears 104 ring, then talks
     * to 104, who is its connected party now. */
    wait_state(caller, TSP_LINECALLSTATE_CONNECTED);
    pthread_mutex_lock(&T.mu);
    CHECK(!had_state(caller, TSP_LINECALLSTATE_DISCONNECTED) && !had_state(caller, TSP_LINECALLSTATE_IDLE));
    CHECK(caller->info_flags & TSP_LINECALLINFOSTATE_CONNECTEDID);
    pthread_mutex_unlock(&T.mu);
    tsp_call_info cci = info_of(caller);
    CHECK(strcmp(cci.connected.number, "104") == 0);
    CHECK_EQ(on_call(tsp_core_drop, t), 0);
    settle(existing102, existing103);
}

/* 108 rings (nobody there): lineAnswer answers it. */
static void answer(void) {
    int from = log_len();
    step("CALL 101 108");
    tcall_t *c = wait_newcall("108", from);
    wait_state(c, TSP_LINECALLSTATE_OFFERING);
    CHECK_EQ(info_of(c).features,
             TSP_LINECALLFEATURE_ANSWER | TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_REDIRECT);
    CHECK_EQ(on_call(tsp_core_answer, c), 0);
    wait_state(c, TSP_LINECALLSTATE_CONNECTED);
    CHECK_EQ(on_call(tsp_core_drop, c), 0);
    settle(existing102, existing103);
}

/* 109 rings: lineRedirect sends the call to 105, where it is answered. */
static void redirect(void) {
    int from = log_len();
    step("CALL 101 109");
    tcall_t *c = wait_newcall("109", from);
    wait_state(c, TSP_LINECALLSTATE_OFFERING);
    from = log_len();
    CHECK_EQ(on_call_to(tsp_core_redirect, c, "105"), 0);
    tcall_t *t = wait_newcall("105", from);
    wait_state(t, TSP_LINECALLSTATE_CONNECTED);
    wait_state(c, TSP_LINECALLSTATE_IDLE);
    CHECK(!had_state(c, TSP_LINECALLSTATE_CONNECTED));
    CHECK_EQ(on_call(tsp_core_drop, t), 0);
    settle(existing102, existing103);
}

/* 109 rings: 100 picks it up. The completion comes before anything about the call. */
static void pickup(void) {
    int from = log_len();
    step("CALL 101 109");
    tcall_t *ringing = wait_newcall("109", from);
    wait_state(ringing, TSP_LINECALLSTATE_OFFERING);
    pthread_mutex_lock(&T.mu);
    tcall_t *c = new_tcall(line_of("100"));
    c->made = true;
    pthread_mutex_unlock(&T.mu);
    uint32_t req = req_begin(), hd = 0;
    c->req = req;
    CHECK_EQ(tsp_core_pickup(core, req, hd_of("100"), 0, c->ht, "109", &hd), 0);
    c->hd = hd;
    CHECK_EQ(wait_completion(req), 0);
    wait_state(c, TSP_LINECALLSTATE_CONNECTED);
    wait_state(ringing, TSP_LINECALLSTATE_IDLE);
    CHECK(!had_state(ringing, TSP_LINECALLSTATE_CONNECTED));
    /* The PBX rings 100's phone in a call of its own first: that is this TAPI call
     * getting ready, not a second call on the line. */
    static const uint32_t states[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_PROCEEDING,
                                      TSP_LINECALLSTATE_CONNECTED};
    pthread_mutex_lock(&T.mu);
    expect_states(c, states, 3);
    for (int i = from; i < T.nlog; i++)
        CHECK(T.log[i].completion || T.log[i].msg != TSP_LINE_NEWCALL || T.log[i].line != line_of("100"));
    /* 109 lost it to a pickup. */
    CHECK_EQ(ringing->states[ringing->nstates - 2], TSP_LINECALLSTATE_DISCONNECTED);
    CHECK_EQ(ringing->modes[ringing->nstates - 2], TSP_LINEDISCONNECTMODE_PICKUP);
    pthread_mutex_unlock(&T.mu);
    tsp_call_info ci = info_of(c);
    CHECK_EQ(ci.reason, TSP_LINECALLREASON_PICKUP);
    CHECK(strcmp(ci.caller.number, "101") == 0);
    /* Nothing rings at 107: nothing to pick up. */
    uint32_t r2 = req_begin();
    CHECK_EQ(tsp_core_pickup(core, r2, hd_of("100"), 0, 0x9998, "107", &hd), TSP_LINEERR_INVALADDRESS);
    req_refused(r2);
    CHECK_EQ(on_call(tsp_core_drop, c), 0);
    settle(existing102, existing103);
}

/* lineSetupTransfer on `c`: the consultation call TAPI names first, its handle back. The
 * completion comes before anything about it. */
static tcall_t *setup_transfer(tcall_t *c) {
    pthread_mutex_lock(&T.mu);
    tcall_t *k = new_tcall(c->line);
    k->made = true;
    pthread_mutex_unlock(&T.mu);
    uint32_t req = req_begin(), hd = 0;
    k->req = req;
    CHECK_EQ(tsp_core_setup_transfer(core, req, c->hd, k->ht, &hd), 0);
    CHECK(hd != 0 && hd != c->hd);
    k->hd = hd;
    CHECK_EQ(wait_completion(req), 0);
    wait_state(k, TSP_LINECALLSTATE_DIALTONE);
    wait_state(c, TSP_LINECALLSTATE_ONHOLDPENDTRANSFER);
    pthread_mutex_lock(&T.mu);
    CHECK(T.reqs[req].at < k->first_state_at);
    CHECK_EQ(k->modes[0], TSP_LINEDIALTONEMODE_UNAVAIL);
    pthread_mutex_unlock(&T.mu);
    return k;
}

static int32_t complete_transfer(tcall_t *c, tcall_t *k, uint32_t mode) {
    uint32_t req = req_begin();
    int32_t r = tsp_core_complete_transfer(core, req, c->hd, k->hd, mode);
    if (r != 0) {
        req_refused(req);
        return r;
    }
    return wait_completion(req);
}

static tsp_line_status line_status(const char *ext) {
    tsp_line_status ls;
    CHECK_EQ(tsp_core_line_status(core, hd_of(ext), &ls), 0);
    return ls;
}

/* 100 calls 101. 101: lineSetupTransfer (its call ONHOLDPENDTRANSFER, a consultation call
 * in DIALTONE), lineDial 104 on the consultation (PROCEEDING, RINGBACK, 104 answers:
 * CONNECTED), lineCompleteTransfer: 101 is out of both calls, 100 talks to 104. */
static void attended_transfer(void) {
    int from = log_len();
    uint32_t req = 0;
    tcall_t *a = make_call("100", "101", &req);
    tcall_t *b = wait_newcall("101", from);
    wait_state(a, TSP_LINECALLSTATE_CONNECTED);
    wait_state(b, TSP_LINECALLSTATE_CONNECTED);
    /* Not before the far end answered; no conference; a call that is no consultation. */
    uint32_t r2 = req_begin(), hd = 0;
    CHECK_EQ(tsp_core_setup_transfer(core, r2, 0x12345, 0x9997, &hd), TSP_LINEERR_INVALCALLHANDLE);
    req_refused(r2);
    tcall_t *k = setup_transfer(b);
    r2 = req_begin();
    CHECK_EQ(tsp_core_setup_transfer(core, r2, b->hd, 0x9997, &hd), TSP_LINEERR_INVALCALLSTATE);
    req_refused(r2);
    CHECK_EQ(info_of(b).features, TSP_LINECALLFEATURE_DROP);
    CHECK_EQ(info_of(k).features, TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_DIAL);
    CHECK_EQ(line_status("101").onhold_pend_calls, 1);
    CHECK_EQ(on_call(tsp_core_hold, k), TSP_LINEERR_INVALCALLSTATE);
    CHECK_EQ(complete_transfer(b, k, TSP_LINETRANSFERMODE_TRANSFER), TSP_LINEERR_INVALCALLSTATE); /* not dialed */
    from = log_len();
    CHECK_EQ(on_call_to(tsp_core_dial, k, "104"), 0);
    tcall_t *t = wait_newcall("104", from);
    wait_state(t, TSP_LINECALLSTATE_CONNECTED);
    wait_state(k, TSP_LINECALLSTATE_CONNECTED);
    tsp_call_info ci = info_of(b);
    CHECK_EQ(ci.state, TSP_LINECALLSTATE_ONHOLDPENDTRANSFER);
    CHECK_EQ(ci.features, TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_COMPLETETRANSF);
    CHECK_EQ(ci.features2, TSP_LINECALLFEATURE2_TRANSFERNORM);
    ci = info_of(k);
    CHECK_EQ(ci.features, TSP_LINECALLFEATURE_COMPLETETRANSF | TSP_LINECALLFEATURE_DIAL);
    CHECK(strcmp(ci.called.number, "104") == 0);
    CHECK(strcmp(ci.ctilink_id, info_of(b).ctilink_id) != 0); /* a PBX call of its own */
    CHECK(strcmp(ci.ctilink_id, info_of(t).ctilink_id) == 0);
    /* Talking to 104 while 100 waits: the consultation is not dropped (that would complete
     * the transfer on Asterisk). */
    CHECK_EQ(on_call(tsp_core_drop, k), TSP_LINEERR_OPERATIONUNAVAIL);
    CHECK_EQ(complete_transfer(b, k, TSP_LINETRANSFERMODE_CONFERENCE), TSP_LINEERR_OPERATIONUNAVAIL);
    CHECK_EQ(complete_transfer(b, k, 0x4), TSP_LINEERR_INVALTRANSFERMODE);
    CHECK_EQ(complete_transfer(b, b, TSP_LINETRANSFERMODE_TRANSFER), TSP_LINEERR_INVALCONSULTCALLHANDLE);

    CHECK_EQ(complete_transfer(b, k, TSP_LINETRANSFERMODE_TRANSFER), 0);
    wait_state(b, TSP_LINECALLSTATE_IDLE);
    wait_state(k, TSP_LINECALLSTATE_IDLE);
    pthread_mutex_lock(&T.mu);
    static const uint32_t primary[] = {TSP_LINECALLSTATE_OFFERING, TSP_LINECALLSTATE_CONNECTED,
                                       TSP_LINECALLSTATE_ONHOLDPENDTRANSFER, TSP_LINECALLSTATE_IDLE};
    expect_states(b, primary, 4);
    static const uint32_t consult[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_PROCEEDING,
                                       TSP_LINECALLSTATE_RINGBACK, TSP_LINECALLSTATE_CONNECTED,
                                       TSP_LINECALLSTATE_IDLE};
    expect_states(k, consult, 5);
    pthread_mutex_unlock(&T.mu);
    /* 100 and 104 talk on; their calls never ended. */
    tsp_line_status ls = line_status("101");
    CHECK_EQ(ls.active_calls + ls.onhold_calls + ls.onhold_pend_calls, 0);
    CHECK_EQ(line_status("100").active_calls, 1);
    CHECK_EQ(line_status("104").active_calls, 1);
    CHECK(strcmp(info_of(a).ctilink_id, info_of(t).ctilink_id) == 0); /* the target follows the call */
    CHECK(strcmp(info_of(t).connected.number, "100") == 0);
    pthread_mutex_lock(&T.mu);
    static const uint32_t talking[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_PROCEEDING,
                                       TSP_LINECALLSTATE_RINGBACK, TSP_LINECALLSTATE_CONNECTED};
    expect_states(a, talking, 4);
    static const uint32_t target[] = {TSP_LINECALLSTATE_OFFERING, TSP_LINECALLSTATE_CONNECTED};
    expect_states(t, target, 2);
    pthread_mutex_unlock(&T.mu);
    CHECK_EQ(on_call(tsp_core_drop, t), 0);
    wait_state(t, TSP_LINECALLSTATE_IDLE);
    wait_state(a, TSP_LINECALLSTATE_IDLE);
    pthread_mutex_lock(&T.mu);
    static const uint32_t target_end[] = {TSP_LINECALLSTATE_OFFERING, TSP_LINECALLSTATE_CONNECTED,
                                          TSP_LINECALLSTATE_IDLE};
    expect_states(t, target_end, 3);
    static const uint32_t transferee[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_PROCEEDING,
                                          TSP_LINECALLSTATE_RINGBACK, TSP_LINECALLSTATE_CONNECTED,
                                          TSP_LINECALLSTATE_DISCONNECTED, TSP_LINECALLSTATE_IDLE};
    expect_states(a, transferee, 6);
    pthread_mutex_unlock(&T.mu);
    settle(existing102, existing103);
}

/* 100 calls 101; 101 sets up a transfer and drops the consultation call before dialing:
 * the call to transfer is CONNECTED again (the PBX never held it). */
static void transfer_dropped_before_dialing(void) {
    int from = log_len();
    uint32_t req = 0;
    tcall_t *a = make_call("100", "101", &req);
    tcall_t *b = wait_newcall("101", from);
    wait_state(a, TSP_LINECALLSTATE_CONNECTED);
    wait_state(b, TSP_LINECALLSTATE_CONNECTED);
    tcall_t *k = setup_transfer(b);
    CHECK_EQ(on_call(tsp_core_drop, k), 0);
    wait_state(k, TSP_LINECALLSTATE_IDLE);
    wait_state(b, TSP_LINECALLSTATE_CONNECTED);
    pthread_mutex_lock(&T.mu);
    static const uint32_t primary[] = {TSP_LINECALLSTATE_OFFERING, TSP_LINECALLSTATE_CONNECTED,
                                       TSP_LINECALLSTATE_ONHOLDPENDTRANSFER, TSP_LINECALLSTATE_CONNECTED};
    expect_states(b, primary, 4);
    static const uint32_t consult[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_IDLE};
    expect_states(k, consult, 2);
    static const uint32_t far[] = {TSP_LINECALLSTATE_DIALTONE, TSP_LINECALLSTATE_PROCEEDING,
                                   TSP_LINECALLSTATE_RINGBACK, TSP_LINECALLSTATE_CONNECTED};
    expect_states(a, far, 4);
    pthread_mutex_unlock(&T.mu);
    CHECK_EQ(info_of(b).features, TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_HOLD |
                                      TSP_LINECALLFEATURE_BLINDTRANSFER | TSP_LINECALLFEATURE_DIAL |
                                      TSP_LINECALLFEATURE_SETUPTRANSFER);
    tsp_line_status ls = line_status("101");
    CHECK_EQ(ls.active_calls, 1);
    CHECK_EQ(ls.onhold_pend_calls, 0);
    /* A second transfer may be set up on it; done with, the call ends as any. */
    CHECK_EQ(on_call(tsp_core_drop, b), 0);
    wait_state(b, TSP_LINECALLSTATE_IDLE);
    wait_state(a, TSP_LINECALLSTATE_IDLE);
    settle(existing102, existing103);
}

static int32_t forward(const tsp_forward *list, size_t n) {
    uint32_t req = req_begin();
    int32_t r = tsp_core_forward(core, req, hd_of("100"), false, 0, list, n);
    if (r != 0) {
        req_refused(req);
        return r;
    }
    return wait_completion(req);
}

static tsp_address_status address_status(void) {
    tsp_address_status st;
    CHECK_EQ(tsp_core_address_status(core, hd_of("100"), 0, &st), 0);
    return st;
}

/* The address status once its forwarding list has `n` entries, the first of mode `first`
 * (any, for none). The list follows the PBX's forwarding events, one for each kind set
 * or cleared, which may come after the request completed: until the last has come, the
 * list is part way there. */
static tsp_address_status forwarding_is(uint32_t n, uint32_t first) {
    struct timespec until = deadline(WAIT_MS);
    for (;;) {
        int seen = log_len();
        tsp_address_status st = address_status();
        if (st.forward_count == n && (n == 0 || st.forward[0].mode == first)) return st;
        pthread_mutex_lock(&T.mu);
        if (T.nlog == seen) wait_change(&until, "the forwarding list");
        pthread_mutex_unlock(&T.mu);
    }
}

/* lineForward replaces the forwarding list: kinds not in it are turned off. */
static void forwarding(void) {
    int from = log_len();
    tsp_forward busy_na[1] = {{TSP_LINEFORWARDMODE_BUSYNA, "106"}};
    CHECK_EQ(forward(busy_na, 1), 0);
    wait_line_msg("100", TSP_LINE_ADDRESSSTATE, 0, TSP_LINEADDRESSSTATE_FORWARD, from);
    tsp_address_status st = forwarding_is(2, TSP_LINEFORWARDMODE_BUSY);
    CHECK_EQ(st.forward_count, 2);
    CHECK_EQ(st.forward[0].mode, TSP_LINEFORWARDMODE_BUSY);
    CHECK(strcmp(st.forward[0].dest, "106") == 0);
    CHECK_EQ(st.forward[1].mode, TSP_LINEFORWARDMODE_NOANSW);
    CHECK_EQ(st.address_features,
             TSP_LINEADDRFEATURE_MAKECALL | TSP_LINEADDRFEATURE_PICKUP | TSP_LINEADDRFEATURE_FORWARD);

    tsp_forward uncond[1] = {{TSP_LINEFORWARDMODE_UNCOND, "105"}};
    CHECK_EQ(forward(uncond, 1), 0);
    st = forwarding_is(1, TSP_LINEFORWARDMODE_UNCOND);
    CHECK_EQ(st.forward_count, 1);
    CHECK_EQ(st.forward[0].mode, TSP_LINEFORWARDMODE_UNCOND);
    CHECK(strcmp(st.forward[0].dest, "105") == 0);

    CHECK_EQ(forward(NULL, 0), 0);
    CHECK_EQ(forwarding_is(0, 0).forward_count, 0);

    tsp_forward twice[2] = {{TSP_LINEFORWARDMODE_BUSY, "105"}, {TSP_LINEFORWARDMODE_BUSYNA, "106"}};
    CHECK_EQ(forward(twice, 2), TSP_LINEERR_INVALPARAM);
    tsp_forward internal[1] = {{0x00000002 /* UNCONDINTERNAL */, "105"}};
    CHECK_EQ(forward(internal, 1), TSP_LINEERR_INVALPARAM);
    CHECK_EQ(tsp_core_address_status(core, hd_of("100"), 1, &st), TSP_LINEERR_INVALADDRESSID);
}

/* The link drops: every call IDLE, every line OUTOFSERVICE; a call made meanwhile
 * fails (asynchronously, once); back: INSERVICE, and 102/103's call announced again. */
static void link_drop(void) {
    int from = log_len();
    step("DROP");
    for (int i = 0; i < NLINES; i++)
        wait_line_msg(T.ext[i], TSP_LINE_LINEDEVSTATE, TSP_LINEDEVSTATE_OUTOFSERVICE, 0, from);
    wait_state(existing102, TSP_LINECALLSTATE_IDLE);
    wait_state(existing103, TSP_LINECALLSTATE_IDLE);
    tsp_line_status ls;
    CHECK_EQ(tsp_core_line_status(core, hd_of("102"), &ls), 0);
    CHECK_EQ(ls.status_flags, 0);
    CHECK_EQ(ls.active_calls, 0);
    CHECK_EQ(info_of(existing102).features, 0);
    /* TAPI drops and closes the dead calls: the drop succeeds. */
    CHECK_EQ(on_call(tsp_core_drop, existing102), 0);
    close_idle_calls();

    uint32_t req = 0;
    tcall_t *c = make_call("100", "101", &req);
    CHECK_EQ(wait_completion(req), TSP_LINEERR_RESOURCEUNAVAIL);
    CHECK_EQ(tsp_core_call_info(core, c->hd, &(tsp_call_info){0}), TSP_LINEERR_INVALCALLHANDLE);

    int back = wait_line_msg("102", TSP_LINE_LINEDEVSTATE, TSP_LINEDEVSTATE_INSERVICE, 0, from);
    for (int i = 0; i < NLINES; i++)
        wait_line_msg(T.ext[i], TSP_LINE_LINEDEVSTATE, TSP_LINEDEVSTATE_INSERVICE, 0, from);
    tcall_t *a = wait_newcall("102", back);
    tcall_t *b = wait_newcall("103", from);
    CHECK(a != existing102 && b != existing103);
    wait_state(a, TSP_LINECALLSTATE_CONNECTED);
    wait_state(b, TSP_LINECALLSTATE_CONNECTED);
    pthread_mutex_lock(&T.mu);
    CHECK(b->newcall_at > back);
    CHECK_EQ(c->nstates, 0);
    pthread_mutex_unlock(&T.mu);
    tsp_call_info ci = info_of(a);
    CHECK(strcmp(ci.caller.number, "102") == 0);
    CHECK_EQ(tsp_core_line_status(core, hd_of("102"), &ls), 0);
    CHECK_EQ(ls.status_flags, TSP_LINEDEVSTATUSFLAGS_CONNECTED | TSP_LINEDEVSTATUSFLAGS_INSERVICE);
    existing102 = a;
    existing103 = b;
}

static void shut_down(void) {
    for (int i = 0; i < NLINES; i++) {
        CHECK_EQ(tsp_core_line_close(core, hd_line[i]), 0);
        pthread_mutex_lock(&T.mu);
        T.open[i] = false;
        pthread_mutex_unlock(&T.mu);
    }
    CHECK_EQ(tsp_core_line_close(core, hd_line[0]), TSP_LINEERR_INVALLINEHANDLE);
    tsp_stats st = tsp_core_stats(core);
    CHECK_EQ(st.calls_not_tracked, 0);
    CHECK_EQ(st.messages_dropped, 0);
    join_work();
    tsp_core_destroy(core);
    pthread_mutex_lock(&T.mu);
    for (uint32_t i = 1; i < T.next_req; i++)
        if (T.reqs[i].issued && !T.reqs[i].completed) FAIL("request %u never completed", i);
    pthread_mutex_unlock(&T.mu);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mapping_test URL\n");
        return 2;
    }
    pthread_mutex_init(&T.mu, NULL);
    pthread_cond_init(&T.changed, NULL);
    pthread_mutex_init(&T.busy, NULL);
    pthread_mutex_init(&core_locks[0], NULL);
    pthread_mutex_init(&core_locks[1], NULL);
    T.next_ht = 0x5000;
    T.next_req = 1;

    pure_functions();

    tsp_platform p = {NULL, plat_lock, plat_unlock, plat_line_event, plat_completion, plat_defer};
    tsp_config bad = {"http://nowhere", NULL, 0};
    char err[256];
    CHECK_EQ(tsp_core_connect(&bad, &p, &core, err, sizeof err), TSP_LINEERR_OPERATIONFAILED);
    CHECK(strlen(err) > 0);

    tsp_config cfg = {argv[1], NULL, 0};
    int32_t r = tsp_core_connect(&cfg, &p, &core, err, sizeof err);
    if (r != 0) FAIL("connect: %s", err);

    open_lines();
    make_call_answered();
    make_call_busy();
    incoming_and_blind_transfer();
    answer();
    redirect();
    pickup();
    attended_transfer();
    transfer_dropped_before_dialing();
    forwarding();
    link_drop();
    shut_down();

    pthread_mutex_destroy(&core_locks[1]);
    pthread_mutex_destroy(&core_locks[0]);
    pthread_mutex_destroy(&T.busy);
    pthread_cond_destroy(&T.changed);
    pthread_mutex_destroy(&T.mu);
    if (getenv("TSP_DUMP_ALL")) dump_log();
    printf("done\n");
    return 0;
}

/*
 * tapisrv_host.exe: a TAPISRV stand-in. It loads ctilink.tsp as the Windows telephony
 * service does (LoadLibrary, the TSPI_ exports by name), hands it LINEEVENT and
 * ASYNC_COMPLETION callbacks, and drives it through TSPI against a PBX (the simulator),
 * checking what a provider owes TAPI:
 *   - every accepted request completes exactly once; a refused one never does;
 *   - nothing about a call made by lineMakeCall before its completion;
 *   - LINE_NEWCALL before any other message of a call TAPI did not make;
 *   - no message for a line that is not open, or a call TAPI closed;
 *   - never two callbacks at once; none after providerShutdown has returned;
 * and the message sequences of each scenario (see main). Built with MinGW-w64 and run
 * under Wine by scripts/test-windows.sh (through tests/tests/tsp_windows.rs).
 *
 * Usage: tapisrv_host PATH\ctilink.tsp
 * with CTILINK_TSP_URL (the PBX, reconnect_ms=3000) and CTILINK_TSP_LINES set. It prints
 * one line per check ("ok N name" or "not ok N name: why"), a line at each step where the
 * driver acts on the simulator, and waits for its go-ahead ("go" on stdin):
 *   CALL a b   the driver makes phone a call phone b
 *   DROP       the driver drops every AMI connection (the PBX link goes down, then up)
 * and at the end "windows: N passed, M failed".
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tapi.h>
#include <tspi.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LINES = 16, MAX_CALLS = 256, MAX_REQS = 256, MAX_LOG = 8192, WAIT_MS = 20000 };
#define TSPI_VERSION 0x00020002
#define PERMANENT_ID 42
#define LINE_BASE 1000
#define HT_LINE(i) ((HTAPILINE)(uintptr_t)(0x1000 + (i)))

/* ---- checks -------------------------------------------------------------------- */

static int g_passed, g_failed;

static void check(BOOL ok, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (ok) g_passed++;
    else g_failed++;
    printf("%s %d %s\n", ok ? "ok" : "not ok", g_passed + g_failed, name);
    fflush(stdout);
}

#define CHECK_EQ(got, want, ...)                                                      \
    do {                                                                              \
        /* TSPI results are LONGs, LINEERR_ constants unsigned: compare as 32 bits. */ \
        long long g_ = (int32_t)(got), w_ = (int32_t)(want);                          \
        char what_[256];                                                              \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                   \
        check(g_ == w_, "%s (got %lld = %#llx, want %lld = %#llx)", what_, g_, g_, w_, w_); \
    } while (0)

/* A step where the driver acts; it answers "go". */
static void step(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "the driver went away\n");
        exit(2);
    }
}

/* ---- what TAPI knows: lines, calls, requests, every message in order --------------- */

typedef struct {
    BOOL used, made, closed;
    int line;
    HDRVCALL hd;
    DWORD req;
    DWORD states[64];
    DWORD modes[64];
    int nstates;
} tcall_t;

typedef struct {
    BOOL issued, completed;
    int completions;
    LONG result;
} treq_t;

typedef struct {
    int line; /* -1 for a completion */
    uintptr_t ht;
    DWORD msg;
    DWORD_PTR p1, p2, p3;
} entry_t;

static struct {
    CRITICAL_SECTION mu;
    CONDITION_VARIABLE changed;
    volatile LONG in_callback;
    volatile LONG shut_down; /* providerShutdown has returned */
    volatile LONG after_shutdown;
    BOOL open[MAX_LINES];
    HDRVLINE hd_line[MAX_LINES];
    char ext[MAX_LINES][16];
    int nlines;
    tcall_t calls[MAX_CALLS];
    treq_t reqs[MAX_REQS];
    entry_t log[MAX_LOG];
    int nlog;
    DWORD next_req;
    int violations;
} T;

/* A rule of TSPI broken inside a callback: counted, told, and checked at the end. */
static void violation(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "TSPI violation: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    T.violations++;
}

static tcall_t *call_of(uintptr_t ht) {
    if (ht < 1 || ht > MAX_CALLS) return NULL;
    tcall_t *c = &T.calls[ht - 1];
    return c->used ? c : NULL;
}

static uintptr_t new_call(int line) {
    for (int i = 0; i < MAX_CALLS; i++)
        if (!T.calls[i].used) {
            memset(&T.calls[i], 0, sizeof T.calls[i]);
            T.calls[i].used = TRUE;
            T.calls[i].line = line;
            return (uintptr_t)i + 1;
        }
    violation("too many calls");
    return 0;
}

static void enter_callback(void) {
    if (InterlockedExchange(&T.in_callback, 1) != 0) violation("two callbacks at once");
    if (T.shut_down) InterlockedIncrement(&T.after_shutdown);
}

static void leave_callback(void) { InterlockedExchange(&T.in_callback, 0); }

static entry_t *log_add(void) {
    if (T.nlog == MAX_LOG) {
        violation("message log full");
        T.nlog = 0;
    }
    return &T.log[T.nlog++];
}

static void CALLBACK line_event(HTAPILINE ht_line, HTAPICALL ht_call, DWORD msg, DWORD_PTR p1, DWORD_PTR p2,
                                DWORD_PTR p3) {
    enter_callback();
    EnterCriticalSection(&T.mu);
    int line = (int)((uintptr_t)ht_line - 0x1000);
    if (line < 0 || line >= T.nlines || !T.open[line]) {
        violation("message %lu for a line that is not open (%p)", (unsigned long)msg, (void *)ht_line);
        goto out;
    }
    entry_t *e = log_add();
    e->line = line;
    e->ht = (uintptr_t)ht_call;
    e->msg = msg;
    e->p1 = p1;
    e->p2 = p2;
    e->p3 = p3;
    switch (msg) {
    case LINE_NEWCALL: {
        uintptr_t ht = new_call(line);
        T.calls[ht - 1].hd = (HDRVCALL)p1;
        *(LPHTAPICALL)p2 = (HTAPICALL)ht;
        e->ht = ht;
        break;
    }
    case LINE_CALLSTATE:
    case LINE_CALLINFO: {
        tcall_t *c = call_of((uintptr_t)ht_call);
        if (!c) {
            violation("message %lu for a call TAPI does not know (%p)", (unsigned long)msg, (void *)ht_call);
            break;
        }
        if (c->closed) violation("message %lu for a call TAPI closed", (unsigned long)msg);
        if (c->line != line) violation("message %lu for a call of another line", (unsigned long)msg);
        if (c->made && !T.reqs[c->req].completed)
            violation("message %lu of a made call before its completion", (unsigned long)msg);
        if (c->made && T.reqs[c->req].completed && T.reqs[c->req].result != 0)
            violation("message %lu of a call whose creation failed", (unsigned long)msg);
        if (msg == LINE_CALLSTATE && c->nstates < 64) {
            if (c->nstates && c->states[c->nstates - 1] == LINECALLSTATE_IDLE) violation("a state after IDLE");
            c->modes[c->nstates] = (DWORD)p2;
            c->states[c->nstates++] = (DWORD)p1;
        }
        break;
    }
    case LINE_LINEDEVSTATE:
    case LINE_ADDRESSSTATE:
        if (ht_call) violation("LINE_LINEDEVSTATE/ADDRESSSTATE with a call handle");
        break;
    default:
        violation("unexpected message %lu", (unsigned long)msg);
    }
out:
    WakeAllConditionVariable(&T.changed);
    LeaveCriticalSection(&T.mu);
    leave_callback();
}

static void CALLBACK completion(DRV_REQUESTID id, LONG result) {
    enter_callback();
    EnterCriticalSection(&T.mu);
    if (id >= MAX_REQS || !T.reqs[id].issued) {
        violation("completion of request %lu that was never accepted", (unsigned long)id);
    } else {
        treq_t *r = &T.reqs[id];
        if (r->completed) violation("request %lu completed twice", (unsigned long)id);
        r->completed = TRUE;
        r->completions++;
        r->result = result;
        entry_t *e = log_add();
        e->line = -1;
        e->msg = id;
        e->p1 = (DWORD_PTR)result;
    }
    WakeAllConditionVariable(&T.changed);
    LeaveCriticalSection(&T.mu);
    leave_callback();
}

/* Waits (T.mu held) until cond holds or the deadline passes. */
#define WAIT_UNTIL(cond)                                                              \
    ({                                                                                \
        ULONGLONG until_ = GetTickCount64() + WAIT_MS;                                \
        BOOL ok_ = TRUE;                                                              \
        while (!(cond)) {                                                             \
            ULONGLONG now_ = GetTickCount64();                                        \
            if (now_ >= until_ ||                                                     \
                !SleepConditionVariableCS(&T.changed, &T.mu, (DWORD)(until_ - now_))) { \
                ok_ = (cond);                                                         \
                break;                                                                \
            }                                                                         \
        }                                                                             \
        ok_;                                                                          \
    })

/* ---- the provider's exports -------------------------------------------------------- */

#define TSPI(name) static __typeof__(name) *p_##name
TSPI(TSPI_lineNegotiateTSPIVersion);
TSPI(TSPI_providerEnumDevices);
TSPI(TSPI_providerInit);
TSPI(TSPI_providerShutdown);
TSPI(TSPI_lineGetDevCaps);
TSPI(TSPI_lineGetAddressCaps);
TSPI(TSPI_lineOpen);
TSPI(TSPI_lineClose);
TSPI(TSPI_lineSetStatusMessages);
TSPI(TSPI_lineMakeCall);
TSPI(TSPI_lineAnswer);
TSPI(TSPI_lineDrop);
TSPI(TSPI_lineHold);
TSPI(TSPI_lineUnhold);
TSPI(TSPI_lineBlindTransfer);
TSPI(TSPI_lineSetupTransfer);
TSPI(TSPI_lineCompleteTransfer);
TSPI(TSPI_lineDial);
TSPI(TSPI_lineGetLineDevStatus);
TSPI(TSPI_lineRedirect);
TSPI(TSPI_lineForward);
TSPI(TSPI_lineGetCallInfo);
TSPI(TSPI_lineGetCallStatus);
TSPI(TSPI_lineGetID);
TSPI(TSPI_lineCloseCall);

static BOOL load(HMODULE m) {
    BOOL ok = TRUE;
#define LOAD(name)                                                                    \
    do {                                                                              \
        p_##name = (__typeof__(p_##name))(void *)GetProcAddress(m, #name);            \
        if (!p_##name) {                                                              \
            fprintf(stderr, "ctilink.tsp does not export %s\n", #name);               \
            ok = FALSE;                                                               \
        }                                                                             \
    } while (0)
    LOAD(TSPI_lineNegotiateTSPIVersion);
    LOAD(TSPI_providerEnumDevices);
    LOAD(TSPI_providerInit);
    LOAD(TSPI_providerShutdown);
    LOAD(TSPI_lineGetDevCaps);
    LOAD(TSPI_lineGetAddressCaps);
    LOAD(TSPI_lineOpen);
    LOAD(TSPI_lineClose);
    LOAD(TSPI_lineSetStatusMessages);
    LOAD(TSPI_lineMakeCall);
    LOAD(TSPI_lineAnswer);
    LOAD(TSPI_lineDrop);
    LOAD(TSPI_lineHold);
    LOAD(TSPI_lineUnhold);
    LOAD(TSPI_lineBlindTransfer);
    LOAD(TSPI_lineSetupTransfer);
    LOAD(TSPI_lineCompleteTransfer);
    LOAD(TSPI_lineDial);
    LOAD(TSPI_lineGetLineDevStatus);
    LOAD(TSPI_lineRedirect);
    LOAD(TSPI_lineForward);
    LOAD(TSPI_lineGetCallInfo);
    LOAD(TSPI_lineGetCallStatus);
    LOAD(TSPI_lineGetID);
    LOAD(TSPI_lineCloseCall);
#undef LOAD
    return ok;
}

/* ---- helpers: requests, calls, states ------------------------------------------------ */

static int line_of(const char *ext) {
    for (int i = 0; i < T.nlines; i++)
        if (strcmp(T.ext[i], ext) == 0) return i;
    fprintf(stderr, "no line %s\n", ext);
    exit(2);
}

static DWORD new_req(void) {
    EnterCriticalSection(&T.mu);
    DWORD id = ++T.next_req;
    if (id >= MAX_REQS) {
        fprintf(stderr, "too many requests\n");
        exit(2);
    }
    T.reqs[id].issued = TRUE; /* before the call: the completion may beat the return */
    LeaveCriticalSection(&T.mu);
    return id;
}

/* What an asynchronous TSPI function returned: the request id (accepted) or an error,
 * in which case no completion may follow. */
static BOOL accepted(DWORD id, LONG r, const char *what) {
    if (r == (LONG)id) return TRUE;
    EnterCriticalSection(&T.mu);
    T.reqs[id].issued = FALSE;
    LeaveCriticalSection(&T.mu);
    check(FALSE, "%s accepted (returned %#lx)", what, (unsigned long)r);
    return FALSE;
}

/* Waits for request id's completion; returns its result (or a sentinel on time-out). */
static LONG completion_of(DWORD id) {
    EnterCriticalSection(&T.mu);
    BOOL ok = WAIT_UNTIL(T.reqs[id].completed);
    LONG r = ok ? T.reqs[id].result : (LONG)0x7fffffff;
    LeaveCriticalSection(&T.mu);
    return r;
}

static BOOL has_state(uintptr_t ht, DWORD state) {
    tcall_t *c = call_of(ht);
    if (!c) return FALSE;
    for (int i = 0; i < c->nstates; i++)
        if (c->states[i] == state) return TRUE;
    return FALSE;
}

static DWORD last_state(uintptr_t ht) {
    tcall_t *c = call_of(ht);
    return c && c->nstates ? c->states[c->nstates - 1] : 0;
}

/* Waits for a call to reach a state; true if it did. */
static BOOL wait_state(uintptr_t ht, DWORD state) {
    EnterCriticalSection(&T.mu);
    BOOL ok = WAIT_UNTIL(has_state(ht, state));
    LeaveCriticalSection(&T.mu);
    return ok;
}

/* Waits for a LINE_NEWCALL on `ext` logged at index `from` or later; the call's handle
 * (0 on time-out). */
static uintptr_t wait_newcall(const char *ext, int from) {
    int line = line_of(ext);
    uintptr_t found = 0;
    EnterCriticalSection(&T.mu);
    WAIT_UNTIL(({
        for (int i = from; i < T.nlog && !found; i++)
            if (T.log[i].line == line && T.log[i].msg == LINE_NEWCALL) found = T.log[i].ht;
        found != 0;
    }));
    LeaveCriticalSection(&T.mu);
    return found;
}

/* Waits for LINE_LINEDEVSTATE `state` on every line, from log index `from`. */
static BOOL wait_all_lines(DWORD state, int from) {
    EnterCriticalSection(&T.mu);
    BOOL ok = WAIT_UNTIL(({
        int n = 0;
        for (int l = 0; l < T.nlines; l++)
            for (int i = from; i < T.nlog; i++)
                if (T.log[i].line == l && T.log[i].msg == LINE_LINEDEVSTATE && T.log[i].p1 == state) {
                    n++;
                    break;
                }
        n == T.nlines;
    }));
    LeaveCriticalSection(&T.mu);
    return ok;
}

static int log_len(void) {
    EnterCriticalSection(&T.mu);
    int n = T.nlog;
    LeaveCriticalSection(&T.mu);
    return n;
}

/* lineMakeCall from `from` to `to`; returns TAPI's handle of the call (0 if refused).
 * The completion is checked: once, with 0, and nothing about the call before it. */
static uintptr_t make_call(const char *from, const char *to) {
    WCHAR dest[32];
    MultiByteToWideChar(CP_UTF8, 0, to, -1, dest, 32);
    DWORD id = new_req();
    EnterCriticalSection(&T.mu);
    uintptr_t ht = new_call(line_of(from));
    T.calls[ht - 1].made = TRUE;
    T.calls[ht - 1].req = id;
    LeaveCriticalSection(&T.mu);
    HDRVCALL hd = NULL;
    LONG r = p_TSPI_lineMakeCall(id, T.hd_line[line_of(from)], (HTAPICALL)ht, &hd, dest, 0, NULL);
    if (!accepted(id, r, "lineMakeCall")) return 0;
    T.calls[ht - 1].hd = hd;
    CHECK_EQ(completion_of(id), 0, "lineMakeCall %s -> %s completes with 0", from, to);
    return ht;
}

/* An asynchronous call-handle request (lineAnswer, lineDrop, ...): accepted, completed once
 * with 0. */
#define ASYNC_OK(what, call_expr)                                                     \
    do {                                                                              \
        DWORD id_ = new_req();                                                        \
        LONG r_ = (call_expr);                                                        \
        if (accepted(id_, r_, what)) CHECK_EQ(completion_of(id_), 0, "%s completes with 0", what); \
    } while (0)

#define REQ (id_)

static HDRVCALL hd_of(uintptr_t ht) { return call_of(ht)->hd; }

static const char *state_name(DWORD s) {
    switch (s) {
    case LINECALLSTATE_IDLE: return "IDLE";
    case LINECALLSTATE_OFFERING: return "OFFERING";
    case LINECALLSTATE_DIALTONE: return "DIALTONE";
    case LINECALLSTATE_DIALING: return "DIALING";
    case LINECALLSTATE_RINGBACK: return "RINGBACK";
    case LINECALLSTATE_BUSY: return "BUSY";
    case LINECALLSTATE_CONNECTED: return "CONNECTED";
    case LINECALLSTATE_PROCEEDING: return "PROCEEDING";
    case LINECALLSTATE_ONHOLD: return "ONHOLD";
    case LINECALLSTATE_ONHOLDPENDTRANSFER: return "ONHOLDPENDTRANSFER";
    case LINECALLSTATE_DISCONNECTED: return "DISCONNECTED";
    default: return "?";
    }
}

/* A call's states so far as text, e.g. "OFFERING CONNECTED DISCONNECTED/NORMAL IDLE" (the
 * mode after a slash for DISCONNECTED and BUSY). */
static void states_text(uintptr_t ht, char *out, size_t cap) {
    out[0] = 0;
    EnterCriticalSection(&T.mu);
    tcall_t *c = call_of(ht);
    for (int i = 0; c && i < c->nstates; i++) {
        size_t n = strlen(out);
        const char *mode = "";
        if (c->states[i] == LINECALLSTATE_DISCONNECTED) {
            switch (c->modes[i]) {
            case LINEDISCONNECTMODE_NORMAL: mode = "/NORMAL"; break;
            case LINEDISCONNECTMODE_BUSY: mode = "/BUSY"; break;
            case LINEDISCONNECTMODE_NOANSWER: mode = "/NOANSWER"; break;
            case LINEDISCONNECTMODE_UNKNOWN: mode = "/UNKNOWN"; break;
            default: mode = "/OTHER"; break;
            }
        }
        snprintf(out + n, cap - n, "%s%s%s", n ? " " : "", state_name(c->states[i]), mode);
    }
    LeaveCriticalSection(&T.mu);
}

/* The call's states are exactly `want` (docs/tsp.md lists them per scenario). */
static void expect_states(uintptr_t ht, const char *what, const char *want) {
    char got[512];
    states_text(ht, got, sizeof got);
    check(strcmp(got, want) == 0, "%s: %s (got %s)", what, want, got);
}

/* TAPI's part when a call is over: lineCloseCall. */
static void close_call(uintptr_t ht) {
    CHECK_EQ(p_TSPI_lineCloseCall(hd_of(ht)), 0, "lineCloseCall");
    EnterCriticalSection(&T.mu);
    call_of(ht)->closed = TRUE;
    LeaveCriticalSection(&T.mu);
}

/* Waits for the call's IDLE, checks its whole sequence of states (`want`, as docs/tsp.md
 * lists them per scenario), and closes it as TAPI does. */
static void expect_idle(uintptr_t ht, const char *what, const char *want) {
    check(wait_state(ht, LINECALLSTATE_IDLE), "%s goes IDLE", what);
    expect_states(ht, what, want);
    close_call(ht);
}

/* ---- scenarios ------------------------------------------------------------------ */

static BYTE g_buf[8192];

/* Every per-handle function refuses (a LINEERR_, never a crash) when the provider has no
 * session: before providerInit succeeded, and after providerShutdown. No request id here
 * is registered, so a completion for one would be counted as a violation. */
static void per_handle_calls_fail(const char *when) {
    HDRVLINE l = (HDRVLINE)(uintptr_t)1;
    HDRVCALL c = (HDRVCALL)(uintptr_t)1;
    HDRVCALL hd = NULL;
    HDRVLINE opened = NULL;
    DWORD v = 0, req = MAX_REQS - 1;
    check(p_TSPI_lineOpen(LINE_BASE, HT_LINE(0), &opened, TSPI_VERSION, line_event) < 0, "lineOpen fails %s", when);
    CHECK_EQ(p_TSPI_lineClose(l), LINEERR_INVALLINEHANDLE, "lineClose %s", when);
    check(p_TSPI_lineSetStatusMessages(l, 0, 0) < 0, "lineSetStatusMessages fails %s", when);
    check(p_TSPI_lineMakeCall(req, l, (HTAPICALL)(uintptr_t)1, &hd, L"101", 0, NULL) < 0,
          "lineMakeCall fails %s", when);
    check(p_TSPI_lineDrop(req, c, NULL, 0) < 0, "lineDrop fails %s", when);
    check(p_TSPI_lineHold(req, c) < 0, "lineHold fails %s", when);
    check(p_TSPI_lineForward(req, l, TRUE, 0, NULL, 0, NULL, &hd, NULL) < 0, "lineForward fails %s", when);
    LINECALLINFO *ci = (LINECALLINFO *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    ci->dwTotalSize = sizeof g_buf;
    check(p_TSPI_lineGetCallInfo(c, ci) < 0, "lineGetCallInfo fails %s", when);
    VARSTRING *vs = (VARSTRING *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    vs->dwTotalSize = sizeof g_buf;
    check(p_TSPI_lineGetID(l, 0, NULL, LINECALLSELECT_LINE, vs, L"tapi/line", NULL) < 0, "lineGetID fails %s",
          when);
    CHECK_EQ(p_TSPI_lineCloseCall(c), LINEERR_INVALCALLHANDLE, "lineCloseCall %s", when);
    CHECK_EQ(p_TSPI_lineNegotiateTSPIVersion(LINE_BASE, 0x00010003, TSPI_VERSION, &v), LINEERR_BADDEVICEID,
             "lineNegotiateTSPIVersion of a line %s", when);
}

/* A PBX that cannot be reached: providerEnumDevices fails, and nothing else crashes. */
static void unreachable_pbx(void) {
    char url[1024];
    if (!GetEnvironmentVariableA("CTILINK_TSP_URL", url, sizeof url)) {
        fprintf(stderr, "CTILINK_TSP_URL is not set\n");
        exit(2);
    }
    SetEnvironmentVariableA("CTILINK_TSP_URL", "ami://admin:secret@127.0.0.1:1");
    DWORD nlines = 0, nphones = 0;
    check(p_TSPI_providerEnumDevices(PERMANENT_ID, &nlines, &nphones, (HPROVIDER)(uintptr_t)7, NULL, NULL) < 0,
          "providerEnumDevices fails when the PBX cannot be reached");
    per_handle_calls_fail("before providerInit");
    SetEnvironmentVariableA("CTILINK_TSP_URL", url);
}

static void init_provider(void) {
    DWORD v = 0;
    CHECK_EQ(p_TSPI_lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION, 0x00010003, TSPI_VERSION, &v), 0,
             "lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION)");
    CHECK_EQ(v, TSPI_VERSION, "the negotiated TSPI version");
    CHECK_EQ(p_TSPI_lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION, 0x00030000, 0x00030001, &v),
             LINEERR_INCOMPATIBLEAPIVERSION, "a version range above TSPI 2.2 is refused");

    DWORD nlines = 0, nphones = 99;
    CHECK_EQ(p_TSPI_providerEnumDevices(PERMANENT_ID, &nlines, &nphones, (HPROVIDER)(uintptr_t)7, NULL, NULL), 0,
             "providerEnumDevices");
    CHECK_EQ(nphones, 0, "no phone devices");
    check(nlines == (DWORD)T.nlines, "providerEnumDevices counts the %d configured lines (%lu)", T.nlines,
          (unsigned long)nlines);
    DWORD options = 99;
    CHECK_EQ(p_TSPI_providerInit(TSPI_VERSION, PERMANENT_ID, LINE_BASE, 0, nlines, 0, completion, &options), 0,
             "providerInit");
    /* As TAPI does: each line's version once providerInit has given the device ids. */
    for (int i = 0; i < T.nlines; i++) {
        v = 0;
        CHECK_EQ(p_TSPI_lineNegotiateTSPIVersion(LINE_BASE + i, 0x00010003, TSPI_VERSION, &v), 0,
                 "lineNegotiateTSPIVersion(line %d)", i);
        CHECK_EQ(v, TSPI_VERSION, "line %d's TSPI version", i);
    }
    CHECK_EQ(p_TSPI_lineNegotiateTSPIVersion(LINE_BASE + T.nlines, 0x00010003, TSPI_VERSION, &v),
             LINEERR_BADDEVICEID, "lineNegotiateTSPIVersion of a device past the last");

    for (int i = 0; i < T.nlines; i++) {
        LINEADDRESSCAPS *ac = (LINEADDRESSCAPS *)g_buf;
        memset(g_buf, 0, sizeof g_buf);
        ac->dwTotalSize = sizeof g_buf;
        CHECK_EQ(p_TSPI_lineGetAddressCaps(LINE_BASE + i, 0, TSPI_VERSION, 0, ac), 0, "lineGetAddressCaps(line %d)",
                 i);
        char addr[32] = "";
        if (ac->dwAddressSize && ac->dwAddressOffset + ac->dwAddressSize <= sizeof g_buf)
            WideCharToMultiByte(CP_UTF8, 0, (LPCWSTR)(g_buf + ac->dwAddressOffset), -1, addr, sizeof addr, NULL,
                                NULL);
        check(strcmp(addr, T.ext[i]) == 0, "line %d's address is %s (%s)", i, T.ext[i], addr);
    }
    LINEDEVCAPS *dc = (LINEDEVCAPS *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    dc->dwTotalSize = sizeof g_buf;
    CHECK_EQ(p_TSPI_lineGetDevCaps(LINE_BASE, TSPI_VERSION, 0, dc), 0, "lineGetDevCaps");
    CHECK_EQ(dc->dwNumAddresses, 1, "one address per line");
    check(dc->dwNeededSize <= dc->dwTotalSize && dc->dwUsedSize <= dc->dwNeededSize, "lineGetDevCaps sizes");
}

static void open_lines(void) {
    for (int i = 0; i < T.nlines; i++) {
        EnterCriticalSection(&T.mu);
        T.open[i] = TRUE;
        LeaveCriticalSection(&T.mu);
        CHECK_EQ(p_TSPI_lineOpen(LINE_BASE + i, HT_LINE(i), &T.hd_line[i], TSPI_VERSION, line_event), 0,
                 "lineOpen(%s)", T.ext[i]);
        CHECK_EQ(p_TSPI_lineSetStatusMessages(T.hd_line[i], LINEDEVSTATE_INSERVICE | LINEDEVSTATE_OUTOFSERVICE,
                                              LINEADDRESSSTATE_FORWARD),
                 0, "lineSetStatusMessages(%s)", T.ext[i]);
    }
    HDRVLINE again = NULL;
    check(p_TSPI_lineOpen(LINE_BASE, HT_LINE(0), &again, TSPI_VERSION, line_event) != 0,
          "a second lineOpen of an open line is refused");
}

/* 100 calls 101: the made call completes first, 101 is offered the call, both connect. */
static void make_call_answered(uintptr_t *a, uintptr_t *b) {
    int from = log_len();
    *a = make_call("100", "101");
    *b = wait_newcall("101", from);
    check(*b != 0, "LINE_NEWCALL on the called line 101");
    if (!*a || !*b) return;
    EnterCriticalSection(&T.mu);
    tcall_t *cb = call_of(*b);
    WAIT_UNTIL(cb->nstates > 0); /* LINE_NEWCALL comes first, its state right after */
    check(cb->nstates > 0 && cb->states[0] == LINECALLSTATE_OFFERING, "101's first state is OFFERING (%#lx)",
          cb->nstates ? (unsigned long)cb->states[0] : 0ul);
    LeaveCriticalSection(&T.mu);
    check(wait_state(*a, LINECALLSTATE_CONNECTED), "100's call CONNECTED");
    check(wait_state(*b, LINECALLSTATE_CONNECTED), "101's call CONNECTED");
}

static void call_info_and_status(uintptr_t a, uintptr_t b) {
    LINECALLINFO *ci = (LINECALLINFO *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    ci->dwTotalSize = sizeof g_buf;
    CHECK_EQ(p_TSPI_lineGetCallInfo(hd_of(a), ci), 0, "lineGetCallInfo(100's call)");
    CHECK_EQ(ci->dwOrigin, LINECALLORIGIN_OUTBOUND, "100's call is outbound");
    DWORD id_a = ci->dwCallID;
    memset(g_buf, 0, sizeof g_buf);
    ci->dwTotalSize = sizeof g_buf;
    CHECK_EQ(p_TSPI_lineGetCallInfo(hd_of(b), ci), 0, "lineGetCallInfo(101's call)");
    CHECK_EQ(ci->dwOrigin, LINECALLORIGIN_INTERNAL, "101's call is internal");
    CHECK_EQ(ci->dwCallID, id_a, "one PBX call: the same dwCallID on both lines");
    char caller[32] = "";
    if (ci->dwCallerIDSize)
        WideCharToMultiByte(CP_UTF8, 0, (LPCWSTR)(g_buf + ci->dwCallerIDOffset), -1, caller, sizeof caller, NULL,
                            NULL);
    check(strcmp(caller, "100") == 0, "101 sees caller 100 (%s)", caller);

    LINECALLSTATUS *cs = (LINECALLSTATUS *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    cs->dwTotalSize = sizeof g_buf;
    CHECK_EQ(p_TSPI_lineGetCallStatus(hd_of(a), cs), 0, "lineGetCallStatus");
    CHECK_EQ(cs->dwCallState, LINECALLSTATE_CONNECTED, "lineGetCallStatus says CONNECTED");

    VARSTRING *vs = (VARSTRING *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    vs->dwTotalSize = sizeof g_buf;
    CHECK_EQ(p_TSPI_lineGetID(T.hd_line[0], 0, NULL, LINECALLSELECT_LINE, vs, L"tapi/line", NULL), 0,
             "lineGetID(tapi/line)");
    DWORD dev = 0;
    if (vs->dwStringSize == sizeof dev) memcpy(&dev, g_buf + vs->dwStringOffset, sizeof dev);
    CHECK_EQ(dev, LINE_BASE, "lineGetID gives line 100's device id");
    memset(g_buf, 0, sizeof g_buf);
    vs->dwTotalSize = sizeof g_buf;
    CHECK_EQ(p_TSPI_lineGetID(T.hd_line[0], 0, NULL, LINECALLSELECT_LINE, vs, L"wave/in", NULL),
             LINEERR_INVALDEVICECLASS, "lineGetID of a class the provider has not");
}

static void hold_and_retrieve(uintptr_t a) {
    ASYNC_OK("lineHold", p_TSPI_lineHold(REQ, hd_of(a)));
    check(wait_state(a, LINECALLSTATE_ONHOLD), "100's call ONHOLD");
    ASYNC_OK("lineUnhold", p_TSPI_lineUnhold(REQ, hd_of(a)));
    EnterCriticalSection(&T.mu);
    BOOL back = WAIT_UNTIL(last_state(a) == LINECALLSTATE_CONNECTED);
    LeaveCriticalSection(&T.mu);
    check(back, "100's call CONNECTED again");
}

static void drop_call(uintptr_t a, uintptr_t b) {
    ASYNC_OK("lineDrop", p_TSPI_lineDrop(REQ, hd_of(a), NULL, 0));
    expect_idle(a, "the dropped call", "DIALTONE PROCEEDING RINGBACK CONNECTED ONHOLD CONNECTED IDLE");
    expect_idle(b, "the far end's call", "OFFERING CONNECTED DISCONNECTED/NORMAL IDLE");
}

/* 100 calls 108, who does not answer: TAPI answers on 108's line. */
static void answer(void) {
    int from = log_len();
    uintptr_t a = make_call("100", "108");
    uintptr_t b = wait_newcall("108", from);
    check(b != 0 && wait_state(b, LINECALLSTATE_OFFERING), "108 is offered the call");
    if (!a || !b) return;
    ASYNC_OK("lineAnswer", p_TSPI_lineAnswer(REQ, hd_of(b), NULL, 0));
    check(wait_state(b, LINECALLSTATE_CONNECTED), "108's call CONNECTED after lineAnswer");
    check(wait_state(a, LINECALLSTATE_CONNECTED), "100's call CONNECTED");
    ASYNC_OK("lineDrop (108)", p_TSPI_lineDrop(REQ, hd_of(b), NULL, 0));
    expect_idle(b, "108's call (answered, then dropped)", "OFFERING CONNECTED IDLE");
    expect_idle(a, "100's call (108 dropped it)", "DIALTONE PROCEEDING RINGBACK CONNECTED DISCONNECTED/NORMAL IDLE");
}

/* 100 talks to 101; 101 sends 100 on to 102 (lineBlindTransfer). */
static void blind_transfer(void) {
    uintptr_t a, b;
    make_call_answered(&a, &b);
    if (!a || !b) return;
    int from = log_len();
    ASYNC_OK("lineBlindTransfer", p_TSPI_lineBlindTransfer(REQ, hd_of(b), L"102", 0));
    uintptr_t c = wait_newcall("102", from);
    check(c != 0 && wait_state(c, LINECALLSTATE_CONNECTED), "102 gets the transferred call, CONNECTED");
    expect_idle(b, "the transferring line's call", "OFFERING CONNECTED IDLE");
    if (!c) return;
    ASYNC_OK("lineDrop (102)", p_TSPI_lineDrop(REQ, hd_of(c), NULL, 0));
    expect_idle(c, "102's call (transferred to it, then dropped)", "OFFERING CONNECTED IDLE");
    expect_idle(a, "100's call (transferred to 102)", "DIALTONE PROCEEDING RINGBACK CONNECTED RINGBACK CONNECTED DISCONNECTED/NORMAL IDLE");
}

/* lineSetupTransfer on `b`: TAPI names the consultation call, the provider gives its
 * handle; the completion comes before any message about it (checked in line_event). */
static uintptr_t setup_transfer(uintptr_t b) {
    DWORD id = new_req();
    EnterCriticalSection(&T.mu);
    uintptr_t k = new_call(call_of(b)->line);
    T.calls[k - 1].made = TRUE;
    T.calls[k - 1].req = id;
    LeaveCriticalSection(&T.mu);
    HDRVCALL hd = NULL;
    LONG r = p_TSPI_lineSetupTransfer(id, hd_of(b), (HTAPICALL)k, &hd, NULL);
    if (!accepted(id, r, "lineSetupTransfer")) return 0;
    T.calls[k - 1].hd = hd;
    CHECK_EQ(completion_of(id), 0, "lineSetupTransfer completes with 0");
    check(wait_state(k, LINECALLSTATE_DIALTONE), "the consultation call is in DIALTONE");
    check(wait_state(b, LINECALLSTATE_ONHOLDPENDTRANSFER), "the call to transfer is ONHOLDPENDTRANSFER");
    return k;
}

static DWORD call_features(uintptr_t ht) {
    LINECALLSTATUS *cs = (LINECALLSTATUS *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    cs->dwTotalSize = sizeof g_buf;
    if (p_TSPI_lineGetCallStatus(hd_of(ht), cs) != 0) return 0xFFFFFFFF;
    return cs->dwCallFeatures;
}

/* The calls (active, on hold, on hold pending transfer) lineGetLineDevStatus counts. */
static DWORD calls_on(const char *ext) {
    LINEDEVSTATUS *st = (LINEDEVSTATUS *)g_buf;
    memset(g_buf, 0, sizeof g_buf);
    st->dwTotalSize = sizeof g_buf;
    if (p_TSPI_lineGetLineDevStatus(T.hd_line[line_of(ext)], st) != 0) return 0xFFFFFFFF;
    return st->dwNumActiveCalls + st->dwNumOnHoldCalls + st->dwNumOnHoldPendCalls;
}

/* 100 talks to 101; 101 transfers 100 to 102 the TAPI way: lineSetupTransfer, lineDial 102
 * on the consultation call, 102 answers, lineCompleteTransfer. */
static void attended_transfer(void) {
    uintptr_t a, b;
    make_call_answered(&a, &b);
    if (!a || !b) return;
    CHECK_EQ(call_features(b) & LINECALLFEATURE_SETUPTRANSFER, LINECALLFEATURE_SETUPTRANSFER,
             "a CONNECTED call offers SETUPTRANSFER");
    uintptr_t k = setup_transfer(b);
    if (!k) return;
    CHECK_EQ(call_features(k), LINECALLFEATURE_DROP | LINECALLFEATURE_DIAL, "the consultation call: dial or drop");
    int from = log_len();
    ASYNC_OK("lineDial 102 on the consultation call", p_TSPI_lineDial(REQ, hd_of(k), L"102", 0));
    uintptr_t t = wait_newcall("102", from);
    check(t != 0 && wait_state(t, LINECALLSTATE_CONNECTED), "102 is called and answers, CONNECTED");
    check(wait_state(k, LINECALLSTATE_CONNECTED), "the consultation call CONNECTED");
    if (!t) return;
    CHECK_EQ(call_features(b), LINECALLFEATURE_DROP | LINECALLFEATURE_COMPLETETRANSF,
             "the call to transfer offers COMPLETETRANSF");
    DWORD id = new_req();
    HDRVCALL conf = (HDRVCALL)(uintptr_t)1;
    CHECK_EQ(p_TSPI_lineCompleteTransfer(id, hd_of(b), hd_of(k), NULL, &conf, LINETRANSFERMODE_CONFERENCE),
             LINEERR_OPERATIONUNAVAIL, "lineCompleteTransfer into a conference is not offered");
    EnterCriticalSection(&T.mu);
    T.reqs[id].issued = FALSE;
    LeaveCriticalSection(&T.mu);
    ASYNC_OK("lineCompleteTransfer", p_TSPI_lineCompleteTransfer(REQ, hd_of(b), hd_of(k), NULL, &conf,
                                                                  LINETRANSFERMODE_TRANSFER));
    CHECK_EQ((uintptr_t)conf, 0, "no conference call for a transfer");
    expect_idle(b, "101's transferred call", "OFFERING CONNECTED ONHOLDPENDTRANSFER IDLE");
    expect_idle(k, "101's consultation call", "DIALTONE PROCEEDING RINGBACK CONNECTED IDLE");
    CHECK_EQ(calls_on("101"), 0, "101 has no call left");
    CHECK_EQ(calls_on("100"), 1, "100 has one call left (with 102)");
    CHECK_EQ(calls_on("102"), 1, "102 has one call left (with 100)");
    expect_states(t, "102's call before it hangs up", "OFFERING CONNECTED");
    expect_states(a, "100's call before 102 hangs up", "DIALTONE PROCEEDING RINGBACK CONNECTED");
    ASYNC_OK("lineDrop (102)", p_TSPI_lineDrop(REQ, hd_of(t), NULL, 0));
    expect_idle(t, "102's call (the transfer target)", "OFFERING CONNECTED IDLE");
    expect_idle(a, "100's call (transferred to 102)", "DIALTONE PROCEEDING RINGBACK CONNECTED DISCONNECTED/NORMAL IDLE");
}

/* 100 talks to 101; 101 sets up a transfer and drops the consultation call before dialing:
 * its call is CONNECTED again. */
static void transfer_dropped_before_dialing(void) {
    uintptr_t a, b;
    make_call_answered(&a, &b);
    if (!a || !b) return;
    uintptr_t k = setup_transfer(b);
    if (!k) return;
    ASYNC_OK("lineDrop of the consultation call before lineDial", p_TSPI_lineDrop(REQ, hd_of(k), NULL, 0));
    expect_idle(k, "the consultation call dropped before dialing", "DIALTONE IDLE");
    EnterCriticalSection(&T.mu);
    BOOL back = WAIT_UNTIL(last_state(b) == LINECALLSTATE_CONNECTED);
    LeaveCriticalSection(&T.mu);
    check(back, "101's call CONNECTED again");
    CHECK_EQ(calls_on("101"), 1, "101 has its one call left");
    ASYNC_OK("lineDrop (101)", p_TSPI_lineDrop(REQ, hd_of(b), NULL, 0));
    expect_idle(b, "101's call (transfer set up, then off)", "OFFERING CONNECTED ONHOLDPENDTRANSFER CONNECTED IDLE");
    expect_idle(a, "100's call (101 set up a transfer, then off)",
                "DIALTONE PROCEEDING RINGBACK CONNECTED DISCONNECTED/NORMAL IDLE");
}

/* 100 calls 108, who does not answer; 108's line deflects it to 103 (lineRedirect). */
static void redirect(void) {
    int from = log_len();
    uintptr_t a = make_call("100", "108");
    uintptr_t b = wait_newcall("108", from);
    check(b != 0 && wait_state(b, LINECALLSTATE_OFFERING), "108 is offered the call");
    if (!a || !b) return;
    from = log_len();
    ASYNC_OK("lineRedirect", p_TSPI_lineRedirect(REQ, hd_of(b), L"103", 0));
    expect_idle(b, "the redirected call at 108", "OFFERING IDLE");
    uintptr_t c = wait_newcall("103", from);
    check(c != 0 && wait_state(c, LINECALLSTATE_CONNECTED), "103 gets the call, CONNECTED");
    if (!c) return;
    ASYNC_OK("lineDrop (103)", p_TSPI_lineDrop(REQ, hd_of(c), NULL, 0));
    expect_idle(c, "103's call (redirected to it, then dropped)", "OFFERING CONNECTED IDLE");
    expect_idle(a, "100's call (redirected to 103)", "DIALTONE PROCEEDING RINGBACK CONNECTED DISCONNECTED/NORMAL IDLE");
}

/* lineForward: 104 forwards everything to 105, then cancels. */
static void forward(void) {
    struct {
        LINEFORWARDLIST list;
        WCHAR dest[8];
    } fl;
    memset(&fl, 0, sizeof fl);
    DWORD head = (DWORD)offsetof(LINEFORWARDLIST, ForwardList);
    DWORD entry = (DWORD)offsetof(LINEFORWARD, dwCallerAddressType); /* the TSPI 2.x entry */
    fl.list.dwTotalSize = head + entry + sizeof(L"105");
    fl.list.dwNumEntries = 1;
    LINEFORWARD *f = &fl.list.ForwardList[0];
    f->dwForwardMode = LINEFORWARDMODE_UNCOND;
    f->dwDestAddressSize = sizeof(L"105");
    f->dwDestAddressOffset = head + entry;
    memcpy((BYTE *)&fl + head + entry, L"105", sizeof(L"105"));
    int from = log_len();
    HDRVCALL consult = (HDRVCALL)(uintptr_t)1;
    ASYNC_OK("lineForward 104 -> 105",
             p_TSPI_lineForward(REQ, T.hd_line[line_of("104")], TRUE, 0, &fl.list, 0, NULL, &consult, NULL));
    CHECK_EQ((uintptr_t)consult, 0, "no consultation call for lineForward");
    EnterCriticalSection(&T.mu);
    int line = line_of("104");
    BOOL told = WAIT_UNTIL(({
        BOOL f_ = FALSE;
        for (int i = from; i < T.nlog && !f_; i++)
            f_ = T.log[i].line == line && T.log[i].msg == LINE_ADDRESSSTATE && T.log[i].p2 == LINEADDRESSSTATE_FORWARD;
        f_;
    }));
    LeaveCriticalSection(&T.mu);
    check(told, "LINE_ADDRESSSTATE FORWARD on 104");
    ASYNC_OK("lineForward 104 cancelled",
             p_TSPI_lineForward(REQ, T.hd_line[line_of("104")], TRUE, 0, NULL, 0, NULL, &consult, NULL));
}

/* The PBX link drops with a call up (102 talking to 103, made on the PBX): every line goes
 * OUTOFSERVICE and the calls IDLE; a call made meanwhile fails; back, every line is
 * INSERVICE and the call still up is announced again. */
static void link_drop(void) {
    int from = log_len();
    step("CALL 102 103");
    uintptr_t a = wait_newcall("102", from), b = wait_newcall("103", from);
    check(a && b && wait_state(a, LINECALLSTATE_CONNECTED) && wait_state(b, LINECALLSTATE_CONNECTED),
          "a call placed on the PBX shows on 102 and 103, CONNECTED");
    from = log_len();
    step("DROP");
    check(wait_all_lines(LINEDEVSTATE_OUTOFSERVICE, from), "every line OUTOFSERVICE");
    if (a) expect_idle(a, "102's call when the link drops", "PROCEEDING RINGBACK CONNECTED IDLE");
    if (b) expect_idle(b, "103's call when the link drops", "OFFERING CONNECTED IDLE");
    WCHAR dest[] = L"101";
    DWORD id = new_req();
    HDRVCALL hd = NULL;
    EnterCriticalSection(&T.mu);
    uintptr_t ht = new_call(line_of("100"));
    T.calls[ht - 1].made = TRUE;
    T.calls[ht - 1].req = id;
    LeaveCriticalSection(&T.mu);
    LONG r = p_TSPI_lineMakeCall(id, T.hd_line[0], (HTAPICALL)ht, &hd, dest, 0, NULL);
    if (r == (LONG)id) {
        LONG done = completion_of(id);
        check(done != 0 && done != 0x7fffffff, "lineMakeCall while the link is down completes with a LINEERR_ (%#lx)",
              (unsigned long)done);
    } else {
        EnterCriticalSection(&T.mu);
        T.reqs[id].issued = FALSE;
        LeaveCriticalSection(&T.mu);
        check(r < 0, "lineMakeCall while the link is down fails with a LINEERR_ (%#lx)", (unsigned long)r);
    }
    check(wait_all_lines(LINEDEVSTATE_INSERVICE, from), "every line INSERVICE again");
    uintptr_t a2 = wait_newcall("102", from), b2 = wait_newcall("103", from);
    check(a2 && b2 && wait_state(a2, LINECALLSTATE_CONNECTED) && wait_state(b2, LINECALLSTATE_CONNECTED),
          "the call still up is announced again on 102 and 103");
}

static void shut_down(void) {
    for (int i = 0; i < T.nlines; i++) {
        CHECK_EQ(p_TSPI_lineClose(T.hd_line[i]), 0, "lineClose(%s)", T.ext[i]);
        EnterCriticalSection(&T.mu);
        T.open[i] = FALSE;
        LeaveCriticalSection(&T.mu);
    }
    CHECK_EQ(p_TSPI_lineClose(T.hd_line[0]), LINEERR_INVALLINEHANDLE, "lineClose of a closed line");
    CHECK_EQ(p_TSPI_providerShutdown(TSPI_VERSION, PERMANENT_ID), 0, "providerShutdown");
    InterlockedExchange(&T.shut_down, 1);
    Sleep(1500);
    per_handle_calls_fail("after providerShutdown");
    CHECK_EQ(T.after_shutdown, 0, "no callback after providerShutdown returned");
    EnterCriticalSection(&T.mu);
    int never = 0;
    for (int i = 1; i <= (int)T.next_req; i++)
        if (T.reqs[i].issued && !T.reqs[i].completed) never++;
    LeaveCriticalSection(&T.mu);
    CHECK_EQ(never, 0, "every accepted request completed");
    CHECK_EQ(T.violations, 0, "no TSPI rule broken in any callback (see stderr)");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: tapisrv_host PATH\\ctilink.tsp\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    InitializeCriticalSection(&T.mu);
    InitializeConditionVariable(&T.changed);
    /* TAPISRV's process keeps Winsock loaded; unloading and reloading it breaks connect()
     * in Wine 8.0 (WSAENOTSOCK). */
    if (!LoadLibraryA("ws2_32.dll")) {
        fprintf(stderr, "cannot load ws2_32.dll\n");
        return 2;
    }
    char lines[256];
    if (!GetEnvironmentVariableA("CTILINK_TSP_LINES", lines, sizeof lines)) {
        fprintf(stderr, "CTILINK_TSP_LINES is not set\n");
        return 2;
    }
    for (char *tok = strtok(lines, ","); tok && T.nlines < MAX_LINES; tok = strtok(NULL, ","))
        snprintf(T.ext[T.nlines++], sizeof T.ext[0], "%s", tok);

    HMODULE tsp = LoadLibraryA(argv[1]);
    check(tsp != NULL, "LoadLibrary(%s) (error %lu)", argv[1], tsp ? 0ul : (unsigned long)GetLastError());
    if (!tsp || !load(tsp)) {
        printf("windows: %d passed, %d failed\n", g_passed, g_failed + 1);
        return 1;
    }
    unreachable_pbx();
    init_provider();
    open_lines();
    uintptr_t a = 0, b = 0;
    make_call_answered(&a, &b);
    if (a && b) {
        call_info_and_status(a, b);
        hold_and_retrieve(a);
        drop_call(a, b);
    }
    answer();
    blind_transfer();
    attended_transfer();
    transfer_dropped_before_dialing();
    redirect();
    forward();
    link_drop();
    shut_down();
    check(FreeLibrary(tsp), "FreeLibrary(ctilink.tsp)");
    printf("windows: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

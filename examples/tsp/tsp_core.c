/*
 * The portable part of the ctilink TSP: see tsp_core.h for the model, the threads and
 * the limits. C11, no Windows headers, no threads of its own.
 */
#include "tsp_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A TAPI call on one line: the line's view of one PBX call. */
typedef struct {
    bool used;
    bool attached;  /* the PBX call still involves this line (cleared at IDLE) */
    bool announced; /* TAPI has the call: LINE_NEWCALL went out, or TAPI made it */
    bool awaiting;  /* lineMakeCall/linePickup not completed yet: report nothing */
    bool muted;     /* TAPI refused it or closed it: report nothing, ever */
    bool outgoing;  /* this line placed the call */
    bool ever_connected;
    uint16_t gen; /* part of the handle, so that a stale handle is refused */
    uint32_t state, mode;           /* what the line shows now */
    uint32_t told_state, told_mode; /* what TAPI was told (0: nothing yet) */
    uint32_t info_dirty;            /* LINECALLINFOSTATE_* TAPI was not told */
    uint32_t origin, reason;
    int64_t since;
    uintptr_t ht_call;
    char id[CTILINK_CALL_ID_MAX];
    /* linePickup: the PBX first rings the picker's own phone in a call of its own,
     * which it then merges into the picked-up one. That leg is this TAPI call too. */
    char leg[CTILINK_CALL_ID_MAX];
    tsp_party caller, called;
    /* Attended transfer (lineSetupTransfer). */
    uint8_t xfer;        /* XFER_NONE, XFER_PRIMARY (the call to transfer), XFER_CONSULT */
    bool pend;           /* primary: TAPI has been told ONHOLDPENDTRANSFER */
    bool xfer_done;      /* primary: the PBX reported the transfer */
    bool dialing;        /* consultation: lineDial's consultation_call not completed */
    uint32_t partner;    /* the other call's handle */
    uint32_t base_state; /* primary: what the PBX shows (CONNECTED, ONHOLD) meanwhile */
} slot_t;

/* A consultation call (XFER_CONSULT) with an empty id is the virtual one of
 * lineSetupTransfer: TAPI's call in DIALTONE, no PBX call yet. */
enum { XFER_NONE, XFER_PRIMARY, XFER_CONSULT };

typedef struct {
    char ext[TSP_EXT_MAX];
    bool opening; /* lineOpen ran, tsp_core_line_opened not yet */
    bool open;    /* TAPI hears about the line */
    uintptr_t ht_line;
    uint32_t line_states, address_states;
    uint32_t ncalls;
    slot_t calls[TSP_MAX_CALLS_PER_LINE];
} line_t;

enum { REQ_PLAIN, REQ_DROP, REQ_START, REQ_FORWARD, REQ_SETUP, REQ_LOCAL_DROP, REQ_CONSULT };

/* A TAPI request and the ctilink requests doing it (lineForward needs three). */
typedef struct {
    bool used;
    bool has_address;
    bool was_gone; /* a drop of a call the line had already reported IDLE */
    bool local;    /* answered by the provider itself: tsp_core_run_deferred completes it */
    uint8_t kind;
    uint8_t outstanding;
    uint32_t tapi_id;
    int32_t result;
    uint32_t hd_call;
    uint32_t hd_other; /* lineSetupTransfer: the call to transfer (hd_call: the consultation) */
    uint64_t ct[3];
} req_t;

/* One call into TAPI, built under STATE and made under EMIT. */
typedef struct {
    bool completion;
    bool skip;
    uint16_t gen;
    uint32_t line, slot;
    uintptr_t ht_line, ht_call;
    uint32_t msg;
    uintptr_t p1, p2, p3;
    uint32_t request_id;
    int32_t result;
} msg_t;

struct tsp_core {
    tsp_platform p;
    ctilink_session *session;
    uint32_t nlines;
    line_t *lines; /* sorted by ext (strcmp) */
    uint32_t base;
    bool in_service;
    bool going_down; /* on_link_down is ending every call */
    req_t reqs[TSP_MAX_REQUESTS];
    tsp_stats stats;
    /* EMIT's: the messages of the event being handled. */
    msg_t *batch;
    size_t batch_len, batch_cap;
};

#define HANDLE_GEN_SHIFT 20u
#define HANDLE_INDEX_MASK ((1u << HANDLE_GEN_SHIFT) - 1u)
#define GEN_MAX 4095u

_Static_assert((uint64_t)TSP_MAX_LINES * TSP_MAX_CALLS_PER_LINE <= HANDLE_INDEX_MASK,
               "call handles hold the line and slot in 20 bits");

static void lock(tsp_core *c, int which) { c->p.lock(c->p.ctx, which); }
static void unlock(tsp_core *c, int which) { c->p.unlock(c->p.ctx, which); }

/* ---- small helpers ---------------------------------------------------------- */

/* Copies s into dst (cap bytes, NUL-terminated), cut at a UTF-8 character boundary. */
static void copy_str(char *dst, size_t cap, ctilink_str s) {
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n < s.len)
        while (n > 0 && ((unsigned char)s.data[n] & 0xC0u) == 0x80u) n--;
    memcpy(dst, s.data, n);
    dst[n] = '\0';
}

static bool str_eq(ctilink_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.data, z, n) == 0;
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h ? h : 1u;
}

uint32_t tsp_permanent_line_id(const char *ext) { return fnv1a(ext); }

static int cmp_lines(const void *a, const void *b) {
    return strcmp(((const line_t *)a)->ext, ((const line_t *)b)->ext);
}

/* The line of an extension, or -1. */
static int find_line(const tsp_core *c, ctilink_str ext) {
    if (ext.len == 0 || ext.len >= TSP_EXT_MAX) return -1;
    char key[TSP_EXT_MAX];
    copy_str(key, sizeof key, ext);
    uint32_t lo = 0, hi = c->nlines;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int d = strcmp(key, c->lines[mid].ext);
        if (d == 0) return (int)mid;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

/* The line's live call that is the PBX call `id` (or a pickup's leg), or -1. Calls that
 * went IDLE on the line are not matched: a PBX call that comes back to the line is a
 * new TAPI call. */
static int find_slot(const line_t *line, ctilink_str id) {
    if (line->ncalls == 0) return -1;
    for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE; i++) {
        const slot_t *s = &line->calls[i];
        if (s->used && s->attached && (str_eq(id, s->id) || (s->leg[0] && str_eq(id, s->leg)))) return (int)i;
    }
    return -1;
}

/* A linePickup call of the line that the picked-up call has not reached yet and that
 * has no leg yet, or -1. */
static int find_pickup_waiting(const line_t *line) {
    for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE && line->ncalls; i++) {
        const slot_t *s = &line->calls[i];
        if (s->used && s->attached && s->reason == TSP_LINECALLREASON_PICKUP && s->state == 0 && !s->leg[0])
            return (int)i;
    }
    return -1;
}

static int alloc_slot(line_t *line) {
    for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE; i++) {
        slot_t *s = &line->calls[i];
        if (s->used) continue;
        uint16_t gen = (uint16_t)(s->gen % GEN_MAX + 1u);
        memset(s, 0, sizeof *s);
        s->used = true;
        s->gen = gen;
        s->reason = TSP_LINECALLREASON_DIRECT;
        s->since = (int64_t)time(NULL);
        line->ncalls++;
        return (int)i;
    }
    return -1;
}

static void free_slot(line_t *line, slot_t *s) {
    if (!s->used) return;
    s->used = false;
    line->ncalls--;
}

static uint32_t call_handle(uint32_t line, uint32_t slot, uint16_t gen) {
    return ((uint32_t)gen << HANDLE_GEN_SHIFT) | (line * TSP_MAX_CALLS_PER_LINE + slot);
}

/* The slot a handle names, if it is still the same call (whatever TAPI knows of it). */
static slot_t *slot_any(tsp_core *c, uint32_t hd_call, uint32_t *line_out, uint32_t *slot_out) {
    uint32_t index = hd_call & HANDLE_INDEX_MASK;
    uint16_t gen = (uint16_t)(hd_call >> HANDLE_GEN_SHIFT);
    uint32_t l = index / TSP_MAX_CALLS_PER_LINE, i = index % TSP_MAX_CALLS_PER_LINE;
    if (gen == 0 || l >= c->nlines) return NULL;
    slot_t *s = &c->lines[l].calls[i];
    if (!s->used || s->gen != gen) return NULL;
    if (line_out) *line_out = l;
    if (slot_out) *slot_out = i;
    return s;
}

/* The slot a handle names, if it is still the same call and TAPI may use it. */
static slot_t *slot_of(tsp_core *c, uint32_t hd_call, uint32_t *line_out, uint32_t *slot_out) {
    slot_t *s = slot_any(c, hd_call, line_out, slot_out);
    return s && !s->muted && s->announced ? s : NULL;
}

/* An open (or opening) line by the handle lineOpen gave. */
static line_t *line_of(tsp_core *c, uint32_t hd_line) {
    if (hd_line == 0 || hd_line > c->nlines) return NULL;
    line_t *line = &c->lines[hd_line - 1];
    return line->open || line->opening ? line : NULL;
}

/* ---- mappings ---------------------------------------------------------------- */

int32_t tsp_negotiate_version(uint32_t low, uint32_t high, uint32_t *out) {
    if (!out) return TSP_LINEERR_INVALPOINTER;
    if (low > high || high < TSP_TSPI_VERSION_MIN || low > TSP_TSPI_VERSION_MAX)
        return TSP_LINEERR_INCOMPATIBLEAPIVERSION;
    *out = high < TSP_TSPI_VERSION_MAX ? high : TSP_TSPI_VERSION_MAX;
    return 0;
}

int32_t tsp_lineerr(ctilink_result r, bool has_address) {
    switch (r) {
    case CTILINK_RESULT_OK:
        return 0;
    case CTILINK_RESULT_INVALID_ARGUMENT:
    case CTILINK_RESULT_INVALID_UTF8:
        return has_address ? TSP_LINEERR_INVALADDRESS : TSP_LINEERR_INVALPARAM;
    case CTILINK_RESULT_NULL_PARAMETER:
        return TSP_LINEERR_INVALPOINTER;
    case CTILINK_RESULT_UNKNOWN_DEVICE:
        return TSP_LINEERR_INVALADDRESS;
    case CTILINK_RESULT_UNKNOWN_CALL:
        return TSP_LINEERR_INVALCALLHANDLE;
    case CTILINK_RESULT_NOT_ALLOWED:
        return TSP_LINEERR_INVALCALLSTATE;
    case CTILINK_RESULT_UNSUPPORTED:
        return TSP_LINEERR_OPERATIONUNAVAIL;
    /* Passing conditions: the application may try again (after LINEDEVSTATE_INSERVICE
     * for a link that is down). */
    case CTILINK_RESULT_LINK_DOWN:
    case CTILINK_RESULT_BUSY:
    case CTILINK_RESULT_TOO_MANY_REQUESTS:
    case CTILINK_RESULT_CONNECT_FAILED:
        return TSP_LINEERR_RESOURCEUNAVAIL;
    default: /* refused by the PBX, timed out, closed, protocol, panic, newer codes */
        return TSP_LINEERR_OPERATIONFAILED;
    }
}

static bool is_phone_char(char ch) {
    return (ch >= '0' && ch <= '9') || strchr("*#+ \t()-.,TtPpWw@$!", ch) != NULL;
}

bool tsp_normalize_address(const char *in, char *out, size_t cap) {
    if (!in || !out || cap == 0) return false;
    /* TAPI separates a subaddress (|), a name (^) and further addresses (; CRLF). */
    size_t len = strcspn(in, "|^;\r\n");
    bool phone = len > 0;
    bool digit = false;
    for (size_t i = 0; i < len; i++) {
        if (!is_phone_char(in[i])) phone = false;
        if (in[i] >= '0' && in[i] <= '9') digit = true;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        bool keep;
        if (phone && digit)
            /* A phone number: digits and * # survive, + only in front; the rest is how
             * TAPI writes pauses, tone/pulse and formatting. */
            keep = (ch >= '0' && ch <= '9') || ch == '*' || ch == '#' || (ch == '+' && n == 0);
        else
            /* A SIP user or a vanity number: only blanks go. */
            keep = ch != ' ' && ch != '\t';
        if (!keep) continue;
        if (n + 1 >= cap) return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n > 0;
}

/* The mode TAPI expects with a state (dwParam2 of LINE_CALLSTATE). */
static uint32_t state_mode(uint32_t state, uint32_t disconnect_mode) {
    switch (state) {
    case TSP_LINECALLSTATE_OFFERING:
        return TSP_LINEOFFERINGMODE_ACTIVE;
    case TSP_LINECALLSTATE_BUSY:
        return TSP_LINEBUSYMODE_UNAVAIL;
    case TSP_LINECALLSTATE_DIALTONE:
        return TSP_LINEDIALTONEMODE_UNAVAIL;
    case TSP_LINECALLSTATE_CONNECTED:
        return TSP_LINECONNECTEDMODE_ACTIVE;
    case TSP_LINECALLSTATE_DISCONNECTED:
        return disconnect_mode ? disconnect_mode : TSP_LINEDISCONNECTMODE_UNKNOWN;
    default:
        return 0;
    }
}

/* What an application may do with a call in a state (what the shim implements). */
static uint32_t call_features(uint32_t state) {
    switch (state) {
    case TSP_LINECALLSTATE_OFFERING:
        return TSP_LINECALLFEATURE_ANSWER | TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_REDIRECT;
    case TSP_LINECALLSTATE_CONNECTED:
        return TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_HOLD | TSP_LINECALLFEATURE_BLINDTRANSFER |
               TSP_LINECALLFEATURE_DIAL | TSP_LINECALLFEATURE_SETUPTRANSFER;
    case TSP_LINECALLSTATE_ONHOLD:
        return TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_UNHOLD;
    case TSP_LINECALLSTATE_IDLE:
    case 0:
        return 0;
    default:
        return TSP_LINECALLFEATURE_DROP;
    }
}

/* ---- building messages (STATE held) ----------------------------------------- */

static msg_t *push(tsp_core *c) {
    if (c->batch_len == c->batch_cap) {
        c->stats.messages_dropped++;
        return NULL;
    }
    msg_t *m = &c->batch[c->batch_len++];
    memset(m, 0, sizeof *m);
    return m;
}

static void push_line(tsp_core *c, uint32_t l, uint32_t msg, uintptr_t p1, uintptr_t p2) {
    msg_t *m = push(c);
    if (!m) return;
    m->line = l;
    m->slot = UINT32_MAX;
    m->ht_line = c->lines[l].ht_line;
    m->msg = msg;
    m->p1 = p1;
    m->p2 = p2;
}

static void push_call(tsp_core *c, uint32_t l, uint32_t i, uint32_t msg, uintptr_t p1,
                      uintptr_t p2, uintptr_t p3) {
    slot_t *s = &c->lines[l].calls[i];
    msg_t *m = push(c);
    if (!m) return;
    m->line = l;
    m->slot = i;
    m->gen = s->gen;
    m->ht_line = c->lines[l].ht_line;
    m->ht_call = s->ht_call;
    m->msg = msg;
    m->p1 = p1;
    m->p2 = p2;
    m->p3 = p3;
}

static void push_completion(tsp_core *c, uint32_t request_id, int32_t result) {
    msg_t *m = push(c);
    if (!m) return;
    m->completion = true;
    m->request_id = request_id;
    m->result = result;
}

static bool visible(const line_t *line, const slot_t *s) {
    return line->open && s->announced && !s->awaiting && !s->muted;
}

/* Tells TAPI what it does not know yet about a call: its state, then its info. */
static void report(tsp_core *c, uint32_t l, uint32_t i) {
    line_t *line = &c->lines[l];
    slot_t *s = &line->calls[i];
    if (!visible(line, s)) return;
    if (s->state != 0 && (s->state != s->told_state || s->mode != s->told_mode)) {
        /* The first state of a call carries its media mode; later ones leave it. */
        uintptr_t media = s->told_state == 0 ? TSP_LINEMEDIAMODE_INTERACTIVEVOICE : 0;
        push_call(c, l, i, TSP_LINE_CALLSTATE, s->state, s->mode, media);
        s->told_state = s->state;
        s->told_mode = s->mode;
    }
    if (s->info_dirty) {
        push_call(c, l, i, TSP_LINE_CALLINFO, s->info_dirty, 0, 0);
        s->info_dirty = 0;
    }
}

static void announce(tsp_core *c, uint32_t l, uint32_t i) {
    slot_t *s = &c->lines[l].calls[i];
    s->announced = true;
    push_call(c, l, i, TSP_LINE_NEWCALL, call_handle(l, i, s->gen), 0, 0);
    report(c, l, i);
}

/* Frees a call nobody will close: TAPI never had it, or TAPI refused it. */
static void maybe_free(tsp_core *c, uint32_t l, uint32_t i) {
    line_t *line = &c->lines[l];
    slot_t *s = &line->calls[i];
    if (s->used && !s->attached && !s->awaiting && (!s->announced || s->muted)) free_slot(line, s);
}

static void set_state(tsp_core *c, uint32_t l, uint32_t i, uint32_t state, uint32_t mode);

/* A consultation call went IDLE: the transfer it was for is off. The call to transfer
 * shows again what the PBX has (CONNECTED when lineDial never placed the consultation,
 * ONHOLD when the PBX held it), unless the PBX transferred it. */
static void consult_ended(tsp_core *c, uint32_t l, uint32_t i) {
    slot_t *s = &c->lines[l].calls[i];
    uint32_t self = call_handle(l, i, s->gen), pl = 0, pi = 0;
    slot_t *p = slot_any(c, s->partner, &pl, &pi);
    s->xfer = XFER_NONE;
    s->dialing = false;
    s->partner = 0;
    if (!p || p->xfer != XFER_PRIMARY || p->partner != self) return;
    bool shown = p->pend;
    p->xfer = XFER_NONE;
    p->pend = false;
    p->partner = 0;
    if (shown && !p->xfer_done && p->attached && !c->going_down) set_state(c, pl, pi, p->base_state, 0);
}

static void set_state(tsp_core *c, uint32_t l, uint32_t i, uint32_t state, uint32_t mode) {
    line_t *line = &c->lines[l];
    slot_t *s = &line->calls[i];
    if (s->xfer == XFER_PRIMARY) {
        /* The call to transfer: held or not at the PBX, TAPI sees ONHOLDPENDTRANSFER until
         * the transfer is done or off; any other state ends the transfer. */
        if (state == TSP_LINECALLSTATE_CONNECTED || state == TSP_LINECALLSTATE_ONHOLD) {
            s->base_state = state;
            if (s->pend) state = TSP_LINECALLSTATE_ONHOLDPENDTRANSFER;
        } else {
            s->xfer = XFER_NONE;
            s->pend = false;
        }
    }
    if (s->state != state) s->since = (int64_t)time(NULL);
    s->state = state;
    s->mode = state_mode(state, mode);
    if (state == TSP_LINECALLSTATE_IDLE) s->attached = false;
    if (state == TSP_LINECALLSTATE_CONNECTED && !s->ever_connected) {
        s->ever_connected = true;
        s->info_dirty |= TSP_LINECALLINFOSTATE_CONNECTEDID;
    }
    if (line->open && !s->announced && s->attached)
        announce(c, l, i);
    else
        report(c, l, i);
    if (state == TSP_LINECALLSTATE_IDLE && s->xfer == XFER_CONSULT) consult_ended(c, l, i);
    maybe_free(c, l, i);
}

/* Takes the parties an event names (an empty field means "not carried", not "none").
 * Once connected, a new far party (after a transfer) is a new connected id too. */
static void take_parties(slot_t *s, const ctilink_event *ev) {
    uint32_t before = s->info_dirty;
    struct {
        tsp_party *party;
        ctilink_str number, name;
        uint32_t flag;
    } f[2] = {
        {&s->caller, ctilink_event_caller_number(ev), ctilink_event_caller_name(ev),
         TSP_LINECALLINFOSTATE_CALLERID},
        {&s->called, ctilink_event_called_number(ev), ctilink_event_called_name(ev),
         TSP_LINECALLINFOSTATE_CALLEDID},
    };
    for (int k = 0; k < 2; k++) {
        char buf[TSP_PARTY_MAX];
        if (f[k].number.len) {
            copy_str(buf, sizeof buf, f[k].number);
            if (strcmp(buf, f[k].party->number) != 0) {
                strcpy(f[k].party->number, buf);
                s->info_dirty |= f[k].flag;
            }
        }
        if (f[k].name.len) {
            copy_str(buf, sizeof buf, f[k].name);
            if (strcmp(buf, f[k].party->name) != 0) {
                strcpy(f[k].party->name, buf);
                s->info_dirty |= f[k].flag;
            }
        }
    }
    uint32_t far = s->outgoing ? TSP_LINECALLINFOSTATE_CALLEDID : TSP_LINECALLINFOSTATE_CALLERID;
    if (s->ever_connected && (s->info_dirty & ~before & far)) s->info_dirty |= TSP_LINECALLINFOSTATE_CONNECTEDID;
}

/* A new TAPI call on line l for the event's PBX call, or -1 (table full). */
static int new_slot(tsp_core *c, uint32_t l, const ctilink_event *ev, int calling_line) {
    line_t *line = &c->lines[l];
    int i = alloc_slot(line);
    if (i < 0) {
        c->stats.calls_not_tracked++;
        return -1;
    }
    slot_t *s = &line->calls[i];
    s->attached = true;
    copy_str(s->id, sizeof s->id, ctilink_event_call_id(ev));
    s->outgoing = calling_line == (int)l;
    if (s->outgoing)
        s->origin = TSP_LINECALLORIGIN_OUTBOUND;
    else if (ctilink_event_calling_device(ev).len)
        s->origin = TSP_LINECALLORIGIN_INTERNAL;
    else
        s->origin = TSP_LINECALLORIGIN_EXTERNAL;
    return i;
}

/* An event of a linePickup's leg (the picker's phone ringing, then answered): the
 * TAPI call shows it getting ready (DIALTONE, PROCEEDING); the leg ending merged into
 * the picked-up call is no end for it, the leg ending otherwise (the pickup failed) is. */
static void on_pickup_leg(tsp_core *c, uint32_t l, uint32_t i, const ctilink_event *ev, ctilink_event_type t,
                          bool changes, uint32_t state) {
    slot_t *s = &c->lines[l].calls[i];
    if (t == CTILINK_EVENT_TYPE_CALL_CLEARED) {
        bool merged = str_eq(ctilink_event_related_call(ev), s->id);
        s->leg[0] = '\0';
        if (!merged) set_state(c, l, i, TSP_LINECALLSTATE_IDLE, 0);
        return;
    }
    if (changes && state != TSP_LINECALLSTATE_IDLE && state != TSP_LINECALLSTATE_DISCONNECTED)
        set_state(c, l, i, state, 0);
}

/* An attended transfer: the consultation call (related_call) merges into this one. A
 * line in the consultation (the transfer target) goes on talking in this call: its TAPI
 * call follows the PBX call it is merged into (the consultation's last events are that
 * call's leg, like a pickup's), rather than ending. The transferring line's call to
 * transfer is done: no going back to ONHOLD when its consultation ends. */
static void on_transferred(tsp_core *c, const ctilink_event *ev, ctilink_str id, int dev_line) {
    ctilink_str consult = ctilink_event_related_call(ev);
    if (consult.len == 0 || consult.len >= CTILINK_CALL_ID_MAX) return;
    for (uint32_t l = 0; l < c->nlines; l++) {
        line_t *line = &c->lines[l];
        int i = find_slot(line, id);
        if ((int)l == dev_line) {
            if (i >= 0 && line->calls[i].xfer == XFER_PRIMARY) line->calls[i].xfer_done = true;
            continue;
        }
        int j = find_slot(line, consult);
        if (i >= 0 || j < 0 || line->calls[j].leg[0]) continue;
        slot_t *s = &line->calls[j];
        copy_str(s->leg, sizeof s->leg, consult);
        copy_str(s->id, sizeof s->id, id);
    }
}

/* A call's event (NEW_CALL included): what each line in the call now shows. */
static void on_call_event(tsp_core *c, const ctilink_event *ev, ctilink_event_type t) {
    ctilink_str id = ctilink_event_call_id(ev);
    if (id.len == 0 || id.len >= CTILINK_CALL_ID_MAX) return;
    int dev_line = find_line(c, ctilink_event_device(ev));
    int calling_line = find_line(c, ctilink_event_calling_device(ev));
    /* The user's own phone ringing for click-to-dial is, for TAPI, an outgoing call
     * getting ready: ctilink says OFFERING, a TSP says DIALTONE (PROCEEDING once the
     * phone is picked up). */
    bool own_c2d = (t == CTILINK_EVENT_TYPE_DELIVERED || t == CTILINK_EVENT_TYPE_ESTABLISHED) &&
                   ctilink_event_flag(ev);
    if (t == CTILINK_EVENT_TYPE_TRANSFERRED) on_transferred(c, ev, id, dev_line);
    for (uint32_t l = 0; l < c->nlines; l++) {
        line_t *line = &c->lines[l];
        int i = find_slot(line, id);
        /* A line joins a call only through its own connection (or by having placed
         * it); NEW_CALL names no device, so every line asks. */
        if (i < 0 && t != CTILINK_EVENT_TYPE_NEW_CALL && (int)l != dev_line && (int)l != calling_line)
            continue;
        uint32_t state = 0, mode = 0;
        bool changes = ctilink_event_line_call_state(ev, line->ext, &state, &mode);
        if (changes && own_c2d && (int)l == dev_line)
            state = t == CTILINK_EVENT_TYPE_DELIVERED ? TSP_LINECALLSTATE_DIALTONE
                                                      : TSP_LINECALLSTATE_PROCEEDING;
        if (i < 0 && own_c2d && (int)l == dev_line && (i = find_pickup_waiting(line)) >= 0)
            copy_str(line->calls[i].leg, CTILINK_CALL_ID_MAX, id);
        if (i >= 0 && line->calls[i].leg[0] && str_eq(id, line->calls[i].leg)) {
            on_pickup_leg(c, l, (uint32_t)i, ev, t, changes, state);
            continue;
        }
        if (i < 0) {
            /* Nothing to announce for a line that is only told the call ended or could
             * not reach it (a busy phone never sees the call). */
            if (!changes || state == TSP_LINECALLSTATE_IDLE || state == TSP_LINECALLSTATE_DISCONNECTED ||
                state == TSP_LINECALLSTATE_BUSY)
                continue;
            i = new_slot(c, l, ev, calling_line);
            if (i < 0) continue;
        }
        slot_t *s = &line->calls[i];
        if (own_c2d && (int)l == dev_line) {
            s->outgoing = true;
            s->origin = TSP_LINECALLORIGIN_OUTBOUND;
        }
        take_parties(s, ev);
        /* After a transfer, the transferring party's leaving changes nothing on the other
         * lines: ctilink_event_line_call_state already says so (no change), so the call
         * goes on here with the party it was transferred to. */
        if (!changes) {
            report(c, l, (uint32_t)i);
            continue;
        }
        /* BUSY and DISCONNECTED end a call for TAPI (the application drops it next):
         * a late event of another phone must not bring it back. Only IDLE follows. */
        bool final = s->state == TSP_LINECALLSTATE_BUSY || s->state == TSP_LINECALLSTATE_DISCONNECTED;
        if (final && state != TSP_LINECALLSTATE_IDLE) {
            report(c, l, (uint32_t)i);
            continue;
        }
        set_state(c, l, (uint32_t)i, state, mode);
    }
}

static void set_service(tsp_core *c, bool up) {
    if (c->in_service == up) return;
    c->in_service = up;
    uint32_t what = up ? TSP_LINEDEVSTATE_INSERVICE : TSP_LINEDEVSTATE_OUTOFSERVICE;
    for (uint32_t l = 0; l < c->nlines; l++) {
        line_t *line = &c->lines[l];
        if (line->open && (line->line_states & what)) push_line(c, l, TSP_LINE_LINEDEVSTATE, what, 0);
    }
}

/* The link dropped: ctilink forgets every call (they are announced again once it is
 * back), so every call of every line goes IDLE now and the lines go out of service. */
static void on_link_down(tsp_core *c) {
    c->going_down = true;
    for (uint32_t l = 0; l < c->nlines; l++) {
        line_t *line = &c->lines[l];
        for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE && line->ncalls; i++) {
            slot_t *s = &line->calls[i];
            if (s->used && s->attached) set_state(c, l, i, TSP_LINECALLSTATE_IDLE, 0);
        }
    }
    c->going_down = false;
    set_service(c, false);
}

static req_t *find_req(tsp_core *c, uint64_t ct, int *k_out) {
    for (uint32_t r = 0; r < TSP_MAX_REQUESTS; r++) {
        req_t *q = &c->reqs[r];
        if (!q->used) continue;
        for (int k = 0; k < 3; k++)
            if (q->ct[k] == ct) {
                *k_out = k;
                return q;
            }
    }
    return NULL;
}

static void finish_req(tsp_core *c, req_t *q) {
    push_completion(c, q->tapi_id, q->result);
    if (q->kind == REQ_START) {
        uint32_t l = 0, i = 0;
        slot_t *s = slot_any(c, q->hd_call, &l, &i);
        if (s && q->result == 0) {
            /* Only now may TAPI hear about the call: what happened meanwhile follows
             * the completion. */
            s->awaiting = false;
            report(c, l, i);
            maybe_free(c, l, i);
        } else if (s) {
            /* A call whose creation failed is not TAPI's: it never closes it. */
            free_slot(&c->lines[l], s);
        }
    }
    q->used = false;
}

static void on_completed(tsp_core *c, const ctilink_event *ev) {
    int k = 0;
    req_t *q = find_req(c, ctilink_event_request_id(ev), &k);
    if (!q) return;
    q->ct[k] = 0;
    q->outstanding--;
    ctilink_result r = ctilink_event_result(ev);
    int32_t e = tsp_lineerr(r, q->has_address);
    if (q->kind == REQ_CONSULT) {
        /* lineDial placed the consultation: the PBX's new call is this TAPI call from now
         * on (its events follow this completion). */
        slot_t *s = slot_any(c, q->hd_call, NULL, NULL);
        if (s) s->dialing = false;
        ctilink_str id = ctilink_event_call_id(ev);
        if (s && r == CTILINK_RESULT_OK && s->xfer == XFER_CONSULT && s->attached && !s->id[0] && id.len &&
            id.len < CTILINK_CALL_ID_MAX)
            copy_str(s->id, sizeof s->id, id);
    }
    if (q->kind == REQ_DROP) {
        /* Dropping a call that is already gone succeeds: the PBX no longer knows it,
         * or the line already reported it IDLE (the link dropped it, or it ended). */
        slot_t *s = slot_of(c, q->hd_call, NULL, NULL);
        if (r == CTILINK_RESULT_UNKNOWN_CALL || r == CTILINK_RESULT_LINK_DOWN || q->was_gone ||
            (s && !s->attached))
            e = 0;
    }
    if (q->result == 0) q->result = e;
    if (q->outstanding == 0) finish_req(c, q);
}

/* Makes the batch's calls into TAPI. EMIT held, STATE free. */
static void emit_batch(tsp_core *c) {
    for (size_t n = 0; n < c->batch_len; n++) {
        msg_t *m = &c->batch[n];
        if (m->skip) continue;
        if (m->completion) {
            c->p.async_completion(c->p.ctx, m->request_id, m->result);
            continue;
        }
        if (m->msg != TSP_LINE_NEWCALL) {
            c->p.line_event(c->p.ctx, m->ht_line, m->ht_call, m->msg, m->p1, m->p2, m->p3);
            continue;
        }
        uintptr_t ht = 0;
        c->p.line_event(c->p.ctx, m->ht_line, 0, TSP_LINE_NEWCALL, m->p1, (uintptr_t)&ht, 0);
        lock(c, TSP_LOCK_STATE);
        slot_t *s = &c->lines[m->line].calls[m->slot];
        if (s->used && s->gen == m->gen) {
            s->ht_call = ht;
            if (ht == 0) {
                s->muted = true;
                maybe_free(c, m->line, m->slot);
            }
        }
        unlock(c, TSP_LOCK_STATE);
        /* The call's other messages in this batch were built before TAPI named it. */
        for (size_t j = n + 1; j < c->batch_len; j++) {
            msg_t *o = &c->batch[j];
            if (o->completion || o->line != m->line || o->slot != m->slot || o->gen != m->gen) continue;
            o->ht_call = ht;
            o->skip = ht == 0;
        }
    }
    c->batch_len = 0;
}

static void on_event(void *userdata, const ctilink_event *ev) {
    tsp_core *c = userdata;
    lock(c, TSP_LOCK_EMIT);
    lock(c, TSP_LOCK_STATE);
    c->batch_len = 0;
    ctilink_event_type t = ctilink_event_get_type(ev);
    switch (t) {
    case CTILINK_EVENT_TYPE_REQUEST_COMPLETED:
        on_completed(c, ev);
        break;
    case CTILINK_EVENT_TYPE_LINK_DOWN:
        on_link_down(c);
        break;
    case CTILINK_EVENT_TYPE_LINK_UP:
    case CTILINK_EVENT_TYPE_RESYNCED:
        set_service(c, true);
        break;
    case CTILINK_EVENT_TYPE_DEVICE_REMOVED:
        /* The PBX no longer has the device (restarted with other extensions). TAPI's answer
         * would be LINE_REMOVE, but the lines are a table fixed at connect whose indexes are
         * the line handles: removing one is not done yet. The line stays, with no calls
         * (the resync cleared them), until the provider is restarted. */
        break;
    case CTILINK_EVENT_TYPE_FORWARDING: {
        int l = find_line(c, ctilink_event_device(ev));
        if (l >= 0 && c->lines[l].open && (c->lines[l].address_states & TSP_LINEADDRESSSTATE_FORWARD))
            push_line(c, (uint32_t)l, TSP_LINE_ADDRESSSTATE, 0, TSP_LINEADDRESSSTATE_FORWARD);
        break;
    }
    default:
        if (t == CTILINK_EVENT_TYPE_NEW_CALL ||
            (t >= CTILINK_EVENT_TYPE_ORIGINATED && t <= CTILINK_EVENT_TYPE_CALL_CLEARED))
            on_call_event(c, ev, t);
        break;
    }
    unlock(c, TSP_LOCK_STATE);
    /* EMIT stays held: the messages go out before the next event's. */
    emit_batch(c);
    unlock(c, TSP_LOCK_EMIT);
}

/* ---- provider ---------------------------------------------------------------- */

static void last_error(char *err, size_t cap, const char *what, ctilink_result r) {
    if (!err || cap == 0) return;
    char detail[256] = "";
    size_t n = 0;
    if (ctilink_last_error_message(detail, sizeof detail, &n) != CTILINK_RESULT_OK || n == 0)
        if (ctilink_result_message(r, detail, sizeof detail, &n) != CTILINK_RESULT_OK) detail[0] = '\0';
    snprintf(err, cap, "%s: %s", what, detail);
}

static int32_t build_lines(tsp_core *c) {
    ctilink_snapshot *snap = NULL;
    if (ctilink_session_snapshot(c->session, &snap) != CTILINK_RESULT_OK) return TSP_LINEERR_OPERATIONFAILED;
    size_t count = ctilink_snapshot_device_count(snap);
    size_t n = count < TSP_MAX_LINES ? count : TSP_MAX_LINES;
    c->lines = n ? calloc(n, sizeof *c->lines) : NULL;
    if (n && !c->lines) {
        ctilink_snapshot_free(snap);
        return TSP_LINEERR_NOMEM;
    }
    for (size_t d = 0; d < count && c->nlines < n; d++) {
        ctilink_str id = ctilink_device_id(ctilink_snapshot_device_at(snap, d));
        if (id.len == 0 || id.len >= TSP_EXT_MAX) continue;
        copy_str(c->lines[c->nlines++].ext, TSP_EXT_MAX, id);
    }
    ctilink_snapshot_free(snap);
    qsort(c->lines, c->nlines, sizeof *c->lines, cmp_lines);
    /* Worst case of one event: every call of every line goes IDLE and every line out of
     * service (LINK_DOWN), or every line gets NEWCALL, CALLSTATE and CALLINFO. */
    c->batch_cap = (size_t)c->nlines * (TSP_MAX_CALLS_PER_LINE * 3u + 2u) + 8u;
    c->batch = calloc(c->batch_cap, sizeof *c->batch);
    return c->batch ? 0 : TSP_LINEERR_NOMEM;
}

int32_t tsp_core_connect(const tsp_config *cfg, const tsp_platform *p, tsp_core **out, char *err,
                         size_t err_cap) {
    if (err && err_cap) err[0] = '\0';
    if (!cfg || !cfg->url || !p || !out || !p->lock || !p->unlock || !p->line_event || !p->async_completion ||
        !p->defer)
        return TSP_LINEERR_INVALPOINTER;
    tsp_core *c = calloc(1, sizeof *c);
    if (!c) return TSP_LINEERR_NOMEM;
    c->p = *p;
    ctilink_options *o = NULL;
    ctilink_result r = ctilink_options_new(&o);
    if (r == CTILINK_RESULT_OK) r = ctilink_options_set_url(o, cfg->url);
    if (r == CTILINK_RESULT_OK && cfg->lines && cfg->lines[0]) r = ctilink_options_set_monitor(o, cfg->lines);
    if (r == CTILINK_RESULT_OK && cfg->action_timeout_ms)
        r = ctilink_options_set_action_timeout_ms(o, cfg->action_timeout_ms);
    if (r == CTILINK_RESULT_OK) r = ctilink_options_set_event_callback(o, on_event, c);
    if (r != CTILINK_RESULT_OK) {
        last_error(err, err_cap, "invalid configuration", r);
        ctilink_options_free(o);
        free(c);
        return TSP_LINEERR_OPERATIONFAILED;
    }
    /* The first events (the calls that exist now) may arrive before the lines exist:
     * the event thread waits for STATE until they do. */
    lock(c, TSP_LOCK_STATE);
    r = ctilink_session_connect(o, &c->session);
    ctilink_options_free(o);
    if (r != CTILINK_RESULT_OK) {
        unlock(c, TSP_LOCK_STATE);
        last_error(err, err_cap, "cannot connect to the PBX", r);
        free(c);
        return TSP_LINEERR_OPERATIONFAILED;
    }
    c->in_service = ctilink_session_status(c->session) == CTILINK_LINK_STATUS_UP;
    int32_t e = build_lines(c);
    if (e != 0) c->nlines = 0;
    unlock(c, TSP_LOCK_STATE);
    if (e != 0) {
        last_error(err, err_cap, "cannot read the PBX's devices", CTILINK_RESULT_OTHER);
        tsp_core_destroy(c);
        return e;
    }
    *out = c;
    return 0;
}

void tsp_core_destroy(tsp_core *c) {
    if (!c) return;
    /* close returns after the last callback: the completions of requests still pending
     * have reached TAPI, and no callback touches c afterwards. */
    ctilink_session_close(c->session);
    ctilink_session_free(c->session);
    free(c->lines);
    free(c->batch);
    free(c);
}

uint32_t tsp_core_line_count(const tsp_core *c) { return c ? c->nlines : 0; }

void tsp_core_set_device_id_base(tsp_core *c, uint32_t base) {
    if (!c) return; /* before providerInit, after providerShutdown */
    lock(c, TSP_LOCK_STATE);
    c->base = base;
    unlock(c, TSP_LOCK_STATE);
}

static int line_by_device_id(tsp_core *c, uint32_t device_id) {
    if (device_id < c->base || device_id - c->base >= c->nlines) return -1;
    return (int)(device_id - c->base);
}

int32_t tsp_core_line_ext(tsp_core *c, uint32_t device_id, char *buf, size_t cap) {
    if (!c) return TSP_LINEERR_BADDEVICEID; /* before providerInit, after providerShutdown */
    if (!buf || cap == 0) return TSP_LINEERR_INVALPOINTER;
    lock(c, TSP_LOCK_STATE);
    int l = line_by_device_id(c, device_id);
    int32_t e = l < 0 ? TSP_LINEERR_BADDEVICEID : 0;
    if (e == 0 && strlen(c->lines[l].ext) >= cap) e = TSP_LINEERR_STRUCTURETOOSMALL;
    if (e == 0) strcpy(buf, c->lines[l].ext);
    unlock(c, TSP_LOCK_STATE);
    return e;
}

tsp_stats tsp_core_stats(tsp_core *c) {
    lock(c, TSP_LOCK_STATE);
    tsp_stats s = c->stats;
    unlock(c, TSP_LOCK_STATE);
    return s;
}

/* ---- lines ------------------------------------------------------------------- */

int32_t tsp_core_line_open(tsp_core *c, uint32_t device_id, uintptr_t ht_line, uint32_t *hd_line) {
    if (!c) return TSP_LINEERR_BADDEVICEID; /* before providerInit, after providerShutdown */
    if (!hd_line) return TSP_LINEERR_INVALPOINTER;
    lock(c, TSP_LOCK_STATE);
    int l = line_by_device_id(c, device_id);
    int32_t e = 0;
    if (l < 0)
        e = TSP_LINEERR_BADDEVICEID;
    else if (c->lines[l].open || c->lines[l].opening)
        e = TSP_LINEERR_RESOURCEUNAVAIL;
    if (e == 0) {
        line_t *line = &c->lines[l];
        line->opening = true;
        line->ht_line = ht_line;
        line->line_states = line->address_states = 0;
        *hd_line = (uint32_t)l + 1u;
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

void tsp_core_line_opened(tsp_core *c, uint32_t hd_line) {
    if (!c) return; /* before providerInit, after providerShutdown */
    lock(c, TSP_LOCK_EMIT);
    lock(c, TSP_LOCK_STATE);
    c->batch_len = 0;
    if (hd_line >= 1 && hd_line <= c->nlines && c->lines[hd_line - 1].opening) {
        uint32_t l = hd_line - 1;
        line_t *line = &c->lines[l];
        line->opening = false;
        line->open = true;
        for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE && line->ncalls; i++) {
            slot_t *s = &line->calls[i];
            if (!s->used) continue;
            if (s->announced)
                report(c, l, i); /* made by lineMakeCall before this ran */
            else if (s->attached)
                announce(c, l, i);
            else
                maybe_free(c, l, i);
        }
    }
    unlock(c, TSP_LOCK_STATE);
    emit_batch(c);
    unlock(c, TSP_LOCK_EMIT);
}

int32_t tsp_core_line_close(tsp_core *c, uint32_t hd_line) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    /* EMIT first: a batch built for this line before the close goes out before this
     * returns, so TAPI gets no message for the line once TSPI_lineClose has returned. */
    lock(c, TSP_LOCK_EMIT);
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    if (line) {
        line->open = line->opening = false;
        line->ht_line = 0;
        /* TAPI forgets the line's calls; those still going on are announced again if
         * the line is opened again. */
        for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE; i++) {
            slot_t *s = &line->calls[i];
            if (!s->used) continue;
            /* A transfer being set up is TAPI's: it is off. A consultation call not
             * placed yet is nothing at the PBX, and goes. */
            if (s->xfer == XFER_CONSULT && !s->id[0]) s->attached = false;
            if (s->xfer == XFER_PRIMARY && s->pend) s->state = s->base_state;
            s->xfer = XFER_NONE;
            s->pend = s->dialing = false;
            s->partner = 0;
            s->announced = s->muted = false;
            s->ht_call = 0;
            s->told_state = s->told_mode = 0;
            s->info_dirty = TSP_LINECALLINFOSTATE_CALLERID | TSP_LINECALLINFOSTATE_CALLEDID |
                            (s->ever_connected ? TSP_LINECALLINFOSTATE_CONNECTEDID : 0);
            maybe_free(c, hd_line - 1, i);
        }
    }
    unlock(c, TSP_LOCK_STATE);
    unlock(c, TSP_LOCK_EMIT);
    return line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
}

int32_t tsp_core_set_status_messages(tsp_core *c, uint32_t hd_line, uint32_t line_states,
                                     uint32_t address_states) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    if (line) {
        line->line_states = line_states;
        line->address_states = address_states;
    }
    unlock(c, TSP_LOCK_STATE);
    return line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
}

int32_t tsp_core_set_media_detection(tsp_core *c, uint32_t hd_line, uint32_t media_modes) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    /* Every call is a voice call. The calls of the line are reported whatever the modes:
     * monitoring applications (which add no media mode) need them too. */
    if (media_modes & ~TSP_LINEMEDIAMODE_INTERACTIVEVOICE) return TSP_LINEERR_INVALMEDIAMODE;
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    unlock(c, TSP_LOCK_STATE);
    return line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
}

static void count_calls(const line_t *line, uint32_t *active, uint32_t *onhold, uint32_t *onhold_pend) {
    *active = *onhold = *onhold_pend = 0;
    for (uint32_t i = 0; i < TSP_MAX_CALLS_PER_LINE; i++) {
        const slot_t *s = &line->calls[i];
        if (!s->used || !s->attached || s->state == 0 || s->state == TSP_LINECALLSTATE_IDLE) continue;
        if (s->state == TSP_LINECALLSTATE_ONHOLD)
            (*onhold)++;
        else if (s->state == TSP_LINECALLSTATE_ONHOLDPENDTRANSFER)
            (*onhold_pend)++;
        else
            (*active)++;
    }
}

int32_t tsp_core_line_status(tsp_core *c, uint32_t hd_line, tsp_line_status *out) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    if (!out) return TSP_LINEERR_INVALPOINTER;
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    if (line) {
        memset(out, 0, sizeof *out);
        count_calls(line, &out->active_calls, &out->onhold_calls, &out->onhold_pend_calls);
        if (c->in_service) {
            out->status_flags = TSP_LINEDEVSTATUSFLAGS_CONNECTED | TSP_LINEDEVSTATUSFLAGS_INSERVICE;
            out->line_features = TSP_LINEFEATURE_MAKECALL | TSP_LINEFEATURE_FORWARD;
        }
    }
    unlock(c, TSP_LOCK_STATE);
    return line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
}

int32_t tsp_core_address_status(tsp_core *c, uint32_t hd_line, uint32_t address_id,
                                tsp_address_status *out) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    if (!out) return TSP_LINEERR_INVALPOINTER;
    if (address_id != 0) return TSP_LINEERR_INVALADDRESSID;
    /* Forwarding as the PBX has it now (the snapshot is the model after every event). */
    ctilink_snapshot *snap = NULL;
    if (ctilink_session_snapshot(c->session, &snap) != CTILINK_RESULT_OK) return TSP_LINEERR_OPERATIONFAILED;
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    if (line) {
        memset(out, 0, sizeof *out);
        count_calls(line, &out->active_calls, &out->onhold_calls, &out->onhold_pend_calls);
        out->in_use = out->active_calls + out->onhold_calls + out->onhold_pend_calls > 0;
        if (c->in_service)
            out->address_features =
                TSP_LINEADDRFEATURE_MAKECALL | TSP_LINEADDRFEATURE_PICKUP | TSP_LINEADDRFEATURE_FORWARD;
        const ctilink_device *d = ctilink_snapshot_find_device(snap, line->ext);
        static const struct {
            uint32_t kind, mode;
        } kinds[3] = {
            {CTILINK_FORWARD_KIND_IMMEDIATE, TSP_LINEFORWARDMODE_UNCOND},
            {CTILINK_FORWARD_KIND_BUSY, TSP_LINEFORWARDMODE_BUSY},
            {CTILINK_FORWARD_KIND_NO_ANSWER, TSP_LINEFORWARDMODE_NOANSW},
        };
        for (int k = 0; d && k < 3; k++) {
            ctilink_str to = ctilink_device_forward_to(d, kinds[k].kind);
            if (to.len == 0 || to.len >= TSP_ADDRESS_MAX) continue;
            tsp_forward *f = &out->forward[out->forward_count++];
            f->mode = kinds[k].mode;
            copy_str(f->dest, sizeof f->dest, to);
        }
    }
    unlock(c, TSP_LOCK_STATE);
    ctilink_snapshot_free(snap);
    return line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
}

static bool class_is(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        if (x != *b) return false;
    }
    return *a == *b;
}

int32_t tsp_core_get_id(tsp_core *c, uint32_t hd_line, uint32_t address_id, uint32_t hd_call,
                        uint32_t select, const char *device_class, tsp_device_id *out) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    if (!out || !device_class) return TSP_LINEERR_INVALPOINTER;
    memset(out, 0, sizeof *out);
    lock(c, TSP_LOCK_STATE);
    int32_t e = 0;
    int l = -1;
    slot_t *s = NULL;
    if (select == TSP_LINECALLSELECT_CALL) {
        uint32_t lu = 0;
        s = slot_of(c, hd_call, &lu, NULL);
        if (s)
            l = (int)lu;
        else
            e = TSP_LINEERR_INVALCALLHANDLE;
    } else if (select == TSP_LINECALLSELECT_LINE || select == TSP_LINECALLSELECT_ADDRESS) {
        if (!line_of(c, hd_line))
            e = TSP_LINEERR_INVALLINEHANDLE;
        else if (select == TSP_LINECALLSELECT_ADDRESS && address_id != 0)
            e = TSP_LINEERR_INVALADDRESSID;
        else
            l = (int)hd_line - 1;
    } else {
        e = TSP_LINEERR_INVALCALLSELECT;
    }
    if (e == 0) {
        if (class_is(device_class, "tapi/line")) {
            out->value = c->base + (uint32_t)l;
        } else if (class_is(device_class, "ctilink/device")) {
            out->is_string = true;
            strcpy(out->text, c->lines[l].ext);
        } else if (class_is(device_class, "ctilink/call") && s) {
            out->is_string = true;
            strcpy(out->text, s->id);
        } else {
            e = TSP_LINEERR_INVALDEVICECLASS;
        }
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

/* ---- requests ---------------------------------------------------------------- */

static req_t *req_new(tsp_core *c, uint32_t tapi_id, uint8_t kind, bool has_address, uint32_t hd_call) {
    for (uint32_t r = 0; r < TSP_MAX_REQUESTS; r++) {
        req_t *q = &c->reqs[r];
        if (q->used) continue;
        memset(q, 0, sizeof *q);
        q->used = true;
        q->tapi_id = tapi_id;
        q->kind = kind;
        q->has_address = has_address;
        q->hd_call = hd_call;
        return q;
    }
    return NULL;
}

/* A free call slot on `line` (line number `l`) and a new request for it: the slot's index,
 * or -1 with the TAPI error in *e. Does nothing while *e already holds an error. */
static int call_request(tsp_core *c, line_t *line, uint32_t l, uint32_t request_id, uint8_t kind,
                        bool has_address, req_t **q, int32_t *e) {
    if (*e != 0) return -1;
    int i = alloc_slot(line);
    if (i < 0) {
        *e = TSP_LINEERR_CALLUNAVAIL;
        return -1;
    }
    slot_t *s = &line->calls[i];
    *q = req_new(c, request_id, kind, has_address, call_handle(l, (uint32_t)i, s->gen));
    if (!*q) {
        free_slot(line, s);
        *e = TSP_LINEERR_RESOURCEUNAVAIL;
        return -1;
    }
    return i;
}

/* Records what a ctilink command answered. A refusal before anything was issued fails
 * the TAPI request at once (no completion); after a part was issued, the request
 * completes with the error once that part has. */
static int32_t req_issued(req_t *q, ctilink_result r, uint64_t ct) {
    if (r == CTILINK_RESULT_OK) {
        q->ct[q->outstanding++] = ct;
        return 0;
    }
    int32_t e = tsp_lineerr(r, q->has_address);
    if (q->outstanding == 0) {
        q->used = false;
        return e;
    }
    if (q->result == 0) q->result = e;
    return 0;
}

enum { OP_ANSWER, OP_DROP, OP_HOLD, OP_UNHOLD, OP_TRANSFER, OP_REDIRECT, OP_DIAL };

/* A request on a consultation call of lineSetupTransfer (STATE held; unlocks it).
 * Before lineDial there is no PBX call: lineDial places it, lineDrop ends the TAPI call
 * (through tsp_core_run_deferred) and the call to transfer is CONNECTED again. Once
 * placed, it is a call like another, but for lineDrop while it is up: on Asterisk the
 * transferring phone leaving the consultation completes the transfer (that is what
 * lineCompleteTransfer does), so lineDrop is refused until the consultation has failed or
 * ended. */
static int32_t consult_op(tsp_core *c, uint32_t request_id, uint32_t hd_call, uint32_t l, slot_t *s, int op,
                          const char *to) {
    int32_t e = 0;
    req_t *q = NULL;
    const char *dev = c->lines[l].ext;
    uint64_t ct = 0;
    if (s->id[0]) {
        bool up = s->state != TSP_LINECALLSTATE_BUSY && s->state != TSP_LINECALLSTATE_DISCONNECTED;
        if (op == OP_DROP && up) {
            e = TSP_LINEERR_OPERATIONUNAVAIL;
        } else if (op != OP_DROP && op != OP_DIAL) {
            e = TSP_LINEERR_INVALCALLSTATE; /* no hold, transfer... of a consultation */
        } else if (!(q = req_new(c, request_id, op == OP_DROP ? REQ_DROP : REQ_PLAIN, op == OP_DIAL, hd_call))) {
            e = TSP_LINEERR_RESOURCEUNAVAIL;
        } else {
            ctilink_result r = op == OP_DROP ? ctilink_session_clear_connection(c->session, s->id, dev, &ct)
                                             : ctilink_session_send_dtmf(c->session, s->id, dev, to, &ct);
            e = req_issued(q, r, ct);
        }
    } else if (s->dialing || (op != OP_DROP && op != OP_DIAL)) {
        e = TSP_LINEERR_INVALCALLSTATE; /* lineDial's consultation is on its way */
    } else if (op == OP_DROP) {
        if (!(q = req_new(c, request_id, REQ_LOCAL_DROP, false, hd_call))) {
            e = TSP_LINEERR_RESOURCEUNAVAIL;
        } else {
            q->local = true;
            c->p.defer(c->p.ctx);
        }
    } else {
        slot_t *p = slot_any(c, s->partner, NULL, NULL);
        if (!p || !p->attached || p->xfer != XFER_PRIMARY || !p->id[0]) {
            e = TSP_LINEERR_INVALCALLSTATE; /* the call to transfer is gone */
        } else if (!(q = req_new(c, request_id, REQ_CONSULT, true, hd_call))) {
            e = TSP_LINEERR_RESOURCEUNAVAIL;
        } else {
            ctilink_result r = ctilink_session_consultation_call(c->session, p->id, dev, to, &ct);
            e = req_issued(q, r, ct);
            if (e == 0) {
                s->dialing = true;
                if (strcmp(s->called.number, to) != 0) {
                    strcpy(s->called.number, to);
                    s->info_dirty |= TSP_LINECALLINFOSTATE_CALLEDID;
                }
            }
        }
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

/* Every request on an existing call. */
static int32_t call_op(tsp_core *c, uint32_t request_id, uint32_t hd_call, int op, const char *address) {
    if (!c) return TSP_LINEERR_INVALCALLHANDLE; /* before providerInit, after providerShutdown */
    char to[TSP_ADDRESS_MAX] = "";
    if (address && !tsp_normalize_address(address, to, sizeof to)) return TSP_LINEERR_INVALADDRESS;
    lock(c, TSP_LOCK_STATE);
    uint32_t l = 0;
    slot_t *s = slot_of(c, hd_call, &l, NULL);
    int32_t e = 0;
    if (!s)
        e = TSP_LINEERR_INVALCALLHANDLE;
    else if (op != OP_DROP && !s->attached)
        e = TSP_LINEERR_INVALCALLSTATE; /* it went IDLE: nothing left to act on */
    if (e == 0 && s->attached && s->xfer == XFER_CONSULT)
        return consult_op(c, request_id, hd_call, l, s, op, to); /* unlocks */
    req_t *q = NULL;
    if (e == 0) {
        q = req_new(c, request_id, op == OP_DROP ? REQ_DROP : REQ_PLAIN, address != NULL, hd_call);
        if (!q) e = TSP_LINEERR_RESOURCEUNAVAIL;
    }
    if (e == 0) {
        const char *dev = c->lines[l].ext;
        uint64_t ct = 0;
        ctilink_result r = CTILINK_RESULT_OTHER;
        switch (op) {
        case OP_ANSWER:
            r = ctilink_session_answer(c->session, s->id, dev, &ct);
            break;
        case OP_DROP:
            /* Sent even for a call already gone, so that the completion (success) comes
             * in order through the event thread like every other. */
            q->was_gone = !s->attached;
            r = ctilink_session_clear_connection(c->session, s->id, dev, &ct);
            break;
        case OP_HOLD:
            r = ctilink_session_hold(c->session, s->id, dev, &ct);
            break;
        case OP_UNHOLD:
            r = ctilink_session_retrieve(c->session, s->id, dev, &ct);
            break;
        case OP_TRANSFER:
            r = ctilink_session_single_step_transfer(c->session, s->id, dev, to, &ct);
            break;
        case OP_REDIRECT:
            r = ctilink_session_deflect(c->session, s->id, dev, to, &ct);
            break;
        case OP_DIAL:
            r = ctilink_session_send_dtmf(c->session, s->id, dev, to, &ct);
            break;
        }
        e = req_issued(q, r, ct);
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

int32_t tsp_core_answer(tsp_core *c, uint32_t id, uint32_t hd) { return call_op(c, id, hd, OP_ANSWER, NULL); }
int32_t tsp_core_drop(tsp_core *c, uint32_t id, uint32_t hd) { return call_op(c, id, hd, OP_DROP, NULL); }
int32_t tsp_core_hold(tsp_core *c, uint32_t id, uint32_t hd) { return call_op(c, id, hd, OP_HOLD, NULL); }
int32_t tsp_core_unhold(tsp_core *c, uint32_t id, uint32_t hd) { return call_op(c, id, hd, OP_UNHOLD, NULL); }

int32_t tsp_core_blind_transfer(tsp_core *c, uint32_t id, uint32_t hd, const char *dest) {
    if (!dest) return TSP_LINEERR_INVALADDRESS;
    return call_op(c, id, hd, OP_TRANSFER, dest);
}

int32_t tsp_core_redirect(tsp_core *c, uint32_t id, uint32_t hd, const char *dest) {
    if (!dest) return TSP_LINEERR_INVALADDRESS;
    return call_op(c, id, hd, OP_REDIRECT, dest);
}

int32_t tsp_core_dial(tsp_core *c, uint32_t id, uint32_t hd, const char *digits) {
    if (!digits) return TSP_LINEERR_INVALADDRESS;
    return call_op(c, id, hd, OP_DIAL, digits);
}

int32_t tsp_core_setup_transfer(tsp_core *c, uint32_t request_id, uint32_t hd_call, uintptr_t ht_consult,
                                uint32_t *hd_consult) {
    if (!c) return TSP_LINEERR_INVALCALLHANDLE; /* before providerInit, after providerShutdown */
    if (!hd_consult) return TSP_LINEERR_INVALPOINTER;
    lock(c, TSP_LOCK_STATE);
    uint32_t l = 0;
    slot_t *p = slot_of(c, hd_call, &l, NULL);
    int32_t e = p ? 0 : TSP_LINEERR_INVALCALLHANDLE;
    if (e == 0 && (!p->attached || !c->in_service || p->xfer != XFER_NONE || !p->id[0] ||
                   p->state != TSP_LINECALLSTATE_CONNECTED))
        e = TSP_LINEERR_INVALCALLSTATE;
    line_t *line = &c->lines[l];
    req_t *q = NULL;
    int i = call_request(c, line, l, request_id, REQ_SETUP, false, &q, &e);
    if (e == 0) {
        /* The consultation call, TAPI's from now on; what TAPI hears of it (DIALTONE) and
         * of the call to transfer (ONHOLDPENDTRANSFER) follows the completion. */
        slot_t *s = &line->calls[i];
        s->attached = s->announced = s->awaiting = s->outgoing = true;
        s->ht_call = ht_consult;
        s->origin = TSP_LINECALLORIGIN_OUTBOUND;
        s->xfer = XFER_CONSULT;
        s->partner = hd_call;
        strcpy(s->caller.number, line->ext);
        s->state = TSP_LINECALLSTATE_DIALTONE;
        s->mode = state_mode(s->state, 0);
        p->xfer = XFER_PRIMARY;
        p->xfer_done = p->pend = false;
        p->partner = q->hd_call;
        p->base_state = p->state;
        q->hd_other = hd_call;
        q->local = true;
        *hd_consult = q->hd_call;
        c->p.defer(c->p.ctx);
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

int32_t tsp_core_complete_transfer(tsp_core *c, uint32_t request_id, uint32_t hd_call, uint32_t hd_consult,
                                   uint32_t transfer_mode) {
    if (!c) return TSP_LINEERR_INVALCALLHANDLE; /* before providerInit, after providerShutdown */
    if (transfer_mode == TSP_LINETRANSFERMODE_CONFERENCE) return TSP_LINEERR_OPERATIONUNAVAIL;
    if (transfer_mode != TSP_LINETRANSFERMODE_TRANSFER) return TSP_LINEERR_INVALTRANSFERMODE;
    lock(c, TSP_LOCK_STATE);
    uint32_t l = 0, cl = 0;
    slot_t *p = slot_of(c, hd_call, &l, NULL);
    slot_t *s = slot_of(c, hd_consult, &cl, NULL);
    int32_t e = 0;
    if (!p)
        e = TSP_LINEERR_INVALCALLHANDLE;
    else if (!s || s == p || cl != l)
        e = TSP_LINEERR_INVALCONSULTCALLHANDLE;
    else if (!p->attached || !s->attached || !p->id[0] || !s->id[0] || s->dialing)
        e = TSP_LINEERR_INVALCALLSTATE; /* over, or the consultation not placed yet */
    req_t *q = NULL;
    if (e == 0 && !(q = req_new(c, request_id, REQ_PLAIN, false, hd_call))) e = TSP_LINEERR_RESOURCEUNAVAIL;
    if (e == 0) {
        uint64_t ct = 0;
        ctilink_result r = ctilink_session_transfer_call(c->session, p->id, s->id, &ct);
        e = req_issued(q, r, ct);
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

/* A request the provider answers itself (STATE held, EMIT held). */
static void finish_local(tsp_core *c, req_t *q) {
    q->local = false;
    uint32_t l = 0, i = 0;
    slot_t *s = slot_any(c, q->hd_call, &l, &i);
    if (q->kind == REQ_SETUP) {
        uint32_t pl = 0, pi = 0;
        slot_t *p = slot_any(c, q->hd_other, &pl, &pi);
        bool ok = s && s->attached && p && p->attached && p->xfer == XFER_PRIMARY && p->partner == q->hd_call;
        if (!ok) {
            /* The call to transfer ended meanwhile (or the link dropped): the consultation
             * call was never TAPI's. */
            if (p && p->xfer == XFER_PRIMARY && p->partner == q->hd_call) {
                p->xfer = XFER_NONE;
                p->partner = 0;
            }
            push_completion(c, q->tapi_id, c->in_service ? TSP_LINEERR_INVALCALLSTATE : TSP_LINEERR_RESOURCEUNAVAIL);
            if (s) free_slot(&c->lines[l], s);
        } else {
            push_completion(c, q->tapi_id, 0);
            p->pend = true;
            set_state(c, pl, pi, p->base_state, 0); /* ONHOLDPENDTRANSFER */
            s->awaiting = false;
            report(c, l, i); /* DIALTONE */
            maybe_free(c, l, i);
        }
    } else {
        /* REQ_LOCAL_DROP: the consultation call never placed ends here. */
        push_completion(c, q->tapi_id, 0);
        if (s && s->attached && s->xfer == XFER_CONSULT && !s->id[0]) set_state(c, l, i, TSP_LINECALLSTATE_IDLE, 0);
    }
    q->used = false;
}

void tsp_core_run_deferred(tsp_core *c) {
    if (!c) return;
    /* One request per batch: a batch holds one event's messages. */
    for (bool more = true; more;) {
        lock(c, TSP_LOCK_EMIT);
        lock(c, TSP_LOCK_STATE);
        c->batch_len = 0;
        more = false;
        for (uint32_t r = 0; r < TSP_MAX_REQUESTS && !more; r++) {
            req_t *q = &c->reqs[r];
            if (!q->used || !q->local) continue;
            finish_local(c, q);
            more = true;
        }
        unlock(c, TSP_LOCK_STATE);
        emit_batch(c);
        unlock(c, TSP_LOCK_EMIT);
    }
}

int32_t tsp_core_make_call(tsp_core *c, uint32_t request_id, uint32_t hd_line, uintptr_t ht_call,
                           const char *dest, uint32_t *hd_call) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    if (!hd_call) return TSP_LINEERR_INVALPOINTER;
    /* ctilink rings the user's phone, then dials: there is no off-hook call without a
     * number to dial later. */
    char to[TSP_ADDRESS_MAX];
    if (!dest || !tsp_normalize_address(dest, to, sizeof to)) return TSP_LINEERR_INVALADDRESS;
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    uint32_t l = hd_line - 1;
    int32_t e = line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
    req_t *q = NULL;
    int i = call_request(c, line, l, request_id, REQ_START, true, &q, &e);
    if (e == 0) {
        slot_t *s = &line->calls[i];
        uint64_t ct = 0;
        size_t len = 0;
        ctilink_result r =
            ctilink_session_make_call(c->session, line->ext, to, &ct, s->id, sizeof s->id, &len);
        e = req_issued(q, r, ct);
        if (e != 0) {
            free_slot(line, s);
        } else {
            /* TAPI holds the call from now on; the PBX's events for it wait for the
             * completion (awaiting). */
            s->attached = s->announced = s->awaiting = s->outgoing = true;
            s->ht_call = ht_call;
            s->origin = TSP_LINECALLORIGIN_OUTBOUND;
            strcpy(s->caller.number, line->ext);
            strcpy(s->called.number, to);
            *hd_call = q->hd_call;
        }
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

int32_t tsp_core_pickup(tsp_core *c, uint32_t request_id, uint32_t hd_line, uint32_t address_id,
                        uintptr_t ht_call, const char *dest, uint32_t *hd_call) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    if (!hd_call) return TSP_LINEERR_INVALPOINTER;
    if (address_id != 0) return TSP_LINEERR_INVALADDRESSID;
    /* Group pickup (no address, a group id) needs a PBX pickup group ctilink does not
     * model; directed pickup names the ringing extension. */
    char target[TSP_ADDRESS_MAX];
    if (!dest || !tsp_normalize_address(dest, target, sizeof target)) return TSP_LINEERR_INVALADDRESS;
    /* The call that rings there: the TAPI call is bound to it before the PBX moves it,
     * so that its events find this call. */
    ctilink_snapshot *snap = NULL;
    if (ctilink_session_snapshot(c->session, &snap) != CTILINK_RESULT_OK) return TSP_LINEERR_OPERATIONFAILED;
    const ctilink_call *ringing = NULL;
    for (size_t k = 0; !ringing && k < ctilink_snapshot_call_count(snap); k++) {
        const ctilink_call *call = ctilink_snapshot_call_at(snap, k);
        for (size_t j = 0; j < ctilink_call_connection_count(call); j++)
            if (str_eq(ctilink_call_connection_device(call, j), target) &&
                ctilink_call_connection_state(call, j) == CTILINK_CONNECTION_STATE_ALERTING)
                ringing = call;
    }
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    uint32_t l = hd_line - 1;
    int32_t e = line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
    if (e == 0 && !ringing) e = TSP_LINEERR_INVALADDRESS;
    if (e == 0 && find_slot(line, ctilink_call_id(ringing)) >= 0) e = TSP_LINEERR_INVALCALLSTATE;
    req_t *q = NULL;
    int i = call_request(c, line, l, request_id, REQ_START, true, &q, &e);
    if (e == 0) {
        slot_t *s = &line->calls[i];
        copy_str(s->id, sizeof s->id, ctilink_call_id(ringing));
        uint64_t ct = 0;
        ctilink_result r = ctilink_session_pickup(c->session, line->ext, s->id, &ct);
        e = req_issued(q, r, ct);
        if (e != 0) {
            free_slot(line, s);
        } else {
            s->attached = s->announced = s->awaiting = true;
            s->ht_call = ht_call;
            s->reason = TSP_LINECALLREASON_PICKUP;
            s->origin = ctilink_call_calling_device(ringing).len ? TSP_LINECALLORIGIN_INTERNAL
                                                                  : TSP_LINECALLORIGIN_EXTERNAL;
            copy_str(s->caller.number, TSP_PARTY_MAX, ctilink_call_caller_number(ringing));
            copy_str(s->caller.name, TSP_PARTY_MAX, ctilink_call_caller_name(ringing));
            copy_str(s->called.number, TSP_PARTY_MAX, ctilink_call_called_number(ringing));
            copy_str(s->called.name, TSP_PARTY_MAX, ctilink_call_called_name(ringing));
            *hd_call = q->hd_call;
        }
    }
    unlock(c, TSP_LOCK_STATE);
    ctilink_snapshot_free(snap);
    return e;
}

int32_t tsp_core_forward(tsp_core *c, uint32_t request_id, uint32_t hd_line, bool all_addresses,
                         uint32_t address_id, const tsp_forward *list, size_t count) {
    if (!c) return TSP_LINEERR_INVALLINEHANDLE; /* before providerInit, after providerShutdown */
    if (!all_addresses && address_id != 0) return TSP_LINEERR_INVALADDRESSID;
    /* One target per ctilink kind: immediate, busy, no answer. */
    char to[3][TSP_ADDRESS_MAX] = {"", "", ""};
    bool set[3] = {false, false, false};
    for (size_t k = 0; list && k < count; k++) {
        bool kinds[3] = {false, false, false};
        switch (list[k].mode) {
        case TSP_LINEFORWARDMODE_UNCOND:
            kinds[0] = true;
            break;
        case TSP_LINEFORWARDMODE_BUSY:
            kinds[1] = true;
            break;
        case TSP_LINEFORWARDMODE_NOANSW:
            kinds[2] = true;
            break;
        case TSP_LINEFORWARDMODE_BUSYNA:
            kinds[1] = kinds[2] = true;
            break;
        default: /* internal/external/specific callers: not a PBX-wide setting */
            return TSP_LINEERR_INVALPARAM;
        }
        for (int j = 0; j < 3; j++) {
            if (!kinds[j]) continue;
            if (set[j]) return TSP_LINEERR_INVALPARAM; /* the same kind twice */
            if (!tsp_normalize_address(list[k].dest, to[j], sizeof to[j])) return TSP_LINEERR_INVALADDRESS;
            set[j] = true;
        }
    }
    static const uint32_t kind_of[3] = {CTILINK_FORWARD_KIND_IMMEDIATE, CTILINK_FORWARD_KIND_BUSY,
                                        CTILINK_FORWARD_KIND_NO_ANSWER};
    lock(c, TSP_LOCK_STATE);
    line_t *line = line_of(c, hd_line);
    int32_t e = line ? 0 : TSP_LINEERR_INVALLINEHANDLE;
    req_t *q = NULL;
    if (e == 0 && !(q = req_new(c, request_id, REQ_FORWARD, true, 0))) e = TSP_LINEERR_RESOURCEUNAVAIL;
    /* Replace, not amend: every kind is written, the ones not in the list as "off". */
    for (int j = 0; e == 0 && j < 3; j++) {
        uint64_t ct = 0;
        ctilink_result r =
            ctilink_session_set_forwarding(c->session, line->ext, kind_of[j], set[j] ? to[j] : NULL, &ct);
        e = req_issued(q, r, ct);
    }
    unlock(c, TSP_LOCK_STATE);
    return e;
}

/* ---- calls ------------------------------------------------------------------- */

int32_t tsp_core_close_call(tsp_core *c, uint32_t hd_call) {
    if (!c) return TSP_LINEERR_INVALCALLHANDLE; /* before providerInit, after providerShutdown */
    lock(c, TSP_LOCK_STATE);
    uint32_t l = 0, i = 0;
    slot_t *s = slot_of(c, hd_call, &l, &i);
    if (s) {
        /* TAPI is done with it; a call still going on stays tracked (silently) until
         * it ends, so that its later events do not announce it again. */
        s->muted = true;
        s->ht_call = 0;
        maybe_free(c, l, i);
    }
    unlock(c, TSP_LOCK_STATE);
    return s ? 0 : TSP_LINEERR_INVALCALLHANDLE;
}

/* What an application may do with a call, a transfer's calls included. */
static uint32_t slot_features(tsp_core *c, const slot_t *s, uint32_t *features2) {
    uint32_t state = s->told_state;
    const uint32_t complete = TSP_LINECALLFEATURE_COMPLETETRANSF;
    if (s->xfer == XFER_CONSULT) {
        if (!s->id[0]) return s->dialing ? 0 : TSP_LINECALLFEATURE_DROP | TSP_LINECALLFEATURE_DIAL;
        switch (state) {
        case TSP_LINECALLSTATE_BUSY:
        case TSP_LINECALLSTATE_DISCONNECTED:
            return TSP_LINECALLFEATURE_DROP;
        case TSP_LINECALLSTATE_CONNECTED:
            *features2 = TSP_LINECALLFEATURE2_TRANSFERNORM;
            return complete | TSP_LINECALLFEATURE_DIAL;
        default: /* PROCEEDING, RINGBACK: a transfer to a ringing phone */
            *features2 = TSP_LINECALLFEATURE2_TRANSFERNORM;
            return complete;
        }
    }
    if (s->xfer == XFER_PRIMARY && state == TSP_LINECALLSTATE_ONHOLDPENDTRANSFER) {
        const slot_t *k = slot_any(c, s->partner, NULL, NULL);
        bool placed = k && k->xfer == XFER_CONSULT && k->id[0] && k->state != TSP_LINECALLSTATE_BUSY &&
                      k->state != TSP_LINECALLSTATE_DISCONNECTED;
        if (placed) *features2 = TSP_LINECALLFEATURE2_TRANSFERNORM;
        return TSP_LINECALLFEATURE_DROP | (placed ? complete : 0);
    }
    return call_features(state);
}

int32_t tsp_core_call_info(tsp_core *c, uint32_t hd_call, tsp_call_info *out) {
    if (!c) return TSP_LINEERR_INVALCALLHANDLE; /* before providerInit, after providerShutdown */
    if (!out) return TSP_LINEERR_INVALPOINTER;
    lock(c, TSP_LOCK_STATE);
    uint32_t l = 0;
    slot_t *s = slot_of(c, hd_call, &l, NULL);
    if (s) {
        memset(out, 0, sizeof *out);
        out->line_device_id = c->base + l;
        out->state = s->told_state;
        out->mode = s->told_mode;
        out->features = s->attached && c->in_service ? slot_features(c, s, &out->features2) : 0;
        out->state_since = s->since;
        out->origin = s->origin;
        out->reason = s->reason;
        out->call_id = fnv1a(s->id);
        out->caller = s->caller;
        out->called = s->called;
        if (s->ever_connected) out->connected = s->outgoing ? s->called : s->caller;
        strcpy(out->ctilink_id, s->id);
    }
    unlock(c, TSP_LOCK_STATE);
    return s ? 0 : TSP_LINEERR_INVALCALLHANDLE;
}

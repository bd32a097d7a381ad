/*
 * The portable heart of the ctilink TAPI service provider: everything a TSP does that
 * does not need Windows. It owns one ctilink session, a line per PBX device, a table of
 * calls per line, and turns each ctilink event into the TAPI messages a TSP sends
 * (LINE_NEWCALL, LINE_CALLSTATE, LINE_CALLINFO, LINE_LINEDEVSTATE, LINE_ADDRESSSTATE)
 * and each command completion into exactly one ASYNC_COMPLETION.
 *
 * ctilink_tsp.c wraps it in the TSPI_* exports; mapping_test.c drives it natively
 * against the simulator, playing TAPI's part. Both give it a tsp_platform.
 *
 * Threads. TSPI functions run on TAPI's threads, any number at once; ctilink's events
 * run on the session's event thread. Two locks, both supplied by the platform:
 *   STATE guards the tables; it is never held while calling out to TAPI.
 *   EMIT  serialises the calls to TAPI (line_event, async_completion), so that TAPI
 *         never sees two at once and sees them in order. The event thread,
 *         tsp_core_line_opened and tsp_core_line_close take it; no other TSPI function
 *         does, so a TAPI thread that holds one of TAPI's own locks while it calls a
 *         TSPI function (and so may hold up a LINEEVENT callback) never waits for it.
 *         lineClose has to: TSPI says no message for the line may follow its return, so
 *         it waits for a batch already on its way (a race the mapping test caught).
 *   Order: EMIT before STATE, never the reverse.
 * Calls into TAPI happen only with EMIT held and STATE free. The platform's line_event
 * and async_completion must not call back into tsp_core.
 *
 * A NULL core (TAPI calling before providerInit succeeded, or after providerShutdown) is
 * an invalid handle to every per-line and per-call function, never a crash.
 *
 * Memory is bounded: TSP_MAX_LINES lines, TSP_MAX_CALLS_PER_LINE calls on each,
 * TSP_MAX_REQUESTS TAPI requests waiting for their completion, all allocated at connect.
 */
#ifndef CTILINK_TSP_CORE_H
#define CTILINK_TSP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctilink.h"
#include "tsp_tapi.h"

/* Lines (PBX devices) one provider serves; the rest of the PBX's devices are not lines. */
#define TSP_MAX_LINES 1024u
/* Calls one line tracks at once (a phone has one or two; a group extension more). A
 * call beyond it is not reported on that line (tsp_core_stats counts them), and
 * lineMakeCall/linePickup answer LINEERR_CALLUNAVAIL. */
#define TSP_MAX_CALLS_PER_LINE 16u
/* TAPI requests waiting for their completion; more answer LINEERR_RESOURCEUNAVAIL. */
#define TSP_MAX_REQUESTS 256u
/* An extension (device id), with its NUL; longer device ids are not made lines. */
#define TSP_EXT_MAX 48u
/* A caller or called number or name, with its NUL; longer ones are cut (at a UTF-8
 * character boundary). */
#define TSP_PARTY_MAX 96u
/* A number to dial, with its NUL (ctilink takes at most 128 bytes). */
#define TSP_ADDRESS_MAX 129u

enum { TSP_LOCK_STATE = 0, TSP_LOCK_EMIT = 1 };

/* What the core needs from its host. Every function is required. */
typedef struct tsp_platform {
    void *ctx;
    void (*lock)(void *ctx, int which);
    void (*unlock)(void *ctx, int which);
    /* TAPI's LINEEVENT: ht_line/ht_call are the handles TAPI gave (0 for none). For
     * LINE_NEWCALL, p1 is the provider's call handle and p2 points at a uintptr_t the
     * platform sets to the HTAPICALL TAPI answers (0 if TAPI refused the call). */
    void (*line_event)(void *ctx, uintptr_t ht_line, uintptr_t ht_call, uint32_t msg,
                       uintptr_t p1, uintptr_t p2, uintptr_t p3);
    /* TAPI's ASYNC_COMPLETION: 0 or a LINEERR_*. */
    void (*async_completion)(void *ctx, uint32_t request_id, int32_t result);
    /* Asks for tsp_core_run_deferred to be called soon on another thread (a work item),
     * never from inside the TSPI function that asked: the requests the provider answers
     * itself (lineSetupTransfer, lineDrop of a consultation call not dialed yet) complete
     * there, under EMIT like every other completion. Called with STATE held: it must only
     * queue the work. */
    void (*defer)(void *ctx);
} tsp_platform;

typedef struct tsp_config {
    const char *url;   /* ami://user:secret@pbx:5038?... or ctilink://token@gateway:7070 */
    const char *lines; /* "100,101": only these devices become lines; NULL or "": all */
    uint32_t action_timeout_ms; /* 0: ctilink's default */
} tsp_config;

typedef struct tsp_core tsp_core;

typedef struct tsp_party {
    char number[TSP_PARTY_MAX];
    char name[TSP_PARTY_MAX];
} tsp_party;

/* What lineGetCallInfo and lineGetCallStatus report about one call. */
typedef struct tsp_call_info {
    uint32_t line_device_id;
    uint32_t state;      /* LINECALLSTATE_* TAPI was told (0 before the first) */
    uint32_t mode;       /* its mode (dwParam2 of LINE_CALLSTATE) */
    uint32_t features;   /* LINECALLFEATURE_* that make sense in that state */
    uint32_t features2;  /* LINECALLFEATURE2_* (TRANSFERNORM with COMPLETETRANSF) */
    int64_t state_since; /* when it entered the state: seconds since 1970 (UTC) */
    uint32_t origin;     /* LINECALLORIGIN_* */
    uint32_t reason;     /* LINECALLREASON_* */
    uint32_t call_id;    /* dwCallID: the same for every line that sees this PBX call */
    tsp_party caller, called;
    tsp_party connected; /* the other party, once connected; empty before */
    char ctilink_id[CTILINK_CALL_ID_MAX];
} tsp_call_info;

typedef struct tsp_line_status {
    uint32_t active_calls;
    uint32_t onhold_calls;
    uint32_t onhold_pend_calls; /* ONHOLDPENDTRANSFER */
    uint32_t status_flags;  /* LINEDEVSTATUSFLAGS_* */
    uint32_t line_features; /* LINEFEATURE_* */
} tsp_line_status;

typedef struct tsp_forward {
    uint32_t mode; /* LINEFORWARDMODE_UNCOND, _BUSY, _NOANSW or _BUSYNA */
    char dest[TSP_ADDRESS_MAX];
} tsp_forward;

typedef struct tsp_address_status {
    uint32_t in_use;
    uint32_t active_calls;
    uint32_t onhold_calls;
    uint32_t onhold_pend_calls; /* ONHOLDPENDTRANSFER */
    uint32_t address_features; /* LINEADDRFEATURE_* */
    uint32_t forward_count;
    tsp_forward forward[3]; /* as the PBX has it now, one entry per kind that is on */
} tsp_address_status;

/* lineGetID's answer: a DWORD (tapi/line) or a string. */
typedef struct tsp_device_id {
    bool is_string;
    uint32_t value;
    char text[CTILINK_CALL_ID_MAX];
} tsp_device_id;

typedef struct tsp_stats {
    uint64_t calls_not_tracked; /* a line's table was full */
    uint64_t messages_dropped;  /* never: a batch is sized for the worst case */
} tsp_stats;

/* Connects (blocking until the PBX's devices and calls are known) and builds the lines
 * from the PBX's devices, ordered by id. 0, or a LINEERR_* with a reason in err. */
int32_t tsp_core_connect(const tsp_config *cfg, const tsp_platform *platform, tsp_core **out,
                         char *err, size_t err_cap);
/* Closes the session (pending requests complete, their completions reach the
 * platform), then frees everything. No other call may be running or follow. */
void tsp_core_destroy(tsp_core *core);

uint32_t tsp_core_line_count(const tsp_core *core);
/* providerInit: line i is device id base + i. */
void tsp_core_set_device_id_base(tsp_core *core, uint32_t base);
/* The extension of a line device id; LINEERR_BADDEVICEID for none. */
int32_t tsp_core_line_ext(tsp_core *core, uint32_t device_id, char *buf, size_t cap);
/* A stable dwPermanentLineID for an extension (FNV-1a of its name). */
uint32_t tsp_permanent_line_id(const char *ext);

/* lineNegotiateTSPIVersion: the highest version both speak, or LINEERR_*. */
int32_t tsp_negotiate_version(uint32_t low, uint32_t high, uint32_t *out);
/* The LINEERR_* (or 0) for a ctilink result of a command; has_address says the
 * command carried a number the user typed (a refused argument is that number). */
int32_t tsp_lineerr(ctilink_result result, bool has_address);
/* Strips TAPI's dialing decorations (spaces, ( ) - ,, T/P prefix, W @ $ ! ; and
 * anything after | ^ or a line break) off a dialable address. false when nothing is
 * left or it does not fit. */
bool tsp_normalize_address(const char *in, char *out, size_t cap);

/* lineOpen: records TAPI's handle and gives the provider's. The line reports nothing
 * until tsp_core_line_opened, which the platform calls after lineOpen has returned
 * (TAPI cannot take LINE_NEWCALL for a line it is still opening). */
int32_t tsp_core_line_open(tsp_core *core, uint32_t device_id, uintptr_t ht_line,
                           uint32_t *hd_line);
/* Announces the calls the line has (LINE_NEWCALL + LINE_CALLSTATE + LINE_CALLINFO) and
 * from then on reports everything. A no-op if the line was closed meanwhile. */
void tsp_core_line_opened(tsp_core *core, uint32_t hd_line);
/* lineClose: once it returns, no message for the line reaches TAPI. Waits for EMIT,
 * so never to be called from inside line_event or async_completion. */
int32_t tsp_core_line_close(tsp_core *core, uint32_t hd_line);
int32_t tsp_core_set_status_messages(tsp_core *core, uint32_t hd_line, uint32_t line_states,
                                     uint32_t address_states);
int32_t tsp_core_set_media_detection(tsp_core *core, uint32_t hd_line, uint32_t media_modes);
int32_t tsp_core_line_status(tsp_core *core, uint32_t hd_line, tsp_line_status *out);
int32_t tsp_core_address_status(tsp_core *core, uint32_t hd_line, uint32_t address_id,
                                tsp_address_status *out);
int32_t tsp_core_get_id(tsp_core *core, uint32_t hd_line, uint32_t address_id, uint32_t hd_call,
                        uint32_t select, const char *device_class, tsp_device_id *out);

/* Asynchronous functions: 0 means "completes later through async_completion with
 * request_id" (the TSPI function then returns request_id); a LINEERR_* means it failed
 * and no completion comes. */
int32_t tsp_core_make_call(tsp_core *core, uint32_t request_id, uint32_t hd_line,
                           uintptr_t ht_call, const char *dest, uint32_t *hd_call);
int32_t tsp_core_dial(tsp_core *core, uint32_t request_id, uint32_t hd_call, const char *digits);
int32_t tsp_core_answer(tsp_core *core, uint32_t request_id, uint32_t hd_call);
int32_t tsp_core_drop(tsp_core *core, uint32_t request_id, uint32_t hd_call);
int32_t tsp_core_hold(tsp_core *core, uint32_t request_id, uint32_t hd_call);
int32_t tsp_core_unhold(tsp_core *core, uint32_t request_id, uint32_t hd_call);
int32_t tsp_core_blind_transfer(tsp_core *core, uint32_t request_id, uint32_t hd_call,
                                const char *dest);
int32_t tsp_core_redirect(tsp_core *core, uint32_t request_id, uint32_t hd_call, const char *dest);
/* Directed pickup of the call ringing at dest (group pickup is not offered). */
int32_t tsp_core_pickup(tsp_core *core, uint32_t request_id, uint32_t hd_line,
                        uint32_t address_id, uintptr_t ht_call, const char *dest,
                        uint32_t *hd_call);
/* lineForward replaces the line's whole forwarding: the kinds in `list` are set, every
 * other kind is turned off; list NULL (or count 0) turns all forwarding off. */
int32_t tsp_core_forward(tsp_core *core, uint32_t request_id, uint32_t hd_line,
                         bool all_addresses, uint32_t address_id, const tsp_forward *list,
                         size_t count);

/* Attended transfer, TAPI's way. lineSetupTransfer makes the consultation call at once,
 * without the PBX: a TAPI call in DIALTONE on the same line (its handle in *hd_consult,
 * its messages after the completion), and shows hd_call ONHOLDPENDTRANSFER. lineDial on
 * it places the consultation (ctilink_session_consultation_call: the PBX holds hd_call
 * and calls the number from the line's device); the PBX's new call becomes that TAPI
 * call. lineCompleteTransfer (mode LINETRANSFERMODE_TRANSFER; CONFERENCE is
 * LINEERR_OPERATIONUNAVAIL) joins the two (ctilink_session_transfer_call). lineDrop of
 * the consultation call before lineDial returns hd_call to CONNECTED. */
int32_t tsp_core_setup_transfer(tsp_core *core, uint32_t request_id, uint32_t hd_call,
                                uintptr_t ht_consult, uint32_t *hd_consult);
int32_t tsp_core_complete_transfer(tsp_core *core, uint32_t request_id, uint32_t hd_call,
                                   uint32_t hd_consult, uint32_t transfer_mode);
/* The platform's work item asked for by defer: completes the requests the provider
 * answers itself. Takes EMIT: never to be called from inside line_event or
 * async_completion. */
void tsp_core_run_deferred(tsp_core *core);

/* lineCloseCall: TAPI is done with the call; its handle becomes invalid. */
int32_t tsp_core_close_call(tsp_core *core, uint32_t hd_call);
int32_t tsp_core_call_info(tsp_core *core, uint32_t hd_call, tsp_call_info *out);

tsp_stats tsp_core_stats(tsp_core *core);

#endif

/*
 * ctilink.tsp: a TAPI 2.x telephony service provider over the ctilink C ABI.
 *
 * This file is the Windows half: the TSPI_* exports TAPI (tapisrv) calls, the TAPI
 * structures they fill, the configuration, and the platform (locks, LINEEVENT,
 * ASYNC_COMPLETION) tsp_core.c needs. Everything else (lines, calls, the mapping of
 * ctilink events to TAPI messages) is in tsp_core.c, which is portable and tested
 * natively against the simulator.
 *
 * Configuration (read when TAPI starts the provider), environment first:
 *   CTILINK_TSP_URL   or HKLM\SOFTWARE\ctilink\TSP  Url   (REG_SZ)   the PBX or gateway
 *   CTILINK_TSP_LINES or HKLM\SOFTWARE\ctilink\TSP  Lines (REG_SZ)   "100,101": only these
 *   HKLM\SOFTWARE\ctilink\TSP  ActionTimeoutMs (REG_DWORD)           command timeout
 * Diagnostics go to OutputDebugString (DebugView, or a debugger on the TAPI service).
 *
 * Build: build-mingw.sh (MinGW-w64), or MSVC as docs/tsp.md shows.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tapi.h>
#include <tspi.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctilink_tsp_rc.h"
#include "tsp_core.h"

/* The portable part's constants must be tapi.h's (tests/tests/tsp.rs checks that every
 * TSP_ constant of tsp_tapi.h appears here). */
#define SAME(name) _Static_assert((uint32_t)(TSP_##name) == (uint32_t)(name), #name " differs from tapi.h")
SAME(LINE_ADDRESSSTATE);
SAME(LINE_CALLINFO);
SAME(LINE_CALLSTATE);
SAME(LINE_LINEDEVSTATE);
SAME(LINE_NEWCALL);
SAME(LINECALLSTATE_IDLE);
SAME(LINECALLSTATE_OFFERING);
SAME(LINECALLSTATE_ACCEPTED);
SAME(LINECALLSTATE_DIALTONE);
SAME(LINECALLSTATE_DIALING);
SAME(LINECALLSTATE_RINGBACK);
SAME(LINECALLSTATE_BUSY);
SAME(LINECALLSTATE_SPECIALINFO);
SAME(LINECALLSTATE_CONNECTED);
SAME(LINECALLSTATE_PROCEEDING);
SAME(LINECALLSTATE_ONHOLD);
SAME(LINECALLSTATE_CONFERENCED);
SAME(LINECALLSTATE_ONHOLDPENDCONF);
SAME(LINECALLSTATE_ONHOLDPENDTRANSFER);
SAME(LINECALLSTATE_DISCONNECTED);
SAME(LINECALLSTATE_UNKNOWN);
SAME(LINEOFFERINGMODE_ACTIVE);
SAME(LINEBUSYMODE_UNAVAIL);
SAME(LINEDIALTONEMODE_UNAVAIL);
SAME(LINECONNECTEDMODE_ACTIVE);
SAME(LINEDISCONNECTMODE_NORMAL);
SAME(LINEDISCONNECTMODE_UNKNOWN);
SAME(LINEDISCONNECTMODE_REJECT);
SAME(LINEDISCONNECTMODE_PICKUP);
SAME(LINEDISCONNECTMODE_FORWARDED);
SAME(LINEDISCONNECTMODE_BUSY);
SAME(LINEDISCONNECTMODE_NOANSWER);
SAME(LINEDISCONNECTMODE_BADADDRESS);
SAME(LINEDISCONNECTMODE_UNREACHABLE);
SAME(LINEDISCONNECTMODE_CONGESTION);
SAME(LINEDISCONNECTMODE_INCOMPATIBLE);
SAME(LINEDISCONNECTMODE_UNAVAIL);
SAME(LINEDISCONNECTMODE_NODIALTONE);
SAME(LINEDISCONNECTMODE_CANCELLED);
SAME(LINEMEDIAMODE_INTERACTIVEVOICE);
SAME(LINEDEVSTATE_INSERVICE);
SAME(LINEDEVSTATE_OUTOFSERVICE);
SAME(LINEDEVSTATUSFLAGS_CONNECTED);
SAME(LINEDEVSTATUSFLAGS_INSERVICE);
SAME(LINEADDRESSSTATE_FORWARD);
SAME(LINECALLINFOSTATE_CALLERID);
SAME(LINECALLINFOSTATE_CALLEDID);
SAME(LINECALLINFOSTATE_CONNECTEDID);
SAME(LINECALLORIGIN_OUTBOUND);
SAME(LINECALLORIGIN_INTERNAL);
SAME(LINECALLORIGIN_EXTERNAL);
SAME(LINECALLREASON_DIRECT);
SAME(LINECALLREASON_PICKUP);
SAME(LINECALLPARTYID_NAME);
SAME(LINECALLPARTYID_ADDRESS);
SAME(LINECALLPARTYID_UNKNOWN);
SAME(LINECALLFEATURE_ANSWER);
SAME(LINECALLFEATURE_BLINDTRANSFER);
SAME(LINECALLFEATURE_COMPLETETRANSF);
SAME(LINECALLFEATURE_DIAL);
SAME(LINECALLFEATURE_DROP);
SAME(LINECALLFEATURE_HOLD);
SAME(LINECALLFEATURE_REDIRECT);
SAME(LINECALLFEATURE_SETUPTRANSFER);
SAME(LINECALLFEATURE_UNHOLD);
SAME(LINECALLFEATURE2_TRANSFERNORM);
SAME(LINETRANSFERMODE_TRANSFER);
SAME(LINETRANSFERMODE_CONFERENCE);
SAME(LINEADDRFEATURE_FORWARD);
SAME(LINEADDRFEATURE_MAKECALL);
SAME(LINEADDRFEATURE_PICKUP);
SAME(LINEFEATURE_FORWARD);
SAME(LINEFEATURE_MAKECALL);
SAME(LINEFORWARDMODE_UNCOND);
SAME(LINEFORWARDMODE_BUSY);
SAME(LINEFORWARDMODE_NOANSW);
SAME(LINEFORWARDMODE_BUSYNA);
SAME(LINECALLSELECT_LINE);
SAME(LINECALLSELECT_ADDRESS);
SAME(LINECALLSELECT_CALL);
SAME(LINEERR_BADDEVICEID);
SAME(LINEERR_CALLUNAVAIL);
SAME(LINEERR_INCOMPATIBLEAPIVERSION);
SAME(LINEERR_INVALADDRESS);
SAME(LINEERR_INVALADDRESSID);
SAME(LINEERR_INVALCALLHANDLE);
SAME(LINEERR_INVALCALLSELECT);
SAME(LINEERR_INVALCALLSTATE);
SAME(LINEERR_INVALCONSULTCALLHANDLE);
SAME(LINEERR_INVALDEVICECLASS);
SAME(LINEERR_INVALLINEHANDLE);
SAME(LINEERR_INVALMEDIAMODE);
SAME(LINEERR_INVALPARAM);
SAME(LINEERR_INVALPOINTER);
SAME(LINEERR_INVALTRANSFERMODE);
SAME(LINEERR_NOMEM);
SAME(LINEERR_OPERATIONFAILED);
SAME(LINEERR_OPERATIONUNAVAIL);
SAME(LINEERR_RESOURCEUNAVAIL);
SAME(LINEERR_STRUCTURETOOSMALL);

/* The structures as TSPI 2.0-2.2 has them. tapi.h describes TAPI 3.1's, which add
 * members at the end of LINEDEVCAPS and LINECALLINFO and two DWORDs to every
 * LINEFORWARD entry; a 2.x provider must neither write past the 2.x fixed part nor
 * read forwarding lists with the 3.1 stride. */
#define DEVCAPS_FIXED_20 offsetof(LINEDEVCAPS, PermanentLineGuid)
#define DEVCAPS_FIXED_22 offsetof(LINEDEVCAPS, dwAddressTypes)
#define CALLINFO_FIXED offsetof(LINECALLINFO, dwCallerIDAddressType)
#define FORWARD_ENTRY_SIZE offsetof(LINEFORWARD, dwCallerAddressType)
#define FORWARDLIST_HEAD offsetof(LINEFORWARDLIST, ForwardList)

#define CONFIG_KEY L"SOFTWARE\\ctilink\\TSP"
#define PROVIDERS_KEY L"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Telephony\\Providers"
#define ADDRESS_UTF8_MAX 512

static HINSTANCE g_module;
static CRITICAL_SECTION g_locks[2];
static CRITICAL_SECTION g_provider; /* connect/shutdown against each other */
static tsp_core *volatile g_core;
static LINEEVENT volatile g_line_event;
static ASYNC_COMPLETION volatile g_completion;
static volatile LONG g_open_work; /* work items (tsp_core_line_opened, _run_deferred) not finished */

/* ---- diagnostics, strings ------------------------------------------------------ */

static void trace(const char *fmt, ...) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "ctilink.tsp: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    OutputDebugStringA(buf);
}

/* UTF-16 from TAPI to UTF-8 for ctilink; false if it does not fit. */
static BOOL to_utf8(LPCWSTR in, char *out, int cap) {
    if (!in) return FALSE;
    return WideCharToMultiByte(CP_UTF8, 0, in, -1, out, cap, NULL, NULL) > 0;
}

/* A TAPI varying-size structure being filled: what fits is written in order, and
 * dwNeededSize says how much all of it needs. */
typedef struct {
    BYTE *base;
    DWORD total, used, needed;
    BOOL overflow;
} varbuf;

static void var_init(varbuf *v, void *s, DWORD total, DWORD fixed) {
    v->base = s;
    v->total = total;
    v->used = v->needed = fixed;
    v->overflow = FALSE;
}

/* Places len bytes (4-aligned); returns the offset, 0 if it did not fit. */
static DWORD var_put(varbuf *v, DWORD *size_field, DWORD *offset_field, const void *data, DWORD len) {
    DWORD at = (v->needed + 3u) & ~3u;
    v->needed = at + len;
    if (v->overflow || at + len > v->total) {
        v->overflow = TRUE;
        if (size_field) *size_field = 0;
        if (offset_field) *offset_field = 0;
        return 0;
    }
    if (data) memcpy(v->base + at, data, len);
    else memset(v->base + at, 0, len);
    if (size_field) *size_field = len;
    if (offset_field) *offset_field = at;
    v->used = at + len;
    return at;
}

static void var_wstr(varbuf *v, DWORD *size_field, DWORD *offset_field, const char *utf8) {
    WCHAR w[256];
    int n = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, w, 256);
    if (n <= 1) { /* empty: no field */
        *size_field = *offset_field = 0;
        return;
    }
    var_put(v, size_field, offset_field, w, (DWORD)n * sizeof(WCHAR));
}

static void var_done(varbuf *v, DWORD *needed, DWORD *used) {
    *needed = v->needed;
    *used = v->used;
}

/* The device classes lineGetID answers, as LINEDEVCAPS/LINEADDRESSCAPS list them. */
static const WCHAR DEVICE_CLASSES[] = L"tapi/line\0ctilink/device\0ctilink/call\0";

/* ---- the platform for tsp_core --------------------------------------------------- */

static void plat_lock(void *ctx, int which) {
    (void)ctx;
    EnterCriticalSection(&g_locks[which]);
}

static void plat_unlock(void *ctx, int which) {
    (void)ctx;
    LeaveCriticalSection(&g_locks[which]);
}

static void plat_line_event(void *ctx, uintptr_t ht_line, uintptr_t ht_call, uint32_t msg,
                            uintptr_t p1, uintptr_t p2, uintptr_t p3) {
    (void)ctx;
    LINEEVENT proc = g_line_event;
    if (!proc) return;
    if (msg == LINE_NEWCALL) {
        /* TAPI writes the HTAPICALL it made (or NULL) before it returns. */
        HTAPICALL ht = NULL;
        proc((HTAPILINE)ht_line, NULL, LINE_NEWCALL, p1, (DWORD_PTR)&ht, 0);
        *(uintptr_t *)p2 = (uintptr_t)ht;
        return;
    }
    proc((HTAPILINE)ht_line, (HTAPICALL)ht_call, msg, p1, p2, p3);
}

static void plat_completion(void *ctx, uint32_t request_id, int32_t result) {
    (void)ctx;
    ASYNC_COMPLETION proc = g_completion;
    if (proc) proc(request_id, result);
}

static DWORD WINAPI run_deferred(LPVOID param) {
    (void)param;
    tsp_core_run_deferred(g_core);
    InterlockedDecrement(&g_open_work);
    return 0;
}

/* The requests the provider answers itself complete on a pool thread, never inside the
 * TSPI function (which may hold TAPI's locks while EMIT waits for a LINEEVENT). */
static void plat_defer(void *ctx) {
    (void)ctx;
    InterlockedIncrement(&g_open_work);
    if (!QueueUserWorkItem(run_deferred, NULL, WT_EXECUTEDEFAULT)) {
        /* No pool thread: a thread of its own (the request must complete). */
        HANDLE t = CreateThread(NULL, 0, run_deferred, NULL, 0, NULL);
        if (t)
            CloseHandle(t);
        else
            InterlockedDecrement(&g_open_work);
    }
}

/* ---- configuration and connection -------------------------------------------------- */

enum { CONFIG_UNSET, CONFIG_SET, CONFIG_TOO_LONG };

/* An environment variable, else a REG_SZ of CONFIG_KEY, as UTF-8. A value that does not
 * fit is an error, not a missing value: a cut line list would be a wrong one. */
static int config_string(const char *env, LPCWSTR value, char *out, int cap) {
    DWORD n = GetEnvironmentVariableA(env, out, (DWORD)cap);
    if (n >= (DWORD)cap) return CONFIG_TOO_LONG;
    if (n > 0) return CONFIG_SET;
    static WCHAR w[8192]; /* g_provider held: one caller at a time */
    DWORD size = sizeof w;
    LONG r = RegGetValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, value, RRF_RT_REG_SZ, NULL, w, &size);
    if (r == ERROR_MORE_DATA) return CONFIG_TOO_LONG;
    if (r != ERROR_SUCCESS || w[0] == 0) return CONFIG_UNSET;
    return to_utf8(w, out, cap) ? CONFIG_SET : CONFIG_TOO_LONG;
}

/* Connects once per provider lifetime (providerEnumDevices comes first, providerInit
 * after; either may be first to need the session). g_provider held. */
static LONG ensure_connected(void) {
    if (g_core) return 0;
    static char url[2048], lines[8192];
    int have_url = config_string("CTILINK_TSP_URL", L"Url", url, sizeof url);
    int have_lines = config_string("CTILINK_TSP_LINES", L"Lines", lines, sizeof lines);
    if (have_url != CONFIG_SET) {
        trace("no usable PBX URL: set HKLM\\SOFTWARE\\ctilink\\TSP Url or CTILINK_TSP_URL");
        return LINEERR_NODRIVER;
    }
    if (have_lines == CONFIG_TOO_LONG) {
        trace("the Lines setting is longer than %u bytes", (unsigned)sizeof lines - 1);
        return LINEERR_NODRIVER;
    }
    DWORD timeout = 0, size = sizeof timeout;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, L"ActionTimeoutMs", RRF_RT_REG_DWORD, NULL, &timeout,
                     &size) != ERROR_SUCCESS)
        timeout = 0;
    tsp_config cfg = {url, have_lines == CONFIG_SET ? lines : NULL, timeout};
    tsp_platform p = {NULL, plat_lock, plat_unlock, plat_line_event, plat_completion, plat_defer};
    char err[512];
    tsp_core *core = NULL;
    int32_t r = tsp_core_connect(&cfg, &p, &core, err, sizeof err);
    if (r != 0) {
        /* err never holds the secret of the URL (ctilink's error texts leave it out). */
        trace("%s", err);
        return r;
    }
    g_core = core;
    trace("connected (%s), %u lines", ctilink_version(), tsp_core_line_count(core));
    return 0;
}

/* ---- provider -------------------------------------------------------------------- */

BOOL WINAPI DllMain(HINSTANCE module, DWORD reason, LPVOID reserved) {
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        g_module = module;
        DisableThreadLibraryCalls(module);
        InitializeCriticalSection(&g_locks[0]);
        InitializeCriticalSection(&g_locks[1]);
        InitializeCriticalSection(&g_provider);
    } else if (reason == DLL_PROCESS_DETACH) {
        DeleteCriticalSection(&g_provider);
        DeleteCriticalSection(&g_locks[1]);
        DeleteCriticalSection(&g_locks[0]);
    }
    return TRUE;
}

LONG WINAPI TSPI_lineNegotiateTSPIVersion(DWORD dwDeviceID, DWORD dwLowVersion, DWORD dwHighVersion,
                                          LPDWORD lpdwTSPIVersion) {
    if (dwDeviceID != (DWORD)INITIALIZE_NEGOTIATION) {
        char ext[TSP_EXT_MAX];
        if (!g_core || tsp_core_line_ext(g_core, dwDeviceID, ext, sizeof ext) != 0) return LINEERR_BADDEVICEID;
    }
    uint32_t v = 0;
    int32_t r = tsp_negotiate_version(dwLowVersion, dwHighVersion, &v);
    if (r == 0) *lpdwTSPIVersion = v;
    return r;
}

LONG WINAPI TSPI_providerEnumDevices(DWORD dwPermanentProviderID, LPDWORD lpdwNumLines,
                                     LPDWORD lpdwNumPhones, HPROVIDER hProvider,
                                     LINEEVENT lpfnLineCreateProc, PHONEEVENT lpfnPhoneCreateProc) {
    (void)dwPermanentProviderID;
    (void)hProvider;
    (void)lpfnLineCreateProc;
    (void)lpfnPhoneCreateProc;
    EnterCriticalSection(&g_provider);
    LONG r = ensure_connected();
    if (r == 0) {
        *lpdwNumLines = tsp_core_line_count(g_core);
        *lpdwNumPhones = 0;
    }
    LeaveCriticalSection(&g_provider);
    return r;
}

LONG WINAPI TSPI_providerInit(DWORD dwTSPIVersion, DWORD dwPermanentProviderID, DWORD dwLineDeviceIDBase,
                              DWORD dwPhoneDeviceIDBase, DWORD_PTR dwNumLines, DWORD_PTR dwNumPhones,
                              ASYNC_COMPLETION lpfnCompletionProc, LPDWORD lpdwTSPIOptions) {
    (void)dwTSPIVersion;
    (void)dwPermanentProviderID;
    (void)dwPhoneDeviceIDBase;
    (void)dwNumPhones;
    EnterCriticalSection(&g_provider);
    LONG r = ensure_connected();
    if (r == 0 && dwNumLines != tsp_core_line_count(g_core)) {
        /* TAPI numbered a different line count than the provider has. */
        trace("TAPI expects %u lines, the PBX gave %u", (unsigned)dwNumLines, tsp_core_line_count(g_core));
        r = LINEERR_OPERATIONFAILED;
    }
    if (r == 0) {
        g_completion = lpfnCompletionProc;
        tsp_core_set_device_id_base(g_core, dwLineDeviceIDBase);
        /* Re-entrant: tsp_core takes its own locks, TAPI may call on any thread. */
        *lpdwTSPIOptions = 0;
    }
    LeaveCriticalSection(&g_provider);
    return r;
}

LONG WINAPI TSPI_providerShutdown(DWORD dwTSPIVersion, DWORD dwPermanentProviderID) {
    (void)dwTSPIVersion;
    (void)dwPermanentProviderID;
    EnterCriticalSection(&g_provider);
    /* A lineOpen's work item may still be announcing calls. */
    while (InterlockedCompareExchange(&g_open_work, 0, 0) != 0) Sleep(10);
    tsp_core *core = g_core;
    g_core = NULL;
    /* Requests still pending complete now (with an error), through g_completion. */
    tsp_core_destroy(core);
    g_completion = NULL;
    g_line_event = NULL;
    LeaveCriticalSection(&g_provider);
    return 0;
}

LONG WINAPI TSPI_providerUIIdentify(LPWSTR lpszUIDLLName) {
    /* The provider is its own UI DLL (TUISPI_providerInstall/Remove below). */
    DWORD n = GetModuleFileNameW(g_module, lpszUIDLLName, MAX_PATH);
    return n > 0 && n < MAX_PATH ? 0 : LINEERR_OPERATIONFAILED;
}

/* One instance per machine: a second one would open a second PBX session for the same
 * lines. Found by file name among the providers TAPI lists, other than `self`. */
static LONG install_provider(DWORD self) {
    DWORD count = 0, size = sizeof count;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, PROVIDERS_KEY, L"NumProviders", RRF_RT_REG_DWORD, NULL, &count, &size) !=
        ERROR_SUCCESS)
        count = 0;
    WCHAR me[MAX_PATH];
    DWORD n = GetModuleFileNameW(g_module, me, MAX_PATH);
    const WCHAR *my_name = me;
    for (DWORD i = 0; n > 0 && i < n; i++)
        if (me[i] == L'\\' || me[i] == L'/') my_name = me + i + 1;
    for (DWORD i = 0; i < count && i < 1024; i++) {
        char name[32];
        WCHAR value[32], file[MAX_PATH];
        DWORD id = 0;
        snprintf(name, sizeof name, "ProviderFileName%lu", (unsigned long)i);
        MultiByteToWideChar(CP_UTF8, 0, name, -1, value, 32);
        size = sizeof file;
        if (RegGetValueW(HKEY_LOCAL_MACHINE, PROVIDERS_KEY, value, RRF_RT_REG_SZ, NULL, file, &size) != ERROR_SUCCESS)
            continue;
        snprintf(name, sizeof name, "ProviderID%lu", (unsigned long)i);
        MultiByteToWideChar(CP_UTF8, 0, name, -1, value, 32);
        size = sizeof id;
        if (RegGetValueW(HKEY_LOCAL_MACHINE, PROVIDERS_KEY, value, RRF_RT_REG_DWORD, NULL, &id, &size) != ERROR_SUCCESS)
            continue;
        if (id != self && lstrcmpiW(file, my_name) == 0) return LINEERR_NOMULTIPLEINSTANCE;
    }
    /* The configuration's home, so that an administrator finds where Url goes. */
    HKEY key;
    if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, CONFIG_KEY, 0, NULL, 0, KEY_WRITE, NULL, &key, NULL) != ERROR_SUCCESS)
        return LINEERR_OPERATIONFAILED;
    RegCloseKey(key);
    return 0;
}

/* Removing the provider removes its configuration. */
static LONG remove_provider(void) {
    LONG r = RegDeleteKeyW(HKEY_LOCAL_MACHINE, CONFIG_KEY);
    return r == ERROR_SUCCESS || r == ERROR_FILE_NOT_FOUND ? 0 : LINEERR_OPERATIONFAILED;
}

LONG WINAPI TUISPI_providerInstall(TUISPIDLLCALLBACK lpfnUIDLLCallback, HWND hwndOwner,
                                   DWORD dwPermanentProviderID) {
    (void)lpfnUIDLLCallback;
    (void)hwndOwner;
    return install_provider(dwPermanentProviderID);
}

LONG WINAPI TUISPI_providerRemove(TUISPIDLLCALLBACK lpfnUIDLLCallback, HWND hwndOwner,
                                  DWORD dwPermanentProviderID) {
    (void)lpfnUIDLLCallback;
    (void)hwndOwner;
    (void)dwPermanentProviderID;
    return remove_provider();
}

/* TAPI 2.x calls the TUISPI_ pair; the Telephony control panel still looks for these
 * exports to decide that a provider can be added and removed (and TAPI 1.4 calls
 * them), so they do the same work. */
LONG WINAPI TSPI_providerInstall(HWND hwndOwner, DWORD dwPermanentProviderID) {
    (void)hwndOwner;
    return install_provider(dwPermanentProviderID);
}

LONG WINAPI TSPI_providerRemove(HWND hwndOwner, DWORD dwPermanentProviderID) {
    (void)hwndOwner;
    (void)dwPermanentProviderID;
    return remove_provider();
}

/* ---- configuration dialog ------------------------------------------------------------ */

#define WM_TEST_DONE (WM_APP + 1)

/* A "Test connection" in progress: the URL it tries, and what it found. */
typedef struct {
    HWND dialog;
    char url[2048];
    WCHAR result[512];
} test_job;

/* Connects once with the URL, on a worker thread (a PBX that does not answer takes the
 * connect timeout), and posts what it found to the dialog. The text never holds the
 * secret: ctilink's error messages leave it out. */
static DWORD WINAPI test_connection(LPVOID param) {
    test_job *job = param;
    ctilink_options *o = NULL;
    ctilink_session *session = NULL;
    ctilink_result r = ctilink_options_new(&o);
    if (r == CTILINK_RESULT_OK) r = ctilink_options_set_url(o, job->url);
    if (r == CTILINK_RESULT_OK) r = ctilink_session_connect(o, &session);
    char text[400] = "";
    if (r == CTILINK_RESULT_OK) {
        ctilink_snapshot *snap = NULL;
        size_t devices = 0;
        if (ctilink_session_snapshot(session, &snap) == CTILINK_RESULT_OK) {
            devices = ctilink_snapshot_device_count(snap);
            ctilink_snapshot_free(snap);
        }
        snprintf(text, sizeof text, "Connected: the PBX reports %u extensions.", (unsigned)devices);
        ctilink_session_close(session);
        ctilink_session_free(session);
    } else {
        char why[300] = "";
        size_t n = 0;
        if (ctilink_last_error_message(why, sizeof why, &n) != CTILINK_RESULT_OK) why[0] = 0;
        snprintf(text, sizeof text, "Failed: %s", why[0] ? why : "no connection");
    }
    ctilink_options_free(o);
    MultiByteToWideChar(CP_UTF8, 0, text, -1, job->result, 512);
    if (!PostMessageW(job->dialog, WM_TEST_DONE, 0, (LPARAM)job)) HeapFree(GetProcessHeap(), 0, job);
    return 0;
}

static void dialog_load(HWND dlg) {
    WCHAR w[2048];
    DWORD size = sizeof w;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, L"Url", RRF_RT_REG_SZ, NULL, w, &size) == ERROR_SUCCESS)
        SetDlgItemTextW(dlg, IDC_URL, w);
    size = sizeof w;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, L"Lines", RRF_RT_REG_SZ, NULL, w, &size) == ERROR_SUCCESS)
        SetDlgItemTextW(dlg, IDC_LINES, w);
}

/* OK: both settings into the registry (the Telephony service reads them when it starts
 * the provider next). */
static BOOL dialog_save(HWND dlg) {
    WCHAR url[2048], lines[2048];
    GetDlgItemTextW(dlg, IDC_URL, url, 2048);
    GetDlgItemTextW(dlg, IDC_LINES, lines, 2048);
    LONG r = RegSetKeyValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, L"Url", REG_SZ, url,
                             (DWORD)((lstrlenW(url) + 1) * sizeof(WCHAR)));
    if (r == ERROR_SUCCESS)
        r = RegSetKeyValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, L"Lines", REG_SZ, lines,
                            (DWORD)((lstrlenW(lines) + 1) * sizeof(WCHAR)));
    if (r != ERROR_SUCCESS) {
        MessageBoxW(dlg, L"The settings could not be saved (administrator rights are needed).",
                    L"ctilink TAPI provider", MB_OK | MB_ICONERROR);
        return FALSE;
    }
    return TRUE;
}

/* The dialog's own state: the "Test connection" thread, which runs code of this DLL and of
 * ctilink.dll, so the dialog may not return (and TAPI unload the DLL) before it ends. */
typedef struct {
    HANDLE test;
} config_state;

static INT_PTR CALLBACK config_dialog(HWND dlg, UINT msg, WPARAM wp, LPARAM lp) {
    config_state *st = (config_state *)GetWindowLongPtrW(dlg, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG:
        SetWindowLongPtrW(dlg, DWLP_USER, lp);
        dialog_load(dlg);
        return TRUE;
    case WM_TEST_DONE: {
        test_job *job = (test_job *)lp;
        SetDlgItemTextW(dlg, IDC_STATUS, job->result);
        EnableWindow(GetDlgItem(dlg, IDC_TEST), TRUE);
        HeapFree(GetProcessHeap(), 0, job);
        return TRUE;
    }
    case WM_COMMAND:
        /* Before WM_INITDIALOG the state is not attached yet (another thread may already
         * see the window and click): nothing to do then. */
        if (!st) break;
        switch (LOWORD(wp)) {
        case IDC_TEST: {
            if (st->test) {
                if (WaitForSingleObject(st->test, 0) != WAIT_OBJECT_0) return TRUE; /* still testing */
                CloseHandle(st->test);
                st->test = NULL;
            }
            WCHAR w[2048];
            GetDlgItemTextW(dlg, IDC_URL, w, 2048);
            test_job *job = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof *job);
            if (!job) return TRUE;
            job->dialog = dlg;
            if (!to_utf8(w, job->url, sizeof job->url)) {
                HeapFree(GetProcessHeap(), 0, job);
                SetDlgItemTextW(dlg, IDC_STATUS, L"Failed: the URL is too long.");
                return TRUE;
            }
            SetDlgItemTextW(dlg, IDC_STATUS, L"Connecting...");
            EnableWindow(GetDlgItem(dlg, IDC_TEST), FALSE);
            st->test = CreateThread(NULL, 0, test_connection, job, 0, NULL);
            if (!st->test) {
                HeapFree(GetProcessHeap(), 0, job);
                EnableWindow(GetDlgItem(dlg, IDC_TEST), TRUE);
                SetDlgItemTextW(dlg, IDC_STATUS, L"Failed: no thread for the test.");
            }
            return TRUE;
        }
        case IDOK:
            if (dialog_save(dlg)) EndDialog(dlg, IDOK);
            return TRUE;
        case IDCANCEL:
            EndDialog(dlg, IDCANCEL);
            return TRUE;
        }
        break;
    }
    return FALSE;
}

/* The dialog, owned by TAPI's window: 0 when closed (OK or Cancel). A test still running
 * when the dialog closes finds no window to post to and frees its job itself; this waits
 * for it (at most the connect and login timeouts) before TAPI may unload the DLL. */
static LONG show_config(HWND owner) {
    config_state st = {NULL};
    INT_PTR r = DialogBoxParamW(g_module, MAKEINTRESOURCEW(IDD_CONFIG), owner, config_dialog, (LPARAM)&st);
    if (st.test) {
        WaitForSingleObject(st.test, INFINITE);
        CloseHandle(st.test);
    }
    return r == -1 ? LINEERR_OPERATIONFAILED : 0;
}

LONG WINAPI TUISPI_providerConfig(TUISPIDLLCALLBACK lpfnUIDLLCallback, HWND hwndOwner,
                                  DWORD dwPermanentProviderID) {
    (void)lpfnUIDLLCallback;
    (void)dwPermanentProviderID;
    return show_config(hwndOwner);
}

LONG WINAPI TUISPI_lineConfigDialog(TUISPIDLLCALLBACK lpfnUIDLLCallback, DWORD dwDeviceID, HWND hwndOwner,
                                    LPCWSTR lpszDeviceClass) {
    (void)lpfnUIDLLCallback;
    (void)dwDeviceID;
    (void)lpszDeviceClass;
    return show_config(hwndOwner);
}

/* TAPI 1.4's name for the same; the control panel may still call it. */
LONG WINAPI TSPI_providerConfig(HWND hwndOwner, DWORD dwPermanentProviderID) {
    (void)dwPermanentProviderID;
    return show_config(hwndOwner);
}

/* ---- capabilities ---------------------------------------------------------------- */

static const DWORD CALL_STATES = LINECALLSTATE_IDLE | LINECALLSTATE_OFFERING | LINECALLSTATE_DIALTONE |
                                 LINECALLSTATE_PROCEEDING | LINECALLSTATE_RINGBACK | LINECALLSTATE_BUSY |
                                 LINECALLSTATE_CONNECTED | LINECALLSTATE_ONHOLD | LINECALLSTATE_CONFERENCED |
                                 LINECALLSTATE_ONHOLDPENDTRANSFER | LINECALLSTATE_DISCONNECTED;
static const DWORD PARTY_ID_FLAGS = LINECALLPARTYID_ADDRESS | LINECALLPARTYID_NAME | LINECALLPARTYID_UNKNOWN;

LONG WINAPI TSPI_lineGetDevCaps(DWORD dwDeviceID, DWORD dwTSPIVersion, DWORD dwExtVersion,
                                LPLINEDEVCAPS lpLineDevCaps) {
    (void)dwExtVersion;
    char ext[TSP_EXT_MAX];
    if (!g_core || tsp_core_line_ext(g_core, dwDeviceID, ext, sizeof ext) != 0) return LINEERR_BADDEVICEID;
    DWORD fixed = dwTSPIVersion >= 0x00020002 ? DEVCAPS_FIXED_22 : DEVCAPS_FIXED_20;
    LINEDEVCAPS *c = lpLineDevCaps;
    if (c->dwTotalSize < fixed) return LINEERR_STRUCTURETOOSMALL;
    memset((BYTE *)c + sizeof c->dwTotalSize, 0, fixed - sizeof c->dwTotalSize);
    varbuf v;
    var_init(&v, c, c->dwTotalSize, fixed);
    char text[128];
    snprintf(text, sizeof text, "ctilink TAPI service provider (%s)", ctilink_version());
    var_wstr(&v, &c->dwProviderInfoSize, &c->dwProviderInfoOffset, text);
    snprintf(text, sizeof text, "ctilink %s", ext);
    var_wstr(&v, &c->dwLineNameSize, &c->dwLineNameOffset, text);
    c->dwPermanentLineID = tsp_permanent_line_id(ext);
    c->dwStringFormat = STRINGFORMAT_UNICODE;
    c->dwAddressModes = LINEADDRESSMODE_ADDRESSID;
    c->dwNumAddresses = 1;
    c->dwBearerModes = LINEBEARERMODE_VOICE;
    c->dwMediaModes = LINEMEDIAMODE_INTERACTIVEVOICE;
    c->dwMaxNumActiveCalls = 1;
    /* A phone answering a second call holds the first. */
    c->dwAnswerMode = LINEANSWERMODE_HOLD;
    c->dwRingModes = 1;
    c->dwLineStates = LINEDEVSTATE_INSERVICE | LINEDEVSTATE_OUTOFSERVICE;
    c->dwLineFeatures = LINEFEATURE_MAKECALL | LINEFEATURE_FORWARD;
    var_put(&v, &c->dwDeviceClassesSize, &c->dwDeviceClassesOffset, DEVICE_CLASSES, sizeof DEVICE_CLASSES);
    var_done(&v, &c->dwNeededSize, &c->dwUsedSize);
    return 0;
}

LONG WINAPI TSPI_lineGetAddressCaps(DWORD dwDeviceID, DWORD dwAddressID, DWORD dwTSPIVersion, DWORD dwExtVersion,
                                    LPLINEADDRESSCAPS lpAddressCaps) {
    (void)dwTSPIVersion;
    (void)dwExtVersion;
    char ext[TSP_EXT_MAX];
    if (!g_core || tsp_core_line_ext(g_core, dwDeviceID, ext, sizeof ext) != 0) return LINEERR_BADDEVICEID;
    if (dwAddressID != 0) return LINEERR_INVALADDRESSID;
    LINEADDRESSCAPS *c = lpAddressCaps;
    DWORD fixed = sizeof(LINEADDRESSCAPS); /* TAPI 2.0's, unchanged since */
    if (c->dwTotalSize < fixed) return LINEERR_STRUCTURETOOSMALL;
    memset((BYTE *)c + sizeof c->dwTotalSize, 0, fixed - sizeof c->dwTotalSize);
    varbuf v;
    var_init(&v, c, c->dwTotalSize, fixed);
    c->dwLineDeviceID = dwDeviceID;
    var_wstr(&v, &c->dwAddressSize, &c->dwAddressOffset, ext);
    c->dwAddressSharing = LINEADDRESSSHARING_PRIVATE;
    c->dwAddressStates = LINEADDRESSSTATE_FORWARD;
    c->dwCallInfoStates = LINECALLINFOSTATE_CALLERID | LINECALLINFOSTATE_CALLEDID | LINECALLINFOSTATE_CONNECTEDID;
    c->dwCallerIDFlags = c->dwCalledIDFlags = c->dwConnectedIDFlags = PARTY_ID_FLAGS;
    c->dwRedirectionIDFlags = c->dwRedirectingIDFlags = LINECALLPARTYID_UNAVAIL;
    c->dwCallStates = CALL_STATES;
    c->dwDialToneModes = LINEDIALTONEMODE_UNAVAIL;
    c->dwBusyModes = LINEBUSYMODE_UNAVAIL;
    c->dwSpecialInfo = LINESPECIALINFO_UNAVAIL;
    c->dwDisconnectModes = LINEDISCONNECTMODE_NORMAL | LINEDISCONNECTMODE_UNKNOWN | LINEDISCONNECTMODE_REJECT |
                           LINEDISCONNECTMODE_PICKUP | LINEDISCONNECTMODE_FORWARDED | LINEDISCONNECTMODE_BUSY |
                           LINEDISCONNECTMODE_NOANSWER | LINEDISCONNECTMODE_UNREACHABLE |
                           LINEDISCONNECTMODE_CONGESTION | LINEDISCONNECTMODE_UNAVAIL;
    c->dwMaxNumActiveCalls = 1;
    c->dwMaxNumOnHoldCalls = 1;
    c->dwMaxNumOnHoldPendingCalls = 1;
    c->dwAddrCapFlags = LINEADDRCAPFLAGS_DIALED | LINEADDRCAPFLAGS_FWDSTATUSVALID;
    c->dwCallFeatures = LINECALLFEATURE_ANSWER | LINECALLFEATURE_BLINDTRANSFER | LINECALLFEATURE_DIAL |
                        LINECALLFEATURE_DROP | LINECALLFEATURE_HOLD | LINECALLFEATURE_REDIRECT |
                        LINECALLFEATURE_UNHOLD | LINECALLFEATURE_SETUPTRANSFER | LINECALLFEATURE_COMPLETETRANSF;
    c->dwCallFeatures2 = LINECALLFEATURE2_TRANSFERNORM;
    /* lineSetupTransfer + lineDial + lineCompleteTransfer; no transfer into a conference. */
    c->dwTransferModes = LINETRANSFERMODE_TRANSFER;
    c->dwForwardModes = LINEFORWARDMODE_UNCOND | LINEFORWARDMODE_BUSY | LINEFORWARDMODE_NOANSW |
                        LINEFORWARDMODE_BUSYNA;
    c->dwMaxForwardEntries = 3;
    c->dwAddressFeatures = LINEADDRFEATURE_FORWARD | LINEADDRFEATURE_MAKECALL | LINEADDRFEATURE_PICKUP;
    var_put(&v, &c->dwDeviceClassesSize, &c->dwDeviceClassesOffset, DEVICE_CLASSES, sizeof DEVICE_CLASSES);
    c->dwConnectedModes = LINECONNECTEDMODE_ACTIVE;
    c->dwOfferingModes = LINEOFFERINGMODE_ACTIVE;
    c->dwAvailableMediaModes = LINEMEDIAMODE_INTERACTIVEVOICE;
    var_done(&v, &c->dwNeededSize, &c->dwUsedSize);
    return 0;
}

/* ---- lines ----------------------------------------------------------------------- */

#define HD_LINE(h) ((uint32_t)(uintptr_t)(h))
#define HD_CALL(h) ((uint32_t)(uintptr_t)(h))

/* Per line handle: TSPI_lineOpen has finished (1) or is still running (0). */
static volatile LONG g_open_done[TSP_MAX_LINES + 1];

static DWORD WINAPI line_opened(LPVOID param) {
    uint32_t hd = (uint32_t)(uintptr_t)param;
    /* The pool may run this before TSPI_lineOpen has returned: wait for it (it has only
     * its last stores left to do, so this is a few scheduler ticks at most). */
    for (int i = 0; i < 5000 && InterlockedCompareExchange(&g_open_done[hd], 0, 0) == 0; i++) Sleep(1);
    tsp_core_line_opened(g_core, hd);
    InterlockedDecrement(&g_open_work);
    return 0;
}

LONG WINAPI TSPI_lineOpen(DWORD dwDeviceID, HTAPILINE htLine, LPHDRVLINE lphdLine, DWORD dwTSPIVersion,
                          LINEEVENT lpfnEventProc) {
    (void)dwTSPIVersion;
    if (!g_core) return LINEERR_NODRIVER;
    g_line_event = lpfnEventProc;
    uint32_t hd = 0;
    int32_t r = tsp_core_line_open(g_core, dwDeviceID, (uintptr_t)htLine, &hd);
    if (r != 0) return r;
    /* The line's calls are announced once this function has returned: TAPI takes no
     * LINE_NEWCALL for a line it is still opening. */
    InterlockedExchange(&g_open_done[hd], 0);
    InterlockedIncrement(&g_open_work);
    if (!QueueUserWorkItem(line_opened, (PVOID)(uintptr_t)hd, WT_EXECUTEDEFAULT)) {
        InterlockedDecrement(&g_open_work);
        tsp_core_line_close(g_core, hd);
        return LINEERR_NOMEM;
    }
    *lphdLine = (HDRVLINE)(uintptr_t)hd;
    InterlockedExchange(&g_open_done[hd], 1);
    return 0;
}

LONG WINAPI TSPI_lineClose(HDRVLINE hdLine) { return tsp_core_line_close(g_core, HD_LINE(hdLine)); }

LONG WINAPI TSPI_lineGetNumAddressIDs(HDRVLINE hdLine, LPDWORD lpdwNumAddressIDs) {
    tsp_line_status st;
    int32_t r = tsp_core_line_status(g_core, HD_LINE(hdLine), &st);
    if (r == 0) *lpdwNumAddressIDs = 1;
    return r;
}

LONG WINAPI TSPI_lineSetStatusMessages(HDRVLINE hdLine, DWORD dwLineStates, DWORD dwAddressStates) {
    return tsp_core_set_status_messages(g_core, HD_LINE(hdLine), dwLineStates, dwAddressStates);
}

LONG WINAPI TSPI_lineSetDefaultMediaDetection(HDRVLINE hdLine, DWORD dwMediaModes) {
    return tsp_core_set_media_detection(g_core, HD_LINE(hdLine), dwMediaModes);
}

LONG WINAPI TSPI_lineGetLineDevStatus(HDRVLINE hdLine, LPLINEDEVSTATUS lpLineDevStatus) {
    LINEDEVSTATUS *s = lpLineDevStatus;
    if (s->dwTotalSize < sizeof *s) return LINEERR_STRUCTURETOOSMALL;
    tsp_line_status st;
    int32_t r = tsp_core_line_status(g_core, HD_LINE(hdLine), &st);
    if (r != 0) return r;
    /* TAPI fills its own members (opens, media modes, app info) after we return; they
     * are kept as they are anyway. */
    DWORD opens = s->dwNumOpens, media = s->dwOpenMediaModes, app_size = s->dwAppInfoSize,
          app_offset = s->dwAppInfoOffset;
    memset((BYTE *)s + sizeof s->dwTotalSize, 0, sizeof *s - sizeof s->dwTotalSize);
    s->dwNumOpens = opens;
    s->dwOpenMediaModes = media;
    s->dwAppInfoSize = app_size;
    s->dwAppInfoOffset = app_offset;
    s->dwNumActiveCalls = st.active_calls;
    s->dwNumOnHoldCalls = st.onhold_calls;
    s->dwNumOnHoldPendCalls = st.onhold_pend_calls;
    s->dwLineFeatures = st.line_features;
    s->dwRoamMode = LINEROAMMODE_UNAVAIL;
    s->dwSignalLevel = s->dwBatteryLevel = 0xFFFF;
    s->dwDevStatusFlags = st.status_flags;
    s->dwAvailableMediaModes = LINEMEDIAMODE_INTERACTIVEVOICE;
    s->dwNeededSize = s->dwUsedSize = sizeof *s;
    return 0;
}

LONG WINAPI TSPI_lineGetAddressStatus(HDRVLINE hdLine, DWORD dwAddressID, LPLINEADDRESSSTATUS lpAddressStatus) {
    LINEADDRESSSTATUS *s = lpAddressStatus;
    if (s->dwTotalSize < sizeof *s) return LINEERR_STRUCTURETOOSMALL;
    tsp_address_status st;
    int32_t r = tsp_core_address_status(g_core, HD_LINE(hdLine), dwAddressID, &st);
    if (r != 0) return r;
    memset((BYTE *)s + sizeof s->dwTotalSize, 0, sizeof *s - sizeof s->dwTotalSize);
    varbuf v;
    var_init(&v, s, s->dwTotalSize, sizeof *s);
    s->dwNumInUse = st.in_use;
    s->dwNumActiveCalls = st.active_calls;
    s->dwNumOnHoldCalls = st.onhold_calls;
    s->dwNumOnHoldPendCalls = st.onhold_pend_calls;
    s->dwAddressFeatures = st.address_features;
    s->dwForwardNumEntries = st.forward_count;
    if (st.forward_count) {
        /* The entries (2.x layout), then their destinations; offsets are from the
         * start of LINEADDRESSSTATUS. */
        DWORD at = var_put(&v, &s->dwForwardSize, &s->dwForwardOffset, NULL,
                           (DWORD)(st.forward_count * FORWARD_ENTRY_SIZE));
        for (uint32_t i = 0; i < st.forward_count; i++) {
            DWORD size = 0, offset = 0;
            var_wstr(&v, &size, &offset, st.forward[i].dest);
            if (at == 0) continue;
            LINEFORWARD *f = (LINEFORWARD *)(v.base + at + i * FORWARD_ENTRY_SIZE);
            f->dwForwardMode = st.forward[i].mode;
            f->dwDestAddressSize = size;
            f->dwDestAddressOffset = offset;
        }
    }
    var_done(&v, &s->dwNeededSize, &s->dwUsedSize);
    return 0;
}

LONG WINAPI TSPI_lineGetID(HDRVLINE hdLine, DWORD dwAddressID, HDRVCALL hdCall, DWORD dwSelect,
                           LPVARSTRING lpDeviceID, LPCWSTR lpszDeviceClass, HANDLE hTargetProcess) {
    (void)hTargetProcess;
    char cls[64];
    if (!to_utf8(lpszDeviceClass, cls, sizeof cls)) return LINEERR_INVALDEVICECLASS;
    if (lpDeviceID->dwTotalSize < sizeof *lpDeviceID) return LINEERR_STRUCTURETOOSMALL;
    tsp_device_id id;
    int32_t r = tsp_core_get_id(g_core, HD_LINE(hdLine), dwAddressID, HD_CALL(hdCall), dwSelect, cls, &id);
    if (r != 0) return r;
    VARSTRING *s = lpDeviceID;
    memset((BYTE *)s + sizeof s->dwTotalSize, 0, sizeof *s - sizeof s->dwTotalSize);
    varbuf v;
    var_init(&v, s, s->dwTotalSize, sizeof *s);
    if (id.is_string) {
        s->dwStringFormat = STRINGFORMAT_UNICODE;
        var_wstr(&v, &s->dwStringSize, &s->dwStringOffset, id.text);
    } else {
        s->dwStringFormat = STRINGFORMAT_BINARY;
        DWORD value = id.value;
        var_put(&v, &s->dwStringSize, &s->dwStringOffset, &value, sizeof value);
    }
    var_done(&v, &s->dwNeededSize, &s->dwUsedSize);
    return 0;
}

/* ---- calls ------------------------------------------------------------------------ */

/* An asynchronous TSPI function's return: the request id, or the error. */
static LONG async(DRV_REQUESTID id, int32_t r) { return r == 0 ? (LONG)id : r; }

LONG WINAPI TSPI_lineMakeCall(DRV_REQUESTID dwRequestID, HDRVLINE hdLine, HTAPICALL htCall, LPHDRVCALL lphdCall,
                              LPCWSTR lpszDestAddress, DWORD dwCountryCode, LPLINECALLPARAMS const lpCallParams) {
    (void)dwCountryCode;
    if (lpCallParams && (lpCallParams->dwMediaMode & ~(DWORD)LINEMEDIAMODE_INTERACTIVEVOICE))
        return LINEERR_INVALMEDIAMODE;
    char dest[ADDRESS_UTF8_MAX];
    if (!to_utf8(lpszDestAddress, dest, sizeof dest)) return LINEERR_INVALADDRESS;
    uint32_t hd = 0;
    int32_t r = tsp_core_make_call(g_core, dwRequestID, HD_LINE(hdLine), (uintptr_t)htCall, dest, &hd);
    /* TAPI has the handle before this returns; the completion may already be on its way. */
    if (r == 0) *lphdCall = (HDRVCALL)(uintptr_t)hd;
    return async(dwRequestID, r);
}

LONG WINAPI TSPI_lineDial(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCWSTR lpszDestAddress, DWORD dwCountryCode) {
    (void)dwCountryCode;
    char digits[ADDRESS_UTF8_MAX];
    if (!to_utf8(lpszDestAddress, digits, sizeof digits)) return LINEERR_INVALADDRESS;
    return async(dwRequestID, tsp_core_dial(g_core, dwRequestID, HD_CALL(hdCall), digits));
}

LONG WINAPI TSPI_lineAnswer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCSTR lpsUserUserInfo, DWORD dwSize) {
    (void)lpsUserUserInfo;
    if (dwSize != 0) return LINEERR_USERUSERINFOTOOBIG; /* no user-user information */
    return async(dwRequestID, tsp_core_answer(g_core, dwRequestID, HD_CALL(hdCall)));
}

LONG WINAPI TSPI_lineDrop(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCSTR lpsUserUserInfo, DWORD dwSize) {
    (void)lpsUserUserInfo;
    if (dwSize != 0) return LINEERR_USERUSERINFOTOOBIG;
    return async(dwRequestID, tsp_core_drop(g_core, dwRequestID, HD_CALL(hdCall)));
}

LONG WINAPI TSPI_lineHold(DRV_REQUESTID dwRequestID, HDRVCALL hdCall) {
    return async(dwRequestID, tsp_core_hold(g_core, dwRequestID, HD_CALL(hdCall)));
}

LONG WINAPI TSPI_lineUnhold(DRV_REQUESTID dwRequestID, HDRVCALL hdCall) {
    return async(dwRequestID, tsp_core_unhold(g_core, dwRequestID, HD_CALL(hdCall)));
}

LONG WINAPI TSPI_lineBlindTransfer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCWSTR lpszDestAddress,
                                   DWORD dwCountryCode) {
    (void)dwCountryCode;
    char dest[ADDRESS_UTF8_MAX];
    if (!to_utf8(lpszDestAddress, dest, sizeof dest)) return LINEERR_INVALADDRESS;
    return async(dwRequestID, tsp_core_blind_transfer(g_core, dwRequestID, HD_CALL(hdCall), dest));
}

LONG WINAPI TSPI_lineRedirect(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCWSTR lpszDestAddress,
                              DWORD dwCountryCode) {
    (void)dwCountryCode;
    char dest[ADDRESS_UTF8_MAX];
    if (!to_utf8(lpszDestAddress, dest, sizeof dest)) return LINEERR_INVALADDRESS;
    return async(dwRequestID, tsp_core_redirect(g_core, dwRequestID, HD_CALL(hdCall), dest));
}

LONG WINAPI TSPI_linePickup(DRV_REQUESTID dwRequestID, HDRVLINE hdLine, DWORD dwAddressID, HTAPICALL htCall,
                            LPHDRVCALL lphdCall, LPCWSTR lpszDestAddress, LPCWSTR lpszGroupID) {
    char dest[ADDRESS_UTF8_MAX];
    if (!to_utf8(lpszDestAddress, dest, sizeof dest))
        /* Group pickup: the PBX's pickup groups are not known to ctilink. */
        return lpszGroupID ? LINEERR_INVALGROUPID : LINEERR_INVALADDRESS;
    uint32_t hd = 0;
    int32_t r = tsp_core_pickup(g_core, dwRequestID, HD_LINE(hdLine), dwAddressID, (uintptr_t)htCall, dest, &hd);
    if (r == 0) *lphdCall = (HDRVCALL)(uintptr_t)hd;
    return async(dwRequestID, r);
}

LONG WINAPI TSPI_lineForward(DRV_REQUESTID dwRequestID, HDRVLINE hdLine, DWORD bAllAddresses, DWORD dwAddressID,
                             LPLINEFORWARDLIST const lpForwardList, DWORD dwNumRingsNoAnswer, HTAPICALL htConsultCall,
                             LPHDRVCALL lphdConsultCall, LPLINECALLPARAMS const lpCallParams) {
    /* The PBX's dialplan decides when an unanswered call is forwarded; no consultation
     * call is made (TAPI's consultation-call handle comes back NULL). */
    (void)dwNumRingsNoAnswer;
    (void)htConsultCall;
    (void)lpCallParams;
    if (lphdConsultCall) *lphdConsultCall = NULL;
    tsp_forward list[8];
    size_t count = 0;
    if (lpForwardList) {
        const BYTE *base = (const BYTE *)lpForwardList;
        DWORD total = lpForwardList->dwTotalSize, n = lpForwardList->dwNumEntries;
        if (n > sizeof list / sizeof list[0]) return LINEERR_INVALPARAM;
        if (total < FORWARDLIST_HEAD + n * FORWARD_ENTRY_SIZE) return LINEERR_INVALPARAM;
        for (DWORD i = 0; i < n; i++) {
            const LINEFORWARD *f = (const LINEFORWARD *)(base + FORWARDLIST_HEAD + i * FORWARD_ENTRY_SIZE);
            DWORD size = f->dwDestAddressSize, offset = f->dwDestAddressOffset;
            if (size < sizeof(WCHAR) || offset > total || size > total - offset || size % sizeof(WCHAR))
                return LINEERR_INVALADDRESS;
            WCHAR w[TSP_ADDRESS_MAX];
            DWORD chars = size / sizeof(WCHAR);
            if (chars >= TSP_ADDRESS_MAX) return LINEERR_INVALADDRESS;
            memcpy(w, base + offset, size);
            w[chars] = 0; /* TAPI counts the NUL; do not rely on it */
            list[count].mode = f->dwForwardMode;
            if (!to_utf8(w, list[count].dest, sizeof list[count].dest)) return LINEERR_INVALADDRESS;
            count++;
        }
    }
    return async(dwRequestID, tsp_core_forward(g_core, dwRequestID, HD_LINE(hdLine), bAllAddresses != 0,
                                               dwAddressID, lpForwardList ? list : NULL, count));
}

LONG WINAPI TSPI_lineSetupTransfer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, HTAPICALL htConsultCall,
                                   LPHDRVCALL lphdConsultCall, LPLINECALLPARAMS const lpCallParams) {
    if (lpCallParams && (lpCallParams->dwMediaMode & ~(DWORD)LINEMEDIAMODE_INTERACTIVEVOICE))
        return LINEERR_INVALMEDIAMODE;
    if (!lphdConsultCall) return LINEERR_INVALPOINTER;
    uint32_t hd = 0;
    int32_t r = tsp_core_setup_transfer(g_core, dwRequestID, HD_CALL(hdCall), (uintptr_t)htConsultCall, &hd);
    /* TAPI has the consultation call's handle before this returns. */
    if (r == 0) *lphdConsultCall = (HDRVCALL)(uintptr_t)hd;
    return async(dwRequestID, r);
}

LONG WINAPI TSPI_lineCompleteTransfer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, HDRVCALL hdConsultCall,
                                      HTAPICALL htConfCall, LPHDRVCALL lphdConfCall, DWORD dwTransferMode) {
    /* A transfer makes no conference call (LINETRANSFERMODE_CONFERENCE is refused). */
    (void)htConfCall;
    if (lphdConfCall) *lphdConfCall = NULL;
    return async(dwRequestID, tsp_core_complete_transfer(g_core, dwRequestID, HD_CALL(hdCall),
                                                         HD_CALL(hdConsultCall), dwTransferMode));
}

LONG WINAPI TSPI_lineCloseCall(HDRVCALL hdCall) { return tsp_core_close_call(g_core, HD_CALL(hdCall)); }

LONG WINAPI TSPI_lineGetCallAddressID(HDRVCALL hdCall, LPDWORD lpdwAddressID) {
    tsp_call_info ci;
    int32_t r = tsp_core_call_info(g_core, HD_CALL(hdCall), &ci);
    if (r == 0) *lpdwAddressID = 0; /* one address per line */
    return r;
}

static void party(varbuf *v, const tsp_party *p, DWORD *flags, DWORD *num_size, DWORD *num_offset,
                  DWORD *name_size, DWORD *name_offset) {
    *flags = 0;
    if (p->number[0]) {
        *flags |= LINECALLPARTYID_ADDRESS;
        var_wstr(v, num_size, num_offset, p->number);
    }
    if (p->name[0]) {
        *flags |= LINECALLPARTYID_NAME;
        var_wstr(v, name_size, name_offset, p->name);
    }
    if (!*flags) *flags = LINECALLPARTYID_UNKNOWN;
}

LONG WINAPI TSPI_lineGetCallInfo(HDRVCALL hdCall, LPLINECALLINFO lpCallInfo) {
    LINECALLINFO *c = lpCallInfo;
    if (c->dwTotalSize < CALLINFO_FIXED) return LINEERR_STRUCTURETOOSMALL;
    tsp_call_info ci;
    int32_t r = tsp_core_call_info(g_core, HD_CALL(hdCall), &ci);
    if (r != 0) return r;
    /* TAPI-managed members survive: TAPI fills them itself. (Member by member: the
     * buffer may end at the 2.x size, before tapi.h's struct does.) */
    HLINE line = c->hLine;
    DWORD digit_modes = c->dwMonitorDigitModes, media_modes = c->dwMonitorMediaModes,
          owners = c->dwNumOwners, monitors = c->dwNumMonitors, app_specific = c->dwAppSpecific;
    memset((BYTE *)c + sizeof c->dwTotalSize, 0, CALLINFO_FIXED - sizeof c->dwTotalSize);
    c->hLine = line;
    c->dwMonitorDigitModes = digit_modes;
    c->dwMonitorMediaModes = media_modes;
    c->dwNumOwners = owners;
    c->dwNumMonitors = monitors;
    c->dwAppSpecific = app_specific;
    varbuf v;
    var_init(&v, c, c->dwTotalSize, CALLINFO_FIXED);
    c->dwLineDeviceID = ci.line_device_id;
    c->dwAddressID = 0;
    c->dwBearerMode = LINEBEARERMODE_VOICE;
    c->dwMediaMode = LINEMEDIAMODE_INTERACTIVEVOICE;
    c->dwCallID = ci.call_id;
    c->dwCallStates = CALL_STATES;
    c->dwOrigin = ci.origin;
    c->dwReason = ci.reason;
    party(&v, &ci.caller, &c->dwCallerIDFlags, &c->dwCallerIDSize, &c->dwCallerIDOffset, &c->dwCallerIDNameSize,
          &c->dwCallerIDNameOffset);
    party(&v, &ci.called, &c->dwCalledIDFlags, &c->dwCalledIDSize, &c->dwCalledIDOffset, &c->dwCalledIDNameSize,
          &c->dwCalledIDNameOffset);
    party(&v, &ci.connected, &c->dwConnectedIDFlags, &c->dwConnectedIDSize, &c->dwConnectedIDOffset,
          &c->dwConnectedIDNameSize, &c->dwConnectedIDNameOffset);
    c->dwRedirectionIDFlags = c->dwRedirectingIDFlags = LINECALLPARTYID_UNAVAIL;
    var_done(&v, &c->dwNeededSize, &c->dwUsedSize);
    return 0;
}

LONG WINAPI TSPI_lineGetCallStatus(HDRVCALL hdCall, LPLINECALLSTATUS lpCallStatus) {
    LINECALLSTATUS *s = lpCallStatus;
    if (s->dwTotalSize < sizeof *s) return LINEERR_STRUCTURETOOSMALL;
    tsp_call_info ci;
    int32_t r = tsp_core_call_info(g_core, HD_CALL(hdCall), &ci);
    if (r != 0) return r;
    DWORD privilege = s->dwCallPrivilege; /* TAPI's */
    memset((BYTE *)s + sizeof s->dwTotalSize, 0, sizeof *s - sizeof s->dwTotalSize);
    s->dwCallPrivilege = privilege;
    s->dwCallState = ci.state;
    s->dwCallStateMode = ci.mode;
    s->dwCallFeatures = ci.features;
    s->dwCallFeatures2 = ci.features2;
    /* Seconds since 1970 to a FILETIME (100 ns since 1601) to SYSTEMTIME, UTC. */
    ULARGE_INTEGER t;
    t.QuadPart = ((ULONGLONG)ci.state_since + 11644473600ULL) * 10000000ULL;
    FILETIME ft = {t.LowPart, t.HighPart};
    FileTimeToSystemTime(&ft, &s->tStateEntryTime);
    s->dwNeededSize = s->dwUsedSize = sizeof *s;
    return 0;
}

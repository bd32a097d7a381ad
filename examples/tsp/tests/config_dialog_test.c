/*
 * config_dialog_test.exe: ctilink.tsp's configuration dialog used as a person would, under
 * Wine with a display (Xvfb): it opens the dialog as the Telephony control panel does
 * (TUISPI_providerConfig), types a URL with a wrong secret and clicks "Test connection"
 * (a failure that does not show the secret), then the right URL and the lines (success:
 * the PBX's extensions counted), lets the driver take a screenshot, then starts a test
 * against a PBX that never answers and clicks OK at once (the dialog must not return, and
 * the DLL be unloaded, while that test still runs), and checks that the settings reached the
 * registry.
 *
 * Usage: config_dialog_test PATH\ctilink.tsp URL BAD_URL BAD_SECRET LINES SILENT_URL
 * Prints "ok ..." or "not ok ..." per check; prints SCREENSHOT and waits for a line on
 * stdin before it clicks OK. Run by tests/tests/tsp_windows.rs.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tapi.h>
#include <tspi.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctilink_tsp_rc.h"

static int g_failed;

static void check(BOOL ok, const char *fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!ok) g_failed++;
    printf("%s dialog: %s\n", ok ? "ok" : "not ok", text);
    fflush(stdout);
}

static const char *g_url, *g_bad_url, *g_lines, *g_bad_secret, *g_silent_url;

/* The status line once a test has finished ("Connected..." or "Failed..."), as UTF-8.
 * Waits up to 90 s: the provider's own connect, login and list timeouts add up to about a
 * minute. */
static BOOL test_result(HWND dlg, char *out, int cap) {
    WCHAR w[512];
    for (int i = 0; i < 1800; i++) {
        GetDlgItemTextW(dlg, IDC_STATUS, w, 512);
        if (wcsncmp(w, L"Connected", 9) == 0 || wcsncmp(w, L"Failed", 6) == 0) {
            WideCharToMultiByte(CP_UTF8, 0, w, -1, out, cap, NULL, NULL);
            return TRUE;
        }
        Sleep(50);
    }
    WideCharToMultiByte(CP_UTF8, 0, w, -1, out, cap, NULL, NULL);
    return FALSE;
}

static void set_text(HWND dlg, int id, const char *utf8) {
    WCHAR w[2048];
    MultiByteToWideChar(CP_UTF8, 0, utf8, -1, w, 2048);
    SetDlgItemTextW(dlg, id, w);
}

/* Plays the user, on its own thread, while the dialog runs its modal loop. */
static DWORD WINAPI user(LPVOID param) {
    (void)param;
    HWND dlg = NULL;
    for (int i = 0; i < 600 && !dlg; i++) {
        dlg = FindWindowW(L"#32770", L"ctilink TAPI provider");
        if (!dlg) Sleep(50);
    }
    /* A person acts once the dialog is on screen, which is after WM_INITDIALOG: the window
     * exists (and FindWindow sees it) before that. Clicking earlier was lost at random. */
    for (int i = 0; i < 600 && dlg && !IsWindowVisible(dlg); i++) Sleep(50);
    check(dlg != NULL && IsWindowVisible(dlg), "the dialog opens");
    if (!dlg) return 1;
    char status[512];

    set_text(dlg, IDC_URL, g_bad_url);
    SendMessageW(GetDlgItem(dlg, IDC_TEST), BM_CLICK, 0, 0);
    BOOL done = test_result(dlg, status, sizeof status);
    check(done && strncmp(status, "Failed", 6) == 0, "a wrong secret: %s", status);
    check(strstr(status, g_bad_secret) == NULL, "the failure does not show the secret");

    set_text(dlg, IDC_URL, g_url);
    set_text(dlg, IDC_LINES, g_lines);
    SetDlgItemTextW(dlg, IDC_STATUS, L"");
    SendMessageW(GetDlgItem(dlg, IDC_TEST), BM_CLICK, 0, 0);
    done = test_result(dlg, status, sizeof status);
    check(done && strncmp(status, "Connected", 9) == 0, "the right URL: %s", status);

    printf("SCREENSHOT\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    /* A test that will run for the login timeout, and OK while it runs. */
    set_text(dlg, IDC_URL, g_silent_url);
    SendMessageW(GetDlgItem(dlg, IDC_TEST), BM_CLICK, 0, 0);
    set_text(dlg, IDC_URL, g_url);
    SendMessageW(GetDlgItem(dlg, IDOK), BM_CLICK, 0, 0);
    return 0;
}

static BOOL registry_is(LPCWSTR name, const char *want) {
    WCHAR w[2048];
    char got[2048];
    DWORD size = sizeof w;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\ctilink\\TSP", name, RRF_RT_REG_SZ, NULL, w, &size) !=
        ERROR_SUCCESS)
        return FALSE;
    WideCharToMultiByte(CP_UTF8, 0, w, -1, got, sizeof got, NULL, NULL);
    return strcmp(got, want) == 0;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: config_dialog_test PATH\\ctilink.tsp URL BAD_URL BAD_SECRET LINES SILENT_URL\n");
        return 2;
    }
    g_url = argv[2];
    g_bad_url = argv[3];
    g_bad_secret = argv[4];
    g_lines = argv[5];
    g_silent_url = argv[6];
    LoadLibraryA("ws2_32.dll"); /* as in tapisrv_host.c: Wine 8.0 must keep Winsock loaded */
    HMODULE tsp = LoadLibraryA(argv[1]);
    check(tsp != NULL, "LoadLibrary(ctilink.tsp)");
    if (!tsp) return 1;
    __typeof__(TUISPI_providerConfig) *config =
        (__typeof__(TUISPI_providerConfig) *)(void *)GetProcAddress(tsp, "TUISPI_providerConfig");
    check(config != NULL, "ctilink.tsp exports TUISPI_providerConfig");
    check(GetProcAddress(tsp, "TUISPI_lineConfigDialog") != NULL, "ctilink.tsp exports TUISPI_lineConfigDialog");
    if (!config) return 1;
    HANDLE t = CreateThread(NULL, 0, user, NULL, 0, NULL);
    LONG r = config(NULL, NULL, 1);
    check(r == 0, "TUISPI_providerConfig returns 0 after OK (%#lx)", (unsigned long)r);
    WaitForSingleObject(t, 30000);
    check(registry_is(L"Url", g_url), "OK saved the URL in HKLM\\SOFTWARE\\ctilink\\TSP");
    check(registry_is(L"Lines", g_lines), "OK saved the lines");
    /* Had the dialog returned with its test thread still running in ctilink.tsp, unloading
     * the DLL now would crash this process. */
    check(FreeLibrary(tsp), "FreeLibrary(ctilink.tsp) once the dialog has returned");
    Sleep(6500); /* past the login timeout (5 s): when a leftover test thread would wake up */
    printf("UNLOADED\n"); /* the driver wants this line: a crash would end the process first */
    fflush(stdout);
    return g_failed ? 1 : 0;
}

/*
 * TEST-ONLY stand-in for bcryptprimitives.dll, for Wine 8.0, which lacks it.
 *
 * Rust's standard library (1.78 and later) takes its random numbers (HashMap seeds) from
 * ProcessPrng in bcryptprimitives.dll, which every Windows 10 and later has. Wine 8.0 does
 * not ship the DLL, so ctilink.dll would fail to load there. scripts/test-windows.sh puts
 * this stand-in next to the host program, where the loader finds it first; it answers
 * ProcessPrng from BCryptGenRandom (the system's preferred RNG). It is never shipped: on
 * Windows the system's own DLL is used.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x7fffffffu ? 0x7fffffffu : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}

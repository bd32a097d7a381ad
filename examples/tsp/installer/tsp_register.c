/*
 * tsp_register.exe: adds ctilink.tsp to TAPI's providers, or removes it, for the installer
 * (ctilink-tsp.nsi), the way Control Panel > Phone and Modem > Advanced does: through
 * lineAddProvider / lineRemoveProvider, so that TAPISRV learns of it at once.
 *
 *   tsp_register add       adds ctilink.tsp (from the system folder); keeps the provider
 *                          id in HKLM\SOFTWARE\ctilink\TSP ProviderID
 *   tsp_register remove    removes the provider of that id
 *
 * Exit code: 0 done, 2 TAPI refused (the error is printed; the installer tells the user to
 * add the provider by hand), 1 bad usage. HKLM\SOFTWARE\ctilink\TSP Registered (REG_DWORD)
 * says whether TAPI has it.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tapi.h>

#include <stdio.h>
#include <string.h>

#define CONFIG_KEY L"SOFTWARE\\ctilink\\TSP"

static void set_dword(LPCWSTR name, DWORD value) {
    RegSetKeyValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, name, REG_DWORD, &value, sizeof value);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "add") == 0) {
        DWORD id = 0;
        LONG r = lineAddProviderW(L"ctilink.tsp", NULL, &id);
        if (r != 0) {
            fprintf(stderr, "lineAddProvider(ctilink.tsp) failed: %#lx\n", (unsigned long)r);
            set_dword(L"Registered", 0);
            return 2;
        }
        set_dword(L"ProviderID", id);
        set_dword(L"Registered", 1);
        printf("ctilink.tsp added to TAPI as provider %lu\n", (unsigned long)id);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "remove") == 0) {
        DWORD id = 0, size = sizeof id;
        if (RegGetValueW(HKEY_LOCAL_MACHINE, CONFIG_KEY, L"ProviderID", RRF_RT_REG_DWORD, NULL, &id, &size) !=
            ERROR_SUCCESS) {
            printf("ctilink.tsp was not added to TAPI: nothing to remove\n");
            return 0;
        }
        LONG r = lineRemoveProvider(id, NULL);
        if (r != 0) {
            fprintf(stderr, "lineRemoveProvider(%lu) failed: %#lx\n", (unsigned long)id, (unsigned long)r);
            return 2;
        }
        printf("provider %lu removed from TAPI\n", (unsigned long)id);
        return 0;
    }
    fprintf(stderr, "usage: tsp_register add|remove\n");
    return 1;
}

/* id_helper: prints who it runs as and its capabilities, in one line. The runner installs
 * copies of it as a setuid-root binary and as a binary with file capabilities (probes 28,
 * 29), which the job then executes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned long long cap(const char *key) {
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long v = ~0ULL;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, strlen(key)) == 0)
            sscanf(line + strlen(key), ":%llx", &v);
    }
    if (f)
        fclose(f);
    return v;
}

int main(void) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("uid=%d euid=%d suid=%d gid=%d egid=%d capeff=%llx capprm=%llx\n", (int)r, (int)e,
           (int)s, (int)gr, (int)ge, cap("CapEff"), cap("CapPrm"));
    return 0;
}

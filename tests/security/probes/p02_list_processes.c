/* 2. List host processes → only the sandbox's own pids in /proc. */
#include <dirent.h>
#include <stdlib.h>

#include "../probe.h"

int main(void) {
    probe_begin(2, "list-processes");
    DIR *d = opendir("/proc");
    if (!d) {
        probe_escape("cannot open /proc (%s): the check cannot run", errno_name(errno));
        return probe_end();
    }
    int count = 0;
    char list[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name)
            continue;
        count++;
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%s%ld", l ? "," : "", pid);
    }
    closedir(d);
    /* the job's own pid namespace holds jobcell-init (1) and the job (2): a host /proc
     * would list dozens, and /proc/self would name a host pid */
    char self[32] = "";
    ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
    if (n > 0)
        self[n] = '\0';
    if (atoi(self) != getpid())
        probe_escape("/proc/self is %s but getpid() is %d: /proc is not the job's", self,
                     (int)getpid());
    if (count > 3)
        probe_escape("%d processes visible: %s", count, list);
    else
        probe_note("%d processes visible: %s", count, list);
    if (getpid() > 3)
        probe_escape("own pid %d: not a fresh pid namespace", (int)getpid());
    return probe_end();
}

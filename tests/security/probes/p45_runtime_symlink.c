/* 45. Symlink /workspace/x → /etc/shadow and ask the runtime API to read it → the runtime
 * API never touches the sandbox filesystem; no file is read on the host.
 *
 * The runner places a secret file on the host, outside anything bound into the sandbox
 * (its content starts with "JCSECRET"; its path is in /runtime/canary_path), and binds the
 * execution's token at /runtime/token. The probe points symlinks at the host paths and
 * hands them to every route, and to some that do not exist; no answer may carry a host
 * file's bytes. The runner also checks that the secret file was not read (its atime). */
#include <sys/stat.h>

#include "../probe_http.h"

static const char *leaks(const char *body) {
    if (strstr(body, "JCSECRET"))
        return "the host secret file";
    if (strstr(body, "root:") && strstr(body, ":0:"))
        return "/etc/shadow or /etc/passwd";
    return NULL;
}

int main(void) {
    probe_begin(45, "runtime-api-symlink");
    const char *token = runtime_file("token"), *exe = runtime_file("exe"),
               *canary = runtime_file("canary_path");
    if (!*token || !*exe || !*canary) {
        probe_escape("the runner's /runtime files are missing: the check cannot run");
        return probe_end();
    }
    unlink("/workspace/x");
    unlink("/workspace/y");
    if (symlink("/etc/shadow", "/workspace/x") < 0 || symlink(canary, "/workspace/y") < 0) {
        probe_escape("symlink in /workspace failed (%s)", errno_name(errno));
        return probe_end();
    }
    /* the control: the runtime API answers this token at all */
    http_answer a;
    char path[512];
    snprintf(path, sizeof(path), "/executions/%s/input", exe);
    http_request(&a, "GET", path, token, NULL);
    if (a.status != 200) {
        probe_escape("control GET %s answered %d, expected 200: %.200s", path, a.status, a.raw);
        return probe_end();
    }
    /* hand the API the paths in every way a job could */
    const char *paths[] = {"/workspace/x", "/workspace/y", "/etc/shadow", "x", "y"};
    char body[1024];
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(body, sizeof(body), "{\"data\": {\"file\": \"%s\", \"path\": \"%s\"}}", paths[i],
                 paths[i]);
        snprintf(path, sizeof(path), "/executions/%s/output", exe);
        http_request(&a, "POST", path, token, body);
        const char *l = leaks(a.body);
        if (l)
            probe_escape("POST output naming %s returned %s", paths[i], l);
        snprintf(body, sizeof(body), "{\"value\": {\"$ref\": \"%s\"}}", paths[i]);
        snprintf(path, sizeof(path), "/executions/%s/variables/jcprobe", exe);
        http_request(&a, "PUT", path, token, body);
        http_request(&a, "GET", path, token, NULL);
        if ((l = leaks(a.body)))
            probe_escape("variable holding %s read back as %s", paths[i], l);
    }
    const char *routes[] = {
        "/workspace/x",
        "/workspace/y",
        "/etc/shadow",
        "/executions/%s/../../etc/shadow",
        "/executions/%s/input?file=/workspace/x",
        "/executions/%s/variables/..%%2F..%%2F..%%2Fetc%%2Fshadow",
        "/executions/%s/variables/%%2Fworkspace%%2Fx",
        "/executions/%s/files/workspace/x",
        "/executions/%s/workspace/x",
    };
    int answered = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        snprintf(path, sizeof(path), routes[i], exe);
        http_request(&a, "GET", path, token, NULL);
        const char *l = leaks(a.body);
        if (l)
            probe_escape("GET %s returned %s", path, l);
        else if (a.status == 200 && i != 4)
            probe_escape("GET %s answered 200: %.120s", path, a.body);
        answered += a.status != 0;
    }
    probe_note("control 200; %d odd routes answered without a file's bytes (4xx)", answered);
    snprintf(path, sizeof(path), "/executions/%s/variables/jcprobe", exe);
    http_request(&a, "DELETE", path, token, NULL);
    return probe_end();
}

/* 46. Spoof another execution: call the runtime API with another execution's id → 403.
 * The runner binds this execution's token (/runtime/token, /runtime/exe) and the id of
 * another user's running execution (/runtime/other). */
#include "../probe_http.h"

static void expect(const char *method, const char *fmt, const char *id, const char *whose,
                   const char *token, const char *body, int want) {
    char path[512];
    snprintf(path, sizeof(path), fmt, id);
    http_answer a;
    http_request(&a, method, path, token, body);
    bool code_ok = want != 403 || strstr(a.body, "\"forbidden\"") != NULL;
    if (a.status == want && code_ok)
        probe_note("%s %s (%s): %d", method, fmt, whose, a.status);
    else
        probe_escape("%s %s answered %d, expected %d: %.160s", method, path, a.status, want,
                     a.body);
}

int main(void) {
    probe_begin(46, "runtime-api-spoof");
    const char *token = runtime_file("token"), *exe = runtime_file("exe"),
               *other = runtime_file("other");
    if (!*token || !*exe || !*other) {
        probe_escape("the runner's /runtime files are missing: the check cannot run");
        return probe_end();
    }
    expect("GET", "/executions/%s/input", exe, "own", token, NULL, 200); /* the control */
    expect("GET", "/executions/%s/input", other, "other", token, NULL, 403);
    expect("GET", "/executions/%s/context", other, "other", token, NULL, 403);
    expect("POST", "/executions/%s/output", other, "other", token, "{\"data\": 1}", 403);
    expect("POST", "/executions/%s/condition", other, "other", token, "{\"condition\": true}", 403);
    expect("GET", "/executions/%s/variables/k", other, "other", token, NULL, 403);
    expect("PUT", "/executions/%s/variables/k", other, "other", token, "{\"value\": 1}", 403);
    expect("POST", "/executions/%s/token", other, "other", token, NULL, 403);
    expect("GET", "/executions/%s/input", other, "other", NULL, NULL, 401);
    return probe_end();
}

/* fuzz_seccomp_profile: any bytes as a seccomp profile. Parsing must never crash or leak;
 * whatever parses is resolved, checked, compiled, explained and diffed against itself
 * (which must find no difference). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jobcell/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jc_seccomp_diags diags = {0};
    jc_err err = {0};
    jc_seccomp_profile *p =
        jc_seccomp_profile_parse((const char *)data, size, "fuzz", &diags, &err);
    if (p) {
        static const jc_seccomp_env env = {.arch = 0xC000003E /* x86_64 */, .kernel = {6, 1, 0}};
        jc_seccomp_resolved r;
        if (jc_seccomp_resolve(p, &env, &r, &diags, &err) == 0) {
            jc_seccomp_summary sum;
            (void)jc_seccomp_check(&r, &sum, &diags, &err);
            jc_seccomp_filter f;
            if (jc_seccomp_compile(&r, &f, &err) == 0) {
                uint64_t args[6] = {16, 0x10000000, 0, 0, 0, 0};
                jc_seccomp_verdict v;
                if (jc_seccomp_explain(&r, "socket", args, 6, &v, &err) == 0 && !v.ignored_name) {
                    uint32_t ret = jc_seccomp_filter_eval(&f, env.arch, 41, args);
                    (void)ret;
                }
                jc_seccomp_filter_free(&f);
            }
            jc_seccomp_diff d;
            if (jc_seccomp_diff_compute(&r, &r, &d, &err) == 0) {
                if (d.n != 0)
                    abort(); /* a profile differs from itself: the model is broken */
                jc_seccomp_diff_free(&d);
            }
            jc_seccomp_resolved_free(&r);
        }
        jc_seccomp_profile_free(p);
    }
    jc_seccomp_diags_free(&diags);
    return 0;
}

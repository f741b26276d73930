/* Fuzz the cron parser and the next-fire search: any accepted expression must yield fire
 * times that strictly increase and match the expression's own minute and hour sets. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char expr[JC_CRON_EXPR_MAX + 2];
    if (size > JC_CRON_EXPR_MAX + 1)
        size = JC_CRON_EXPR_MAX + 1;
    memcpy(expr, data, size);
    expr[size] = '\0';
    jc_cron c;
    jc_err err = {0};
    if (jc_cron_parse(expr, &c, &err) < 0) {
        if (err.code != JC_E_INVALID || err.msg[0] == '\0')
            abort(); /* a rejection must say why */
        return 0;
    }
    if (!c.minutes || !c.hours || !c.months)
        abort(); /* an accepted expression with an empty set can never fire */
    const jc_tz *utc = jc_tz_get("UTC", NULL);
    if (!utc)
        abort();
    int64_t t = 1795000000; /* 2026-11-19 */
    for (int i = 0; i < 3; i++) {
        int64_t next;
        if (jc_cron_next(&c, utc, t, &next, &err) < 0) {
            if (err.code != JC_E_NOT_FOUND)
                abort();
            break;
        }
        int minute = (int)(next / 60 % 60), hour = (int)(next / 3600 % 24);
        if (next <= t || next % 60 != 0 || !(c.minutes >> minute & 1) || !(c.hours >> hour & 1))
            abort();
        t = next;
    }
    return 0;
}

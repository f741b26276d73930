/* Fuzz the egress allow-list entry parser: a rejection must say why; an accepted entry
 * must print to a canonical text that parses back to the same rule and prints the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/egress_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char entry[JC_EGRESS_ENTRY_MAX + 8];
    if (size > sizeof(entry) - 1)
        size = sizeof(entry) - 1;
    memcpy(entry, data, size);
    entry[size] = '\0';
    jc_egress_rule r, again;
    jc_err err = {0};
    if (jc_egress_rule_parse(entry, &r, &err) < 0) {
        if (err.code != JC_E_INVALID || err.msg[0] == '\0')
            abort();
        return 0;
    }
    char text[320], text2[320];
    if (jc_egress_rule_format(&r, text, sizeof(text)) < 0)
        abort();
    if (jc_egress_rule_parse(text, &again, &err) < 0 || memcmp(&r, &again, sizeof(r)) != 0)
        abort();
    if (jc_egress_rule_format(&again, text2, sizeof(text2)) < 0 || strcmp(text, text2) != 0)
        abort();
    if (r.port_min > r.port_max || (r.port_min == 0) != (r.port_max == 0))
        abort();
    return 0;
}

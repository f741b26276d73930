/* Fuzz the strict config loader with arbitrary JSON text over a representative schema. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct cfg {
    char *listen;
    int64_t lease_s, memory_mb;
    double cpu;
    bool flag;
    json_t *list;
} cfg;

static const jc_cfg_field fields[] = {
    {"listen", JC_CFG_STRING, offsetof(cfg, listen), "127.0.0.1:8080", 0, 0, 0, 0, ""},
    {"lease_s", JC_CFG_INT, offsetof(cfg, lease_s), "30", 1, 3600, 0, 0, ""},
    {"limits.memory_mb", JC_CFG_INT, offsetof(cfg, memory_mb), "512", 16, 65536, 0, 0, ""},
    {"limits.deep.cpu", JC_CFG_DOUBLE, offsetof(cfg, cpu), "0.5", 0, 0, 0.01, 64, ""},
    {"flag", JC_CFG_BOOL, offsetof(cfg, flag), "false", 0, 0, 0, 0, ""},
    {"list", JC_CFG_JSON, offsetof(cfg, list), NULL, 0, 0, 0, 0, ""},
};
static const jc_cfg_schema schema = {fields, sizeof(fields) / sizeof(fields[0])};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cfg c = {0};
    if (jc_config_init(&schema, &c, NULL) == 0) {
        jc_err err;
        (void)jc_config_load_json(&schema, &c, (const char *)data, size, "fuzz", &err);
    }
    jc_config_free(&schema, &c);
    return 0;
}

#include "jobcell/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define SECRET_MAX_BYTES (64 << 10)

static void *slot(void *base, const jc_cfg_field *f) {
    return (char *)base + f->offset;
}

/* Keys compare with '-' and '_' alike, so flags may use either. */
static bool key_eq(const char *a, const char *b, size_t blen) {
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return i == blen && a[i] == '\0';
}

static const jc_cfg_field *find_field(const jc_cfg_schema *s, const char *key, size_t len) {
    for (size_t i = 0; i < s->n; i++)
        if (key_eq(s->fields[i].key, key, len))
            return &s->fields[i];
    return NULL;
}

/* A secret field named by "<key>_file". */
static const jc_cfg_field *find_secret_file(const jc_cfg_schema *s, const char *key, size_t len) {
    if (len > 5 && key_eq("_file", key + len - 5, 5)) {
        const jc_cfg_field *f = find_field(s, key, len - 5);
        if (f && f->type == JC_CFG_SECRET)
            return f;
    }
    return NULL;
}

void jc_secret_free(jc_secret *sec) {
    if (sec->data) {
        explicit_bzero(sec->data, sec->len);
        free(sec->data);
    }
    sec->data = NULL;
    sec->len = 0;
}

static int secret_set(jc_secret *sec, const char *v, size_t len, jc_err *err) {
    unsigned char *d = malloc(len + 1);
    if (!d)
        return jc_err_sys(err, ENOMEM, "secret: allocate");
    memcpy(d, v, len);
    d[len] = '\0';
    jc_secret_free(sec);
    sec->data = d;
    sec->len = len;
    return 0;
}

int jc_secret_read_file(const char *path, jc_secret *out, jc_err *err) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return jc_err_sys(err, errno, "secret file %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return jc_err_sys(err, errno, "secret file %s: stat", path);
    if (!S_ISREG(st.st_mode))
        return jc_err_set(err, JC_E_CONFIG, "secret file %s is not a regular file", path);
    if (st.st_mode & S_IROTH)
        return jc_err_set(err, JC_E_CONFIG,
                          "secret file %s is readable by everyone (mode %04o); chmod 600 it", path,
                          (unsigned)(st.st_mode & 07777));
    size_t len = 0;
    char *text = jc_read_fd(fd, SECRET_MAX_BYTES, &len, err);
    if (!text)
        return jc_err_prefix(err, "secret file %s", path);
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    int r = secret_set(out, text, len, err);
    explicit_bzero(text, len);
    free(text);
    return r;
}

static int parse_bool(const char *v, bool *out) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int check_int(const jc_cfg_field *f, int64_t v, const char *source, jc_err *err) {
    if ((f->min || f->max) && (v < f->min || v > f->max))
        return jc_err_field(err, JC_E_CONFIG, f->key,
                            "%s: %s must be between %lld and %lld, not %lld", source, f->key,
                            (long long)f->min, (long long)f->max, (long long)v);
    return 0;
}

static int check_double(const jc_cfg_field *f, double v, const char *source, jc_err *err) {
    if (!isfinite(v) || ((f->dmin != 0 || f->dmax != 0) && (v < f->dmin || v > f->dmax)))
        return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be between %g and %g", source,
                            f->key, f->dmin, f->dmax);
    return 0;
}

int jc_config_set(const jc_cfg_schema *s, void *base, const char *key, const char *value,
                  const char *source, bool allow_secret_inline, jc_err *err) {
    size_t klen = strlen(key);
    const jc_cfg_field *sf = find_secret_file(s, key, klen);
    if (sf)
        return jc_secret_read_file(value, slot(base, sf), err) < 0
                   ? jc_err_prefix(err, "%s: %s_file", source, sf->key)
                   : 0;
    const jc_cfg_field *f = find_field(s, key, klen);
    if (!f)
        return jc_err_field(err, JC_E_UNKNOWN_FIELD, key, "%s: unknown setting '%s'", source, key);
    void *p = slot(base, f);
    char *end = NULL;
    switch (f->type) {
    case JC_CFG_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return jc_err_sys(err, ENOMEM, "config: allocate");
        free(*(char **)p);
        *(char **)p = copy;
        return 0;
    }
    case JC_CFG_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be an integer, not '%.40s'",
                                source, f->key, value);
        if (check_int(f, v, source, err) < 0)
            return -1;
        *(int64_t *)p = v;
        return 0;
    }
    case JC_CFG_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end)
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be a number, not '%.40s'",
                                source, f->key, value);
        if (check_double(f, v, source, err) < 0)
            return -1;
        *(double *)p = v;
        return 0;
    }
    case JC_CFG_BOOL:
        if (parse_bool(value, (bool *)p) < 0)
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be true or false", source,
                                f->key);
        return 0;
    case JC_CFG_SECRET:
        /* argv is visible to every user of the host through /proc. */
        if (!allow_secret_inline)
            return jc_err_field(err, JC_E_CONFIG, f->key,
                                "%s: %s is a secret; give it as %s_file (a file path)", source,
                                f->key, f->key);
        return secret_set(p, value, strlen(value), err);
    case JC_CFG_JSON: {
        json_error_t jerr;
        json_t *j = json_loads(value, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!j)
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s is not valid JSON: %s", source,
                                f->key, jerr.text);
        json_decref(*(json_t **)p);
        *(json_t **)p = j;
        return 0;
    }
    }
    return jc_err_set(err, JC_E_INTERNAL, "config: bad field type");
}

int jc_config_init(const jc_cfg_schema *s, void *base, jc_err *err) {
    for (size_t i = 0; i < s->n; i++) {
        const jc_cfg_field *f = &s->fields[i];
        if (f->def && jc_config_set(s, base, f->key, f->def, "default", true, err) < 0)
            return -1;
    }
    return 0;
}

static int set_json_value(const jc_cfg_schema *s, void *base, const jc_cfg_field *f, json_t *v,
                          const char *source, jc_err *err) {
    void *p = slot(base, f);
    switch (f->type) {
    case JC_CFG_STRING:
    case JC_CFG_SECRET:
        if (!json_is_string(v))
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be a string", source,
                                f->key);
        if (memchr(json_string_value(v), '\0', json_string_length(v)))
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s contains a NUL byte", source,
                                f->key);
        return jc_config_set(s, base, f->key, json_string_value(v), source, true, err);
    case JC_CFG_INT:
        if (!json_is_integer(v))
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be an integer", source,
                                f->key);
        if (check_int(f, json_integer_value(v), source, err) < 0)
            return -1;
        *(int64_t *)p = json_integer_value(v);
        return 0;
    case JC_CFG_DOUBLE:
        if (!json_is_number(v))
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be a number", source,
                                f->key);
        if (check_double(f, json_number_value(v), source, err) < 0)
            return -1;
        *(double *)p = json_number_value(v);
        return 0;
    case JC_CFG_BOOL:
        if (!json_is_boolean(v))
            return jc_err_field(err, JC_E_CONFIG, f->key, "%s: %s must be true or false", source,
                                f->key);
        *(bool *)p = json_is_true(v);
        return 0;
    case JC_CFG_JSON:
        json_decref(*(json_t **)p);
        *(json_t **)p = json_incref(v);
        return 0;
    }
    return jc_err_set(err, JC_E_INTERNAL, "config: bad field type");
}

/* True when some field lives below the dotted prefix. */
static bool has_prefix(const jc_cfg_schema *s, const char *prefix, size_t len) {
    for (size_t i = 0; i < s->n; i++) {
        const char *k = s->fields[i].key;
        if (strncmp(k, prefix, len) == 0 && k[len] == '.')
            return true;
    }
    return false;
}

static int walk(const jc_cfg_schema *s, void *base, json_t *obj, const char *prefix,
                const char *source, int depth, jc_err *err) {
    if (depth > 8)
        return jc_err_set(err, JC_E_CONFIG, "%s: nested too deeply at %s", source, prefix);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char path[256];
        int n = *prefix ? snprintf(path, sizeof(path), "%s.%s", prefix, k)
                        : snprintf(path, sizeof(path), "%s", k);
        if (n < 0 || (size_t)n >= sizeof(path))
            return jc_err_set(err, JC_E_CONFIG, "%s: key too long", source);
        size_t plen = (size_t)n;
        const jc_cfg_field *f = find_field(s, path, plen);
        if (f && strchr(k, '-') == NULL) {
            if (set_json_value(s, base, f, v, source, err) < 0)
                return -1;
            continue;
        }
        const jc_cfg_field *sf = find_secret_file(s, path, plen);
        if (sf && strchr(k, '-') == NULL) {
            if (!json_is_string(v))
                return jc_err_field(err, JC_E_CONFIG, path, "%s: %s must be a file path", source,
                                    path);
            if (jc_secret_read_file(json_string_value(v), slot(base, sf), err) < 0)
                return jc_err_prefix(err, "%s: %s", source, path);
            continue;
        }
        if (json_is_object(v) && has_prefix(s, path, plen)) {
            if (walk(s, base, v, path, source, depth + 1, err) < 0)
                return -1;
            continue;
        }
        return jc_err_field(err, JC_E_UNKNOWN_FIELD, path, "%s: unknown key '%s'", source, path);
    }
    return 0;
}

int jc_config_load_json(const jc_cfg_schema *s, void *base, const char *text, size_t len,
                        const char *source, jc_err *err) {
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return jc_err_set(err, JC_E_CONFIG, "%s: line %d column %d: %s", source, jerr.line,
                          jerr.column, jerr.text);
    if (!json_is_object(root))
        return jc_err_set(err, JC_E_CONFIG, "%s: the top level must be a JSON object", source);
    return walk(s, base, root, "", source, 0, err);
}

int jc_config_load_file(const jc_cfg_schema *s, void *base, const char *path, jc_err *err) {
    size_t len = 0;
    _cleanup_free_ char *text = jc_read_file(path, CONFIG_MAX_BYTES, &len, err);
    if (!text)
        return jc_err_prefix(err, "config file");
    char source[300];
    (void)snprintf(source, sizeof(source), "config file %s", path);
    return jc_config_load_json(s, base, text, len, source, err);
}

/* JOBCELL_LIMITS_MEMORY_MB for limits.memory_mb. */
static void env_name(const char *key, const char *suffix, char *out, size_t cap) {
    size_t o = 0;
    const char *pfx = "JOBCELL_";
    for (; *pfx && o + 1 < cap; pfx++)
        out[o++] = *pfx;
    for (; *key && o + 1 < cap; key++)
        out[o++] = (*key == '.' || *key == '-') ? '_' : (char)toupper((unsigned char)*key);
    for (; *suffix && o + 1 < cap; suffix++)
        out[o++] = *suffix;
    out[o] = '\0';
}

static const char *env_lookup(char **envp, const char *name) {
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int jc_config_apply_env(const jc_cfg_schema *s, void *base, char **envp, jc_err *err) {
    for (size_t i = 0; i < s->n; i++) {
        const jc_cfg_field *f = &s->fields[i];
        char name[160], source[200];
        env_name(f->key, "", name, sizeof(name));
        const char *v = env_lookup(envp, name);
        (void)snprintf(source, sizeof(source), "environment %s", name);
        if (v && jc_config_set(s, base, f->key, v, source, true, err) < 0)
            return -1;
        if (f->type == JC_CFG_SECRET) {
            env_name(f->key, "_FILE", name, sizeof(name));
            v = env_lookup(envp, name);
            (void)snprintf(source, sizeof(source), "environment %s", name);
            if (v && jc_secret_read_file(v, slot(base, f), err) < 0)
                return jc_err_prefix(err, "%s", source);
        }
    }
    return 0;
}

int jc_config_load(const jc_cfg_schema *s, void *base, int argc, char **argv, char **envp,
                   int *next, jc_err *err) {
    int i = 1;
    const char *config_path = NULL;
    /* The file comes first whatever its place among the flags, so flags override it. */
    for (int j = 1; j < argc; j++) {
        if (strcmp(argv[j], "--") == 0 || strncmp(argv[j], "--", 2) != 0)
            break;
        if (strcmp(argv[j], "--config") == 0) {
            if (j + 1 >= argc)
                return jc_err_set(err, JC_E_CONFIG, "flag --config needs a file path");
            config_path = argv[j + 1];
            j++;
        } else if (strncmp(argv[j], "--config=", 9) == 0) {
            config_path = argv[j] + 9;
        } else if (!strchr(argv[j], '=')) {
            j++; /* --key VALUE: skip the value */
        }
    }
    if (config_path && jc_config_load_file(s, base, config_path, err) < 0)
        return -1;
    if (jc_config_apply_env(s, base, envp, err) < 0)
        return -1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strncmp(a, "--", 2) != 0)
            break;
        const char *name = a + 2, *eq = strchr(name, '='), *value;
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return jc_err_set(err, JC_E_CONFIG, "flag --%s needs a value", name);
            value = argv[++i];
        }
        char key[160], source[200];
        if (nlen >= sizeof(key))
            return jc_err_set(err, JC_E_CONFIG, "flag --%.40s…: too long", name);
        memcpy(key, name, nlen);
        key[nlen] = '\0';
        if (strcmp(key, "config") == 0)
            continue;
        (void)snprintf(source, sizeof(source), "flag --%s", key);
        if (!find_field(s, key, nlen) && !find_secret_file(s, key, nlen))
            return jc_err_field(err, JC_E_UNKNOWN_FIELD, key, "unknown flag --%s (see --help)",
                                key);
        if (jc_config_set(s, base, key, value, source, false, err) < 0)
            return -1;
    }
    if (next)
        *next = i;
    return 0;
}

void jc_config_free(const jc_cfg_schema *s, void *base) {
    for (size_t i = 0; i < s->n; i++) {
        const jc_cfg_field *f = &s->fields[i];
        void *p = slot(base, f);
        switch (f->type) {
        case JC_CFG_STRING:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case JC_CFG_SECRET: jc_secret_free(p); break;
        case JC_CFG_JSON:
            json_decref(*(json_t **)p);
            *(json_t **)p = NULL;
            break;
        default: break;
        }
    }
}

void jc_config_print_help(const jc_cfg_schema *s, FILE *out) {
    for (size_t i = 0; i < s->n; i++) {
        const jc_cfg_field *f = &s->fields[i];
        char flag[160];
        (void)snprintf(flag, sizeof(flag), "--%s%s", f->key,
                       f->type == JC_CFG_SECRET ? "_file" : "");
        fprintf(out, "  %-32s %s", flag, f->help ? f->help : "");
        if (f->def && f->type != JC_CFG_SECRET)
            fprintf(out, " (default: %s)", f->def);
        fputc('\n', out);
    }
}

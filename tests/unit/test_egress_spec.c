/* The egress allow-list entry parser: every accepted form, its canonical text, and the
 * rejections with the message that names the entry and the fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/egress_spec.h"

/* Parse, check the kind, ports and canonical text, and that the text parses back equal. */
static void accept(const char *entry, jc_egress_kind kind, unsigned prefix, unsigned pmin,
                   unsigned pmax, const char *canonical) {
    jc_egress_rule r, again;
    jc_err err = {0};
    if (jc_egress_rule_parse(entry, &r, &err) < 0)
        fail_msg("%s rejected: %s", entry, err.msg);
    assert_int_equal(r.kind, kind);
    assert_int_equal(r.prefix, prefix);
    assert_int_equal(r.port_min, pmin);
    assert_int_equal(r.port_max, pmax);
    char buf[320];
    assert_int_equal(jc_egress_rule_format(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, canonical);
    assert_int_equal(jc_egress_rule_parse(buf, &again, &err), 0);
    assert_memory_equal(&r, &again, sizeof(r));
}

static void test_accepts(void **state) {
    (void)state;
    accept("host.example.com", JC_EGRESS_HOST, 0, 0, 0, "host.example.com");
    accept("Host.Example.COM:443", JC_EGRESS_HOST, 0, 443, 443, "host.example.com:443");
    accept("host:8000-8100", JC_EGRESS_HOST, 0, 8000, 8100, "host:8000-8100");
    accept("a-b.c0.example", JC_EGRESS_HOST, 0, 0, 0, "a-b.c0.example");
    accept("198.51.100.7", JC_EGRESS_IPV4, 32, 0, 0, "198.51.100.7");
    accept("203.0.113.0/24:5432", JC_EGRESS_IPV4, 24, 5432, 5432, "203.0.113.0/24:5432");
    accept("0.0.0.0/0", JC_EGRESS_IPV4, 0, 0, 0, "0.0.0.0/0");
    accept("198.51.100.7:1-65535", JC_EGRESS_IPV4, 32, 1, 65535, "198.51.100.7:1-65535");
    accept("2001:db8::1", JC_EGRESS_IPV6, 128, 0, 0, "2001:db8::1");
    accept("[2001:db8::1]:443", JC_EGRESS_IPV6, 128, 443, 443, "[2001:db8::1]:443");
    accept("2001:db8::/32", JC_EGRESS_IPV6, 32, 0, 0, "2001:db8::/32");
    accept("[2001:db8::/32]:443", JC_EGRESS_IPV6, 32, 443, 443, "[2001:db8::/32]:443");
    accept("[2001:DB8:0:0::1]", JC_EGRESS_IPV6, 128, 0, 0, "2001:db8::1");
}

static void test_values(void **state) {
    (void)state;
    jc_egress_rule r;
    jc_err err = {0};
    assert_int_equal(jc_egress_rule_parse("203.0.113.0/24:5432", &r, &err), 0);
    const uint8_t want[4] = {203, 0, 113, 0};
    assert_memory_equal(r.addr, want, 4);
    assert_int_equal(jc_egress_rule_parse("[2001:db8::/32]:443", &r, &err), 0);
    const uint8_t want6[4] = {0x20, 0x01, 0x0d, 0xb8};
    assert_memory_equal(r.addr, want6, 4);
    for (int i = 4; i < 16; i++)
        assert_int_equal(r.addr[i], 0);
    assert_false(jc_egress_rule_any_port(&r));
    assert_int_equal(jc_egress_rule_parse("HOST.example.com", &r, &err), 0);
    assert_string_equal(r.host, "host.example.com");
    assert_true(jc_egress_rule_any_port(&r));
}

/* Reject entry; the message must quote the entry and contain why. */
static void reject(const char *entry, const char *why) {
    jc_egress_rule r;
    jc_err err = {0};
    assert_int_equal(jc_egress_rule_parse(entry, &r, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    if (!strstr(err.msg, why))
        fail_msg("%s: message \"%s\" lacks \"%s\"", entry, err.msg, why);
    char quoted[80];
    if (strlen(entry) <= 64) {
        snprintf(quoted, sizeof(quoted), "\"%s\"", entry);
        if (!strstr(err.msg, quoted))
            fail_msg("%s: message \"%s\" does not quote the entry", entry, err.msg);
    }
}

static void test_rejects(void **state) {
    (void)state;
    reject("", "empty");
    reject("host.example.com:0", "1 to 65535");
    reject("host.example.com:65536", "1 to 65535");
    reject("host.example.com:", "missing");
    reject("host.example.com:+80", "1 to 65535");
    reject("host.example.com:080", "1 to 65535");
    reject("host.example.com:100-99", "backwards");
    reject("host.example.com:1-", "port range");
    reject("host.example.com:a", "1 to 65535");
    reject("host..example.com", "empty label");
    reject(".example.com", "empty label");
    reject("example.com.", "end with '.'");
    reject("-a.example.com", "start with '-'");
    reject("a-.example.com", "end with '-'");
    reject("under_score.example.com", "only letters");
    reject("*.example.com", "wildcards");
    reject("h\xc3\xa9.example.com", "non-ASCII");
    reject("host example.com", "spaces");
    reject("host.example.com/24", "only letters");
    reject("1.2.3", "not a valid IPv4");
    reject("1.2.3.256", "not a valid IPv4");
    reject("01.2.3.4", "not a valid IPv4");
    reject("1.2.3.4/33", "0 to 32");
    reject("1.2.3.4/", "0 to 32");
    reject("1.2.3.4/08", "0 to 32");
    reject("203.0.113.5/24", "host bits set (did you mean 203.0.113.0/24?)");
    reject("2001:db8::1:x", "not a valid IPv6");
    reject("2001:db8::/129", "0 to 128");
    reject("2001:db8::1/32", "host bits set");
    reject("[2001:db8::1]443", "expected ':'");
    reject("[2001:db8::1", "closing ']'");
    reject("2001:db8::1]:443", "opening '['");
    reject("[198.51.100.7]:80", "only for IPv6");
    reject("fe80::1%eth0", "zone id");
    reject("[2001:db8::1]:", "missing");
    reject("1.2.3.4:80:90", "not a valid IPv6");
    char label[80];
    memset(label, 'a', 64);
    memcpy(label + 64, ".com", 5);
    reject(label, "at most 63");
    char lng[400];
    memset(lng, 'a', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    reject(lng, "longer than 300");
    char name[260];
    for (int i = 0; i < 254; i++)
        name[i] = (i % 10 == 9) ? '.' : 'b';
    name[254] = '\0';
    reject(name, "at most 253");
}

static void test_allow_array(void **state) {
    (void)state;
    json_error_t je;
    json_t *a = json_loads("[\"a.example.com:443\", \"198.51.100.7\", \"[2001:db8::1]:80\", "
                           "\"10.0.0.1/8\"]",
                           0, &je);
    jc_egress_rule *rules = (void *)1;
    size_t n = 9;
    jc_err err = {0};
    assert_int_equal(jc_egress_allow_parse(a, 0, "egress.allow", &rules, &n, &err), -1);
    assert_string_equal(err.field, "egress.allow[3]");
    assert_non_null(strstr(err.msg, "egress.allow[3]: egress entry \"10.0.0.1/8\""));
    assert_null(rules);
    json_array_remove(a, 3);
    assert_int_equal(jc_egress_allow_parse(a, 2, "egress.allow", &rules, &n, &err), -1);
    assert_string_equal(err.field, "egress.allow");
    assert_non_null(strstr(err.msg, "at most 2"));
    assert_int_equal(jc_egress_allow_parse(a, 3, "egress.allow", &rules, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(rules[2].kind, JC_EGRESS_IPV6);
    free(rules);
    json_array_append_new(a, json_integer(7));
    assert_int_equal(jc_egress_allow_parse(a, 0, "egress.allow", &rules, &n, &err), -1);
    assert_string_equal(err.field, "egress.allow[3]");
    assert_non_null(strstr(err.msg, "must be a string"));
    json_decref(a);
    json_t *obj = json_object();
    assert_int_equal(jc_egress_allow_parse(obj, 0, "egress.allow", &rules, &n, &err), -1);
    assert_string_equal(err.field, "egress.allow");
    json_decref(obj);
}

static void test_cidr(void **state) {
    (void)state;
    jc_egress_rule a, b;
    jc_err err = {0};
    assert_int_equal(jc_egress_cidr_parse("10.0.0.0/8", &a, &err), 0);
    assert_int_equal(jc_egress_cidr_parse("10.1.2.0/24", &b, &err), 0);
    assert_true(jc_egress_cidr_contains(&a, &b));
    assert_false(jc_egress_cidr_contains(&b, &a));
    assert_int_equal(jc_egress_cidr_parse("11.0.0.0/8", &b, &err), 0);
    assert_false(jc_egress_cidr_contains(&a, &b));
    assert_int_equal(jc_egress_cidr_parse("fd00::/8", &b, &err), 0);
    assert_false(jc_egress_cidr_contains(&a, &b));
    assert_int_equal(jc_egress_cidr_parse("10.0.0.0/8:80", &a, &err), -1);
    assert_int_equal(jc_egress_cidr_parse("example.com", &a, &err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts), cmocka_unit_test(test_values),
        cmocka_unit_test(test_rejects), cmocka_unit_test(test_allow_array),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

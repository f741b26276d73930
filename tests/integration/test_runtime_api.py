#!/usr/bin/env python3
"""The runtime API end to end against the real jobcell-api: every route's success path,
the envelopes and error shape, key and body rules, the JWT rejections, variable isolation
between users, concurrent writers, token refresh, rate limiting, and the audit trail."""

import http.client
import json
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_harness import (Server, check, eq, finish, runtime)  # noqa: E402

ERR_401 = {"error": "Unauthorized", "message": "invalid token", "code": "unauthorized"}


def job_spec(name="rt-test", **kw):
    spec = {"name": name, "runtime": "bash", "script": "true", "input": {"day": "2026-11-21",
                                                                          "n": [1, 2]}}
    spec.update(kw)
    return spec


def expect_401(server, what, method, path, token, body=None):
    st, doc, _, _ = runtime(server, method, path, token, body)
    eq((st, doc), (401, ERR_401), what)


def test_routes(s, alice, claim, tok):
    exe = claim["execution_id"]
    base = "/executions/" + exe

    st, doc, _, _ = runtime(s, "GET", "/health")
    eq((st, doc), (200, {"status": "healthy"}), "GET /health is public and healthy")

    st, doc, _, _ = runtime(s, "GET", base + "/input", tok)
    eq((st, doc), (200, {"success": True, "data": {"day": "2026-11-21", "n": [1, 2]}}),
       "GET input answers the job's input in the envelope")

    st, doc, _, _ = runtime(s, "POST", base + "/output", tok, {"data": {"rows": 12, "ok": True}})
    eq((st, doc), (200, {"success": True}), "POST output")
    st, doc, _, _ = runtime(s, "POST", base + "/condition", tok, {"condition": True})
    eq((st, doc), (200, {"success": True}), "POST condition")
    st, exe_doc, _, _ = s.admin("GET", "/v1/executions/" + exe, alice)
    eq(st, 200, "admin GET execution")
    eq(exe_doc.get("output"), {"rows": 12, "ok": True}, "output visible on the execution")
    eq(exe_doc.get("condition"), True, "condition visible on the execution")

    st, doc, _, _ = runtime(s, "GET", base + "/context", tok)
    eq(st, 200, "GET context")
    d = (doc or {}).get("data", {})
    eq(doc.get("success"), True, "context envelope")
    eq(d.get("executionId"), exe, "context executionId")
    eq(d.get("jobId"), claim["job_id"], "context jobId")
    eq(d.get("jobName"), "rt-test", "context jobName")
    eq(d.get("attempt"), 1, "context attempt")
    eq(d.get("userId"), "alice", "context userId from the store")
    eq(d.get("orchestratorId"), "test-orc", "context orchestratorId")
    check(isinstance(d.get("startTime"), str) and d["startTime"].endswith("Z"),
          "context startTime is RFC 3339")
    eq((d.get("eventId"), d.get("eventName"), d.get("eventType")),
       (claim["job_id"], "rt-test", "script"), "context Cronium event fields")
    eq((d.get("id"), d.get("name"), d.get("type")), (claim["job_id"], "rt-test", "script"),
       "context id/name/type")
    check(isinstance(d.get("metadata"), dict), "context metadata is an object")

    values = [None, True, False, 0, -7, 3.5, "text", "", [1, "a", None], {"x": {"y": [1]}},
              "üñï€ode \"q\" \\ /"]
    for i, v in enumerate(values):
        key = "v%d" % i
        st, doc, _, _ = runtime(s, "PUT", base + "/variables/" + key, tok, {"value": v})
        eq((st, doc), (200, {"success": True}), "PUT variable of type %s" % type(v).__name__)
        st, doc, _, _ = runtime(s, "GET", base + "/variables/" + key, tok)
        eq((st, doc), (200, {"success": True, "data": {"key": key, "value": v}}),
           "GET variable returns %r" % (v,))

    st, doc, _, _ = runtime(s, "GET", base + "/variables/never_set", tok)
    eq(st, 404, "GET of an unset variable is 404")
    eq((doc or {}).get("error"), "Not Found", "404 error is the HTTP status text")
    eq((doc or {}).get("code"), "not_found", "404 code")
    check(isinstance((doc or {}).get("message"), str), "404 has a message")

    st, doc, _, _ = runtime(s, "DELETE", base + "/variables/v1", tok)
    eq((st, doc), (200, {"success": True}), "DELETE variable")
    st, _, _, _ = runtime(s, "GET", base + "/variables/v1", tok)
    eq(st, 404, "deleted variable reads 404")
    st, doc, _, _ = runtime(s, "DELETE", base + "/variables/v1", tok)
    eq((st, (doc or {}).get("code")), (404, "not_found"), "DELETE of an unset variable is 404")

    # keys: percent-decoded exactly once, then PROTOCOL's rule
    st, doc, _, _ = runtime(s, "PUT", base + "/variables/%61b.c-d_e", tok, {"value": 1})
    eq(st, 200, "percent-encoded key accepted")
    st, doc, _, _ = runtime(s, "GET", base + "/variables/ab.c-d_e", tok)
    eq((st, (doc or {}).get("data")), (200, {"key": "ab.c-d_e", "value": 1}),
       "%61 was decoded to 'a'")
    for bad, why in [("%2541", "decoded once only: '%41' breaks the rule"),
                     ("a%2Fb", "a slash after decoding"), ("1abc", "leading digit"),
                     ("-x", "leading dash"), ("a%20b", "a space"), ("k" * 129, "129 characters"),
                     ("%C3%A9t%C3%A9", "non-ASCII")]:
        st, doc, _, _ = runtime(s, "GET", base + "/variables/" + bad, tok)
        eq((st, (doc or {}).get("code")), (400, "invalid_field"), "key rule: " + why)
    st, doc, _, _ = runtime(s, "PUT", base + "/variables/" + "k" * 128, tok, {"value": 1})
    eq(st, 200, "a 128-character key is accepted")

    # bodies
    st, doc, _, _ = runtime(s, "PUT", base + "/variables/b", tok, raw=b"",
                            headers={"Content-Type": "application/json"})
    eq((st, (doc or {}).get("code")), (400, "bad_request"), "empty body is 400 bad_request")
    st, doc, _, _ = runtime(s, "PUT", base + "/variables/b", tok, raw=b"{not json",
                            headers={"Content-Type": "application/json"})
    eq((st, (doc or {}).get("code")), (400, "bad_request"), "non-JSON body is 400 bad_request")
    st, doc, _, _ = runtime(s, "PUT", base + "/variables/b", tok, {"value": 1, "extra": 2})
    eq((st, (doc or {}).get("code")), (400, "unknown_field"), "unknown body field rejected")
    st, doc, _, _ = runtime(s, "POST", base + "/condition", tok, {"condition": "yes"})
    eq((st, (doc or {}).get("code")), (400, "invalid_field"), "condition must be a boolean")
    st, doc, _, _ = runtime(s, "POST", base + "/output", tok, {})
    eq(st, 400, "output without data is 400")
    big = "x" * (1024 * 1024)
    st, doc, _, _ = runtime(s, "POST", base + "/output", tok, {"data": big})
    eq(st, 413, "output over 1 MiB is 413")
    st, doc, _, _ = runtime(s, "PUT", base + "/variables/big", tok, {"value": "y" * 70000})
    eq(st, 413, "variable value over 64 KiB is 413")

    # a chunked body over keep-alive, as Cronium's Node helper sends it
    conn = http.client.HTTPConnection("127.0.0.1", s.rport, timeout=10)
    for i in range(2):
        conn.putrequest("PUT", base + "/variables/chunked")
        conn.putheader("Authorization", "Bearer " + tok)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for part in (b'{"value":', b'{"via":"chunks","i":%d}' % i, b"}"):
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        body = r.read()
        eq((r.status, json.loads(body)), (200, {"success": True}),
           "chunked PUT #%d on one keep-alive connection" % (i + 1))
    conn.close()
    st, doc, _, _ = runtime(s, "GET", base + "/variables/chunked", tok)
    eq((doc or {}).get("data", {}).get("value"), {"via": "chunks", "i": 1},
       "chunked body stored")

    # tool actions are not part of jobcell
    t0 = time.time()
    st, doc, _, _ = runtime(s, "POST", "/tool-actions/execute", tok,
                            {"tool": "slack", "action": "send_message", "config": {}})
    eq(st, 501, "tool actions answer 501")
    eq((doc or {}).get("error"), "Not Implemented", "501 error text")
    check("not part of jobcell" in (doc or {}).get("message", ""), "501 message says why")
    check(time.time() - t0 < 2, "501 answered at once")
    st, doc, _, _ = runtime(s, "POST", "/tool-actions/execute", None, {"tool": "x"})
    eq(st, 401, "tool actions without a token are 401")

    # Bearer scheme case-insensitive; other schemes refused
    st, _, _, _ = runtime(s, "GET", base + "/input", headers={"Authorization": "bearer  " + tok})
    eq(st, 200, "'bearer' (any case, several spaces) accepted")
    st, doc, _, _ = runtime(s, "GET", base + "/input", headers={"Authorization": "Basic " + tok})
    eq((st, doc), (401, ERR_401), "Basic scheme is 401")
    st, doc, _, _ = runtime(s, "GET", base + "/input")
    eq((st, doc), (401, ERR_401), "no Authorization header is 401")


def test_refresh(s, claim, tok):
    base = "/executions/" + claim["execution_id"]
    st, doc, _, _ = runtime(s, "POST", base + "/token", tok)
    eq(st, 200, "token refresh with an empty body")
    d = (doc or {}).get("data") or {}
    new = d.get("token", "")
    check(new.count(".") == 2 and new != tok, "refresh returns a new token")
    check(isinstance(d.get("expiresAt"), str) and d["expiresAt"].endswith("Z"),
          "refresh returns expiresAt")
    import base64

    def claims_of(t):
        p = t.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    old_c, new_c = claims_of(tok), claims_of(new)
    eq(new_c["origIat"], old_c["origIat"], "refreshed token keeps origIat")
    for k in ("executionId", "jobId", "userId", "orc", "attempt", "lease"):
        eq(new_c[k], old_c[k], "refreshed token keeps " + k)
    check(new_c["exp"] - new_c["iat"] <= 7200, "refreshed lifetime at most 7200 s")
    # timeout_s 300 + grace + 60: the deadline caps exp well below now + 7200
    check(new_c["exp"] <= int(time.time()) + 300 + 60 + 60, "refreshed exp capped by deadline")
    st, doc, _, _ = runtime(s, "GET", base + "/input", new)
    eq(st, 200, "refreshed token works")
    st, doc, _, _ = runtime(s, "POST", base + "/token", tok, {})
    eq(st, 200, "the old token still refreshes while the claim lives (body {})")
    st, doc, _, _ = runtime(s, "POST", base + "/token", tok, {"x": 1})
    eq((st, (doc or {}).get("code")), (400, "unknown_field"), "refresh body takes no field")
    return new


def test_rejections(s, alice, bob, claim, tok):
    exe = claim["execution_id"]
    base = "/executions/" + exe
    now = int(time.time())
    good = {"iss": "jobcell-orchestrator", "aud": "jobcell-runtime", "sub": "job:" + claim["job_id"],
            "scope": "runtime", "executionId": exe, "jobId": claim["job_id"],
            "userId": claim["owner"], "orc": "test-orc", "attempt": claim["attempt"],
            "lease": __import__("hashlib").sha256(claim["lease_token"].encode()).hexdigest()[:16],
            "iat": now, "nbf": now, "exp": now + 600, "origIat": now, "jti": "abcdefghijklmnopqrstuv"}
    st, _, _, _ = runtime(s, "GET", base + "/input", s.forge(good))
    eq(st, 200, "a forged-by-the-test but correctly signed token is accepted (control)")

    expired = s.mint(claim, now_offset=-8000)
    expect_401(s, "expired token", "GET", base + "/input", expired)
    expect_401(s, "wrong key", "GET", base + "/input", s.forge(good, key=b"k" * 32))
    none_hdr = {"alg": "none", "typ": "JWT", "kid": s.kid}
    t = s.forge(good, header=none_hdr)
    expect_401(s, "alg none (signed)", "GET", base + "/input", t)
    expect_401(s, "alg none (no signature)", "GET", base + "/input", t.rsplit(".", 1)[0] + ".")
    expect_401(s, "alg HS512", "GET", base + "/input",
               s.forge(good, header={"alg": "HS512", "typ": "JWT", "kid": s.kid}))
    expect_401(s, "unknown kid", "GET", base + "/input",
               s.forge(good, header={"alg": "HS256", "typ": "JWT", "kid": "nope"}))
    expect_401(s, "aud as an array", "GET", base + "/input", s.forge(dict(good, aud=["jobcell-runtime"])))
    expect_401(s, "attempt as a string", "GET", base + "/input", s.forge(dict(good, attempt="1")))
    expect_401(s, "lifetime over 7200 s", "GET", base + "/input", s.forge(dict(good, exp=now + 7300)))
    expect_401(s, "iat in the future", "GET", base + "/input",
               s.forge(dict(good, iat=now + 120, nbf=now + 120, exp=now + 600)))
    expect_401(s, "token over 8192 bytes", "GET", base + "/input", s.forge(dict(good, pad="x" * 9000)))
    expect_401(s, "garbage token", "GET", base + "/input", "not.a.token")
    expect_401(s, "wrong orchestrator in the token", "GET", base + "/input", s.mint(claim, orc="other-orc"))
    expect_401(s, "wrong lease in the token", "GET", base + "/input", s.mint(claim, lease="lt_" + "a" * 32))
    expect_401(s, "wrong attempt in the token", "GET", base + "/input", s.mint(claim, attempt=2))
    expect_401(s, "another owner in the token", "GET", base + "/input",
               s.forge(dict(good, userId="mallory")))
    expect_401(s, "token for an unknown execution (own path)", "GET",
               "/executions/exe_" + "a" * 26 + "/input",
               s.forge(dict(good, executionId="exe_" + "a" * 26)))

    # another execution's (valid) token on this path → 403
    s.submit(bob, job_spec("bob-job"))
    bclaim = s.claim()
    btok = s.mint(bclaim)
    st, doc, _, _ = runtime(s, "GET", base + "/input", btok)
    eq((st, doc), (403, {"error": "Forbidden", "message": "execution ID mismatch",
                         "code": "forbidden"}), "another execution's token is 403")
    st, doc, _, _ = runtime(s, "GET", base + "/input", expired)
    eq(st, 401, "token checked before the execution id (expired + mismatch is 401)")
    return bclaim, btok


def test_cached_token_expires(s, claim):
    """A token that has passed verification once is remembered; it must still die at exp."""
    base = "/executions/" + claim["execution_id"]
    # timeout 1 s: exp = iat + 1 + grace (jc-mint-token's 10) + 60; minted 69 s ago, it has
    # 2 s to live
    short = s.mint(claim, now_offset=-69, timeout=1)
    eq(runtime(s, "GET", base + "/input", short)[0], 200, "a token about to expire still works")
    eq(runtime(s, "GET", base + "/input", short)[0], 200, "and works again (now remembered)")
    time.sleep(3.1)
    expect_401(s, "a remembered token is refused once it expires", "GET", base + "/input", short)


def test_isolation(s, claim, tok, bclaim, btok):
    a = "/executions/%s/variables/" % claim["execution_id"]
    b = "/executions/%s/variables/" % bclaim["execution_id"]
    eq(runtime(s, "PUT", a + "shared", tok, {"value": "alice"})[0], 200, "alice sets 'shared'")
    eq(runtime(s, "PUT", b + "shared", btok, {"value": "bob"})[0], 200, "bob sets 'shared'")
    eq(runtime(s, "GET", a + "shared", tok)[1]["data"]["value"], "alice", "alice reads her own")
    eq(runtime(s, "GET", b + "shared", btok)[1]["data"]["value"], "bob", "bob reads his own")
    eq(runtime(s, "GET", b + "v6", btok)[0], 404, "bob cannot see alice's variable")
    eq(runtime(s, "DELETE", b + "v6", btok)[0], 404, "bob cannot delete alice's variable")
    eq(runtime(s, "GET", a + "v6", tok)[1]["data"]["value"], "text", "alice's value untouched")


def test_concurrent_puts(s, claim, tok):
    path = "/executions/%s/variables/contended" % claim["execution_id"]
    written = ["%02d" % i + chr(ord("a") + i) * 30000 for i in range(16)]
    statuses = [None] * 16
    barrier = threading.Barrier(16)

    def put(i):
        barrier.wait(timeout=10)
        statuses[i] = runtime(s, "PUT", path, tok, {"value": {"who": i, "blob": written[i]}})[0]
    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    eq(statuses, [200] * 16, "16 concurrent PUTs all answered 200")
    st, doc, _, _ = runtime(s, "GET", path, tok)
    v = (doc or {}).get("data", {}).get("value") or {}
    who = v.get("who")
    check(isinstance(who, int) and 0 <= who < 16 and v.get("blob") == written[who],
          "the final value is exactly one of the 16 written values")


def test_after_completion(s, claim, tok, refreshed):
    base = "/executions/" + claim["execution_id"]
    st, doc, _, _ = s.complete(claim)
    eq(st, 200, "complete the execution")
    expect_401(s, "completed execution's token", "GET", base + "/input", tok)
    expect_401(s, "completed execution's refreshed token", "GET", base + "/variables/v6", refreshed)
    expect_401(s, "refresh after completion refused", "POST", base + "/token", tok)
    expect_401(s, "output after completion refused", "POST", base + "/output", tok, {"data": 1})


def test_previous_attempt(s, alice):
    spec = job_spec("retry-job", retry={"max_attempts": 2, "backoff_s": 1, "backoff_max_s": 1,
                                        "on_failure": True})
    s.submit(alice, spec)
    c1 = s.claim()
    t1 = s.mint(c1)
    eq(runtime(s, "GET", "/executions/%s/input" % c1["execution_id"], t1)[0], 200,
       "attempt 1 token works while attempt 1 runs")
    s.complete(c1, exit_code=1)
    time.sleep(1.1)
    c2 = s.claim()
    eq(c2["attempt"], 2, "the retry is attempt 2")
    t2 = s.mint(c2)
    eq(runtime(s, "GET", "/executions/%s/input" % c2["execution_id"], t2)[0], 200,
       "attempt 2 token works")
    expect_401(s, "previous attempt's token on its own execution", "GET",
               "/executions/%s/input" % c1["execution_id"], t1)
    expect_401(s, "a token with the previous attempt number on the new execution", "GET",
               "/executions/%s/input" % c2["execution_id"], s.mint(c2, attempt=1))
    s.complete(c2)


def test_invalid_tokens_per_connection(s, claim):
    conn = http.client.HTTPConnection("127.0.0.1", s.rport, timeout=10)
    path = "/executions/%s/input" % claim["execution_id"]
    answered, closed = 0, False
    for i in range(25):
        try:
            conn.request("GET", path, headers={"Authorization": "Bearer bad.tok.en"})
            r = conn.getresponse()
            r.read()
            if r.status == 401:
                answered += 1
            if r.getheader("Connection", "").lower() == "close":
                closed = True
                break
        except (ConnectionError, http.client.HTTPException, OSError):
            closed = True
            break
    conn.close()
    check(closed and answered <= 20 and answered >= 19,
          "after 20 invalid tokens the connection is closed (answered %d)" % answered)


def test_rate_limit():
    with Server({"runtime": {"rate": 5, "burst": 10}}) as s:
        alice = s.api_token("alice")
        s.submit(alice, job_spec())
        c = s.claim()
        tok = s.mint(c)
        path = "/executions/%s/variables/x" % c["execution_id"]
        conn = http.client.HTTPConnection("127.0.0.1", s.rport, timeout=10)
        codes = []
        retry_after = None
        body429 = None
        for _ in range(14):
            conn.request("GET", path, headers={"Authorization": "Bearer " + tok})
            r = conn.getresponse()
            raw = r.read()
            codes.append(r.status)
            if r.status == 429 and body429 is None:
                retry_after = r.getheader("Retry-After")
                body429 = json.loads(raw)
        conn.close()
        check(codes[:10] == [404] * 10, "the burst of 10 passes (unset variable: 404)")
        check(429 in codes[10:], "past the burst: 429 (codes %s)" % codes)
        eq((body429 or {}).get("error"), "Too Many Requests", "429 error text")
        eq((body429 or {}).get("code"), "rate_limited", "429 code")
        check(retry_after is not None and retry_after.isdigit(), "429 carries Retry-After")
        time.sleep(1.0)
        st, _, _, _ = runtime(s, "GET", path, tok)
        eq(st, 404, "after a pause the limit recovers")
        st, _, raw, _ = runtime(s, "GET", "/health")
        eq(st, 200, "/health is never rate limited")


def test_metrics_and_audit(s, dbpath):
    st, _, raw, _ = s.admin("GET", "/metrics", "unused")
    text = raw.decode(errors="replace")
    eq(st, 200, "GET /metrics")
    for reason in ("expired", "bad_signature", "bad_alg", "execution_mismatch", "claim_mismatch"):
        check(reason in text, "metrics count runtime auth failures by reason: " + reason)
    return text


def audit_check(dbpath, secret_value):
    db = sqlite3.connect(dbpath)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        audit_tables = [t for t in tables if "audit" in t]
        check(bool(audit_tables), "the store has an audit table")
        rows = []
        for t in audit_tables:
            rows += [" ".join(str(c) for c in r) for r in db.execute("SELECT * FROM %s" % t)]
        writes = [r for r in rows if "variable_write" in r]
        check(any("secret-key" in r for r in writes), "a variable write is audited with its key")
        check(not any(secret_value in r for r in rows), "no audit row carries the value")
    finally:
        db.close()


def main():
    with Server() as s:
        alice = s.api_token("alice")
        bob = s.api_token("bob")
        s.submit(alice, job_spec())
        claim = s.claim()
        tok = s.mint(claim)
        test_routes(s, alice, claim, tok)
        secret = "value-never-in-audit-%d" % os.getpid()
        eq(runtime(s, "PUT", "/executions/%s/variables/secret-key" % claim["execution_id"], tok,
                   {"value": secret})[0], 200, "PUT a value the audit must not hold")
        refreshed = test_refresh(s, claim, tok)
        bclaim, btok = test_rejections(s, alice, bob, claim, tok)
        test_isolation(s, claim, tok, bclaim, btok)
        test_cached_token_expires(s, claim)
        test_concurrent_puts(s, claim, tok)
        test_invalid_tokens_per_connection(s, claim)
        test_after_completion(s, claim, tok, refreshed)
        test_previous_attempt(s, alice)
        test_metrics_and_audit(s, None)
        dbpath = os.path.join(s.dir, "jobcell.db")
        s.proc.terminate()
        s.proc.wait(timeout=20)
        eq(s.proc.returncode, 0, "jobcell-api exited cleanly")
        audit_check(dbpath, secret)
    test_rate_limit()
    finish()


if __name__ == "__main__":
    main()

"""A client that speaks to the runtime API the way Cronium's Python helper does: urllib,
urljoin of the API URL and the path, quote() of keys, the three headers, a 404 HTTPError on
a variable read taken as None, and "success": false in a 2xx body taken as an error."""
import json
import os
import sys
from urllib.error import HTTPError
from urllib.parse import quote, urljoin
from urllib.request import Request, urlopen

api = os.environ["CRONIUM_RUNTIME_API"]
exe = os.environ["CRONIUM_EXECUTION_ID"]
headers = {"Authorization": "Bearer " + os.environ["CRONIUM_EXECUTION_TOKEN"],
           "Content-Type": "application/json", "Accept": "application/json"}
fails = []


def ok(cond, what):
    print(("ok   - " if cond else "FAIL - ") + "cronium-python: " + what)
    if not cond:
        fails.append(what)


def call(method, path, data=None):
    body = json.dumps(data).encode() if data is not None else None
    r = urlopen(Request(urljoin(api, path), data=body, headers=headers, method=method), timeout=30)
    text = r.read().decode()
    doc = json.loads(text) if text else None
    if isinstance(doc, dict) and doc.get("success") is False:
        raise RuntimeError("success false in a 2xx body")
    return doc


def get_variable(key):
    try:
        return call("GET", "/executions/%s/variables/%s" % (exe, quote(key))).get("data", {}).get("value")
    except HTTPError as e:
        if e.code == 404:
            return None
        raise


ok(call("GET", "/executions/%s/input" % exe).get("data") == {"day": "2026-11-21", "items": [1, 2, 3]}, "input")
for key, value in [("cr_count", 0), ("cr.list", [1, 2]), ("cr-obj_1", {"k": None})]:
    call("PUT", "/executions/%s/variables/%s" % (exe, quote(key)), {"value": value})
    ok(get_variable(key) == value, "variable %s round trip" % key)
for run in range(5):  # an increment counter, the way a Cronium script keeps one
    n = get_variable("cr_counter") or 0
    call("PUT", "/executions/%s/variables/cr_counter" % exe, {"value": n + 1})
ok(get_variable("cr_counter") == 5, "increment counter reaches 5")
ok(get_variable("cr_unset_key") is None, "unset variable reads as None (404)")
call("POST", "/executions/%s/output" % exe, {"data": {"from": "cronium-python", "n": [1, {"x": True}]}})
call("POST", "/executions/%s/condition" % exe, {"condition": False})
ev = call("GET", "/executions/%s/context" % exe)["data"]
ok(ev.get("id") == os.environ["CRONIUM_JOB_ID"] and ev.get("type") == "script" and
   ev.get("userId") == "alice" and ev.get("executionId") == exe, "event() fields")
try:
    call("POST", "/tool-actions/execute", {"tool": "slack", "action": "send_message", "config": {}})
    ok(False, "tool action refused")
except HTTPError as e:
    ok(e.code == 501 and "message" in json.loads(e.read().decode()), "tool action: 501 with a JSON message")
try:
    call("GET", "/executions/exe_aaaaaaaaaaaaaaaaaaaaaaaaaa/input")
    ok(False, "another execution's id refused")
except HTTPError as e:
    ok(e.code == 403 and json.loads(e.read().decode()).get("message") == "execution ID mismatch",
       "another execution's id: 403 execution ID mismatch")
sys.exit(1 if fails else 0)

"""Every jobcell Python helper against the real runtime API (run by test_sdk.py)."""
import os
import sys

import jobcell

env_token = os.environ["JOBCELL_EXECUTION_TOKEN"]
fails = []


def check(cond, what):
    print(("ok   - " if cond else "FAIL - ") + "python: " + what)
    if not cond:
        fails.append(what)


check(jobcell.input() == {"day": "2026-11-21", "items": [1, 2, 3]}, "input()")
check(jobcell._default().token != env_token, "token renewed automatically near its expiry")
values = {"py_null": None, "py_bool": True, "py_int": 42, "py_float": 2.5, "py_str": "héllo \"x\"",
          "py_list": [1, "two", None], "py_obj": {"a": {"b": [True]}}}
for k, v in values.items():
    jobcell.set_variable(k, v)
for k, v in values.items():
    check(jobcell.get_variable(k) == v, "get_variable(%s) round trip" % k)
try:
    jobcell.get_variable("py_unset")
    check(False, "get_variable of an unset key raises")
except jobcell.VariableNotSet as e:
    check(e.status == 404 and isinstance(e, KeyError), "unset variable raises VariableNotSet (404)")
check(jobcell.get_variable("py_unset", default=7) == 7, "get_variable default")
check(jobcell.get_variable("py_unset", None) is None, "get_variable default None")
check(jobcell.delete_variable("py_int") is True, "delete_variable of a set key: True")
check(jobcell.delete_variable("py_int") is False, "delete_variable of an unset key: False")
try:
    jobcell.set_variable("bad key/x", 1)
    check(False, "an invalid key is refused")
except jobcell.JobcellError as e:
    check(e.status == 400 and e.code == "invalid_field" and "key" in e.message,
          "invalid key: 400 with the server's message (%s)" % e.message)
jobcell.set_condition(True)
try:
    jobcell.set_condition("yes")
    check(False, "set_condition refuses a non-boolean")
except jobcell.JobcellError:
    check(True, "set_condition refuses a non-boolean")
ctx = jobcell.context()
check(ctx["executionId"] == os.environ["JOBCELL_EXECUTION_ID"], "context().executionId")
check(ctx["jobId"] == os.environ["JOBCELL_JOB_ID"], "context().jobId")
before = jobcell._default().token
r = jobcell.refresh_token()
check(r["token"] != before and jobcell._default().token == r["token"], "refresh_token()")
check(jobcell.get_variable("py_bool") is True, "calls work with the refreshed token")
jobcell.output({"lang": "python", "nested": {"list": [1, 2]}})
sys.exit(1 if fails else 0)

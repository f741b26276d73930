"""The Cronium-style corpus (cronium_corpus/) and what each script must leave behind.

Shared by the integration driver (test_cronium_corpus.py, which plays the orchestrator)
and the end-to-end test (tests/e2e/cronium.py, a real orchestrator and real sandboxes)."""
import os

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cronium_corpus")
INPUT = {"day": "2026-11-21", "n": [1, 2]}
B1 = {"got": INPUT, "nested": {"list": [1, {"deep": True}], "text": "ok"}}

# (script, runs, expected output of the last run, expected condition (None: not checked)).
# "space_refused"/"error" in b2: a key with a space is percent-encoded by the helper and
# refused by the server with a clean 400 whose message reaches stderr.
CASES = [
    ("b1_input_output.sh", 1, B1, None),
    ("b2_variables.sh", 1, {"text": "hello world", "num": "42", "dotted": "dotted",
                            "space_refused": True, "error": True}, None),
    ("b3_unset_condition.sh", 1, {"value": "", "status": 0, "exists": False,
                                  "exists_after_delete": False}, True),
    ("b4_counter.sh", 5, {"run": 5}, None),
    ("b5_explicit_source.sh", 1, B1, None),
    ("b6_tool_and_event.sh", 1, "b6", False),
    ("p1_input_output.py", 1, B1, None),
    ("p2_variables.py", 1, {"roundtrip": True, "unset": None}, True),
    ("p3_forbidden.py", 1, {"status_code": 403, "message": "execution ID mismatch"}, None),
    ("p4_tool_counter.py", 5, {"tool_status": 501, "fast": True, "run": 5}, None),
    ("p5_instance.py", 1, {"name": "p5_instance.py", "eventName": "p5_instance.py",
                           "userId": "alice", "input_day": "2026-11-21"}, None),
    ("n1_require.js", 1, B1, None),
    ("n2_esm.mjs", 1, {"got": INPUT, "back": {"from": "esm"}}, None),
    ("n3_variables.js", 1, {"back": {"n_null": None, "n_bool": True, "n_int": 3, "n_str": "s",
                                     "n_list": [1], "n_obj": {"a": 1}}, "unset": None}, False),
    ("n4_tool_event.js", 1, {"eventType": "script", "idIsJob": True, "tool_status": 501,
                             "fast": True}, None),
    ("n5_counter.js", 5, {"run": 5}, None),
]
RUNTIME = {".sh": "bash", ".py": "python", ".js": "node", ".mjs": "node"}

# variables the corpus leaves stored, read back through the admin API
VARIABLES = [("b_num", 42), ("b_float", 2.5), ("b_bool", True), ("b_text", "hello world"),
             ("b_obj", {"a": [1, 2], "b": None}), ("b_list", [1, "two", False]),
             ("b.dotted-key_1", "dotted"), ("b_counter", 5),
             ("b_trail", "run1,run2,run3,run4,run5"), ("p_obj", {"k": {"v": 1}}),
             ("p_counter", 5), ("n_counter", 5), ("n_esm", {"from": "esm"})]
# variables a script set and then deleted
DELETED = ["b_tmp"]


def runtime(script):
    return RUNTIME[os.path.splitext(script)[1]]


def text(script):
    with open(os.path.join(CORPUS, script)) as f:
        return f.read()


def expected_output(script, want, job_id):
    """The output a script must store; b6 reports its own job's id and name."""
    if want == "b6":
        return {"id": job_id, "type": "script", "name": script, "tool": "failed",
                "says_501": True}
    return want

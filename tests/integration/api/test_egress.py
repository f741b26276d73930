"""Egress job specs at the API: network "egress" with egress.allow, every entry validated
and stored in its canonical form, the bad entry named by its index, the rule limit, the
default and refused profiles, and the claim carrying the allow-list."""
import json
import os

from jcapi import Server, check, expect, finish

s = Server(extra={"egress": {"max_rules_per_job": 3}}, start=False)
with open(os.path.join(s.dir, "profiles", "network.json"), "w") as f:
    json.dump({"description": "for jobs with egress", "default_action": "errno"}, f)
s.start()
alice = s.token("alice")


def post(body):
    return s.request("POST", "/v1/jobs", body=body, token=alice)


base = {"runtime": "bash", "script": "curl https://api.example.com/"}

# accepted, canonical, default profile
r = expect(post(dict(base, network="egress",
                     egress={"allow": ["API.Example.com:443", "[2001:DB8::1]:443",
                                       "203.0.113.0/24:5432"]})), 201, "egress job accepted")
job = r.json
d = expect(s.get("/v1/jobs/" + job["id"], token=alice), 200, "GET the egress job").json
check(d["network"] == "egress", "network stored as egress")
check(d["egress"] == {"allow": ["api.example.com:443", "[2001:db8::1]:443",
                                "203.0.113.0/24:5432"]},
      "allow-list stored in canonical form: %r" % d.get("egress"))
check(d["profile"] == "network", "an egress job's default profile is network: %r" % d["profile"])

# validation names the bad entry
V = [
    (dict(base, network="egress", egress={"allow": ["a.example.com", "b.example.com:0"]}),
     "invalid_field", "egress.allow[1]", "b.example.com:0"),
    (dict(base, network="egress", egress={"allow": ["1.2.3.4", "x", "203.0.113.5/24"]}),
     "invalid_field", "egress.allow[2]", "host bits"),
    (dict(base, network="egress", egress={"allow": [7]}), "invalid_field", "egress.allow[0]",
     "must be a string"),
    (dict(base, network="egress", egress={"allow": ["a.ex", "b.ex", "c.ex", "d.ex"]}),
     "invalid_field", "egress.allow", "at most 3"),
    (dict(base, network="egress", egress={"allow": "a.example.com"}), "invalid_field",
     "egress.allow", "array"),
    (dict(base, network="egress"), "invalid_field", "egress", "egress"),
    (dict(base, network="egress", egress={}), "invalid_field", "egress.allow", "required"),
    (dict(base, network="egress", egress={"allow": [], "deny": []}), "unknown_field",
     "egress.deny", "unknown"),
    (dict(base, egress={"allow": ["a.example.com"]}), "invalid_field", "egress", "network"),
    (dict(base, network="egress", profile="strict", egress={"allow": ["a.example.com"]}),
     "invalid_field", "profile", "strict"),
    (dict(base, network="internet"), "invalid_field", "network", "egress"),
]
for body, code, field, words in V:
    r = expect(post(body), 400, "validation %s" % field, code, field)
    check(words in r.json.get("message", ""), "message of %s says %r: %r" %
          (field, words, r.json.get("message")))

# a job without network stays "none", and strict is still fine there
r = expect(post(dict(base, profile="strict")), 201, "strict job without egress accepted")

# the claim carries network and the canonical allow-list to the orchestrator
r = expect(s.internal("POST", "/internal/v1/claims", {"slots": 8, "wait_s": 0}), 200, "claim")
claims = {c["job_id"]: c for c in r.json["claims"]}
c = claims.get(job["id"])
check(c is not None and c["job"]["network"] == "egress" and
      c["job"]["egress"] == {"allow": ["api.example.com:443", "[2001:db8::1]:443",
                                       "203.0.113.0/24:5432"]} and
      c["job"]["profile"] == "network", "claim carries network, egress and profile: %r" % c)
finish()

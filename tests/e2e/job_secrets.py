"""Job secrets end to end: a job gets its `secrets` as environment variables (it prints the
SHA-256 of one to prove it), and the plaintext appears nowhere else: not in any API answer
(job, list, execution, logs, idempotent replay, audit), not in the SQLite store files, not
in the server's or the orchestrator's logs."""
import glob
import hashlib
import os
import secrets as pysecrets  # noqa: the stdlib module
import subprocess

import jcluster
from jcluster import check, HTTPError

SCRIPT = r'''
printf '%s' "$SECRET_NAME" | sha256sum | cut -d' ' -f1
echo "plain=$PLAIN"
'''


class SecretCluster(jcluster.Cluster):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.master = os.path.join(self.dir, "master.json")
        subprocess.run([self.bin("runtime-api", "jobcell-api"), "keys", "master", "init",
                        "--file", self.master], check=True, capture_output=True)

    def api_cmd(self):
        return super().api_cmd() + ["--master-key-file", self.master]


def expect_error(c, spec, status, field):
    try:
        c.submit(spec)
    except HTTPError as e:
        check(e.status == status, f"status {e.status} for {spec}: {e.body!r}")
        body = e.body.decode()
        check(field in body, f"error does not name {field}: {body}")
        return body
    jcluster.fail(f"accepted {spec}")


def main():
    build, source = jcluster.main_args()
    plaintext = "s3cr3t-" + pysecrets.token_hex(16)
    want_hash = hashlib.sha256(plaintext.encode()).hexdigest()
    with SecretCluster(build, source, slots=2, uid_slot_base=144, name="secrets") as c:
        # refused specs: the error names the field, never the value
        body = expect_error(c, {"runtime": "bash", "script": "true", "env": {"SAME": "a"},
                                "secrets": {"SAME": plaintext}}, 400, "secrets.SAME")
        check(plaintext not in body, "a refused secret was echoed")
        body = expect_error(c, {"runtime": "bash", "script": "true",
                                "secrets": {"lower": plaintext}}, 400, "secrets.lower")
        check(plaintext not in body, "a refused secret was echoed")
        expect_error(c, {"runtime": "bash", "script": "true",
                         "secrets": {"LD_PRELOAD": plaintext}}, 400, "secrets.LD_PRELOAD")
        expect_error(c, {"runtime": "bash", "script": "true", "secrets": {"A": 5}}, 400,
                     "secrets.A")
        expect_error(c, {"runtime": "bash", "script": "true", "secrets": ["x"]}, 400, "secrets")
        # a schedule cannot carry secrets (they are sealed to one job's id)
        try:
            c.call("POST", "/v1/schedules", {"cron": "* * * * *", "job": {
                "runtime": "bash", "script": "true", "secrets": {"S": plaintext}}})
            jcluster.fail("a schedule with secrets was accepted")
        except HTTPError as e:
            check(e.status == 400 and b"job.secrets" in e.body and plaintext.encode() not in e.body,
                  f"schedule: {e.status} {e.body!r}")

        spec = {"runtime": "bash", "script": SCRIPT, "env": {"PLAIN": "visible"},
                "secrets": {"SECRET_NAME": plaintext}}
        first = c.call("POST", "/v1/jobs", spec, headers={"Idempotency-Key": "secret-run-1"})
        replay = c.call("POST", "/v1/jobs", spec, headers={"Idempotency-Key": "secret-run-1"},
                        raw=True)
        check(first["id"] in replay.decode(), "the replay is not the first answer")
        c.wait_jobs([first["id"]], timeout=60)
        job = c.job(first["id"])
        exe = c.latest(job)
        check(exe["status"] == "succeeded", f"status {exe['status']} {exe.get('result')}")
        log = c.logs(exe["id"]).decode()
        check(log == f"{want_hash}\nplain=visible\n", f"log {log!r}")
        check("secrets" not in job, f"GET /v1/jobs/{{id}} has a secrets key: {sorted(job)}")

        answers = [
            c.call("POST", "/v1/jobs", spec, headers={"Idempotency-Key": "secret-run-1"}, raw=True),
            c.call("GET", f"/v1/jobs/{first['id']}", raw=True),
            c.call("GET", "/v1/jobs", raw=True),
            c.call("GET", f"/v1/executions/{exe['id']}", raw=True),
            c.call("GET", f"/v1/executions/{exe['id']}/logs?offset=0", raw=True),
        ]
        try:
            answers.append(c.call("GET", "/v1/audit?limit=500", raw=True))
        except HTTPError as e:
            check(e.status == 404, f"GET /v1/audit: {e.status}")
        for a in answers:
            check(plaintext.encode() not in a, "an API answer carries the plaintext")
            check(b'"secrets"' not in a, "an API answer carries a secrets key")
        hits = []
        for path in glob.glob(os.path.join(c.dir, "jobcell.db*")) + [
                os.path.join(c.dir, n) for n in ("api.log", "orchestrator.log",
                                                 "orchestrator.stderr")]:
            if os.path.exists(path):
                with open(path, "rb") as f:
                    if plaintext.encode() in f.read():
                        hits.append(path)
        check(not hits, f"the plaintext is in {hits}")
        # the store really holds something sealed for the job (not merely nothing)
        stored = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(c.dir, "jobcell.db*")))
        check(b'"secrets":"v1.' in stored or b'"secrets": "v1.' in stored,
              "no sealed secrets value in the store")
    print("ok: secrets reached the job and appear in no answer, store file or log")


if __name__ == "__main__":
    main()

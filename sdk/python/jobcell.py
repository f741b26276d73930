"""jobcell: helpers for job scripts that talk to the jobcell runtime API.

Standard library only. Inside a jobcell sandbox `import jobcell` just works.

    import jobcell
    params = jobcell.input()                      # the job's input (any JSON value)
    n = jobcell.get_variable("counter", default=0)
    jobcell.set_variable("counter", n + 1)
    jobcell.output({"rows": 12})
    jobcell.set_condition(True)

Settings come from the environment: JOBCELL_RUNTIME_API, JOBCELL_EXECUTION_TOKEN and
JOBCELL_EXECUTION_ID (falling back to CRONIUM_RUNTIME_API, CRONIUM_EXECUTION_TOKEN and
CRONIUM_EXECUTION_ID). Connection errors and server errors (5xx, except 501) are retried a
few times with a growing pause; client errors (4xx) never are. Every failure raises
JobcellError carrying the HTTP status and the server's message. A variable that is not set
raises VariableNotSet (a KeyError too) unless you pass a default. The token is renewed
automatically when it nears its expiry.
"""

import base64
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "JobcellError",
    "VariableNotSet",
    "Client",
    "input",
    "output",
    "get_variable",
    "set_variable",
    "delete_variable",
    "set_condition",
    "context",
    "refresh_token",
]

DEFAULT_API = "http://127.0.0.1:8081"
_MISSING = object()


class JobcellError(Exception):
    """A runtime API call failed. `status` is the HTTP status (0 when the server could not be
    reached), `code` jobcell's error code when the server gave one, `message` its text."""

    def __init__(self, message, status=0, code=None):
        super().__init__(message if not status else "%s (HTTP %d)" % (message, status))
        self.message = message
        self.status = status
        self.status_code = status
        self.code = code


class VariableNotSet(JobcellError, KeyError):
    """get_variable() of a key that has no value, without a default."""

    def __str__(self):
        return self.message


def _env(name):
    return os.environ.get("JOBCELL_" + name) or os.environ.get("CRONIUM_" + name)


def _token_times(token):
    """(iat, exp) read from the token's payload without verifying it (the server does)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return int(claims["iat"]), int(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None, None


class Client:
    """One execution's connection to the runtime API. The module-level functions use a
    shared Client built from the environment."""

    retries = 4  # attempts after the first, on connection errors and 5xx
    backoff = 0.25  # seconds before the first retry; doubles each time, with jitter
    timeout = 30.0  # seconds per request

    def __init__(self, api_url=None, token=None, execution_id=None):
        self.api_url = (api_url or _env("RUNTIME_API") or DEFAULT_API).rstrip("/")
        self.token = token or _env("EXECUTION_TOKEN")
        self.execution_id = execution_id or _env("EXECUTION_ID")
        if not self.token:
            raise JobcellError("JOBCELL_EXECUTION_TOKEN is not set: this is not a jobcell job")
        if not self.execution_id:
            raise JobcellError("JOBCELL_EXECUTION_ID is not set: this is not a jobcell job")
        self._lock = threading.Lock()
        self._at_deadline = False

    # -- transport -------------------------------------------------------------------

    def _once(self, method, path, body):
        data = None
        headers = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.api_url + path, data=data, headers=headers,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            except OSError:
                raw = b""
            return e.code, raw

    def _request(self, method, path, body=None, refresh=True):
        if refresh:
            self._maybe_refresh()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                status, raw = self._once(method, path, body)
            except (urllib.error.URLError, OSError) as e:  # connection refused, reset, timeout
                if last:
                    reason = getattr(e, "reason", e)
                    raise JobcellError("cannot reach the runtime API at %s: %s"
                                       % (self.api_url, reason)) from None
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay *= 2
                continue
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            if 200 <= status < 300:
                if isinstance(doc, dict) and doc.get("success") is False:
                    raise JobcellError(doc.get("message") or "request failed", status,
                                       doc.get("code"))
                return doc
            message = doc.get("message") if isinstance(doc, dict) else None
            code = doc.get("code") if isinstance(doc, dict) else None
            # 501 is permanent (a route jobcell does not offer): retrying cannot help.
            if status >= 500 and status != 501 and not last:
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay *= 2
                continue
            raise JobcellError(message or "HTTP %d" % status, status, code)
        raise JobcellError("request failed")  # not reached

    def _exe(self, suffix):
        return "/executions/%s%s" % (urllib.parse.quote(self.execution_id, safe=""), suffix)

    def _var(self, key):
        if not isinstance(key, str) or not key:
            raise JobcellError("a variable key must be a non-empty string")
        return self._exe("/variables/" + urllib.parse.quote(key, safe=""))

    def _maybe_refresh(self):
        """Renew the token once three quarters of its lifetime have passed, so a job that
        runs for hours keeps a valid one. The server never extends it past the job's
        deadline; once it stops moving we stop asking."""
        if self._at_deadline:
            return
        iat, exp = _token_times(self.token)
        if exp is None:
            return
        if time.time() < exp - (exp - iat) / 4:
            return
        with self._lock:
            if _token_times(self.token)[1] != exp:
                return  # another thread renewed it meanwhile
            try:
                self.refresh_token()
            except JobcellError:
                return  # the call itself will report what is wrong with the token
            if _token_times(self.token)[1] == exp:
                self._at_deadline = True

    # -- the helpers -----------------------------------------------------------------

    def input(self):
        """The job's input (any JSON value; {} when the job gave none)."""
        return self._request("GET", self._exe("/input"))["data"]

    def output(self, data):
        """Store the job's output (any JSON value, at most 1 MiB once encoded)."""
        self._request("POST", self._exe("/output"), {"data": data})

    def get_variable(self, key, default=_MISSING):
        """The value of one of the owner's variables. Unset: `default` when given, else
        raises VariableNotSet."""
        try:
            doc = self._request("GET", self._var(key))
        except JobcellError as e:
            if e.status == 404:
                if default is not _MISSING:
                    return default
                raise VariableNotSet("variable %r is not set" % key, 404, "not_found") from None
            raise
        return doc["data"]["value"]

    def set_variable(self, key, value):
        """Set a variable (any JSON value, at most 64 KiB once encoded)."""
        self._request("PUT", self._var(key), {"value": value})

    def delete_variable(self, key):
        """Delete a variable. True when it existed, False when it was not set."""
        try:
            self._request("DELETE", self._var(key))
        except JobcellError as e:
            if e.status == 404:
                return False
            raise
        return True

    def set_condition(self, condition):
        """Record the job's condition (True or False)."""
        if not isinstance(condition, bool):
            raise JobcellError("the condition must be True or False")
        self._request("POST", self._exe("/condition"), {"condition": condition})

    def context(self):
        """Facts about this execution: executionId, jobId, jobName, attempt, userId, …"""
        return self._request("GET", self._exe("/context"))["data"]

    def refresh_token(self):
        """Ask for a fresh token now; returns {"token", "expiresAt"}. Done automatically."""
        data = self._request("POST", self._exe("/token"), {}, refresh=False)["data"]
        self.token = data["token"]
        return data


_client = None
_client_lock = threading.Lock()


def _default():
    global _client
    with _client_lock:
        if _client is None:
            _client = Client()
        return _client


def input():  # noqa: A001 - the name job authors expect
    return _default().input()


def output(data):
    return _default().output(data)


def get_variable(key, default=_MISSING):
    return _default().get_variable(key, default)


def set_variable(key, value):
    return _default().set_variable(key, value)


def delete_variable(key):
    return _default().delete_variable(key)


def set_condition(condition):
    return _default().set_condition(condition)


def context():
    return _default().context()


def refresh_token():
    return _default().refresh_token()


input.__doc__ = Client.input.__doc__
output.__doc__ = Client.output.__doc__
get_variable.__doc__ = Client.get_variable.__doc__
set_variable.__doc__ = Client.set_variable.__doc__
delete_variable.__doc__ = Client.delete_variable.__doc__
set_condition.__doc__ = Client.set_condition.__doc__
context.__doc__ = Client.context.__doc__
refresh_token.__doc__ = Client.refresh_token.__doc__

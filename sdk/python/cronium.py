"""cronium: the names of Cronium's Python helpers, on top of jobcell's (jobcell.py), so a
Python script written for Cronium runs in jobcell unchanged.

    import cronium
    data = cronium.input()
    cronium.set_variable("count", (cronium.get_variable("count") or 0) + 1)
    cronium.output({"ok": True})

    from cronium import cronium, input, output, CroniumAPIError

get_variable returns None for an unset variable. Every failure raises CroniumAPIError (with
status_code and message) or, when the server cannot be reached, CroniumError. Tool actions
(email, Slack, Discord) are not part of jobcell: they raise CroniumAPIError with status_code
501 at once, never retried. Standard library only; retries and token renewal come from
jobcell.py.
"""

import jobcell as _jobcell

__all__ = [
    "Cronium",
    "CroniumError",
    "CroniumAPIError",
    "CroniumTimeoutError",
    "cronium",
    "input",
    "output",
    "get_variable",
    "set_variable",
    "set_condition",
    "event",
    "execute_tool_action",
    "send_email",
    "send_slack_message",
    "send_discord_message",
]


class CroniumError(Exception):
    """Base class of every error raised by these helpers."""


class CroniumAPIError(CroniumError):
    """The runtime API answered with an error: status_code and the server's message."""

    def __init__(self, status_code, message):
        self.status_code = status_code
        self.message = message
        super().__init__("API Error (%d): %s" % (status_code, message))


class CroniumTimeoutError(CroniumError):
    """The runtime API could not be reached in time."""


def _translate(e):
    if e.status:
        return CroniumAPIError(e.status, e.message)
    return CroniumError(e.message)


class Cronium:
    """The helpers as methods. Settings are read from the environment at the first call
    (CRONIUM_* or JOBCELL_* names), so importing never fails."""

    def __init__(self):
        self._client = None

    def _c(self):
        if self._client is None:
            try:
                self._client = _jobcell.Client()
            except _jobcell.JobcellError as e:
                raise CroniumError(e.message) from None
        return self._client

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except _jobcell.JobcellError as e:
            raise _translate(e) from None

    def input(self):
        return self._call(lambda: self._c().input())

    def output(self, data):
        self._call(lambda: self._c().output(data))

    def get_variable(self, key):
        return self._call(lambda: self._c().get_variable(key, None))

    def set_variable(self, key, value):
        self._call(lambda: self._c().set_variable(key, value))

    def set_condition(self, condition):
        # sent as given: the server answers 400 for anything but true or false
        c = self._c
        self._call(lambda: c()._request("POST", c()._exe("/condition"), {"condition": condition}))

    def event(self):
        return self._call(lambda: self._c().context()) or {}

    def execute_tool_action(self, tool, action, config):
        body = {"tool": tool, "action": action, "config": config}
        doc = self._call(lambda: self._c()._request("POST", "/tool-actions/execute", body))
        return (doc or {}).get("data")

    def send_email(self, to, subject, body, **kwargs):
        config = {"to": to if isinstance(to, list) else [to], "subject": subject, "body": body}
        config.update(kwargs)
        return self.execute_tool_action("email", "send_message", config)

    def send_slack_message(self, channel, text, **kwargs):
        config = {"channel": channel, "text": text}
        config.update(kwargs)
        return self.execute_tool_action("slack", "send_message", config)

    def send_discord_message(self, channel_id, content, **kwargs):
        config = {"channelId": channel_id, "content": content}
        config.update(kwargs)
        return self.execute_tool_action("discord", "send_message", config)


cronium = Cronium()


def input():  # noqa: A001 - Cronium's name
    return cronium.input()


def output(data):
    return cronium.output(data)


def get_variable(key):
    return cronium.get_variable(key)


def set_variable(key, value):
    return cronium.set_variable(key, value)


def set_condition(condition):
    return cronium.set_condition(condition)


def event():
    return cronium.event()


def execute_tool_action(tool, action, config):
    return cronium.execute_tool_action(tool, action, config)


def send_email(to, subject, body, **kwargs):
    return cronium.send_email(to, subject, body, **kwargs)


def send_slack_message(channel, text, **kwargs):
    return cronium.send_slack_message(channel, text, **kwargs)


def send_discord_message(channel_id, content, **kwargs):
    return cronium.send_discord_message(channel_id, content, **kwargs)

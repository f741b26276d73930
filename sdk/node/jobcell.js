/*
 * jobcell: helpers for job scripts that talk to the jobcell runtime API. No npm
 * dependencies. Inside a jobcell sandbox `require("jobcell")` and
 * `import { input } from "jobcell"` both work.
 *
 *   const jobcell = require("jobcell");
 *   const params = await jobcell.input();
 *   const n = await jobcell.getVariable("counter", 0);   // 0 when unset
 *   await jobcell.setVariable("counter", n + 1);
 *   await jobcell.output({ rows: 12 });
 *
 * Settings come from JOBCELL_RUNTIME_API, JOBCELL_EXECUTION_TOKEN, JOBCELL_EXECUTION_ID
 * (falling back to the CRONIUM_* names). Connection errors and 5xx answers (except 501) are
 * retried a few times with a growing pause; 4xx never are. Every failure rejects with a
 * JobcellError carrying `status` and the server's `message`. getVariable of an unset key
 * rejects with VariableNotSetError (status 404) unless a default is given.
 */
"use strict";

const http = require("http");
const https = require("https");

const DEFAULT_API = "http://127.0.0.1:8081";

class JobcellError extends Error {
  constructor(message, status = 0, code = undefined) {
    super(status ? `${message} (HTTP ${status})` : message);
    this.name = "JobcellError";
    this.status = status;
    this.statusCode = status;
    this.code = code;
    this.serverMessage = message;
  }
}

class VariableNotSetError extends JobcellError {
  constructor(key) {
    super(`variable ${JSON.stringify(key)} is not set`, 404, "not_found");
    this.name = "VariableNotSetError";
    this.key = key;
  }
}

function env(name) {
  return process.env["JOBCELL_" + name] || process.env["CRONIUM_" + name] || "";
}

function tokenTimes(token) {
  try {
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    if (Number.isInteger(claims.iat) && Number.isInteger(claims.exp)) {
      return [claims.iat, claims.exp];
    }
  } catch (_) {
    /* not ours to judge: the server verifies the token */
  }
  return [null, null];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Client {
  constructor(options = {}) {
    this.apiUrl = (options.apiUrl || env("RUNTIME_API") || DEFAULT_API).replace(/\/+$/, "");
    this.token = options.token || env("EXECUTION_TOKEN");
    this.executionId = options.executionId || env("EXECUTION_ID");
    this.retries = options.retries ?? 4;
    this.backoffMs = options.backoffMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 30000;
    if (!this.token) {
      throw new JobcellError("JOBCELL_EXECUTION_TOKEN is not set: this is not a jobcell job");
    }
    if (!this.executionId) {
      throw new JobcellError("JOBCELL_EXECUTION_ID is not set: this is not a jobcell job");
    }
    const url = new URL(this.apiUrl);
    this.transport = url.protocol === "https:" ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 8 });
    this.refreshing = null;
    this.atDeadline = false;
  }

  once(method, path, body) {
    return new Promise((resolve, reject) => {
      const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
      let payload = null;
      if (body !== undefined) {
        payload = Buffer.from(JSON.stringify(body));
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = payload.length;
      }
      const req = this.transport.request(
        this.apiUrl + path,
        { method, headers, agent: this.agent, timeout: this.timeoutMs },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode, raw: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("request timed out")));
      req.on("error", reject);
      req.end(payload || undefined);
    });
  }

  async request(method, path, body, { refresh = true } = {}) {
    if (refresh) await this.maybeRefresh();
    let delay = this.backoffMs;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.retries;
      let res;
      try {
        res = await this.once(method, path, body);
      } catch (e) {
        if (last) {
          throw new JobcellError(`cannot reach the runtime API at ${this.apiUrl}: ${e.message}`);
        }
        await sleep(delay * (0.5 + Math.random() / 2));
        delay *= 2;
        continue;
      }
      let doc = null;
      try {
        doc = res.raw.length ? JSON.parse(res.raw.toString("utf8")) : null;
      } catch (_) {
        doc = null;
      }
      if (res.status >= 200 && res.status < 300) {
        if (doc && doc.success === false) {
          throw new JobcellError(doc.message || "request failed", res.status, doc.code);
        }
        return doc;
      }
      // 501 is permanent (a route jobcell does not offer): retrying cannot help.
      if (res.status >= 500 && res.status !== 501 && !last) {
        await sleep(delay * (0.5 + Math.random() / 2));
        delay *= 2;
        continue;
      }
      const message = (doc && typeof doc.message === "string" && doc.message) || `HTTP ${res.status}`;
      throw new JobcellError(message, res.status, doc ? doc.code : undefined);
    }
  }

  exe(suffix) {
    return `/executions/${encodeURIComponent(this.executionId)}${suffix}`;
  }

  varPath(key) {
    if (typeof key !== "string" || key === "") {
      throw new JobcellError("a variable key must be a non-empty string");
    }
    return this.exe(`/variables/${encodeURIComponent(key)}`);
  }

  // Renew the token once three quarters of its lifetime have passed; the server never
  // extends it past the job's deadline, and once it stops moving we stop asking.
  async maybeRefresh() {
    if (this.atDeadline) return;
    const [iat, exp] = tokenTimes(this.token);
    if (exp === null || Date.now() / 1000 < exp - (exp - iat) / 4) return;
    if (!this.refreshing) {
      this.refreshing = this.refreshToken()
        .then(() => {
          if (tokenTimes(this.token)[1] === exp) this.atDeadline = true;
        })
        .catch(() => {
          /* the call itself will report what is wrong with the token */
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    await this.refreshing;
  }

  /** The job's input (any JSON value). */
  async input() {
    return (await this.request("GET", this.exe("/input"))).data;
  }

  /** Store the job's output (any JSON value, at most 1 MiB encoded). */
  async output(data) {
    await this.request("POST", this.exe("/output"), { data: data === undefined ? null : data });
  }

  /** A variable's value; unset: the default when one is given, else VariableNotSetError. */
  async getVariable(key, ...fallback) {
    try {
      return (await this.request("GET", this.varPath(key))).data.value;
    } catch (e) {
      if (e instanceof JobcellError && e.status === 404) {
        if (fallback.length > 0) return fallback[0];
        throw new VariableNotSetError(key);
      }
      throw e;
    }
  }

  /** Set a variable (any JSON value, at most 64 KiB encoded). */
  async setVariable(key, value) {
    await this.request("PUT", this.varPath(key), { value: value === undefined ? null : value });
  }

  /** Delete a variable: true when it existed, false when it was not set. */
  async deleteVariable(key) {
    try {
      await this.request("DELETE", this.varPath(key));
      return true;
    } catch (e) {
      if (e instanceof JobcellError && e.status === 404) return false;
      throw e;
    }
  }

  /** Record the job's condition (true or false). */
  async setCondition(condition) {
    if (typeof condition !== "boolean") {
      throw new JobcellError("the condition must be true or false");
    }
    await this.request("POST", this.exe("/condition"), { condition });
  }

  /** Facts about this execution: executionId, jobId, jobName, attempt, userId, … */
  async context() {
    return (await this.request("GET", this.exe("/context"))).data;
  }

  /** Ask for a fresh token now; resolves to {token, expiresAt}. Done automatically. */
  async refreshToken() {
    const doc = await this.request("POST", this.exe("/token"), {}, { refresh: false });
    this.token = doc.data.token;
    return doc.data;
  }

  /** Let the process exit at once instead of waiting for idle keep-alive sockets. */
  close() {
    this.agent.destroy();
  }
}

let shared = null;
function client() {
  if (!shared) {
    shared = new Client();
    // Idle keep-alive sockets must not keep a finished job alive.
    shared.agent.on("free", (socket) => socket.unref());
  }
  return shared;
}

const api = {
  input: () => client().input(),
  output: (data) => client().output(data),
  getVariable: (key, ...fallback) => client().getVariable(key, ...fallback),
  setVariable: (key, value) => client().setVariable(key, value),
  deleteVariable: (key) => client().deleteVariable(key),
  setCondition: (condition) => client().setCondition(condition),
  context: () => client().context(),
  refreshToken: () => client().refreshToken(),
};
// snake_case aliases, for scripts shared with the Python helpers
api.get_variable = api.getVariable;
api.set_variable = api.setVariable;
api.delete_variable = api.deleteVariable;
api.set_condition = api.setCondition;
api.refresh_token = api.refreshToken;

module.exports = Object.assign(api, { Client, JobcellError, VariableNotSetError });

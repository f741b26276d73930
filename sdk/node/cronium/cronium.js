/*
 * cronium: the names of Cronium's Node helpers, on top of jobcell's (jobcell.js), so a Node
 * script written for Cronium runs in jobcell unchanged.
 *
 *   const cronium = require("cronium");
 *   const n = (await cronium.getVariable("count")) || 0;
 *   await cronium.setVariable("count", n + 1);
 *   import { input, output } from "cronium";      // ES modules too
 *
 * Every helper returns a Promise. getVariable resolves to null for an unset variable.
 * Failures reject with CroniumAPIError (statusCode, the server's message) or, when the
 * server cannot be reached, CroniumError. Tool actions (email, Slack, Discord) are not part
 * of jobcell: they reject at once with statusCode 501, never retried. No npm dependency.
 */
"use strict";

// The jobcell helpers sit one level up; when this folder is mounted on its own (as
// /node_modules/cronium) they are found as the "jobcell" module instead.
let jobcell;
try {
  jobcell = require("../jobcell.js");
} catch (_) {
  jobcell = require("jobcell");
}

class CroniumError extends Error {
  constructor(message) {
    super(message);
    this.name = "CroniumError";
  }
}

class CroniumAPIError extends CroniumError {
  constructor(statusCode, message) {
    super(`API Error (${statusCode}): ${message}`);
    this.name = "CroniumAPIError";
    this.statusCode = statusCode;
  }
}

class CroniumTimeoutError extends CroniumError {
  constructor(message) {
    super(message);
    this.name = "CroniumTimeoutError";
  }
}

function translate(e) {
  if (e instanceof jobcell.JobcellError) {
    return e.status ? new CroniumAPIError(e.status, e.serverMessage) : new CroniumError(e.serverMessage);
  }
  return e;
}

class Cronium {
  // Settings are read from the environment (CRONIUM_* or JOBCELL_*) at the first call, so
  // requiring the module never throws.
  constructor() {
    this.client = null;
  }

  c() {
    if (!this.client) {
      try {
        this.client = new jobcell.Client();
      } catch (e) {
        throw translate(e);
      }
      // idle keep-alive sockets must not keep a finished job alive
      this.client.agent.on("free", (socket) => socket.unref());
    }
    return this.client;
  }

  async call(fn) {
    try {
      return await fn(this.c());
    } catch (e) {
      throw translate(e);
    }
  }

  async input() {
    return this.call((c) => c.input());
  }

  async output(data) {
    await this.call((c) => c.output(data));
  }

  async getVariable(key) {
    return this.call((c) => c.getVariable(key, null));
  }

  async setVariable(key, value) {
    await this.call((c) => c.setVariable(key, value));
  }

  async setCondition(condition) {
    // sent as given: the server answers 400 for anything but true or false
    await this.call((c) => c.request("POST", c.exe("/condition"), { condition }));
  }

  async event() {
    return (await this.call((c) => c.context())) || {};
  }

  async executeToolAction(tool, action, config) {
    const doc = await this.call((c) => c.request("POST", "/tool-actions/execute", { tool, action, config }));
    return (doc && doc.data) || null;
  }

  async sendEmail({ to, subject, body, ...extras }) {
    return this.executeToolAction("email", "send_message", { to: Array.isArray(to) ? to : [to], subject, body, ...extras });
  }

  async sendSlackMessage({ channel, text, ...extras }) {
    return this.executeToolAction("slack", "send_message", { channel, text, ...extras });
  }

  async sendDiscordMessage({ channelId, content, ...extras }) {
    return this.executeToolAction("discord", "send_message", { channelId, content, ...extras });
  }
}

const cronium = new Cronium();

module.exports = Cronium;
module.exports.cronium = cronium;
module.exports.input = () => cronium.input();
module.exports.output = (data) => cronium.output(data);
module.exports.getVariable = (key) => cronium.getVariable(key);
module.exports.setVariable = (key, value) => cronium.setVariable(key, value);
module.exports.setCondition = (condition) => cronium.setCondition(condition);
module.exports.event = () => cronium.event();
module.exports.executeToolAction = (tool, action, config) => cronium.executeToolAction(tool, action, config);
module.exports.sendEmail = (options) => cronium.sendEmail(options);
module.exports.sendSlackMessage = (options) => cronium.sendSlackMessage(options);
module.exports.sendDiscordMessage = (options) => cronium.sendDiscordMessage(options);
module.exports.CroniumError = CroniumError;
module.exports.CroniumAPIError = CroniumAPIError;
module.exports.CroniumTimeoutError = CroniumTimeoutError;

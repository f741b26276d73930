// The "cronium" package's CommonJS entry.
"use strict";
module.exports = require("./cronium.js");

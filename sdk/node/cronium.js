// require("cronium") through NODE_PATH: the package lives in ./cronium/.
"use strict";
module.exports = require("./cronium/cronium.js");

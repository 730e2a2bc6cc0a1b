// Mocha reporter: mocha's "spec" output on the console, plus the same JSON document as mocha's
// built-in "json" reporter written to the file named by env MOCHA_RESULTS (if set), plus one
// closing line "N passed, N failed, N skipped".
"use strict";
const fs = require("fs");
const path = require("path");
const Mocha = require("mocha");

const { EVENT_RUN_END, EVENT_TEST_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } =
  Mocha.Runner.constants;

function clean(test) {
  const err = test.err || {};
  return {
    title: test.title,
    fullTitle: test.fullTitle(),
    file: test.file,
    duration: test.duration,
    currentRetry: typeof test.currentRetry === "function" ? test.currentRetry() : 0,
    speed: test.speed,
    err: err.message ? { message: err.message, stack: err.stack } : {},
  };
}

class SpecAndJson extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const tests = [];
    const passes = [];
    const failures = [];
    const pending = [];
    runner.on(EVENT_TEST_END, (t) => tests.push(t));
    runner.on(EVENT_TEST_PASS, (t) => passes.push(t));
    runner.on(EVENT_TEST_FAIL, (t) => failures.push(t));
    runner.on(EVENT_TEST_PENDING, (t) => pending.push(t));
    runner.once(EVENT_RUN_END, () => {
      const stats = this.stats;
      const out = process.env.MOCHA_RESULTS;
      if (out) {
        const doc = {
          stats,
          tests: tests.map(clean),
          pending: pending.map(clean),
          failures: failures.map(clean),
          passes: passes.map(clean),
        };
        fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
        fs.writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
      }
      // Printed after spec's epilogue (which is registered on the same event earlier).
      process.nextTick(() =>
        console.log(`\n${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped`)
      );
    });
  }
}

module.exports = SpecAndJson;

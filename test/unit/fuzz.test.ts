/**
 * A short run of every fuzz target in test/fuzz/ (HTTP/2 frames, HPACK, gRPC framing, and any
 * other module there): about a second each, so that `npm test` catches a parser that throws
 * something other than its typed error or holds more than its limits. `npm run fuzz` runs longer.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { loadTargets, runTarget } from "../fuzz/main.js";

const targets = await loadTargets();

describe("fuzz targets, short run", () => {
  it("finds the HTTP/2, HPACK and gRPC targets", () => {
    const names = targets.map((t) => t.name);
    for (const name of ["h2-frames", "hpack", "grpc-frame"]) assert.ok(names.includes(name), `${name} missing from ${names.join(", ")}`);
  });
  for (const target of targets) {
    it(`${target.name}: any input ends in a result or the typed error, within the limits`, (t) => {
      const details = runTarget(target, 1.5, 5_000);
      t.diagnostic(`${details.numRuns} runs`);
      assert.ok(!details.failed, fc.defaultReportMessage(details) ?? "failed");
      assert.ok(details.numRuns >= 100, `only ${details.numRuns} runs`);
    });
  }
});

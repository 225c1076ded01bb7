/** The lock/election torture checkers on hand-made histories: each flags what it must, and only that. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { observationProblems, overlaps, type Holding } from "../torture/lock-check.js";

const h = (worker: number, revision: number, start: number, end: number): Holding => ({ worker, key: `l/${worker}`, revision: String(revision), start, end, endedBy: "release" });

describe("overlaps", () => {
  it("accepts back-to-back holdings, in any recorded order, and empty ones", () => {
    assert.deepEqual(overlaps([h(1, 20, 10, 20), h(0, 10, 0, 10), h(2, 30, 20, 35), h(3, 40, 25, 25)]), []);
  });

  it("flags a holding that starts before an earlier one ended, even behind a short one", () => {
    assert.equal(overlaps([h(0, 10, 0, 100), h(1, 20, 10, 20), h(2, 30, 50, 60)]).length, 2);
    assert.match(overlaps([h(0, 10, 0, 10.5), h(1, 20, 10, 20)])[0] ?? "", /worker 1 .* worker 0 .*0\.5 ms of overlap/);
  });
});

describe("observationProblems", () => {
  const leaders = [h(0, 10, 0, 3000), h(1, 20, 3000, 3100), h(2, 30, 3100, 6000)];
  const seen = (revision: number, worker: number) => ({ at: 0, key: `l/${worker}`, revision: String(revision) });

  it("accepts leaders reported in order, repeats of one leader, and a skipped short reign", () => {
    assert.deepEqual(observationProblems([seen(10, 0), seen(10, 0), seen(30, 2)], leaders, 2000), []);
  });

  it("flags a leader reported after a newer one, and a long reign never reported", () => {
    const problems = observationProblems([seen(10, 0), seen(30, 2), seen(20, 1)], leaders, 2000);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /revision 20\).* after a leader of revision 30/);
    assert.match(observationProblems([seen(10, 0)], leaders, 2000)[0] ?? "", /never reported worker 2/);
  });
});

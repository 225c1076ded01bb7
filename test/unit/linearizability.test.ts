/**
 * The linearizability checker and the register model (v2 and v3 operations) on hand-written
 * histories whose answer is known, on random histories that are linearizable by construction,
 * the shrinker, and the v3 cross-key revision check.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkLinearizable, partition, type HistoryOp } from "../torture/checker.js";
import { canonicalize, checkRegister, registerModel, UNMENTIONED, type RegisterOp, type RegisterState } from "../torture/register.js";
import { cutAt, cutBefore, shrinkViolation } from "../torture/shrink.js";
import { createRandom } from "../torture/prng.js";
import { checkRevisions } from "../torture/revisions.js";
import type { TortureOp } from "../torture/workers.js";

type H = HistoryOp<RegisterOp>;
const U = Infinity;

const read = (call: number, ret: number, observed: RegisterState): H => ({ call, ret, op: { kind: "read", outcome: "ok", observed } });
const set = (call: number, ret: number, value: string, observed?: RegisterState): H => ({
  call,
  ret,
  op: { kind: "set", value, outcome: ret === U ? "unknown" : "ok", observed },
});
const create = (call: number, ret: number, value: string, outcome: RegisterOp["outcome"] = "ok"): H => ({
  call,
  ret,
  op: { kind: "create", value, outcome, observed: outcome === "ok" ? null : undefined },
});
const cas = (call: number, ret: number, expect: string, value: string, outcome: RegisterOp["outcome"] = "ok"): H => ({
  call,
  ret,
  op: { kind: "cas", expect, value, outcome, observed: outcome === "ok" ? expect : undefined },
});
const del = (call: number, ret: number, outcome: RegisterOp["outcome"] = "ok", observed?: RegisterState): H => ({
  call,
  ret,
  op: { kind: "delete", outcome, observed },
});

// v3: put reports the value it replaced (prevKv); txn compares the value and puts, or reports what it read.
const put = (call: number, ret: number, value: string, observed?: RegisterState): H => ({
  call,
  ret,
  op: { kind: "put", value, outcome: ret === U ? "unknown" : "ok", observed },
});
const txn = (call: number, ret: number, expect: string, value: string, outcome: "ok" | "mismatch" | "unknown", observed?: RegisterState): H => ({
  call,
  ret,
  op: { kind: "txn", expect, value, outcome, observed: outcome === "ok" && observed === undefined ? expect : observed },
});

const verdict = (history: H[]): string => checkLinearizable(registerModel, history).verdict;

test("a sequential history that reads what it wrote is linearizable", () => {
  assert.equal(verdict([read(0, 1, null), set(2, 3, "a", null), read(4, 5, "a"), cas(6, 7, "a", "b"), read(8, 9, "b"), del(10, 11, "ok", "b"), read(12, 13, null)]), "linearizable");
});

test("a stale read after a completed write is a violation", () => {
  assert.equal(verdict([set(0, 1, "a"), set(2, 3, "b"), read(4, 5, "a")]), "violation");
});

test("a read of a value nobody wrote is a violation", () => {
  assert.equal(verdict([set(0, 1, "a"), read(2, 3, "b")]), "violation");
});

test("a write applied twice out of order (33 landing after 312) is a violation", () => {
  // 33 was acknowledged (after a re-send) before 312 was even called, yet 33 is read after 312.
  assert.equal(verdict([set(0, 1, "33"), set(2, 3, "312"), read(4, 5, "312"), read(6, 7, "33")]), "violation");
  // The same through the replies alone: each write says it replaced the other.
  assert.equal(verdict([set(0, 10, "33", "312"), set(2, 3, "312", "33")]), "violation");
  // And a set that reports replacing its own unique value was applied twice.
  assert.equal(verdict([set(0, 1, "33", "33")]), "violation");
});

test("an unknown-outcome write may take effect late, after later writes", () => {
  assert.equal(verdict([set(0, U, "33"), set(2, 3, "312"), read(4, 5, "312"), read(6, 7, "33")]), "linearizable");
  assert.equal(verdict([set(0, U, "33"), set(2, 3, "312", "33"), read(4, 5, "312")]), "linearizable");
});

test("an unknown-outcome write may never take effect", () => {
  assert.equal(verdict([set(0, U, "x"), read(5, 6, null), set(7, 8, "y", null), read(9, 10, "y")]), "linearizable");
});

test("an unknown-outcome write cannot take effect before it was called", () => {
  assert.equal(verdict([read(0, 1, "x"), set(2, U, "x")]), "violation");
});

test("concurrent operations may be ordered either way", () => {
  assert.equal(verdict([set(0, 10, "a"), read(1, 2, null), read(3, 4, "a")]), "linearizable");
  assert.equal(verdict([set(0, 10, "a"), set(0, 10, "b"), read(11, 12, "b")]), "linearizable");
  assert.equal(verdict([set(0, 10, "a"), set(0, 10, "b"), read(11, 12, "a")]), "linearizable");
});

test("two readers that see two concurrent writes in opposite orders are a violation", () => {
  assert.equal(verdict([set(0, 10, "a"), set(0, 10, "b"), read(1, 2, "a"), read(3, 4, "b"), read(1, 2, "b"), read(3, 4, "a")]), "violation");
});

test("a value read while its write is in flight may not be followed by the older value", () => {
  assert.equal(verdict([set(0, 1, "a"), set(2, 10, "b"), read(3, 4, "b"), read(5, 6, "a")]), "violation");
});

test("compare-and-swap succeeds only on the expected value and its refusals must be justified", () => {
  assert.equal(verdict([set(0, 1, "a"), cas(2, 3, "a", "b"), read(4, 5, "b")]), "linearizable");
  assert.equal(verdict([set(0, 1, "a"), cas(2, 3, "x", "b")]), "violation");
  assert.equal(verdict([set(0, 1, "a"), cas(2, 3, "a", "b", "mismatch")]), "violation");
  assert.equal(verdict([set(0, 1, "a"), cas(2, 3, "x", "b", "mismatch"), read(4, 5, "a")]), "linearizable");
  assert.equal(verdict([cas(0, 1, "x", "b", "absent")]), "linearizable");
  assert.equal(verdict([cas(0, 1, "x", "b", "mismatch")]), "violation");
  // Two swaps from the same value cannot both succeed.
  assert.equal(verdict([set(0, 1, "a"), cas(2, 5, "a", "b"), cas(2, 5, "a", "c")]), "violation");
});

test("create succeeds only on an absent key, and 'exists' only on a present one", () => {
  assert.equal(verdict([create(0, 1, "a"), create(2, 3, "b", "exists"), read(4, 5, "a")]), "linearizable");
  assert.equal(verdict([create(0, 1, "a"), create(2, 3, "b")]), "violation");
  assert.equal(verdict([create(0, 1, "a", "exists")]), "violation");
  assert.equal(verdict([create(0, 5, "a"), create(1, 6, "b"), read(7, 8, "b")]), "violation");
});

test("delete succeeds only on a present key, and 'absent' only on a missing one", () => {
  assert.equal(verdict([set(0, 1, "a"), del(2, 3, "ok", "a"), del(4, 5, "absent"), read(6, 7, null)]), "linearizable");
  assert.equal(verdict([set(0, 1, "a"), del(2, 3, "absent")]), "violation");
  assert.equal(verdict([del(0, 1, "ok")]), "violation");
  assert.equal(verdict([set(0, 1, "a"), del(2, 3, "ok", "b")]), "violation");
});

test("unknown-outcome operations are optional in either direction", () => {
  // An unknown delete explains a later 'absent'; an unknown create explains a later 'exists'.
  assert.equal(verdict([set(0, 1, "a"), del(2, U, "unknown"), read(5, 6, null)]), "linearizable");
  assert.equal(verdict([create(0, U, "a", "unknown"), create(2, 3, "b", "exists"), read(4, 5, null)]), "violation");
  assert.equal(verdict([create(0, U, "a", "unknown"), create(2, 3, "b", "exists"), read(4, 5, "a")]), "linearizable");
});

test("the linearization order lists every operation that took effect", () => {
  const history = [set(0, U, "33"), set(2, 3, "312"), read(4, 5, "312"), read(6, 7, "33")];
  const result = checkLinearizable(registerModel, history);
  assert.deepEqual(result.order, [1, 2, 0, 3]);
});

test("a violation reports how far the search got", () => {
  const result = checkLinearizable(registerModel, [set(0, 1, "a"), set(2, 3, "b"), read(4, 5, "a")]);
  assert.deepEqual(result.deepest, { linearized: 2, blocked: 2 });
});

test("the search gives up with 'unknown' when its step budget is spent", () => {
  const result = checkLinearizable(registerModel, randomHistory(1, 400, 8).history, { maxSteps: 50 });
  assert.equal(result.verdict, "unknown");
  assert.equal(result.steps, 51);
});

test("an empty history and one of only unknown outcomes are linearizable", () => {
  assert.equal(verdict([]), "linearizable");
  assert.equal(verdict([set(0, U, "a"), del(1, U, "unknown")]), "linearizable");
});

test("histories linearizable by construction are accepted, and a corrupted read is caught", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { history, readIndices } = randomHistory(seed, 300, 6);
    const result = checkLinearizable(registerModel, history);
    assert.equal(result.verdict, "linearizable", `seed ${seed}`);
    const victim = readIndices[seed % readIndices.length];
    if (victim === undefined) continue;
    const broken = history.map((h, i) => (i === victim ? read(h.call, h.ret, "never-written") : h));
    assert.equal(checkLinearizable(registerModel, broken).verdict, "violation", `seed ${seed}`);
  }
});

test("a long history with eight concurrent clients is decided quickly", () => {
  const { history } = randomHistory(7, 20_000, 8);
  const started = performance.now();
  const result = checkLinearizable(registerModel, history);
  assert.equal(result.verdict, "linearizable");
  assert.ok(performance.now() - started < 10_000, `took ${performance.now() - started} ms`);
});

test("partition splits a history by key, keeping the order within each key", () => {
  const parts = partition([{ k: "a", n: 1 }, { k: "b", n: 2 }, { k: "a", n: 3 }], (x) => x.k);
  assert.deepEqual([...parts.entries()], [["a", [{ k: "a", n: 1 }, { k: "a", n: 3 }]], ["b", [{ k: "b", n: 2 }]]]);
});

test("shrinking keeps a violation and drops what does not contribute to it", () => {
  const noise = randomHistory(3, 200, 4).history.map((h) => ({ ...h, call: h.call + 10_000, ret: h.ret + 10_000 }));
  const core = [set(0, 1, "33"), read(1.5, 1.7, "33"), set(2, 3, "312"), read(3.5, 3.9, "312"), read(4, 5, "33")];
  // The noise is linearizable on its own from an absent key, which the delete provides.
  const background = [read(0.2, 0.4, null), set(6, 7, "later"), del(9000, 9001, "ok", "later")];
  const history = [...core, ...background, ...noise];
  assert.equal(verdict(history), "violation");
  const shrunk = shrinkViolation(history, 10_000);
  assert.equal(verdict([...shrunk.history]), "violation");
  assert.ok(shrunk.complete);
  assert.ok(shrunk.history.length <= 3, `shrunk to ${shrunk.history.length}: ${JSON.stringify(shrunk.history)}`);
});

test("shrinking never drops the write a read depends on", () => {
  // Not linearizable only because b's read comes after c completed; a must stay as it explains nothing wrong.
  const history = [set(0, 1, "a"), read(2, 3, "a"), set(4, 5, "b"), set(6, 7, "c"), read(8, 9, "b")];
  const shrunk = shrinkViolation(history, 10_000);
  assert.equal(verdict([...shrunk.history]), "violation");
  const values = shrunk.history.map((h) => h.op.value ?? h.op.observed);
  assert.ok(values.includes("b") && values.includes("c"), JSON.stringify(shrunk.history));
});

test("cutting a history turns operations running at the cut into unknown outcomes", () => {
  const cut = cutAt([set(0, 1, "a"), set(2, 9, "b"), read(3, 8, "b"), read(10, 11, "b")], 5);
  assert.deepEqual(cut, [set(0, 1, "a"), { call: 2, ret: U, op: { kind: "set", value: "b", expect: undefined, outcome: "unknown" } }]);
});

test("values nobody mentions are folded into one state, mentioned ones are kept", () => {
  const history = [set(0, 1, "a"), set(2, 3, "b", "a"), set(4, U, "c"), read(5, 6, "b")];
  assert.deepEqual(canonicalize(history).map((h) => h.op.value), ["a", "b", UNMENTIONED, undefined]);
  // Folding b and c together must not let c's unknown write explain the read of b.
  assert.equal(checkRegister([set(0, 1, "a"), set(2, 3, "b"), set(4, U, "c"), set(5, 6, "d"), read(7, 8, "b")]).verdict, "violation");
});

test("an unknown write of an unmentioned value can still explain a refusal that needs 'some other value'", () => {
  assert.equal(checkRegister([set(0, 1, "a"), set(2, U, "x"), cas(3, 4, "a", "b", "mismatch")]).verdict, "linearizable");
  assert.equal(checkRegister([set(0, 1, "a"), cas(3, 4, "a", "b", "mismatch")]).verdict, "violation");
  assert.equal(checkRegister([set(0, U, "x"), create(1, 2, "y", "exists")]).verdict, "linearizable");
  // Two refusals separated by a read of absent need two different unknown writes, and there are two.
  const twice = [set(0, U, "x1"), set(0, U, "x2"), create(1, 2, "y", "exists"), del(3, U, "unknown"), read(5, 6, null), create(7, 8, "z", "exists")];
  assert.equal(checkRegister(twice).verdict, "linearizable");
  assert.equal(checkRegister([set(0, U, "x1"), create(1, 2, "y", "exists"), del(3, U, "unknown"), read(5, 6, null), create(7, 8, "z", "exists")]).verdict, "violation");
});

test("a violation behind a hundred unknown-outcome writes is still found within the budget", () => {
  const history: H[] = [];
  for (let i = 0; i < 600; i++) {
    if (i % 6 === 0) history.push(set(i, U, `u${i}`));
    else history.push(i % 2 === 0 ? set(i, i + 0.5, `v${i}`) : read(i, i + 0.5, `v${i - 1}`));
  }
  history.push(read(700, 701, "never-written"));
  const result = checkRegister(history, { maxSteps: 2_000_000 });
  assert.equal(result.verdict, "violation");
});

test("random linearizable histories stay linearizable with unknown outcomes and phantom writes added", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const random = createRandom(seed * 7);
    const { history, readIndices } = randomHistory(seed, 300, 6);
    // Forgetting a write's result keeps a history linearizable; so does adding writes that never happened.
    const weakened: H[] = history.map((h) => (h.op.kind !== "read" && h.op.outcome === "ok" && random.chance(0.1) ? { ...h, ret: U, op: { ...h.op, outcome: "unknown", observed: undefined } } : h));
    for (let i = 0; i < 20; i++) weakened.push(set(random.next() * 300, U, `phantom${i}`));
    assert.equal(checkRegister(weakened).verdict, "linearizable", `seed ${seed}`);
    const victim = readIndices[seed % readIndices.length];
    if (victim === undefined) continue;
    const broken = weakened.map((h, i) => (i === victim ? read(h.call, h.ret, "never-written") : h));
    assert.equal(checkRegister(broken).verdict, "violation", `seed ${seed}`);
  }
});

test("shrinking cuts off a history's start when it violates whatever the key held then", () => {
  const early = [set(0, 1, "a"), read(2, 3, "a"), set(4, 5, "b", "a"), read(6, 7, "b")];
  const core = [set(100, 101, "33"), set(102, 103, "312", "33"), read(104, 105, "33")];
  const shrunk = shrinkViolation([...early, ...core], 10_000);
  assert.equal(shrunk.anyStart, true);
  assert.deepEqual(shrunk.history.map((h) => h.op.value ?? h.op.observed), ["33", "312", "33"]);
});

test("shrinking does not start a history from a value first written after the cut", () => {
  // The late read of x needs x written again after the delete. Had the key been allowed to start
  // as x at the delete, cutting everything before it would have "explained" the read away.
  const history = [set(0, 1, "a"), del(2, 3, "ok", "a"), set(50, U, "x"), del(60, 61, "ok"), read(70, 71, "x")];
  assert.equal(checkRegister(history).verdict, "violation");
  const shrunk = shrinkViolation(history, 10_000);
  assert.ok(shrunk.history.some((h) => h.op.value === "x"), JSON.stringify(shrunk.history));
  assert.equal(checkRegister([...shrunk.history]).verdict, "violation");
});

test("shrinking keeps only as many unknown deletes as could ever take effect", () => {
  const deletes = Array.from({ length: 30 }, (_, i) => del(i, U, "unknown"));
  const history = [...deletes, create(40, U, "c", "unknown"), del(50, 51, "ok"), read(60, 61, "c")];
  assert.equal(checkRegister(history).verdict, "violation");
  const shrunk = shrinkViolation(history, 10_000);
  assert.ok(shrunk.history.length <= 5, `${shrunk.history.length} operations left`);
});

test("cutting a history's start drops what finished and forgets what was running", () => {
  const cut = cutBefore([set(0, 1, "a"), set(2, 9, "b"), read(3, 8, "b"), read(10, 11, "b"), set(4, U, "c")], 5);
  assert.deepEqual(cut, [
    { call: 2, ret: U, op: { kind: "set", value: "b", expect: undefined, outcome: "unknown" } },
    read(10, 11, "b"),
    { call: 4, ret: U, op: { kind: "set", value: "c", expect: undefined, outcome: "unknown" } },
  ]);
});

test("v3 put is a set whose prevKv must be the value it replaced", () => {
  assert.equal(verdict([read(0, 1, null), put(2, 3, "a", null), put(4, 5, "b", "a"), read(6, 7, "b")]), "linearizable");
  assert.equal(verdict([put(0, 1, "a", null), put(2, 3, "b", null)]), "violation");
  assert.equal(verdict([put(0, 1, "a"), put(2, 3, "b"), read(4, 5, "a")]), "violation");
  // A put applied twice reports itself as the value it replaced.
  assert.equal(verdict([put(0, 1, "33", "33")]), "violation");
  assert.equal(verdict([put(0, U, "33"), put(2, 3, "312", "33"), read(4, 5, "312")]), "linearizable");
});

test("a v3 txn swaps only from the expected value, and its prevKv must be that value", () => {
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "a", "b", "ok"), read(4, 5, "b")]), "linearizable");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "x", "b", "ok", "a")]), "violation");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "a", "b", "ok", "z")]), "violation");
  // On a missing key a value comparison fails: a txn cannot succeed there.
  assert.equal(verdict([txn(0, 1, "a", "b", "ok", null)]), "violation");
  // Two swaps from the same value cannot both succeed.
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 5, "a", "b", "ok"), txn(2, 5, "a", "c", "ok")]), "violation");
});

test("a refused v3 txn is a read: what it reports must be the value, and must differ from the expected one", () => {
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "x", "b", "mismatch", "a")]), "linearizable");
  assert.equal(verdict([put(0, 1, "a", null), put(2, 3, "c", "a"), txn(4, 5, "x", "b", "mismatch", "a")]), "violation");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "a", "b", "mismatch", "a")]), "violation");
  // Unlike v2's COMPARE_FAILED, a refusal on a missing key is fine, and says the key is absent.
  assert.equal(verdict([txn(0, 1, "a", "b", "mismatch", null)]), "linearizable");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "x", "b", "mismatch", null)]), "violation");
  // With the observation forgotten (the shrinker's weakening), only "not the expected value" is left.
  assert.equal(verdict([txn(0, 1, "a", "b", "mismatch")]), "linearizable");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, 3, "a", "b", "mismatch")]), "violation");
});

test("an unknown-outcome v3 txn takes effect only where its comparison holds", () => {
  assert.equal(verdict([put(0, 1, "a", null), txn(2, U, "a", "b", "unknown"), read(4, 5, "b")]), "linearizable");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, U, "x", "b", "unknown"), read(4, 5, "b")]), "violation");
  assert.equal(verdict([put(0, 1, "a", null), txn(2, U, "a", "b", "unknown"), read(4, 5, "a")]), "linearizable");
  // Values are unique, so it can take effect only while "a" is there, not after the put of "c" replaced it.
  assert.equal(verdict([put(0, 1, "a", null), txn(2, U, "a", "b", "unknown"), put(3, 4, "c", "a"), read(5, 6, "b")]), "violation");
});

test("v3 histories linearizable by construction are accepted, and a corrupted observation is caught", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { history, readIndices } = randomHistoryV3(seed, 300, 6);
    assert.equal(checkRegister(history).verdict, "linearizable", `seed ${seed}`);
    const victim = readIndices[seed % readIndices.length];
    if (victim === undefined) continue;
    const broken = history.map((h, i) => (i === victim ? { ...h, op: { ...h.op, observed: "never-written" } } : h));
    assert.equal(checkRegister(broken).verdict, "violation", `seed ${seed}`);
  }
});

test("shrinking a v3 violation keeps the operations that make it", () => {
  const noise = randomHistoryV3(5, 200, 4).history.map((h) => ({ ...h, call: h.call + 10_000, ret: h.ret + 10_000 }));
  // The txn swapped a for b, yet a later refused txn still read a: the swap was lost or the read stale.
  const core = [put(0, 1, "a", null), txn(2, 3, "a", "b", "ok"), txn(4, 5, "b", "c", "mismatch", "a")];
  const background = [del(9000, 9001, "ok", "b")];
  const history = [...core, ...background, ...noise];
  assert.equal(checkRegister(history).verdict, "violation");
  const shrunk = shrinkViolation(history, 10_000);
  assert.equal(checkRegister([...shrunk.history]).verdict, "violation");
  assert.ok(shrunk.history.length <= 3, `shrunk to ${shrunk.history.length}: ${JSON.stringify(shrunk.history)}`);
  assert.ok(shrunk.history.some((h) => h.op.kind === "txn" && h.op.outcome === "mismatch"), JSON.stringify(shrunk.history));
});

const top = (worker: number, kind: TortureOp["kind"], call: number, ret: number, index: number, outcome: TortureOp["outcome"] = "ok"): TortureOp => ({
  worker,
  key: `k${worker}`,
  kind,
  call,
  ret,
  answeredAt: ret,
  outcome,
  index,
});

test("revisions must follow real time across keys", () => {
  // A read of another key that started after a write returned must see at least its revision.
  assert.deepEqual(checkRevisions([top(0, "put", 0, 1, 10), top(1, "read", 2, 3, 10), top(2, "put", 4, 5, 11)]), []);
  assert.equal(checkRevisions([top(0, "put", 0, 1, 10), top(1, "read", 2, 3, 9)]).length, 1);
  // A write after a read must make a higher revision; a refused txn or an absent delete only reads.
  assert.equal(checkRevisions([top(0, "read", 0, 1, 10), top(1, "put", 2, 3, 10)]).length, 1);
  assert.deepEqual(checkRevisions([top(0, "put", 0, 1, 10), top(1, "txn", 2, 3, 10, "mismatch"), top(2, "delete", 4, 5, 10, "absent")]), []);
  // Concurrent operations may come in either order; unknown outcomes and failed reads carry nothing.
  assert.deepEqual(checkRevisions([top(0, "put", 0, 5, 12), top(1, "put", 1, 3, 11), top(2, "read", 6, 7, 12)]), []);
  assert.deepEqual(checkRevisions([top(0, "put", 0, 1, 10), top(1, "put", 2, U, 3, "unknown"), top(2, "read", 2, 3, 0, "failed-read")]), []);
  // Two changes never share a revision.
  assert.equal(checkRevisions([top(0, "put", 0, 5, 12), top(1, "txn", 1, 3, 12)]).length, 1);
});

/**
 * A register history that is linearizable by construction: each operation gets a random interval
 * and takes effect at a random instant inside it, in instant order, against a simulated register.
 */
function randomHistory(seed: number, n: number, clients: number): { history: H[]; readIndices: number[] } {
  const random = createRandom(seed);
  const free = Array.from({ length: clients }, () => 0);
  const planned: { call: number; ret: number; at: number; client: number }[] = [];
  for (let i = 0; i < n; i++) {
    const client = random.int(clients);
    const call = (free[client] ?? 0) + random.next();
    const ret = call + 0.1 + random.next() * 3;
    free[client] = ret;
    planned.push({ call, ret, at: call + random.next() * (ret - call), client });
  }
  planned.sort((a, b) => a.at - b.at);
  let state: RegisterState = null;
  const history: H[] = [];
  const readIndices: number[] = [];
  planned.forEach((p, i) => {
    const choice = random.int(6);
    const value = `v${i}`;
    if (choice === 0 || choice === 1) {
      readIndices.push(history.length);
      history.push(read(p.call, p.ret, state));
    } else if (choice === 2) {
      history.push(set(p.call, p.ret, value, state));
      state = value;
    } else if (choice === 3) {
      history.push(state === null ? create(p.call, p.ret, value) : create(p.call, p.ret, value, "exists"));
      if (state === null) state = value;
    } else if (choice === 4) {
      const expect = random.chance(0.5) && state !== null ? state : "other";
      const outcome = state === null ? "absent" : state === expect ? "ok" : "mismatch";
      history.push(cas(p.call, p.ret, expect, value, outcome));
      if (outcome === "ok") state = value;
    } else {
      history.push(state === null ? del(p.call, p.ret, "absent") : del(p.call, p.ret, "ok", state));
      state = null;
    }
  });
  return { history, readIndices };
}

/** As `randomHistory`, with v3 operations: read, put, txn (compare-and-set, else read) and delete. */
function randomHistoryV3(seed: number, n: number, clients: number): { history: H[]; readIndices: number[] } {
  const random = createRandom(seed);
  const free = Array.from({ length: clients }, () => 0);
  const planned: { call: number; ret: number; at: number }[] = [];
  for (let i = 0; i < n; i++) {
    const client = random.int(clients);
    const call = (free[client] ?? 0) + random.next();
    const ret = call + 0.1 + random.next() * 3;
    free[client] = ret;
    planned.push({ call, ret, at: call + random.next() * (ret - call) });
  }
  planned.sort((a, b) => a.at - b.at);
  let state: RegisterState = null;
  const history: H[] = [];
  const readIndices: number[] = [];
  planned.forEach((p, i) => {
    const choice = random.int(5);
    const value = `v${i}`;
    if (choice === 0) {
      readIndices.push(history.length);
      history.push(read(p.call, p.ret, state));
    } else if (choice === 1) {
      readIndices.push(history.length);
      history.push(put(p.call, p.ret, value, state));
      state = value;
    } else if (choice === 2 || choice === 3) {
      const expect = random.chance(0.5) && state !== null ? state : "other";
      readIndices.push(history.length);
      if (state === expect) {
        history.push(txn(p.call, p.ret, expect, value, "ok", state));
        state = value;
      } else {
        history.push(txn(p.call, p.ret, expect, value, "mismatch", state));
      }
    } else {
      history.push(state === null ? del(p.call, p.ret, "absent") : del(p.call, p.ret, "ok", state));
      state = null;
    }
  });
  return { history, readIndices };
}

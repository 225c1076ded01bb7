/**
 * A check across keys for v3 runs. etcd's revision is its linearization order: one counter for
 * the whole store, raised by every write that changes something, and reported in every reply's
 * header (for a write, the revision it made; for a read, the revision it saw). So whatever the
 * keys, an operation called after another one returned must carry a revision at least as high,
 * and strictly higher if it changed the store; and no two changes share a revision (each of
 * this workload's transactions touches one key). The per-key checker cannot see a read that is
 * stale with respect to a write to another key; this can.
 */
import type { TortureOp } from "./workers.js";

/** True when `op` was answered and changed the store, so its revision is its own. */
function changed(op: TortureOp): boolean {
  return op.outcome === "ok" && (op.kind === "put" || op.kind === "txn" || op.kind === "delete");
}

/** Everything wrong with the revisions of `ops` (answered operations only); empty when all is well. */
export function checkRevisions(ops: readonly TortureOp[]): string[] {
  const answered = ops.filter((op) => op.ret !== Infinity && op.index !== undefined && op.outcome !== "not-applied" && op.outcome !== "failed-read");
  const problems: string[] = [];
  const byCall = [...answered].sort((a, b) => a.call - b.call);
  const byRet = [...answered].sort((a, b) => a.ret - b.ret);
  let highest: TortureOp | undefined;
  let r = 0;
  for (const op of byCall) {
    for (let done = byRet[r]; done !== undefined && done.ret < op.call; done = byRet[++r]) {
      if (highest === undefined || (done.index ?? 0) > (highest.index ?? 0)) highest = done;
    }
    if (highest === undefined) continue;
    const floor = highest.index ?? 0;
    const index = op.index ?? 0;
    if (index < floor || (index === floor && changed(op))) {
      problems.push(`${describe(op)} carries revision ${index}, but ${describe(highest)} returned revision ${floor} before it was called`);
    }
  }
  const writers = new Map<number, TortureOp>();
  for (const op of answered.filter(changed)) {
    const other = writers.get(op.index ?? 0);
    if (other !== undefined) problems.push(`${describe(op)} and ${describe(other)} both report revision ${op.index ?? 0}`);
    else writers.set(op.index ?? 0, op);
  }
  return problems;
}

function describe(op: TortureOp): string {
  const who = op.worker < 0 ? "a final read" : `worker ${op.worker}'s ${op.kind}`;
  return `${who} of ${op.key}${op.value === undefined ? "" : ` = ${op.value}`} (${op.outcome}, ${op.call.toFixed(1)}-${op.ret.toFixed(1)} ms)`;
}

/**
 * The v3 torture driver: each worker its own `EtcdV3Client`, doing strong gets, puts, compare-and-set
 * transactions and deletes, every write asking for the previous value (prevKv) so that its reply
 * is a read as well.
 *
 * How a failure is classified follows the client's documented contract (src/errors.ts): a failure
 * with `delivery` "unsent", or with no `delivery` at all (an answer of the server, about the data
 * or the cluster), says the write was NOT applied, and the checks hold the client to that; only
 * OUTCOME_UNKNOWN and failures that may have been delivered ("unknown", "pending") leave it open.
 */
import { EtcdV3Client, type KeyValue } from "../../src/index.js";
import { EtcdError } from "../../src/errors.js";
import type { Random } from "./prng.js";
import { expectation, remember, type Driver, type Planned, type TortureOp, type WorkloadContext } from "./workers.js";

/** A worker's v3 driver: its own `EtcdV3Client`. */
export function v3Driver(ctx: WorkloadContext): Driver {
  const client = new EtcdV3Client({ endpoints: ctx.endpoints, ...ctx.clientOptions });
  return { plan: planV3, perform: (p) => performV3(client, p), close: () => client.close() };
}

/** What to do next: 40% reads, 25% puts, 25% compare-and-set transactions, 10% deletes; every written value is unique. */
function planV3(ctx: WorkloadContext, random: Random, worker: number, seq: number, key: string, lastSeen: ReadonlyMap<string, string>): Planned {
  const roll = random.int(100);
  if (roll < 40) return { worker, key, kind: "read" };
  if (roll >= 90) return { worker, key, kind: "delete" };
  const value = `w${worker}-${seq}`;
  if (roll < 65) {
    remember(ctx, key, value);
    return { worker, key, kind: "put", value };
  }
  const expect = expectation(ctx, random, worker, key, lastSeen);
  remember(ctx, key, value);
  return { worker, key, kind: "txn", value, expect };
}

/** Performs one v3 operation and records its times, result and revision. */
export async function performV3(client: EtcdV3Client, p: Planned): Promise<TortureOp> {
  const call = performance.now();
  const op: TortureOp = { ...p, call, ret: call, answeredAt: call, outcome: "ok" };
  try {
    await send(client, p, op);
    op.ret = op.answeredAt = performance.now();
  } catch (error) {
    op.answeredAt = performance.now();
    classify(op, error);
    op.ret = op.outcome === "unknown" ? Infinity : op.answeredAt;
  }
  return op;
}

/** Sends `p` and fills in `op`'s outcome, observation and revision from the reply. */
async function send(client: EtcdV3Client, p: Planned, op: TortureOp): Promise<void> {
  const value = p.value ?? "";
  switch (p.kind) {
    case "read": {
      const reply = await client.get(p.key);
      op.observed = text(reply.kvs[0]);
      op.index = Number(reply.header.revision);
      return;
    }
    case "put": {
      const reply = await client.put(p.key, value, { prevKv: true });
      op.observed = text(reply.prevKv);
      op.index = Number(reply.header.revision);
      return;
    }
    case "txn": {
      const reply = await client.txn({
        compare: [{ key: p.key, target: "value", result: "==", value: p.expect ?? "" }],
        success: [{ put: { key: p.key, value, prevKv: true } }],
        failure: [{ get: { key: p.key } }],
      });
      const first = reply.responses[0];
      op.index = Number(reply.header.revision);
      if (reply.succeeded) {
        if (first === undefined || !("put" in first)) throw new Error(`txn succeeded without a put response: ${JSON.stringify(reply.responses)}`);
        op.observed = text(first.put.prevKv);
      } else {
        if (first === undefined || !("get" in first)) throw new Error(`txn failed without a get response: ${JSON.stringify(reply.responses)}`);
        op.outcome = "mismatch";
        op.observed = text(first.get.kvs[0]);
      }
      return;
    }
    case "delete": {
      const reply = await client.delete(p.key, { prevKv: true });
      op.index = Number(reply.header.revision);
      if (reply.deleted === 0n) {
        // v3 deletes of a missing key succeed with nothing deleted (and make no revision): a read of absence.
        op.outcome = "absent";
        return;
      }
      op.observed = text(reply.prevKvs[0]);
      return;
    }
    case "set":
    case "create":
    case "cas":
      throw new Error(`${p.kind} is not a v3 operation`);
  }
}

function text(kv: KeyValue | undefined): string | null {
  return kv === undefined ? null : kv.value.toString("utf8");
}

/**
 * Turns a failure into an outcome. A read that failed has no effect. A write is "not applied"
 * when the client says nothing was sent ("unsent") or the server refused it (no delivery); it is
 * "unknown" when the client says so (OUTCOME_UNKNOWN) or the request may have been delivered.
 */
function classify(op: TortureOp, error: unknown): void {
  if (!(error instanceof EtcdError)) {
    op.untyped = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    op.outcome = op.kind === "read" ? "failed-read" : "unknown";
    return;
  }
  op.code = error.code;
  op.delivery = error.delivery;
  if (op.kind === "read") {
    op.outcome = "failed-read";
    return;
  }
  const definite = error.code !== "OUTCOME_UNKNOWN" && (error.delivery === undefined || error.delivery === "unsent");
  op.outcome = definite ? "not-applied" : "unknown";
}

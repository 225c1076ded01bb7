/**
 * Found by the torture suite (seed 5, --members 5): a `set` in flight to a follower that is
 * SIGKILLed fails with delivery "unknown", and the engine re-sends it because `set` is
 * "idempotent". But the follower had already forwarded the proposal to the leader, so the first
 * copy commits too, and other clients' writes commit between the two copies: the second copy
 * undoes them (lost updates), replies report the wrong prevNode, and watchers see the write twice.
 * Since then only reads are re-sent after a possible delivery; this test keeps it that way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EtcdV2Client } from "../../src/index.js";
import { startCluster } from "../harness/index.js";
import { sleep } from "./scenario.js";

const KILLS = 10;

test("a set in flight to a SIGKILLed follower is applied once", async () => {
  await using cluster = await startCluster({ size: 3 });
  const endpoints = cluster.endpoints();
  const key = `${cluster.prefix("resend")}/k`;
  // Each acknowledged set: the index it was acknowledged at, and the value its reply says it replaced.
  const acks = new Map<string, { index: number; replaced: string | undefined }>();
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    await using client = new EtcdV2Client({ endpoints });
    for (let seq = 0; !stop; seq++) {
      const value = `w${w}-${seq}`;
      const reply = await client.set(key, value).catch(() => undefined);
      if (reply !== undefined) acks.set(value, { index: reply.node?.modifiedIndex ?? 0, replaced: reply.prevNode?.value });
    }
  });
  for (let kill = 0; kill < KILLS && twice(acks).length === 0; kill++) {
    await sleep(1_000);
    const follower = ((await cluster.leader(10_000)) + 1 + (kill % 2)) % cluster.size;
    await cluster.member(follower).kill();
    await sleep(500);
    await cluster.member(follower).start();
    await cluster.waitHealthy();
  }
  stop = true;
  await Promise.all(writers);
  assert.deepEqual(twice(acks), [], "a reply replaced a value before that value's own acknowledged write: it was applied twice");
});

/** Values some reply replaced at an index below (or at) the index their own set was acknowledged at. */
function twice(acks: ReadonlyMap<string, { index: number; replaced: string | undefined }>): string[] {
  const found: string[] = [];
  for (const [value, ack] of acks) {
    const replaced = ack.replaced === undefined ? undefined : acks.get(ack.replaced);
    if (ack.replaced !== undefined && replaced !== undefined && replaced.index >= ack.index) {
      found.push(`${value} at index ${ack.index} replaced ${ack.replaced}, acknowledged at index ${replaced.index}`);
    }
  }
  return found;
}

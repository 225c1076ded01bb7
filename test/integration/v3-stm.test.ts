/**
 * `etcd.stm` on a real 3-member cluster: each isolation level's conflict rule, shown by
 * interleaving a run with a writer at a fixed point (the run awaits the write before going on),
 * so every attempt count below is deterministic. The writer uses the same client, hence the same
 * member, so member-local reads see its acknowledged writes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdV3Client } from "../../src/index.js";
import type { StmIsolation, StmTx } from "../../src/v3/concurrency/stm.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { rejectsWith } from "./util.js";

let cluster: Cluster;
let etcd: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3 });
  etcd = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await etcd.close();
  await cluster.stop();
});

let n = 0;
/** A fresh key prefix per test. */
function keys(): { a: string; b: string; c: string } {
  const p = `${cluster.prefix(`stm${n++}`)}/`;
  return { a: `${p}a`, b: `${p}b`, c: `${p}c` };
}

const text = (v: Buffer | undefined): string | undefined => v?.toString();

/** Runs `body` under `isolation`, calling `interfere` once, during the first attempt, at the point `body` chooses. */
async function interleaved(
  isolation: StmIsolation,
  interfere: () => Promise<unknown>,
  body: (tx: StmTx, during: () => Promise<void>) => Promise<void>,
): Promise<number> {
  let attempts = 0;
  await etcd.stm(
    async (tx) => {
      attempts++;
      const first = attempts === 1;
      await body(tx, async () => {
        if (first) await interfere();
      });
    },
    { isolation },
  );
  return attempts;
}

describe("isolation levels", () => {
  it("snapshot (the default) re-runs when a key it only writes was changed after its first read; serializable does not", async () => {
    for (const [isolation, expected] of [
      ["snapshot", 2],
      ["serializable", 1],
    ] as const) {
      const { a, b } = keys();
      await etcd.put(a, "1");
      const attempts = await interleaved(isolation, () => etcd.put(b, "theirs"), async (tx, during) => {
        const v = text(await tx.get(a));
        await during();
        tx.put(b, `ours-${v}`);
      });
      assert.equal(attempts, expected, isolation);
      assert.equal((await etcd.get(b)).kvs[0]?.value.toString(), "ours-1", isolation);
    }
    // No isolation option at all behaves as snapshot.
    const { a, b } = keys();
    await etcd.put(a, "1");
    let attempts = 0;
    await etcd.stm(async (tx) => {
      attempts++;
      await tx.get(a);
      if (attempts === 1) await etcd.put(b, "theirs");
      tx.put(b, "ours");
    });
    assert.equal(attempts, 2);
  });

  for (const isolation of ["snapshot", "serializable"] as const) {
    it(`${isolation} serves later reads at the first read's revision, then re-runs with the new value`, async () => {
      const { a, c } = keys();
      await etcd.put(a, "1");
      await etcd.put(c, "old");
      const seen: (string | undefined)[] = [];
      const attempts = await interleaved(isolation, () => etcd.put(c, "new"), async (tx, during) => {
        await tx.get(a);
        await during();
        seen.push(text(await tx.get(c)));
        tx.put(a, "2");
      });
      assert.equal(attempts, 2);
      assert.deepEqual(seen, ["old", "new"]);
    });
  }

  it("repeatable-read reads the latest value of each key and re-runs only when a key it read changed before the commit", async () => {
    const { a, c } = keys();
    await etcd.put(a, "1");
    await etcd.put(c, "old");
    const seen: (string | undefined)[] = [];
    const once = await interleaved("repeatable-read", () => etcd.put(c, "new"), async (tx, during) => {
      await tx.get(a);
      await during();
      seen.push(text(await tx.get(c)));
      tx.put(a, "2");
    });
    assert.equal(once, 1, "a key changed before it was first read is no conflict");
    assert.deepEqual(seen, ["new"]);
    const twice = await interleaved("repeatable-read", () => etcd.put(a, "3"), async (tx, during) => {
      await tx.get(a);
      await during();
      tx.put(c, "x");
    });
    assert.equal(twice, 2, "a key changed after it was read is a conflict");
  });

  it("read-committed never re-runs: a write based on a value changed meanwhile still commits", async () => {
    const { a, b } = keys();
    await etcd.put(a, "1");
    const attempts = await interleaved("read-committed", () => etcd.put(a, "2"), async (tx, during) => {
      const v = text(await tx.get(a));
      await during();
      tx.put(b, `from-${v}`);
    });
    assert.equal(attempts, 1);
    assert.equal((await etcd.get(b)).kvs[0]?.value.toString(), "from-1");
  });
});

describe("runs and results", () => {
  it("sees its own writes and deletes, returns the committing run's result, and writes atomically", async () => {
    const { a, b, c } = keys();
    await etcd.put(a, "10");
    await etcd.put(c, "gone soon");
    const result = await etcd.stm(async (tx) => {
      const v = Number(text(await tx.get(a)));
      tx.put(a, String(v - 3));
      tx.put(b, "3");
      tx.delete(c);
      assert.equal(text(await tx.get(a)), "7");
      assert.equal(await tx.get(c), undefined);
      assert.equal(await tx.get(`${a}-absent`), undefined);
      return { moved: 3 };
    });
    assert.deepEqual(result, { moved: 3 });
    const [ra, rb, rc] = await Promise.all([etcd.get(a), etcd.get(b), etcd.get(c)]);
    assert.equal(ra.kvs[0]?.value.toString(), "7");
    assert.equal(rb.kvs[0]?.value.toString(), "3");
    assert.equal(rc.kvs.length, 0);
    assert.equal(rb.kvs.at(0)?.modRevision, ra.kvs.at(0)?.modRevision, "one txn wrote both");
  });

  it("rev() gives the mod revision read, 0n for an absent key", async () => {
    const { a, b } = keys();
    const put = await etcd.put(a, "x");
    await etcd.stm(async (tx) => {
      assert.equal(await tx.rev(a), put.header.revision);
      assert.equal(await tx.rev(b), 0n);
    });
  });

  it("writes nothing when the function throws, and passes its error through", async () => {
    const { a } = keys();
    const boom = new Error("boom");
    await assert.rejects(
      etcd.stm(async (tx) => {
        tx.put(a, "x");
        await Promise.resolve();
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.equal((await etcd.get(a)).kvs.length, 0);
  });

  it("prefetched keys join the read set: a change to one re-runs the function even if it never reads it", async () => {
    const { a, b } = keys();
    await etcd.put(a, "1");
    let attempts = 0;
    await etcd.stm(
      async (tx) => {
        attempts++;
        if (attempts === 1) await etcd.put(a, "2");
        tx.put(b, "x");
        await Promise.resolve();
      },
      { prefetch: [a], isolation: "repeatable-read" },
    );
    assert.equal(attempts, 2);
  });

  it("the signal ends a run that keeps conflicting, with the signal's reason, having written nothing", async () => {
    const { a, b } = keys();
    await etcd.put(a, "0");
    const controller = new AbortController();
    const reason = new Error("enough");
    let attempts = 0;
    await assert.rejects(
      etcd.stm(
        async (tx) => {
          attempts++;
          await tx.get(a);
          await etcd.put(a, String(attempts)); // always conflicts
          if (attempts === 5) controller.abort(reason);
          tx.put(b, "never");
        },
        { signal: controller.signal },
      ),
      (e) => e === reason,
    );
    assert.equal(attempts, 5);
    assert.equal((await etcd.get(b)).kvs.length, 0);
  });

  it("rejects bad options before sending anything", async () => {
    await rejectsWith(etcd.stm(() => Promise.resolve(1), { isolation: "linearizable" as StmIsolation }), "INVALID_ARGUMENT");
    await rejectsWith(etcd.stm(() => Promise.resolve(1), { timeout: -1 }), "INVALID_ARGUMENT");
  });

  it("concurrent read-modify-write runs lose no update under every checking level", async () => {
    for (const isolation of ["snapshot", "serializable", "repeatable-read"] as const) {
      const { a } = keys();
      await etcd.put(a, "0");
      const bump = (): Promise<void> =>
        etcd.stm(
          async (tx) => {
            tx.put(a, String(Number(text(await tx.get(a))) + 1));
          },
          { isolation },
        );
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 10; i++) await bump();
      }));
      assert.equal((await etcd.get(a)).kvs[0]?.value.toString(), "40", isolation);
    }
  });
});

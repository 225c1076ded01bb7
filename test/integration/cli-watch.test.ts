/**
 * `etcd-ts watch --forever --recursive` while a writer writes and the member the watch polls
 * fails: every event must still be printed once, in order. (etcdctl's watcher stays on the
 * member it started with, so a frozen member silences it and a dead one ends it.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { EtcdV2Client } from "../../src/index.js";
import { run } from "../../src/cli/run.js";
import type { CliIo } from "../../src/cli/shared/io.js";

const WRITES = 60;

/** Starts our watch in-process; `stop()` is Ctrl-C and resolves with the exit code. */
function startWatch(args: readonly string[]): { output: () => string; stop: () => Promise<number>; errors: () => string } {
  const interrupt = new AbortController();
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { ETCDCTL_API: "2" },
    readStdin: () => Promise.resolve(""),
    readSecret: () => Promise.resolve(""),
    trapInterrupt: () => interrupt.signal,
  };
  const running = run(args, io);
  return {
    output: () => stdout,
    errors: () => stderr,
    stop: () => {
      interrupt.abort();
      return running;
    },
  };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The events a recursive simple-format watch printed, as "key=value". */
function events(output: string): string[] {
  const lines = output.split("\n");
  const seen: string[] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) seen.push(`${(lines[i] ?? "").replace(/^\[set\] /, "")}=${lines[i + 1] ?? ""}`);
  return seen;
}

describe("watch --forever survives a member failure without losing events", () => {
  let cluster: Cluster;
  let writer: EtcdV2Client;
  /** The member the watch polls: a follower, so that failing it leaves the writes undisturbed. */
  let watched: number;

  before(async () => {
    cluster = await startCluster({ size: 3, name: "cli-watch" });
    watched = ((await cluster.leader()) + 1) % 3;
    const others = [0, 1, 2].filter((i) => i !== watched).map((i) => cluster.clientUrl(i));
    writer = new EtcdV2Client({ endpoints: others });
  });
  after(async () => {
    await writer.close();
    await cluster.stop();
  });

  /** Watches through the watched member, writes WRITES keys, and applies `fault` to it a third of the way in. */
  async function watchThrough(name: string, fault: () => Promise<void>): Promise<void> {
    const prefix = cluster.prefix(name);
    // Only that member is given, so the watch starts there; the sync adds the others for failover.
    const watch = startWatch(["--endpoints", cluster.clientUrl(watched), "watch", "--forever", "--recursive", prefix]);
    try {
      // The watch starts from "now" once connected, so poke it until it reports something.
      for (let i = 0; !watch.output().includes("[set]"); i++) {
        if (i === 100) assert.fail(`the watch did not start: ${watch.errors()}`);
        await writer.set(`${prefix}/start`, String(i));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const expected: string[] = [];
      for (let i = 0; i < WRITES; i++) {
        if (i === WRITES / 3) await fault();
        await writer.set(`${prefix}/k${i}`, `v${i}`);
        expected.push(`${prefix}/k${i}=v${i}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const written = (): string[] => events(watch.output()).filter((e) => !e.startsWith(`${prefix}/start=`));
      await until(() => written().length >= expected.length, 20_000, `all ${expected.length} events (got ${written().length}; stderr: ${watch.errors()})`);
      assert.deepEqual(written(), expected);
      assert.equal(watch.errors(), "");
    } finally {
      assert.equal(await watch.stop(), 0, "Ctrl-C ends the watch with exit code 0");
    }
  }

  it("a SIGSTOPped member: the watch moves to another member and catches up", async () => {
    try {
      await watchThrough("paused", () => cluster.member(watched).pause());
    } finally {
      await cluster.member(watched).resume();
      await cluster.waitHealthy(watched);
    }
  });

  it("a killed member: the watch resumes on another member from the next index", async () => {
    await watchThrough("killed", () => cluster.member(watched).kill());
  });
});

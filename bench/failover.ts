/**
 * Failover benchmark: for each fault of the member a client is using, the time from the fault to
 * the first successful operation started after it, and the latency of the next 100 operations,
 * for etcd-ts and node-etcd side by side. Prints one markdown table.
 *
 * Method: one fresh 3-member cluster per fault, with etcd's default raft timings (100 ms
 * heartbeat, 1 s election timeout: what users run, unlike the test harness's fast timings). The
 * clients take turns on it: before each turn the cluster is repaired and healthy, the fault is
 * applied anew to the member that client uses, and the fault's moment is when it is in effect
 * (process exited, every thread stopped, rules installed; for a restart, when SIGTERM is sent).
 *
 *   npm run bench:failover [-- --fault "SIGSTOP leader" --fast-raft]
 */
import { parseArgs } from "node:util";
import { EtcdV2Client } from "../src/index.js";
import { EtcdError } from "../src/errors.js";
import { partitionSupport, startCluster, type Cluster } from "../test/harness/index.js";
import { call, nodeEtcd, nodeEtcdErrorLabel } from "./lib/node-etcd.js";
import { opLoop, recovered, recovery, spread, type OpClient, type OpRecord, type Recovery } from "./lib/oploop.js";
import { waitQuiet } from "./lib/machine.js";
import { ms, sleep } from "./lib/stats.js";

const GUARD_MS = 10_000;
/** How long after a fault a turn may last: a guard's worth, plus room for the op after a hang. */
const WINDOW_MS = 11_000;
const NEXT = 100;
const DEFAULT_RAFT = ["--heartbeat-interval=100", "--election-timeout=1000"];

/** A fault: which member, how to break it, how to repair it. */
interface Fault {
  readonly name: string;
  readonly target: "leader" | "follower";
  readonly needsPartitions?: boolean;
  /** Breaks member `i`; resolves with the moment the fault is in effect and a promise for its end. */
  inject(c: Cluster, i: number): Promise<{ at: number; done: Promise<void> }>;
  repair(c: Cluster, i: number): Promise<void>;
}

const now = (): { at: number; done: Promise<void> } => ({ at: performance.now(), done: Promise.resolve() });

const kill = (target: Fault["target"]): Fault => ({
  name: `SIGKILL ${target}`,
  target,
  inject: async (c, i) => (await c.member(i).kill(), now()),
  repair: (c, i) => c.member(i).start(),
});
const stop = (target: Fault["target"]): Fault => ({
  name: `SIGSTOP ${target}`,
  target,
  inject: async (c, i) => (await c.member(i).pause(), now()),
  repair: (c, i) => c.member(i).resume(),
});
const isolate = (target: Fault["target"]): Fault => ({
  name: `isolate ${target}`,
  target,
  needsPartitions: true,
  inject: async (c, i) => (await c.isolate(i), now()),
  repair: (c, i) => {
    c.heal(i);
    return Promise.resolve();
  },
});
const restart: Fault = {
  name: "restart follower",
  target: "follower",
  inject: (c, i) => Promise.resolve({ at: performance.now(), done: c.member(i).restart() }),
  repair: () => Promise.resolve(),
};

const FAULTS: readonly Fault[] = [kill("follower"), kill("leader"), stop("follower"), stop("leader"), isolate("follower"), isolate("leader"), restart];

/** A client under test: how to build it for a cluster whose member `i` is about to fail. */
interface Contender {
  readonly name: string;
  make(c: Cluster, i: number): OpClient;
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "etcd-ts",
    make: (c, i) => {
      // Pinned to member i first; the engine stays there while it works (as test/faults/workload.ts does).
      const client = new EtcdV2Client({ endpoints: [c.clientUrl(i)] });
      client.setEndpoints(c.endpoints());
      return {
        set: (key, value, signal) => client.set(key, value, { signal }),
        get: (key, signal) => client.get(key, { signal }),
        label: (error) => (error instanceof EtcdError ? error.code : String(error)),
        close: () => client.close(),
      };
    },
  },
  { name: "node-etcd", make: (c) => nodeEtcdClient(c, {}) },
  { name: "node-etcd {timeout: 1000}", make: (c) => nodeEtcdClient(c, { timeout: 1000 }) },
];

/** node-etcd picks a random member for every request, so the member "in use" is one in three. */
function nodeEtcdClient(c: Cluster, options: Record<string, unknown>): OpClient {
  const etcd = nodeEtcd(c.endpoints(), options);
  return {
    set: (key, value, signal) => call((cb) => etcd.set(key, value, {}, cb), signal),
    get: (key, signal) => call((cb) => etcd.get(key, { quorum: true }, cb), signal),
    label: nodeEtcdErrorLabel,
    close: () => Promise.resolve(),
  };
}

interface Row {
  readonly fault: string;
  readonly client: string;
  readonly member?: string;
  readonly result?: Recovery;
  readonly skipped?: string;
}

/** One client's turn: load, fault, measure until recovered + 100 ops or the window ends, repair. */
async function turn(c: Cluster, fault: Fault, contender: Contender): Promise<Row> {
  await c.waitHealthy();
  const leader = await c.leader(10_000);
  const i = fault.target === "leader" ? leader : (leader + 1) % c.size;
  const client = contender.make(c, i);
  const key = `${c.prefix("failover")}/k`;
  const log: OpRecord[] = [];
  const stopLoop = new AbortController();
  const loop = opLoop(client, key, GUARD_MS, stopLoop.signal, log);
  // Warm up until connections are open and the client has settled on its member.
  while (log.filter((op) => op.ok).length < 30) await sleep(20);
  const { at, done } = await fault.inject(c, i);
  while (!recovered(log, at, NEXT) && performance.now() - at < WINDOW_MS) await sleep(20);
  stopLoop.abort();
  await loop;
  await client.close();
  await done;
  await fault.repair(c, i);
  return { fault: fault.name, client: contender.name, member: `member ${i} (${i === leader ? "leader" : "follower"})`, result: recovery(log, at, NEXT) };
}

async function runFault(fault: Fault, raft: readonly string[]): Promise<Row[]> {
  if (fault.needsPartitions === true && !partitionSupport().ok) {
    return CONTENDERS.map((k) => ({ fault: fault.name, client: k.name, skipped: partitionSupport().why ?? "no partitions" }));
  }
  const cluster = await startCluster({ size: 3, name: "bench-fo", extraArgs: [...raft] });
  const rows: Row[] = [];
  try {
    await waitQuiet(cluster.members.map((m) => m.pid), 0.3, 3_000);
    for (const contender of CONTENDERS) {
      const row = await turn(cluster, fault, contender);
      rows.push(row);
      process.stderr.write(`  ${fault.name} / ${contender.name}: ${firstCell(row)}\n`);
    }
  } finally {
    await cluster.stop();
  }
  return rows;
}

function firstCell(row: Row): string {
  const r = row.result;
  if (r === undefined) return `skipped: ${row.skipped ?? ""}`;
  if (r.hungFirst) return `**no success within ${GUARD_MS / 1000} s** (an op hung${r.firstSuccessMs === undefined ? "" : `; next success at ${ms(r.firstSuccessMs)} ms`})`;
  if (r.firstSuccessMs !== undefined) return `${ms(r.firstSuccessMs)} ms`;
  return `**no success within ${WINDOW_MS / 1000} s**${r.cutAfterMs === undefined ? "" : ` (an op hung, ${ms(r.cutAfterMs)} ms when cut)`}`;
}

function errorsCell(r: Recovery): string {
  if (r.errors.size === 0) return "0";
  const total = [...r.errors.values()].reduce((a, b) => a + b, 0);
  return `${total}: ${[...r.errors].map(([label, n]) => `${label}×${n}`).join(", ")}`;
}

function nextCell(r: Recovery): string {
  const waiting = r.firstSuccessMs !== undefined && r.cutAfterMs !== undefined ? `; 1 more still waiting after ${ms(r.cutAfterMs)} ms` : "";
  if (r.next.length === 0) return waiting === "" ? "–" : `none completed${waiting}`;
  const s = spread(r.next);
  const partial = r.next.length < NEXT ? ` (only ${r.next.length} ops done in the window${waiting})` : "";
  return `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}${partial}`;
}

function table(rows: readonly Row[]): string {
  const lines = [
    "| fault | client | broken member | time to first success | next 100 ops p50 / p99 / max (ms) | errors after the fault |",
    "|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const r = row.result;
    if (r === undefined) {
      lines.push(`| ${row.fault} | ${row.client} | – | skipped: ${row.skipped ?? ""} | – | – |`);
      continue;
    }
    const member = row.client === "etcd-ts" ? (row.member ?? "") : `${row.member ?? ""} ¹`;
    lines.push(`| ${row.fault} | ${row.client} | ${member} | ${firstCell(row)} | ${nextCell(r)} | ${errorsCell(r)} |`);
  }
  lines.push(
    "",
    "¹ node-etcd sends every request to a random member (a fresh shuffle per request), so about one request in three",
    "meets the broken member: its time to first success can be lucky, and the next-100 column shows what the fault costs it.",
    `"hung": an op cut by the ${GUARD_MS / 1000} s guard; node-etcd has no deadline of its own, so without the guard it would wait for ever.`,
    `A turn ends after 100 ops past the first success, or ${WINDOW_MS / 1000} s after the fault.`,
  );
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { fault: { type: "string", multiple: true }, "fast-raft": { type: "boolean" } } });
  const wanted = values.fault ?? [];
  const faults = wanted.length === 0 ? FAULTS : FAULTS.filter((f) => wanted.includes(f.name));
  const raft = values["fast-raft"] === true ? [] : DEFAULT_RAFT;
  const started = performance.now();
  const rows: Row[] = [];
  for (const fault of faults) {
    process.stderr.write(`${fault.name}\n`);
    rows.push(...(await runFault(fault, raft)));
  }
  const raftText = raft.length === 0 ? "harness fast raft (50 ms heartbeat, 500 ms election)" : "etcd default raft (100 ms heartbeat, 1 s election)";
  console.log(`### Failover: one op in flight (set, then strong get), fresh 3-member etcd ${await etcdVersion()} per fault, ${raftText}`);
  console.log(`Clients take turns on the same cluster (repaired between turns); each op is cut by a ${GUARD_MS / 1000} s guard. Run took ${((performance.now() - started) / 1000).toFixed(0)} s.\n`);
  console.log(table(rows));
}

async function etcdVersion(): Promise<string> {
  const { etcdBin } = await import("../test/harness/index.js");
  const { execFileSync } = await import("node:child_process");
  return /Version: (\S+)/.exec(execFileSync(etcdBin(), ["--version"], { encoding: "utf8" }))?.[1] ?? "";
}

await main();

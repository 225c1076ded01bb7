/**
 * `npm run demo`: a throwaway local 3-member etcd cluster, and etcd-ts doing its main job on it:
 * the seed example, the same through the `etcd-ts` command, a watch that carries on while the
 * member in use is SIGKILLed and then SIGSTOPped, and the timing of every operation around the
 * faults, then the v3 API (put, get, txn, watch, a lease kept alive) through a SIGSTOP.
 * Everything it starts is stopped and removed before it exits.
 */
import { execFileSync } from "node:child_process";
import { EtcdError, EtcdV2Client, type V2WatchEvent } from "../src/index.js";
import { startCluster, type Cluster } from "../test/harness/index.js";
import { etcdBin, findOnPath } from "../test/harness/etcd-bin.js";
import { runCli } from "./demo-cli.js";
import { demoV3 } from "./demo-v3.js";

const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(2)}s`;
const say = (text: string): void => {
  console.log(`[${elapsed()}] ${text}`);
};

ensureEtcd();
say("starting a throwaway 3-member etcd cluster on loopback ports");
const cluster = await startCluster({ size: 3 });
try {
  await demo(cluster);
} finally {
  await cluster.stop();
  say("cluster stopped and its data directories removed");
}

async function demo(c: Cluster): Promise<void> {
  say(`cluster ready in ${c.startupMs.toFixed(0)} ms: ${c.endpoints().join(" ")}`);
  let inUse = "";
  const client = new EtcdV2Client({
    endpoints: c.endpoints(),
    onEvent: (ev) => {
      if (ev.type === "member-chosen") inUse = ev.endpoint;
      if (ev.type === "member-set-aside") say(`  engine: ${ev.endpoint} set aside (${ev.reason}${ev.error ? `: ${ev.error.message}` : ""})`);
      if (ev.type === "member-chosen" && ev.previous !== undefined) say(`  engine: now using ${ev.endpoint}`);
    },
  });

  console.log("\n1. The seed example");
  await client.set("/foo", "bar");
  say(`set("/foo", "bar") then get("/foo") -> ${(await client.get("/foo")).node?.value ?? "?"}`);

  console.log("\n2. The same through the etcd-ts command (etcdctl's language: v2 with ETCDCTL_API=2, v3 by default)");
  await runCli(["--endpoints", c.endpoints().join(","), "set", "/foo", "bar"], say, 2);
  await runCli(["--endpoints", c.endpoints().join(","), "get", "/foo"], say, 2);
  await runCli(["--endpoints", c.endpoints().join(","), "put", "/foo", "bar-v3"], say);
  await runCli(["--endpoints", c.endpoints().join(","), "get", "/foo"], say);

  console.log("\n3. A watch printing events while a writer writes");
  const seen: number[] = [];
  const stop = new AbortController();
  const start = (await client.get("/")).etcdIndex + 1;
  const watching = watchAll(client, start, stop.signal, seen);
  for (let i = 1; i <= 3; i++) await client.set(`/demo/k${i}`, `v${i}`);
  await pause(200);

  console.log("\n4. Faults on the member in use, with the load and the watch going on");
  const leader = await c.leader();
  say(`the client uses ${inUse}; the leader is ${c.clientUrl(leader)}`);
  const killed = await fault(c, client, () => inUse, "SIGKILL", async (i) => c.member(i).kill());
  // Two members down at once would leave the cluster without a quorum: bring the first one back.
  await c.member(killed).restart();
  say(`member ${killed} restarted and caught up`);
  await fault(c, client, () => inUse, "SIGSTOP", async (i) => c.member(i).pause());
  for (const m of c.members) {
    if (m.paused) await m.resume();
    if (!m.running) await m.restart();
  }
  await pause(300);
  stop.abort();
  await watching;
  const gaps = seen.filter((index, n) => n > 0 && index <= (seen[n - 1] ?? 0)).length;
  say(`the watch delivered ${seen.length} events in index order, ${gaps} out of order or repeated`);
  await client.close();
  console.log("\n5. The v3 gRPC API on the same cluster");
  await demoV3(c, say);
  console.log("\n6. Cleaning up");
}

async function watchAll(client: EtcdV2Client, from: number, signal: AbortSignal, seen: number[]): Promise<void> {
  for await (const ev of client.watch("/demo", { recursive: true, waitIndex: from, signal })) {
    seen.push(ev.node?.modifiedIndex ?? 0);
    if (seen.length <= 3 || seen.length % 10 === 0) say(`  watch: ${describe(ev)}`);
  }
}

async function fault(c: Cluster, client: EtcdV2Client, inUse: () => string, name: string, apply: (i: number) => Promise<void>): Promise<number> {
  const i = c.endpoints().indexOf(inUse());
  say(`${name} member ${i} (${c.clientUrl(i)}), the one in use`);
  await apply(i);
  const times: string[] = [];
  for (let n = 0; n < 10; n++) {
    const t0 = performance.now();
    try {
      await client.set(`/demo/after-${name}-${n}`, String(n));
      times.push((performance.now() - t0).toFixed(0));
    } catch (error) {
      // The honest answer for a write that was in flight when its member froze: it may land later.
      if (!(error instanceof EtcdError && error.code === "OUTCOME_UNKNOWN")) throw error;
      const why = error.errors.at(-1)?.message ?? error.message;
      times.push(`${(performance.now() - t0).toFixed(0)} (OUTCOME_UNKNOWN: in flight when ${why})`);
    }
  }
  say(`the next 10 sets took (ms): ${times.join(", ")}`);
  return i;
}

function describe(ev: V2WatchEvent): string {
  return `${ev.action} ${ev.node?.key ?? ""}=${ev.node?.value ?? ""} (index ${ev.node?.modifiedIndex ?? "?"})`;
}

function etcdFound(): boolean {
  try {
    etcdBin();
    return true;
  } catch {
    return false;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Installs Debian's etcd-server when etcd is missing and we are root; otherwise says what to do. */
function ensureEtcd(): void {
  if (etcdFound()) return;
  const aptGet = findOnPath("apt-get", ["/usr/bin"]);
  if (process.getuid?.() === 0 && aptGet !== undefined) {
    say("etcd not found: installing Debian's etcd-server package (apt-get)");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync(aptGet, ["update", "-qq"], { stdio: "inherit", env });
    execFileSync(aptGet, ["install", "-y", "-qq", "etcd-server"], { stdio: "inherit", env });
    if (etcdFound()) return;
  }
  console.error(
    "etcd was not found. On Debian/Ubuntu: sudo apt-get install etcd-server\n" +
      "Elsewhere: set ETCD_BIN to an etcd 3.4 or 3.5 binary (the demo passes --enable-v2=true).",
  );
  process.exit(1);
}

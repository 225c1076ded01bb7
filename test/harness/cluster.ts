import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etcdBin } from "./etcd-bin.js";
import { request, type RequestTls } from "./http.js";
import { Member, MemberStartError } from "./member.js";
import { freePorts } from "./ports.js";
import { TEMP_PREFIX, trackDir, untrackDir } from "./registry.js";
import { generateTls, type ClusterTls, type GeneratedTls } from "./tls.js";
import { sleep } from "./proc.js";

/** Options for {@link startCluster}. */
export interface ClusterOptions {
  size?: 1 | 3 | 5;
  /** Serve the client port over TLS with a freshly generated CA (peers stay plain http). */
  tls?: boolean;
  /** Require a client certificate signed by that CA; implies `tls`. */
  clientCertAuth?: boolean;
  /** Enable v2 auth with a `root` user once the cluster is up. */
  auth?: boolean;
  /**
   * Enable v3 auth with a `root` user (password `rootPassword`) holding the `root` role, through
   * the gRPC gateway (JSON over HTTP), so no client under test is involved.
   */
  v3Auth?: boolean;
  /** Password of the v2 (or, with `v3Auth`, v3) `root` user; defaults to "rootpw". */
  rootPassword?: string;
  /** Extra etcd flags appended to every member's command line. */
  extraArgs?: string[];
  /** Member name prefix, handy when reading `ps` output. */
  name?: string;
  /** How long to wait for every member's /health; 15 s by default. */
  timeoutMs?: number;
}

const PORT_RACE_ATTEMPTS = 3;

/**
 * Timings far below etcd's defaults (100 ms / 1000 ms): fault tests wait for elections and for
 * members to notice a dead leader, so fast-failing members keep those tests short. Still
 * comfortably above the loopback RTT, even on a loaded 2-core machine.
 */
const FAST_RAFT = ["--heartbeat-interval=50", "--election-timeout=500"];

/** A running etcd cluster on loopback ports, owned by this test process. */
export class Cluster implements AsyncDisposable {
  readonly members: readonly Member[];
  readonly size: number;
  /** Client-side TLS material, for TLS clusters. */
  readonly tls: ClusterTls | undefined;
  /** Password of the v2 root user, for auth clusters. */
  readonly rootPassword: string | undefined;
  /** How long start-up took, from first spawn to every member healthy. */
  startupMs = 0;
  readonly #tlsDir: string | undefined;
  #stopping: Promise<void> | undefined;

  /** Wraps already-spawned members; use {@link startCluster} instead. */
  constructor(members: Member[], tls: ClusterTls | undefined, tlsDir: string | undefined, rootPassword: string | undefined) {
    this.members = members;
    this.size = members.length;
    this.tls = tls;
    this.#tlsDir = tlsDir;
    this.rootPassword = rootPassword;
  }

  /** Member `i`; throws on a bad index. */
  member(i: number): Member {
    const m = this.members[i];
    if (m === undefined) throw new RangeError(`no member ${i} in a ${this.size}-member cluster`);
    return m;
  }

  /** Client URLs of all members. */
  endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** Client URL of member `i`. */
  clientUrl(i: number): string {
    return this.member(i).clientUrl;
  }

  /** Peer URL of member `i`. */
  peerUrl(i: number): string {
    return this.member(i).peerUrl;
  }

  /** A unique key prefix such as `/t-1a2b3c4d-name`, so that tests can share one cluster. */
  prefix(name?: string): string {
    const rand = randomBytes(4).toString("hex");
    return name === undefined ? `/t-${rand}` : `/t-${rand}-${name.replace(/[^\w.-]+/g, "_")}`;
  }

  /** TLS options for the harness's own requests (CA plus client certificate). */
  requestTls(): RequestTls | undefined {
    return this.tls === undefined ? undefined : { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key };
  }

  /** Index of the member whose /v2/stats/self says StateLeader; polls up to `timeoutMs`. */
  async leader(timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    const tls = this.requestTls();
    for (;;) {
      const states = await Promise.all(this.members.map(async (m) => {
        // Paused members would just eat the per-request timeout; down ones refuse at once anyway.
        if (!m.running || m.paused) return undefined;
        try {
          const res = await request(`${m.clientUrl}/v2/stats/self`, { timeoutMs: 500, tls });
          return (JSON.parse(res.body) as { state?: unknown }).state;
        } catch {
          return undefined;
        }
      }));
      const i = states.indexOf("StateLeader");
      if (i >= 0) return i;
      if (Date.now() >= deadline) throw new Error(`no leader among ${this.size} members after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Waits until member `i` (or every running member) answers /health with 200. */
  async waitHealthy(i?: number, timeoutMs = 15_000): Promise<void> {
    const targets = i === undefined ? this.members.filter((m) => m.running) : [this.member(i)];
    await Promise.all(targets.map((m) => m.waitHealthy(timeoutMs)));
  }

  /** Isolates member `i` from its peers (see {@link Member.isolate}). */
  isolate(i: number): Promise<void> {
    return this.member(i).isolate();
  }

  /** Undoes {@link isolate} for member `i`. */
  heal(i: number): void {
    this.member(i).heal();
  }

  /** Kills every member, removes its rules and temp dirs; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // SIGKILL rather than SIGTERM: the data is thrown away, and a gracefully stopping leader would
    // try to hand leadership to followers that are stopping too, stalling for seconds.
    await Promise.all(this.members.map((m) => m.kill()));
    for (const m of this.members) {
      m.heal();
      keepLog(m);
      removeDir(m.dir);
    }
    if (this.#tlsDir !== undefined) removeDir(this.#tlsDir);
  }

  /** Same as {@link stop}, for `await using cluster = await startCluster()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * With TEST_KEEP_ETCD_LOGS=<dir> (not an ETCD_* name: etcd reads those as flags), each member's
 * log is copied there before its data directory goes, for a run whose server side must be read.
 */
function keepLog(m: { name: string; dir: string }): void {
  const into = process.env["TEST_KEEP_ETCD_LOGS"];
  const log = join(m.dir, "etcd.log");
  if (into === undefined || into === "" || !existsSync(log)) return;
  mkdirSync(into, { recursive: true });
  copyFileSync(log, join(into, `${m.dir.split("/").pop() ?? "member"}-${m.name}.log`));
}

function makeDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${label}-`));
  trackDir(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  untrackDir(dir);
}

function memberArgs(m: { name: string; dir: string; clientUrl: string; peerUrl: string }, common: string[]): string[] {
  return [
    `--name=${m.name}`,
    `--data-dir=${join(m.dir, "data")}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    // Inside the member's temp dir but outside data/, which etcd wants to own.
    `--log-outputs=${join(m.dir, "etcd.log")}`,
    ...common,
  ];
}

function tlsArgs(tls: GeneratedTls | undefined, clientCertAuth: boolean): string[] {
  if (tls === undefined) return [];
  const args = [`--cert-file=${tls.serverCertPath}`, `--key-file=${tls.serverKeyPath}`];
  if (clientCertAuth) args.push("--client-cert-auth", `--trusted-ca-file=${tls.caPath}`);
  return args;
}

interface Slot {
  name: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
}

function layout(names: string[], ports: number[], scheme: "http" | "https"): Slot[] {
  return names.map((name, i) => {
    const clientPort = ports[2 * i]!;
    const peerPort = ports[2 * i + 1]!;
    return { name, clientPort, peerPort, clientUrl: `${scheme}://127.0.0.1:${clientPort}`, peerUrl: `http://127.0.0.1:${peerPort}` };
  });
}

/** Flags shared by every member of one cluster. */
function commonArgs(slots: Slot[], opts: ClusterOptions, tls: GeneratedTls | undefined): string[] {
  return [
    `--initial-cluster=${slots.map((m) => `${m.name}=${m.peerUrl}`).join(",")}`,
    // A unique token keeps members of concurrently running clusters from ever joining each other.
    `--initial-cluster-token=etcd-ts-${process.pid}-${randomBytes(6).toString("hex")}`,
    "--initial-cluster-state=new",
    "--enable-v2=true",
    ...FAST_RAFT,
    "--logger=zap",
    "--log-level=warn",
    ...tlsArgs(tls, opts.clientCertAuth === true),
    ...(opts.extraArgs ?? []),
  ];
}

/** Spawns one set of members on fresh ports and waits for all of them to be healthy. */
async function launch(opts: ClusterOptions, etcd: string, tls: GeneratedTls | undefined): Promise<Member[]> {
  const names = Array.from({ length: opts.size ?? 3 }, (_, i) => `${opts.name ?? "etcd-ts"}-${i}`);
  const scheme = tls === undefined ? "http" : "https";
  const slots = layout(names, await freePorts(2 * names.length), scheme);
  const common = commonArgs(slots, opts, tls);
  const root = process.getuid?.() === 0;
  const requestTls = tls === undefined ? undefined : { ca: tls.ca, cert: tls.cert, key: tls.key };
  const members = slots.map((slot, index) => {
    const dir = makeDir(slot.name);
    return new Member({
      index, name: slot.name, clientPort: slot.clientPort, peerPort: slot.peerPort, scheme, dir, etcd,
      args: memberArgs({ ...slot, dir }, common),
      // A gid of its own per member is what lets iptables tell this member's packets apart.
      gid: root ? 200_000 + slot.peerPort : undefined,
      tls: requestTls,
    });
  });
  try {
    for (const m of members) m.spawn();
    await Promise.all(members.map((m) => m.waitHealthy(opts.timeoutMs ?? 15_000)));
    return members;
  } catch (err) {
    await Promise.all(members.map((m) => m.kill()));
    for (const m of members) removeDir(m.dir);
    throw err;
  }
}

/** Turns on etcd v2 auth: creates the root user, then enables auth. */
async function enableV2Auth(url: string, password: string, tls: RequestTls | undefined): Promise<void> {
  const put = async (path: string, body?: string): Promise<void> => {
    const res = await request(`${url}${path}`, {
      method: "PUT", timeoutMs: 10_000, tls, headers: { "content-type": "application/json" }, body,
    });
    if (res.status < 200 || res.status > 299) throw new Error(`PUT ${path} answered ${res.status}: ${res.body}`);
  };
  await put("/v2/auth/users/root", JSON.stringify({ user: "root", password }));
  await put("/v2/auth/enable");
}

/** Turns on etcd v3 auth: creates the root user, grants it the root role, enables auth (JSON gateway). */
async function enableV3Auth(url: string, password: string, tls: RequestTls | undefined): Promise<void> {
  const post = async (path: string, body: object): Promise<void> => {
    const res = await request(`${url}${path}`, {
      method: "POST", timeoutMs: 10_000, tls, headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    if (res.status < 200 || res.status > 299) throw new Error(`POST ${path} answered ${res.status}: ${res.body}`);
  };
  await post("/v3/auth/user/add", { name: "root", password });
  await post("/v3/auth/user/grant", { user: "root", role: "root" });
  await post("/v3/auth/enable", {});
}

/**
 * Starts an etcd cluster on free loopback ports and resolves once every member's /health is 200.
 * A 3-member start takes 0.2-2.5 s here: besides the election, each new etcd 3.4 member asks its
 * peers whether it was already bootstrapped, and a peer whose listener is open but not yet serving
 * holds that question for etcd's fixed 1 s bootstrap timeout.
 * Retries with new ports (up to 3 times) when another process grabs one of ours first.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const etcd = etcdBin();
  const wantTls = opts.tls === true || opts.clientCertAuth === true;
  const tlsDir = wantTls ? makeDir("tls") : undefined;
  const rootPassword = opts.auth === true || opts.v3Auth === true ? (opts.rootPassword ?? "rootpw") : undefined;
  let cluster: Cluster | undefined;
  try {
    const tls = tlsDir === undefined ? undefined : await generateTls(tlsDir);
    const started = Date.now();
    for (let attempt = 1; cluster === undefined; attempt++) {
      try {
        cluster = new Cluster(await launch(opts, etcd, tls), tls, tlsDir, rootPassword);
      } catch (err) {
        if (!(err instanceof MemberStartError && err.code === "EADDRINUSE" && attempt < PORT_RACE_ATTEMPTS)) throw err;
      }
    }
    cluster.startupMs = Date.now() - started;
    if (rootPassword !== undefined && opts.auth === true) await enableV2Auth(cluster.clientUrl(0), rootPassword, cluster.requestTls());
    if (rootPassword !== undefined && opts.v3Auth === true) await enableV3Auth(cluster.clientUrl(0), rootPassword, cluster.requestTls());
    return cluster;
  } catch (err) {
    if (cluster !== undefined) await cluster.stop();
    else if (tlsDir !== undefined) removeDir(tlsDir);
    throw err;
  }
}

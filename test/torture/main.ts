/**
 * `npm run torture`: torture runs against fresh local clusters, with their summaries printed.
 *
 *   node --import tsx test/torture/main.ts [--api v2|v3|both] [--minutes M] [--seconds S] [--seed N]
 *     [--workers N] [--members 3|5] [--unsafe-retry] [--generation S] [--think MS] [--save FILE]
 *   node --import tsx test/torture/main.ts --check FILE     (checks a saved run again, no cluster)
 *   node --import tsx test/torture/main.ts --workload lock|election [--seconds S] [--seed N]
 *     [--workers N] [--members 3|5] [--ttl SECONDS] [--unsafe-loss-deadline] [--resume-paused-leader]
 *
 * `--workload lock` and `--workload election` (v3 concurrency; see locks.ts) run instead of the
 * register workload (`--workload register`, the default): N workers take a mutex in turn and do
 * a read-modify-write of a register fenced by the lock's revision, or campaign, lead and resign
 * while an observer follows, under the same nemesis plus whole-cluster freezes past the session TTL
 * (default 2 s). Checked: believed holdings (or leaderships) never overlap; the fenced register is
 * linearizable; observe() reports leaders in order. CI's short mode: `--workload lock --seconds 30`.
 * `--unsafe-loss-deadline` makes workers notice a loss one TTL late (a 2 x TTL loss deadline):
 * the exclusion check must then fail. A paused leader is repaired by SIGKILL and restart, since
 * etcd revokes renewed leases from a leader resumed by SIGCONT (nemesis.ts); `--resume-paused-leader`
 * resumes it anyway, to show that server-side fault.
 *
 * `--api both` (the default) runs the v2 client, then the v3 client, each on its own cluster for
 * the whole duration and with the same seed, so either can be replayed alone with `--api`; a
 * `--api v2` run is exactly what this command did before v3 existed.
 *
 * Exits 1 when a history is not linearizable, the watch missed or repeated an event, or (v3) a
 * revision contradicts real-time order; a failed run's record is saved (to --save FILE, with
 * ".v2"/".v3" before the extension when both run, or a temp file) so it can be checked again offline.
 */
import { extname } from "node:path";
import { parseArgs } from "node:util";
import { randomSeed } from "./prng.js";
import { formatReport } from "./report.js";
import { runLockTorture, type LockWorkload } from "./locks.js";
import { analyze, loadRecord, recordRun, saveRecord, type RunRecord, type TortureApi, type TortureOptions } from "./run.js";

const { values } = parseArgs({
  options: {
    api: { type: "string" },
    minutes: { type: "string" },
    seconds: { type: "string" },
    seed: { type: "string" },
    workers: { type: "string" },
    members: { type: "string" },
    "unsafe-retry": { type: "boolean" },
    generation: { type: "string" },
    think: { type: "string" },
    save: { type: "string" },
    check: { type: "string" },
    workload: { type: "string" },
    ttl: { type: "string" },
    "unsafe-loss-deadline": { type: "boolean" },
    "resume-paused-leader": { type: "boolean" },
  },
  strict: true,
});

function num(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${text}`);
  return n;
}

function apis(): TortureApi[] {
  const api = values.api ?? "both";
  if (api === "both") return ["v2", "v3"];
  if (api === "v2" || api === "v3") return [api];
  throw new Error(`--api must be v2, v3 or both, got ${api}`);
}

function options(seed: number, api: TortureApi): TortureOptions {
  const members = num("members", values.members, 3);
  if (members !== 3 && members !== 5) throw new Error(`--members must be 3 or 5, got ${members}`);
  const seconds = values.seconds !== undefined ? num("seconds", values.seconds, 60) : num("minutes", values.minutes, 1) * 60;
  return {
    durationMs: seconds * 1000,
    seed,
    api,
    workers: Math.max(1, Math.floor(num("workers", values.workers, 8))),
    members,
    unsafeRetry: values["unsafe-retry"] === true,
    generationMs: num("generation", values.generation, 15) * 1000,
    thinkMs: num("think", values.think, 10),
    log: (line) => {
      console.log(line);
    },
  };
}

/** Analyzes and prints one record; saves it if asked to or if it failed; true when it passed. */
function conclude(record: RunRecord, save: string | undefined): boolean {
  const result = analyze(record);
  for (const line of formatReport(result)) console.log(line);
  if (save !== undefined || (!result.ok && values.check === undefined)) {
    const where = saveRecord(record, save);
    console.log(`run record saved to ${where} (check it again with --check ${where})`);
  }
  return result.ok;
}

/** The lock or election workload: its own cluster, run and checks; true when it passed. */
async function lockTorture(workload: LockWorkload, seed: number): Promise<boolean> {
  const members = num("members", values.members, 3);
  if (members !== 3 && members !== 5) throw new Error(`--members must be 3 or 5, got ${members}`);
  const seconds = values.seconds !== undefined ? num("seconds", values.seconds, 60) : num("minutes", values.minutes, 1) * 60;
  const result = await runLockTorture({
    workload,
    durationMs: seconds * 1000,
    seed,
    workers: Math.max(2, Math.floor(num("workers", values.workers, 4))),
    members,
    ttl: Math.max(1, Math.floor(num("ttl", values.ttl, 2))),
    unsafeLossDeadline: values["unsafe-loss-deadline"] === true,
    resumePausedLeader: values["resume-paused-leader"] === true,
    log: (line) => {
      console.log(line);
    },
  });
  for (const line of result.lines) console.log(line);
  return result.ok;
}

async function main(): Promise<void> {
  const workload = values.workload ?? "register";
  if (workload === "lock" || workload === "election") {
    process.exitCode = (await lockTorture(workload, Math.floor(num("seed", values.seed, randomSeed())))) ? 0 : 1;
    return;
  }
  if (workload !== "register") throw new Error(`--workload must be register, lock or election, got ${workload}`);
  if (values.check !== undefined) {
    process.exitCode = conclude(loadRecord(values.check), values.save) ? 0 : 1;
    return;
  }
  const which = apis();
  const seed = Math.floor(num("seed", values.seed, randomSeed()));
  let ok = true;
  for (const api of which) {
    const save = values.save === undefined || which.length === 1 ? values.save : withSuffix(values.save, api);
    ok = conclude(await recordRun(options(seed, api)), save) && ok;
  }
  if (which.length > 1) console.log(`== torture: ${ok ? "OK" : "FAILED"} (${which.join(" and ")}, seed ${seed})`);
  process.exitCode = ok ? 0 : 1;
}

/** `run.json` → `run.v3.json`. */
function withSuffix(path: string, api: TortureApi): string {
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.${api}${ext}`;
}

await main();

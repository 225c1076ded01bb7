/**
 * `npm test`: everything that checks etcd-ts, against every etcd version this machine has.
 *
 *   npm test [-- --versions 3.4,3.5] [--suites unit,integration,faults,torture] [--concurrency N] [files…]
 *
 * 1. Finds etcd (ETCD_BIN, PATH, /usr/bin/etcd); as root on Debian/Ubuntu it installs
 *    etcd-server and etcd-client itself, otherwise it says what to install.
 * 2. Finds etcd 3.5: ETCD35_BIN (an etcd binary with etcdctl beside it), the folder
 *    scripts/etcd-3.5.sh fills, or, as root, that script run now (Debian trixie's packages).
 * 3. Runs the unit tests once, then for each etcd version the integration suite, the fault suite
 *    and the torture short mode, with ETCD_BIN/ETCDCTL_BIN (and PATH) naming that version. The
 *    second version's CLI suites run the built bin (scripts/build-bin.ts; ETCD_TS_CLI=dist), the
 *    first's the sources, unless ETCD_TS_CLI is set.
 * 4. Prints each version's results, then one plain line `N passed, N failed, N skipped` summing
 *    every run, and exits 1 if anything failed.
 * Given test files, only those run (each in the suite whose folder holds it).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";

/** One etcd installation the suites run against. */
interface Target {
  readonly version: string;
  readonly etcd: string;
  readonly etcdctl: string | undefined;
}

/** What one test run reported. */
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** One line of the final table. */
interface Row extends Counts {
  readonly label: string;
  readonly seconds: number;
  /** The spec reporter's "failing tests" section, repeated after the table so a log's tail names what failed. */
  readonly failures: string;
}

/** At most this many lines of one suite's failures are repeated at the end. */
const FAILURE_LINES = 80;

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const SUITES = ["unit", "integration", "faults", "torture"] as const;
type Suite = (typeof SUITES)[number];
/** The torture short mode lives with the fault tests but runs as its own step. */
const TORTURE_FILE = "test/faults/torture.test.ts";
const DEFAULT_35_DIR = process.env["ETCD35_DIR"] ?? "/var/cache/etcd-ts/etcd-3.5";

const { values, positionals } = parseArgs({
  options: { versions: { type: "string" }, suites: { type: "string" }, concurrency: { type: "string" } },
  allowPositionals: true,
  strict: true,
});
const only = positionals.map((f) => f.replace(/^\.\//, ""));
const suites = new Set<Suite>(
  (values.suites ?? SUITES.join(",")).split(",").map((s) => {
    if (!(SUITES as readonly string[]).includes(s)) throw new Error(`--suites: unknown suite ${s} (${SUITES.join(", ")})`);
    return s as Suite;
  }),
);
const concurrency = Number(values.concurrency ?? process.env["TEST_CONCURRENCY"] ?? 3);

function executable(path: string | undefined): path is string {
  if (path === undefined || path === "") return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/bin"];
  return dirs.map((d) => join(d, name)).find((p) => executable(p));
}

function findEtcd(): string | undefined {
  const fromEnv = process.env["ETCD_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") return executable(fromEnv) ? fromEnv : undefined;
  return onPath("etcd");
}

/** Finds etcd and etcdctl, installing Debian's packages when root; exits saying what to install otherwise. */
function ensureEtcd(): string {
  const missing = [findEtcd() === undefined ? "etcd-server" : "", onPath("etcdctl") === undefined ? "etcd-client" : ""].filter((p) => p !== "");
  const aptGet = onPath("apt-get");
  if (missing.length > 0 && process.getuid?.() === 0 && aptGet !== undefined && process.env["ETCD_BIN"] === undefined) {
    console.log(`test: installing Debian's ${missing.join(" ")} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync(aptGet, ["update", "-qq"], { stdio: "inherit", env });
    execFileSync(aptGet, ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
  }
  const etcd = findEtcd();
  if (etcd !== undefined) return etcd;
  console.error(
    "test: etcd was not found" + (process.env["ETCD_BIN"] !== undefined ? ` (ETCD_BIN=${process.env["ETCD_BIN"]} is not executable)` : "") + ".\n" +
      "  Debian/Ubuntu: sudo apt-get install etcd-server etcd-client (or run npm test as root to have it done)\n" +
      "  Elsewhere: set ETCD_BIN to an etcd 3.4 or 3.5 binary (etcdctl beside it for the CLI comparisons).",
  );
  process.exit(2);
}

function target(etcd: string): Target {
  const out = execFileSync(etcd, ["--version"], { encoding: "utf8" });
  const version = /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? "unknown";
  const beside = join(dirname(etcd), "etcdctl");
  return { version, etcd, etcdctl: executable(beside) ? beside : onPath("etcdctl") };
}

/** etcd 3.5 from ETCD35_BIN, the cache scripts/etcd-3.5.sh fills, or (root) that script run now. */
function find35(): string | undefined {
  const fromEnv = process.env["ETCD35_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") {
    if (executable(fromEnv)) return fromEnv;
    throw new Error(`ETCD35_BIN=${fromEnv} is not an executable file`);
  }
  const cached = join(DEFAULT_35_DIR, "root/usr/bin/etcd");
  if (executable(cached)) return cached;
  if (process.getuid?.() !== 0) {
    console.log("test: etcd 3.5 not found: set ETCD35_BIN, or run as root to fetch Debian trixie's (scripts/etcd-3.5.sh)");
    return undefined;
  }
  console.log("test: fetching etcd 3.5 (scripts/etcd-3.5.sh)");
  const run = spawnSync("bash", [join(ROOT, "scripts/etcd-3.5.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const bin = run.stdout.trim().split("\n").at(-1) ?? "";
  if (run.status === 0 && executable(join(bin, "etcd"))) return join(bin, "etcd");
  console.log("test: could not fetch etcd 3.5; running against the other version only");
  return undefined;
}

function testFiles(dir: string, exclude: readonly string[] = []): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `${dir}/${f}`)
    .filter((f) => !exclude.includes(f) && (only.length === 0 || only.includes(f)))
    .sort();
}

/** The spec reporter's closing "failing tests" section (names, locations, errors), or "" if none. */
function failingSection(output: string): string {
  const start = output.indexOf("✖ failing tests:");
  if (start < 0) return "";
  // Node's spec reporter prints this section last, after the counts.
  const lines = output.slice(start).trimEnd().split("\n");
  const kept = lines.slice(0, FAILURE_LINES);
  if (lines.length > kept.length) kept.push(`… ${lines.length - kept.length} more lines above, in the suite's own output`);
  return kept.join("\n");
}

/** Reads the spec reporter's closing summary; a run that died before it counts as one failure. */
function summary(output: string, code: number | null): Counts {
  const count = (name: string): number => Number(new RegExp(`^ℹ ${name} (\\d+)$`, "m").exec(output)?.[1] ?? "NaN");
  const [pass, fail, cancelled, skipped, todo] = ["pass", "fail", "cancelled", "skipped", "todo"].map(count);
  if (pass === undefined || Number.isNaN(pass)) return { passed: 0, failed: 1, skipped: 0 };
  const failed = (fail ?? 0) + (cancelled ?? 0) + (code !== 0 && fail === 0 && cancelled === 0 ? 1 : 0);
  return { passed: pass, failed, skipped: (skipped ?? 0) + (todo ?? 0) };
}

/** Runs node's test runner on `files`, each output line prefixed with `label`, and counts the results. */
function runNodeTests(label: string, files: readonly string[], env: NodeJS.ProcessEnv, jobs: number): Promise<Row | undefined> {
  if (files.length === 0) return Promise.resolve(undefined);
  const started = performance.now();
  const args = ["--import", "tsx", "--test", "--test-reporter=spec", `--test-concurrency=${jobs}`, "--test-timeout=240000", ...files];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let partial = "";
  const relay = (chunk: Buffer): void => {
    const text = partial + chunk.toString("utf8");
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) process.stdout.write(`[${label}] ${line}\n`);
    output += text.slice(0, text.length - partial.length);
  };
  child.stdout.on("data", relay);
  child.stderr.on("data", relay);
  return new Promise((done) => {
    child.on("close", (code) => {
      if (partial !== "") relay(Buffer.from("\n"));
      const counts = summary(output, code);
      done({ label, seconds: (performance.now() - started) / 1000, ...counts, failures: failingSection(output) });
    });
  });
}

function versionEnv(t: Target): NodeJS.ProcessEnv {
  // No ETCD_* variables of our own beyond ETCD_BIN: etcd reads every ETCD_* variable as a flag (it
  // only warns about ETCD_BIN) and refuses to start on a value it cannot parse.
  const env: NodeJS.ProcessEnv = { ...process.env, ETCD_BIN: t.etcd };
  // ETCDCTL_BIN names this version's etcdctl for tests of interop with it. PATH is left alone:
  // the CLI comparisons run the system's etcdctl (3.4), whose v2 texts the etcd-ts command
  // reproduces; etcdctl 3.5 words a few of them differently (Go's TLS errors, a docs URL), which
  // is a difference of that binary, not of the server under test.
  if (t.etcdctl !== undefined) env["ETCDCTL_BIN"] = t.etcdctl;
  return env;
}

function targets(primary: string): Target[] {
  const all = [target(primary)];
  const wanted = values.versions?.split(",");
  const e35 = wanted === undefined || wanted.includes("3.5") ? find35() : undefined;
  if (e35 !== undefined) {
    const t = target(e35);
    if (!all.some((a) => a.version === t.version)) all.push(t);
  }
  return all.filter((t) => wanted === undefined || wanted.some((w) => t.version.startsWith(w)));
}

function table(rows: readonly Row[]): void {
  console.log("\n== results");
  for (const r of rows) {
    console.log(`${r.label.padEnd(28)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${String(r.skipped).padStart(3)} skipped  ${r.seconds.toFixed(0).padStart(4)} s`);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const needsEtcd = [...suites].some((s) => s !== "unit");
  const list = needsEtcd ? targets(ensureEtcd()) : [];
  if (needsEtcd) console.log(`test: etcd ${list.map((t) => `${t.version} (${t.etcd})`).join(", ")}`);
  const rows: (Row | undefined)[] = [];
  if (suites.has("unit")) rows.push(await runNodeTests("unit", testFiles("test/unit"), process.env, concurrency));
  for (const [i, t] of list.entries()) {
    const env = versionEnv(t);
    // The CLI suites run the sources against the first version and the bundle npm installs
    // (dist/esm/cli, built here from the same sources) against the second, so both are checked.
    const bundle = i > 0 && suites.has("integration") && process.env["ETCD_TS_CLI"] === undefined;
    if (bundle) {
      execFileSync(process.execPath, ["--import", "tsx", "scripts/build-bin.ts"], { stdio: "inherit" });
      env["ETCD_TS_CLI"] = "dist";
    }
    if (suites.has("integration")) rows.push(await runNodeTests(`${t.version} integration${bundle ? " (bin)" : ""}`, testFiles("test/integration"), env, concurrency));
    if (suites.has("faults")) rows.push(await runNodeTests(`${t.version} faults`, testFiles("test/faults", [TORTURE_FILE]), env, concurrency));
    if (suites.has("torture")) rows.push(await runNodeTests(`${t.version} torture`, testFiles("test/faults").filter((f) => f === TORTURE_FILE), env, 1));
  }
  const ran = rows.filter((r) => r !== undefined);
  for (const r of ran) if (r.failed > 0) console.log(`\n== failures of ${r.label}\n${r.failures === "" ? "(no failing-tests section: the run ended early; see its output above)" : r.failures}`);
  table(ran);
  const sum = (k: keyof Counts): number => ran.reduce((n, r) => n + r[k], 0);
  const skipped = sum("skipped");
  console.log(`time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${sum("passed")} passed, ${sum("failed")} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
  process.exitCode = sum("failed") > 0 ? 1 : 0;
}

await main();

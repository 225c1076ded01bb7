/**
 * `npm run torture`: one torture run against a fresh local cluster, with its summary printed.
 *
 *   node --import tsx test/torture/main.ts [--minutes M] [--seconds S] [--seed N] [--workers N]
 *     [--members 3|5] [--unsafe-retry] [--generation S] [--think MS] [--save FILE]
 *   node --import tsx test/torture/main.ts --check FILE     (checks a saved run again, no cluster)
 *
 * Exits 1 when a history is not linearizable or the watch missed or repeated an event; a failed
 * run's record is saved (to --save FILE, or a temp file) so it can be checked again offline.
 */
import { parseArgs } from "node:util";
import { randomSeed } from "./prng.js";
import { formatReport } from "./report.js";
import { analyze, loadRecord, recordRun, saveRecord, type TortureOptions } from "./run.js";

const { values } = parseArgs({
  options: {
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
  },
  strict: true,
});

function num(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${text}`);
  return n;
}

function options(): TortureOptions {
  const members = num("members", values.members, 3);
  if (members !== 3 && members !== 5) throw new Error(`--members must be 3 or 5, got ${members}`);
  const seconds = values.seconds !== undefined ? num("seconds", values.seconds, 60) : num("minutes", values.minutes, 1) * 60;
  return {
    durationMs: seconds * 1000,
    seed: Math.floor(num("seed", values.seed, randomSeed())),
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

async function main(): Promise<void> {
  const record = values.check !== undefined ? loadRecord(values.check) : await recordRun(options());
  const result = analyze(record);
  for (const line of formatReport(result)) console.log(line);
  if (values.save !== undefined || (!result.ok && values.check === undefined)) {
    const where = saveRecord(record, values.save);
    console.log(`run record saved to ${where} (check it again with --check ${where})`);
  }
  process.exitCode = result.ok ? 0 : 1;
}

await main();

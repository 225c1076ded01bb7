/**
 * The fuzz runner: `npm run fuzz -- [--seconds N] [--runs N] [target ...]`.
 *
 * Every module in `test/fuzz/` except this one is a target and exports exactly:
 *   export const name: string;                   // what `npm run fuzz -- <name>` selects
 *   export const property: fc.IRawProperty<any>;  // a fast-check property (fc.property(...))
 * The property must hold for any input: typically "decoding these bytes ends in a valid result
 * or in the decoder's own typed error, never another exception, and never holds more than its
 * limits allow". With no target named, every target runs; `--seconds` bounds each target's time
 * (default 10), `--runs` its iterations (default: as many as the time allows). `test/unit/fuzz.test.ts`
 * runs every target briefly as part of the unit tests.
 */
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fc from "fast-check";

/** What a target module exports. */
export interface FuzzTarget {
  readonly name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each target's property has its own argument tuple
  readonly property: fc.IRawProperty<any>;
}

/** Loads every target module beside this file, in file-name order. */
export async function loadTargets(): Promise<FuzzTarget[]> {
  const here = dirname(fileURLToPath(import.meta.url));
  const files = readdirSync(here)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && basename(f) !== "main.ts")
    .sort();
  const targets: FuzzTarget[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as Partial<FuzzTarget>;
    if (typeof mod.name !== "string" || mod.property === undefined) throw new Error(`test/fuzz/${file} must export { name, property }`);
    targets.push({ name: mod.name, property: mod.property });
  }
  return targets;
}

/** Runs one target for at most `seconds` (and `runs` iterations when given); returns fast-check's verdict. */
export function runTarget(target: FuzzTarget, seconds: number, runs: number | undefined): fc.RunDetails<unknown> {
  return fc.check(target.property, {
    numRuns: runs ?? Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: seconds * 1000,
    markInterruptAsFailure: false,
  }) as fc.RunDetails<unknown>;
}

function parseArgs(argv: readonly string[]): { seconds: number; runs: number | undefined; names: string[] } {
  let seconds = 10;
  let runs: number | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--seconds" || arg === "--runs") {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${arg} needs a positive number`);
      if (arg === "--seconds") seconds = value;
      else runs = Math.floor(value);
    } else names.push(arg);
  }
  return { seconds, runs, names };
}

async function main(): Promise<void> {
  const { seconds, runs, names } = parseArgs(process.argv.slice(2));
  const all = await loadTargets();
  const unknown = names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length > 0) throw new Error(`unknown target(s) ${unknown.join(", ")}; known: ${all.map((t) => t.name).join(", ")}`);
  const chosen = names.length === 0 ? all : all.filter((t) => names.includes(t.name));
  let failed = 0;
  for (const target of chosen) {
    const started = performance.now();
    const details = runTarget(target, seconds, runs);
    const s = ((performance.now() - started) / 1000).toFixed(1);
    if (details.failed) {
      failed++;
      console.log(`${target.name}: FAILED after ${details.numRuns} runs (${s} s)\n${fc.defaultReportMessage(details)}`);
    } else console.log(`${target.name}: ${details.numRuns} runs, no failure (${s} s)`);
  }
  console.log(`${chosen.length - failed} passed, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

/**
 * The human-readable summary of a torture run: operations by kind and outcome, faults, the
 * checker's verdicts, the watch check, and for each violation the shrunk history and the seed.
 */
import type { HistoryOp } from "./checker.js";
import { describeOp, type RegisterOp } from "./register.js";
import type { KeyVerdict, TortureResult } from "./run.js";
import type { TortureOp } from "./workers.js";

/** The summary, one line per element. */
export function formatReport(r: TortureResult): string[] {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`== torture summary: ${o.api ?? "v2"}, seed ${o.seed}, ${o.members} members, ${o.workers} workers, ${(o.durationMs / 1000).toFixed(0)} s, unsafe retry ${o.unsafeRetry ? "ON" : "off"}`);
  lines.push(...operationLines(r.ops));
  lines.push(faultLine(r));
  lines.push(...verdictLines(r.verdicts));
  lines.push(...watchLines(r));
  lines.push(...revisionLines(r));
  for (const v of r.verdicts.filter((x) => x.result.verdict === "violation")) lines.push(...violationLines(v, r));
  const replay = `--api ${o.api ?? "v2"} --seed ${o.seed}${o.unsafeRetry ? " --unsafe-retry" : ""}`;
  lines.push(r.ok ? `verdict: OK (${o.api ?? "v2"}, seed ${o.seed})` : `verdict: FAILED (${o.api ?? "v2"}, seed ${o.seed}; replay the fault schedule with ${replay})`);
  return lines;
}

function operationLines(ops: readonly TortureOp[]): string[] {
  const lines = [`operations: ${ops.length} (final reads included)`];
  for (const kind of ["read", "set", "create", "cas", "put", "txn", "delete"] as const) {
    const mine = ops.filter((op) => op.kind === kind);
    if (mine.length === 0) continue;
    const counts = tally(mine.map((op) => op.outcome));
    const unknownCodes = tally(mine.filter((op) => op.outcome === "unknown" || op.outcome === "not-applied" || op.outcome === "failed-read").map((op) => `${op.code ?? op.untyped ?? "?"}${op.delivery === undefined ? "" : `/${op.delivery}`}`));
    lines.push(`  ${kind.padEnd(6)} ${String(mine.length).padStart(6)}: ${counts}${unknownCodes === "" ? "" : `  [failures: ${unknownCodes}]`}`);
  }
  const untyped = ops.filter((op) => op.untyped !== undefined).length;
  if (untyped > 0) lines.push(`  ${untyped} operations failed with something other than an EtcdError`);
  return lines;
}

function faultLine(r: TortureResult): string {
  const done = tally(r.faults.map((f) => f.fault.kind));
  const failed = r.faults.filter((f) => f.error !== undefined).length;
  return `faults injected: ${r.faults.length} (${done || "none"})${failed > 0 ? `, ${failed} with errors` : ""}${r.partitionsSkipped === undefined ? "" : `; isolate skipped: ${r.partitionsSkipped}`}`;
}

function verdictLines(verdicts: readonly KeyVerdict[]): string[] {
  const by = (v: string): KeyVerdict[] => verdicts.filter((x) => x.result.verdict === v);
  const sizes = verdicts.map((v) => v.history.length);
  const range = sizes.length === 0 ? "0" : `${least(sizes)}-${-least(sizes.map((n) => -n))}`;
  const unknownOps = verdicts.reduce((n, v) => n + v.history.filter((h) => h.ret === Infinity).length, 0);
  const steps = verdicts.reduce((n, v) => n + v.result.steps, 0);
  const lines = [
    `linearizability: ${verdicts.length} keys (${range} ops each, ${unknownOps} unknown outcomes, ${steps} search steps): ` +
      `${by("linearizable").length} linearizable, ${by("violation").length} violations, ${by("unknown").length} unknown (budget exceeded)`,
  ];
  for (const v of verdicts) {
    if (v.result.verdict !== "linearizable") lines.push(`  ${v.key}: ${v.result.verdict === "unknown" ? "unknown (budget exceeded)" : "NOT linearizable"} (${v.history.length} ops, ${v.result.steps} steps)`);
  }
  return lines;
}

function watchLines(r: TortureResult): string[] {
  const w = r.watch;
  const lines = [
    `watch: ${w.events} events; ${w.acknowledged} acknowledged writes checked; ${w.unknownApplied} of ${w.unknownTotal} unknown-outcome writes took effect; ` +
      `${w.gaps.length} gaps (cleared history)${w.gaps.length > 0 ? `: ${w.gaps.map((g) => `${g.from}-${g.to}`).join(", ")}` : ""}; ${w.problems.length} problems`,
  ];
  if (r.watchError !== undefined) lines.push(`  watch ended early: ${r.watchError}`);
  for (const p of w.problems.slice(0, 20)) lines.push(`  ${p}`);
  if (w.problems.length > 20) lines.push(`  … ${w.problems.length - 20} more`);
  return lines;
}

/** v3 runs: the cross-key revision check (revisions.ts). */
function revisionLines(r: TortureResult): string[] {
  if (r.revisions === undefined) return [];
  const answered = r.ops.filter((op) => op.index !== undefined && op.ret !== Infinity).length;
  const lines = [`revisions: ${answered} answered operations checked against real-time order across keys; ${r.revisions.length} problems`];
  for (const p of r.revisions.slice(0, 20)) lines.push(`  ${p}`);
  if (r.revisions.length > 20) lines.push(`  … ${r.revisions.length - 20} more`);
  return lines;
}

/** The shrunk history of one violating key, with what the client originally reported for each operation. */
function violationLines(v: KeyVerdict, r: TortureResult): string[] {
  const ops = r.ops;
  const history = v.shrunk?.history ?? v.history;
  const sources = new Map(ops.map((op) => [sourceKey(op.call, op.kind, op.value), op]));
  const t0 = least(history.map((h) => h.call));
  if (v.shrunk === undefined) return [`violation on ${v.key}: ${v.history.length} ops (not shrunk: only the first few violations are)`];
  const notes = [
    v.shrunk.complete ? "" : " (shrinking ran out of time)",
    v.shrunk.anyStart ? ", whatever the key held before the first" : "",
    v.prevNodeOnly === true ? "; visible only through what writes observed (prevNode, prevKv, a refused txn's read): values alone are linearizable" : "",
  ];
  const lines = [`violation on ${v.key}: ${v.history.length} ops shrunk to ${history.length}${notes.join("")}:`];
  for (const h of [...history].sort((a, b) => a.call - b.call)) lines.push(`  ${opLine(h, t0, sources.get(sourceKey(h.call, h.op.kind, h.op.value)))}`);
  lines.push(...unexplained(history, ops));
  lines.push(faultsDuring(history, r));
  return lines;
}

/** The faults active within a second of the witness, in run time, to tell which one provoked it. */
function faultsDuring(history: readonly HistoryOp<RegisterOp>[], r: TortureResult): string {
  const from = least(history.map((h) => h.call)) - r.startedAt;
  const to = -least(history.map((h) => -(h.ret === Infinity ? h.call : h.ret))) - r.startedAt;
  const near = r.faults.filter((f) => f.at <= to + 1_000 && f.repairedAt >= from - 1_000);
  const list = near.map((f) => `#${f.fault.n} ${f.fault.kind} of ${f.targets.join(",")} from ${(f.at / 1000).toFixed(2)} s to ${(f.repairedAt / 1000).toFixed(2)} s`);
  return `  witness spans ${(from / 1000).toFixed(2)}-${(to / 1000).toFixed(2)} s into the run; faults then: ${list.join("; ") || "none"}`;
}

function opLine(h: HistoryOp<RegisterOp>, t0: number, source: TortureOp | undefined): string {
  const span = `[${(h.call - t0).toFixed(1).padStart(8)} → ${h.ret === Infinity ? "     ∞  " : (h.ret - t0).toFixed(1).padStart(8)}] ms`;
  const who = source === undefined ? "" : source.worker < 0 ? "final " : `w${source.worker} `;
  const said = source === undefined ? "" : `   client: ${clientSaid(source, t0)}`;
  return `${span} ${who}${describeOp(h.op)}${said}`;
}

function clientSaid(op: TortureOp, t0: number): string {
  if (op.outcome === "ok" || op.code === undefined) return `${op.outcome}${op.index === undefined ? "" : ` at index ${op.index}`}`;
  return `${op.code}${op.delivery === undefined ? "" : ` (delivery ${op.delivery})`} after ${(op.answeredAt - t0).toFixed(1)} ms`;
}

/** Values read in the witness that no operation in it wrote: say who wrote them and what the client reported. */
function unexplained(history: readonly HistoryOp<RegisterOp>[], ops: readonly TortureOp[]): string[] {
  const written = new Set(history.map((h) => h.op.value));
  const lines: string[] = [];
  for (const value of new Set(history.map((h) => h.op.observed))) {
    if (typeof value !== "string" || written.has(value)) continue;
    const writer = ops.find((op) => op.value === value);
    lines.push(
      writer === undefined
        ? `  note: ${value} was never written by any operation`
        : `  note: ${value} was written by worker ${writer.worker}'s ${writer.kind}, which the client reported as ${writer.outcome}${writer.code === undefined ? "" : ` (${writer.code}${writer.delivery === undefined ? "" : `, delivery ${writer.delivery}`})`}`,
    );
  }
  return lines;
}

function sourceKey(call: number, kind: string, value: string | undefined): string {
  return `${call}|${kind}|${value ?? ""}`;
}

/** The smallest number (a spread into Math.min overflows the stack on long runs' arrays). */
function least(values: readonly number[]): number {
  return values.reduce((min, v) => Math.min(min, v), Infinity);
}

function tally(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(" ");
}

/**
 * Typed error counting for the benchmark loops. Under heavy load on a shared machine some
 * requests fail for real (a write whose delivery is unknown, a member briefly without a leader);
 * a benchmark reports how many and why instead of dying on the first one.
 */
import { nodeEtcdErrorLabel } from "./node-etcd.js";

/** Failures of a phase, by label (an EtcdError's code, a peer's error class or socket code). */
export type ErrorCounts = Record<string, number>;

/**
 * A short, stable label for a failure: etcd-ts's `EtcdError.code` (e.g. OUTCOME_UNKNOWN),
 * etcd3's error class (e.g. GRPCUnavailableError), node-etcd's socket code or etcd error code.
 */
export function errorLabel(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.name === "EtcdError" && typeof code === "string") return code;
    // node-etcd rejects with plain Errors carrying `errorCode` or `errors` (its "all servers failed").
    if ("errorCode" in error || "errors" in error) return nodeEtcdErrorLabel(error);
    if (typeof code === "string") return `${error.name} ${code}`;
    return error.name === "Error" ? error.message.slice(0, 60) : error.name;
  }
  return nodeEtcdErrorLabel(error);
}

/** Adds one failure to `counts`. */
export function countError(counts: ErrorCounts, error: unknown): void {
  const label = errorLabel(error);
  counts[label] = (counts[label] ?? 0) + 1;
}

/** "OUTCOME_UNKNOWN 12, NO_LEADER 1", most frequent first. */
export function describeErrors(counts: ErrorCounts | undefined): string {
  return Object.entries(counts ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `${label} ${n}`)
    .join(", ");
}

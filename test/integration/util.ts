/** Small helpers shared by the integration tests (v2 and v3). */
import assert from "node:assert/strict";
import { EtcdError, type EtcdErrorCode } from "../../src/index.js";

/** Awaits `promise`, asserts it rejected with an `EtcdError` of `code`, and returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: EtcdErrorCode): Promise<EtcdError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EtcdError, `expected EtcdError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with ${code}, but it resolved`);
}

/** Awaits `promise` and asserts it rejected with an `EtcdError` of any code, which it returns. */
export async function rejection(promise: Promise<unknown>): Promise<EtcdError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EtcdError, `expected an EtcdError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a rejection");
}

/** Collects the curl lines a client reports, to see exactly what was (or was not) sent. */
export class CurlLog {
  readonly lines: string[] = [];
  /** Pass as the client's `onCurl`. */
  readonly onCurl = (line: string): void => {
    this.lines.push(line);
  };

  /** Lines for the key space only (health probes are left out). */
  keys(): string[] {
    return this.lines.filter((l) => l.includes("/v2/keys"));
  }

  /** Forgets what was logged so far. */
  clear(): void {
    this.lines.length = 0;
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

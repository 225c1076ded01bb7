/**
 * Compiles the benchmark children and etcd-ts to plain JavaScript before measuring. Under tsx
 * every function expression is wrapped to keep its name (esbuild's keepNames), which costs a few
 * percent per request that users of the published build never pay.
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";

/** Inside node_modules, so the compiled files resolve `undici` and `node-etcd` as the sources do. */
const CACHE = join("node_modules", ".cache", "etcd-ts-bench");

/** Compiles `entries` (and everything they import) into a fresh directory; returns it. */
export function compile(entries: readonly string[]): string {
  const out = join(CACHE, `run-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  const options = [
    "--noCheck", "--skipLibCheck", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext",
    "--lib", "ES2023,ESNext.Disposable,ESNext.AsyncIterable", "--types", "node", "--esModuleInterop",
    "--rootDir", ".", "--outDir", out,
  ];
  execFileSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), ...options, ...entries], { stdio: "inherit" });
  return out;
}

/** Removes what `compile` made. */
export function clean(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The compiled path of a source file, e.g. `bench/lib/worker.ts` → `<dir>/bench/lib/worker.js`. */
export function compiled(dir: string, source: string): string {
  return join(dir, source.replace(/\.ts$/, ".js"));
}

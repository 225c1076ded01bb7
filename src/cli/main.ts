#!/usr/bin/env node
/**
 * The `etcd-ts` executable: runs one command against the real process and exits with its code.
 * Everything else lives in run.ts, so tests can run commands in-process. No top-level await:
 * the bin is built as CommonJS (scripts/build-bin.ts), which Node loads faster than ESM.
 */
import nodeModule from "node:module";
import { processIo } from "./shared/io.js";
import { run } from "./run.js";

// Node 22.1+ can keep V8's compiled code of the bundles on disk (in os.tmpdir()) for the next run;
// Node 20 has no such call and runs without it (docs/performance.md measures Node 20).
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `etcd-ts ls | head -1` closes our stdout early; stop quietly, as a Go program killed by SIGPIPE does.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
});

const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    stream.write("", () => {
      resolve();
    });
  });

/** Runs the command line, then exits explicitly once the streams have flushed: an idle keep-alive socket must not hold us up. */
async function main(): Promise<never> {
  const code = await run(process.argv.slice(2), processIo());
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

void main();

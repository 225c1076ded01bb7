#!/usr/bin/env node
/**
 * The `etcd-ts` executable: runs one command against the real process and exits with its code.
 * Everything else lives in run.ts, so tests can run commands in-process.
 */
import { processIo } from "./shared/io.js";
import { run } from "./run.js";

// `etcd-ts ls | head -1` closes our stdout early; stop quietly, as a Go program killed by SIGPIPE does.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
});

const code = await run(process.argv.slice(2), processIo());
// Exit explicitly once the streams have flushed: an idle keep-alive socket must not hold us up.
const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    stream.write("", () => {
      resolve();
    });
  });
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

/** Runs the `etcd-ts` command as a user would, and shows the command line and what it printed. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

/** Runs `etcd-ts <args>` in a child process and reports its output through `say`. */
export function runCli(args: readonly string[], say: (text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", MAIN, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const shown = args.map((a) => (a.includes(",") ? `"${a}"` : a)).join(" ");
      say(`$ etcd-ts ${shown}`);
      for (const line of `${stdout}${stderr}`.trimEnd().split("\n")) say(`  ${line}`);
      if (error) reject(new Error(`etcd-ts ${shown} failed: ${error.message}`));
      else resolve();
    });
  });
}

/** Runs the `etcd-ts` command as a user would, and shows the command line and what it printed. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

/**
 * Runs `etcd-ts <args>` in a child process and reports its output through `say`; `api` 2 runs it
 * as `ETCDCTL_API=2` (the v2 commands), otherwise it speaks etcdctl v3, the default.
 */
export function runCli(args: readonly string[], say: (text: string) => void, api: 2 | 3 = 3): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ETCDCTL_API: String(api) };
    execFile(process.execPath, ["--import", "tsx", MAIN, ...args], { timeout: 20_000, env }, (error, stdout, stderr) => {
      const shown = `${api === 2 ? "ETCDCTL_API=2 " : ""}etcd-ts ${args.map((a) => (a.includes(",") ? `"${a}"` : a)).join(" ")}`;
      say(`$ ${shown}`);
      for (const line of `${stdout}${stderr}`.trimEnd().split("\n")) say(`  ${line}`);
      if (error) reject(new Error(`${shown} failed: ${error.message}`));
      else resolve();
    });
  });
}

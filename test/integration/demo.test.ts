/**
 * The README's first command, `npm run demo`, as a newcomer runs it: a real process against its
 * own throwaway cluster (ETCD_BIN names the etcd under test), ending 0 with every step shown.
 * A CLI that changed its default API once broke it without any other test noticing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

test("npm run demo runs every step against its own cluster and exits 0", async () => {
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", join(REPO, "examples/demo.ts")], { cwd: REPO, timeout: 180_000 }, (error, out) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout: out });
    });
  });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /set\("\/foo", "bar"\) then get\("\/foo"\) -> bar/);
  assert.match(stdout, /\$ ETCDCTL_API=2 etcd-ts .* get \/foo\n.* {2}bar\n/);
  assert.match(stdout, /\$ etcd-ts .* put \/foo bar-v3\n.* {2}OK\n/);
  assert.match(stdout, /cluster stopped and its data directories removed/);
});

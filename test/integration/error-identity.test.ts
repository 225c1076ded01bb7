/**
 * Error identity across copies of the package (the dual-package hazard): the ESM and CJS builds
 * (dist/, or a fresh build of the sources when dist/ is older) are two module instances with two EtcdError
 * classes. An error from one must be recognised by the other's `isEtcdError` and `instanceof`,
 * through the `Symbol.for("etcd-ts.error")` brand, and by the sources loaded under tsx (a third copy).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as source from "../../src/index.js";

type Copy = Pick<typeof source, "EtcdError" | "isEtcdError">;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Newest modification time of any file under `dir`. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/**
 * The ESM and CJS builds: dist/ when it is newer than every source (CI builds it before the
 * tests), otherwise a build of the sources into a temporary folder. Never dist/ rebuilt in place:
 * other test files running beside this one may read it.
 */
function freshBuild(): string {
  const dist = join(ROOT, "dist");
  if (existsSync(join(dist, "esm/index.js")) && existsSync(join(dist, "cjs/index.js")) && statSync(join(dist, "esm/index.js")).mtimeMs >= newest(join(ROOT, "src"))) return dist;
  // Inside node_modules, so the build's own imports (@bufbuild/protobuf) resolve as from dist/.
  const cache = join(ROOT, "node_modules/.cache");
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, "etcd-ts-build-"));
  after(() => {
    rmSync(out, { recursive: true, force: true });
  });
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", join(out, "esm"), "--declaration", "false"], { cwd: ROOT, stdio: "pipe" });
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.cjs.json", "--outDir", join(out, "cjs"), "--declaration", "false"], { cwd: ROOT, stdio: "pipe" });
  writeFileSync(join(out, "cjs/package.json"), '{ "type": "commonjs" }\n');
  return out;
}

describe("EtcdError identity across the ESM and CJS builds", () => {
  let esm: Copy;
  let cjs: Copy;
  before(async () => {
    const dist = freshBuild();
    esm = (await import(pathToFileURL(join(dist, "esm/index.js")).href)) as Copy;
    cjs = createRequire(import.meta.url)(join(dist, "cjs/index.js")) as Copy;
  });

  it("an error made by one copy is recognised by every other copy's isEtcdError and instanceof", () => {
    const copies: [string, Copy][] = [
      ["esm", esm],
      ["cjs", cjs],
      ["src", source],
    ];
    assert.notEqual(esm.EtcdError, cjs.EtcdError, "two distinct classes, or the test proves nothing");
    for (const [maker, made] of copies) {
      const error = new made.EtcdError("TIMEOUT", `from ${maker}`);
      for (const [reader, copy] of copies) {
        assert.equal(copy.isEtcdError(error), true, `${maker} error, ${reader} isEtcdError`);
        assert.equal(error instanceof copy.EtcdError, true, `${maker} error instanceof ${reader} EtcdError`);
      }
      assert.equal(error.code, "TIMEOUT");
    }
  });

  it("lookalikes are not etcd errors", () => {
    const lookalike = Object.assign(new Error("x"), { code: "TIMEOUT", name: "EtcdError" });
    for (const copy of [esm, cjs, source]) {
      assert.equal(copy.isEtcdError(lookalike), false);
      assert.equal(copy.isEtcdError({ "etcd-ts.error": true }), false);
      assert.equal(copy.isEtcdError(null), false);
      assert.equal(lookalike instanceof copy.EtcdError, false);
    }
  });
});

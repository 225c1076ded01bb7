/**
 * Error identity across copies of the package (the dual-package hazard): the ESM and CJS builds
 * in dist/ (from `npm run build`, run here first) are two module instances with two EtcdError
 * classes. An error from one must be recognised by the other's `isEtcdError` and `instanceof`,
 * through the `Symbol.for("etcd-ts.error")` brand, and by the sources loaded under tsx (a third copy).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import * as source from "../../src/index.js";

type Copy = Pick<typeof source, "EtcdError" | "isEtcdError">;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("EtcdError identity across the ESM and CJS builds", () => {
  let esm: Copy;
  let cjs: Copy;
  before(async () => {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "pipe" });
    esm = (await import(pathToFileURL(join(ROOT, "dist/esm/index.js")).href)) as Copy;
    cjs = createRequire(import.meta.url)(join(ROOT, "dist/cjs/index.js")) as Copy;
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

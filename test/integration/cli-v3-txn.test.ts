/**
 * etcd-ts against `ETCDCTL_API=3 etcdctl` for `txn`: the same transaction text on stdin for each
 * side (on its own key prefix, same prior state), stdout, stderr and exit code compared once
 * prefixes and revisions are normalised. Where etcdctl panics, the exit code (2) and the panic's
 * first line are compared.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { ETCDCTL, NO_ETCDCTL, normalize, runEtcdctl, runOurs, type Outcome, type RunOptions } from "./cli-v3-kit.js";

interface Case {
  readonly name: string;
  readonly args?: readonly string[];
  readonly stdin: string;
  readonly setup?: readonly (readonly string[])[];
  readonly only?: "3.4" | "3.5";
  readonly panic?: boolean;
}

const AB = [["put", "{K}/a", "1"], ["put", "{K}/b", "2"]];
const OPS = "get {K}/a\nput {K}/n new\ndel {K}/b --prev-kv\n";

const RELEASE = await (async (): Promise<string> => {
  if (ETCDCTL === undefined) return "none";
  return /etcdctl version: (\d+\.\d+)/.exec((await runEtcdctl(["version"])).stdout)?.[1] ?? "unknown";
})();

/** The txn cases. */
export const CASES: readonly Case[] = [
  ...["simple", "json", "fields"].map((w): Case => ({ name: `success -w ${w}`, args: ["-w", w, "txn"], stdin: `value("{K}/a") = "1"\n\n${OPS}\nput {K}/f x\n\n`, setup: AB })),
  ...["simple", "json", "fields"].map((w): Case => ({ name: `failure -w ${w}`, args: ["-w", w, "txn"], stdin: `mod("{K}/a") > "0"\nver("{K}/zz") != "0"\n\nput {K}/s x\n\n${OPS}\n`, setup: AB })),
  { name: "no compares, no requests", args: ["-w", "json", "txn"], stdin: "\n\n\n" },
  { name: "interactive prompts", args: ["txn", "-i"], stdin: `create("{K}/a") < "1"\n\nget {K}/a\n\nget {K}/b --keys-only\nget {K}/ --prefix --limit=1 --sort-by=KEY --order=DESCEND\n\n`, setup: AB },
  { name: "every compare target and operator", args: ["txn"], stdin: `ver("{K}/a") = "1"\nversion("{K}/a") != "2"\nc("{K}/a") > "0"\ncreate("{K}/b") > "0"\nm("{K}/a") < "99999999"\nval("{K}/a") = "1"\nvalue("{K}/b") > "1"\n\nget {K}/a\n\n\n`, setup: AB },
  { name: "quoted words and hex output", args: ["--hex", "txn"], stdin: `value("{K}/a") = "1"\n\nput "{K}/q" "two words\\t\\x41"\nget {K}/q\n\n\n`, setup: AB },
  { name: "the single-quote slicing of argify", args: ["txn"], stdin: "\nput {K}/s 'abcdef'\nget {K}/s\n\n\n" },
  { name: "prefix-matched request words", args: ["txn"], stdin: `\np {K}/p v\ng {K}/p\nd {K}/p\n\n\n` },
  { name: "arguments are refused", args: ["txn", "extra"], stdin: "\n\n\n" },
  { name: "end of input inside a section", args: ["txn"], stdin: `value("{K}/a") = "1"\n\nput {K}/x y` },
  { name: "no input at all", args: ["txn"], stdin: "" },
  { name: "malformed: no parenthesis", args: ["txn"], stdin: "foo\n\n\n\n" },
  { name: "malformed: space before )", args: ["txn"], stdin: `mod("{K}/a" ) > "1"\n\n\n\n` },
  { name: "malformed: no space after )", args: ["txn"], stdin: `mod("{K}/a")>"1"\n\n\n\n` },
  { name: "malformed: unquoted value", args: ["txn"], stdin: `mod("{K}/a") > 1\n\n\n\n` },
  { name: "malformed: unquoted key", args: ["txn"], stdin: `mod({K}/a) > "1"\n\n\n\n` },
  { name: "unknown target", args: ["txn"], stdin: `size("{K}/a") > "1"\n\n\n\n` },
  { name: "a number that is not one", args: ["txn"], stdin: `ver("{K}/a") = "x"\n\n\n\n` },
  { name: "unknown operator panics", args: ["txn"], stdin: `value("{K}/a") == "1"\n\n\n\n`, panic: true },
  { name: "a lease compare panics", args: ["txn"], stdin: `lease("{K}/a") = "0"\n\n\n\n`, panic: true },
  { name: "one word is not a request", args: ["txn"], stdin: "\nget\n\n\n" },
  { name: "unknown request", args: ["txn"], stdin: "\nfetch {K}/a\n\n\n" },
  { name: "request checks of get", args: ["txn"], stdin: "\nget {K}/a {K}/b --prefix\n\n\n" },
  { name: "put without a value", args: ["txn"], stdin: "\nput {K}/a\n\n\n" },
  { name: "a flag mistake in a get request shows cobra's usage", args: ["txn"], stdin: "\nget {K}/a --bogus\n\n\n", only: "3.5" },
  { name: "a flag mistake in a put request shows cobra's usage", args: ["txn"], stdin: "\nput {K}/a v --lease\n\n\n" },
  { name: "a flag mistake in a del request shows cobra's usage", args: ["txn"], stdin: "\ndel {K}/a --prev-kv=maybe\n\n\n", only: "3.5" },
  { name: "del with a range end", args: ["txn"], stdin: `\ndel {K}/a {K}/c\n\n\n`, setup: AB, only: "3.5" },
  { name: "a duplicate key is etcd's error", args: ["txn"], stdin: `\nput {K}/a 1\nput {K}/a 2\n\n\n` },
];

describe(`etcd-ts's txn does what etcdctl v3 (${RELEASE}) does`, { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let eps: string;
  let base: string;

  before(async () => {
    cluster = await startCluster({ size: 1, name: "cli-v3-txn" });
    eps = cluster.endpoints().join(",");
    base = cluster.prefix("txn");
  });
  after(() => cluster.stop());

  async function side(kase: Case, key: string, runner: (args: readonly string[], o: RunOptions) => Promise<Outcome>): Promise<Outcome> {
    for (const step of kase.setup ?? []) {
      const done = await runEtcdctl(["--endpoints", eps, ...step.map((s) => s.replaceAll("{K}", key))]);
      assert.equal(done.code, 0, done.stderr);
    }
    return runner(["--endpoints", eps, ...(kase.args ?? ["txn"])], { stdin: kase.stdin.replaceAll("{K}", key) });
  }

  describe("cases", { concurrency: 4 }, () => {
    CASES.forEach((kase, n) => {
      const skip = kase.only !== undefined && kase.only !== RELEASE ? `etcdctl ${kase.only} only` : false;
      it(kase.name, { skip }, async () => {
        const a = `${base}/t${n}a`;
        const b = `${base}/t${n}b`;
        const [theirs, ours] = await Promise.all([side(kase, a, runEtcdctl), side(kase, b, runOurs)]);
        const names = { [a]: "{K}", [b]: "{K}" };
        const t = normalize(theirs, names);
        const o = normalize(ours, names);
        if (kase.panic === true) {
          assert.deepEqual({ first: o.stderr.split("\n")[0], stdout: o.stdout, code: o.code }, { first: t.stderr.split("\n")[0], stdout: t.stdout, code: t.code });
        } else assert.deepEqual(o, t);
      });
    });
  });
});

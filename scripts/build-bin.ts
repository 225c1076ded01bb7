/**
 * Builds the `etcd-ts` command (package.json `bin`: dist/esm/cli/main.js) after tsc has built the
 * library, as CommonJS bundles in dist/esm/cli (a package.json there says "commonjs"):
 * - main.js: the dispatcher (src/cli/main.ts, run.ts), which answers `--version` and `version`
 *   itself and otherwise `require`s the one bundle the API choice needs;
 * - v3.js, v2.js, migrate.js: each command set with everything it uses (its commands, the client,
 *   the codecs) in one file, so a command loads two files.
 * Why CommonJS and whole bundles (docs/performance.md, "CLI start-up: round 2"): Node 20's ESM
 * loader costs ~0.3-0.5 ms per file and the same code loaded as ESM ran `get` ~15-20 ms slower
 * than as one CommonJS file. Inside a bundle the `import()`s of src/cli stay lazy (esbuild runs a
 * module's top level on first use), so a command still runs only its own module's code; the
 * bundles share nothing that needs one identity (each process loads one of them). The library's
 * own entry points (dist/esm, dist/cjs) are untouched.
 *
 *   node --import tsx scripts/build-bin.ts   (run by `npm run build`)
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { build, type BuildOptions, type Plugin } from "esbuild";

const ROOT = new URL("../", import.meta.url);
const OUT = "dist/esm/cli";

/** The command sets src/cli/run.ts imports on demand, and the bundle each becomes. */
const LAYERS: Readonly<Record<string, string>> = { "./v3/run.js": "./v3.js", "./v2/run.js": "./v2.js", "./migrate.js": "./migrate.js" };

/** In main.js, run.ts's `import()` of a command set becomes a `require` of its bundle. */
const layers: Plugin = {
  name: "layers",
  setup(b) {
    b.onResolve({ filter: /^\.\/(v3\/run|v2\/run|migrate)\.js$/ }, (args) => {
      const bundle = LAYERS[args.path];
      if (args.kind !== "dynamic-import" || !args.importer.endsWith("src/cli/run.ts") || bundle === undefined) return undefined;
      return { path: bundle, external: true };
    });
  },
};

/**
 * esbuild keeps only `/*!` or `@license` comments of the code it bundles; @bufbuild/protobuf's
 * Apache-2.0 and BSD-3-Clause notices are `//` headers. Rewritten as `/*!` they stay, once per bundle.
 */
const keepLicenseHeaders: Plugin = {
  name: "keep-license-headers",
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      const header = /^(?:\/\/[^\n]*\n)+/.exec(text)?.[0] ?? "";
      if (!/copyright|license/i.test(header)) return { contents: text, loader: "js" };
      const body = header.replace(/^\/\/ ?/gm, "").replaceAll("*/", "* /");
      return { contents: `/*!\n${body}*/\n${text.slice(header.length)}`, loader: "js" };
    });
  },
};

const common: BuildOptions = {
  absWorkingDir: new URL(".", ROOT).pathname,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // A bundle's own `import()`s become lazily run code in it; between bundles, `require`.
  supported: { "dynamic-import": false },
  // commander is CommonJS already, and only the v2 commands load it.
  external: ["commander"],
  // Whitespace and syntax only: V8 compiles less text at start-up, while names stay readable in a stack trace.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
};

const entries: readonly (readonly [string, string, Plugin[]])[] = [
  ["src/cli/main.ts", "main.js", [layers]],
  ["src/cli/v3/run.ts", "v3.js", []],
  ["src/cli/v2/run.ts", "v2.js", []],
  ["src/cli/migrate.ts", "migrate.js", []],
];

// The package is "type": "module"; this folder's .js files are CommonJS, as dist/cjs's are.
await mkdir(new URL(`${OUT}/`, ROOT), { recursive: true });
await writeFile(new URL(`${OUT}/package.json`, ROOT), `${JSON.stringify({ type: "commonjs" })}\n`);
const sizes: string[] = [];
for (const [entry, file, plugins] of entries) {
  const result = await build({ ...common, entryPoints: [entry], outfile: `${OUT}/${file}`, plugins: [...plugins, keepLicenseHeaders] });
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, o) => sum + o.bytes, 0);
  sizes.push(`${file} ${(bytes / 1024).toFixed(0)} kB`);
}
// On stderr: `npm pack --json` runs this build (prepare) and its stdout must stay JSON.
process.stderr.write(`build-bin: ${OUT}: ${sizes.join(", ")}\n`);

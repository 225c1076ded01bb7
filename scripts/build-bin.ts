/**
 * Builds the `etcd-ts` command (package.json `bin`: dist/esm/cli/main.js) as an ESM bundle split
 * into chunks, after tsc has built the library. Each command then loads a handful of files
 * instead of the ~90 modules of the tsc output: Node's ESM loader pays per module (resolve, read,
 * link), and the generated codecs' import of "@bufbuild/protobuf/wire" alone evaluated ~20 modules
 * of which they use one. The dynamic `import()`s in src/cli become chunk boundaries, so
 * `--version` never loads the client and `get` never loads the v2 client or another command.
 * The library's own entry points (dist/esm, dist/cjs) are untouched.
 *
 *   node --import tsx scripts/build-bin.ts   (run by `npm run build`)
 */
import { readFile } from "node:fs/promises";
import { build, type Plugin } from "esbuild";

const ROOT = new URL("../", import.meta.url);

/**
 * esbuild keeps only `/*!` or `@license` comments of the code it bundles; @bufbuild/protobuf's
 * Apache-2.0 and BSD-3-Clause notices are `//` headers. Rewritten as `/*!` they stay, once per chunk.
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

const result = await build({
  absWorkingDir: new URL(".", ROOT).pathname,
  entryPoints: { main: "src/cli/main.ts" },
  outdir: "dist/esm/cli",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // commander is CommonJS (esbuild's ESM output can't require it) and only the v2 commands load it.
  external: ["commander"],
  // Whitespace and syntax only: V8 compiles a third less text at start-up (the client chunk
  // imports in ~14 ms instead of ~20), while names stay readable in a stack trace.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "eof",
  plugins: [keepLicenseHeaders],
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
// On stderr: `npm pack --json` runs this build (prepare) and its stdout must stay JSON.
process.stderr.write(`build-bin: dist/esm/cli/main.js and ${outputs.length - 1} chunks, ${(bytes / 1024).toFixed(0)} kB\n`);

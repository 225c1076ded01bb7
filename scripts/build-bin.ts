/**
 * Builds the `etcd-ts` command (package.json `bin`: dist/esm/cli/main.js) after tsc has built the
 * library, as CommonJS bundles in dist/esm/cli (a package.json there says "commonjs"):
 * - main.js: the dispatcher (src/cli/main.ts, run.ts), which answers `--version` and `version`
 *   itself and otherwise `require`s the bundle the API choice needs;
 * - v3.js: the v3 runner, the key-value commands (get, put, del, compaction), the client and the
 *   codecs; v3-more.js: every other v3 command, loaded by v3.js when one of them is typed;
 * - v2.js, migrate.js: the v2 command set and the migration, each whole.
 * Why CommonJS and few files (docs/performance.md, "CLI start-up: round 2"): Node 20's ESM loader
 * costs ~0.3-0.5 ms per file, and the same code loaded as ESM ran `get` ~15-20 ms slower than as
 * CommonJS. Inside a bundle the `import()`s of src/cli stay lazy (esbuild runs a module's top level
 * on first use). v3-more.js takes every module it shares with v3.js from v3.js (`__modules`), so a
 * class such as EtcdError or CliExit has one identity in a process; v2.js and migrate.js share
 * nothing with another bundle (a process loads one of them). The library's own entry points
 * (dist/esm, dist/cjs) are untouched.
 *
 *   node --import tsx scripts/build-bin.ts   (run by `npm run build`)
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { build, type BuildOptions, type Metafile, type Plugin, type StdinOptions } from "esbuild";

const ROOT = new URL("../", import.meta.url).pathname;
const OUT = "dist/esm/cli";
const COMMANDS_TS = resolve(ROOT, "src/cli/v3/commands.ts");
/** The name of the generated entries of v3.js and v3-more.js. */
const ENTRY = "entry.js";

/** The command sets src/cli/run.ts imports on demand, and the bundle each becomes. */
const LAYERS: Readonly<Record<string, string>> = { "./v3/run.js": "./v3.js", "./v2/run.js": "./v2.js", "./migrate.js": "./migrate.js" };
/** The v3 command modules that stay in v3.js; the others go to v3-more.js. */
const CORE_COMMANDS = new Set(["./kv.js", "./version.js"]);

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

/** In v3.js, the command table's `import()` of a command not in CORE_COMMANDS becomes a `require` of v3-more.js. */
const moreCommands: Plugin = {
  name: "more-commands",
  setup(b) {
    b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) => {
      if (args.kind !== "dynamic-import" || args.importer !== COMMANDS_TS || CORE_COMMANDS.has(args.path)) return undefined;
      return { path: "./v3-more.js", external: true };
    });
  },
};

/** The command modules v3-more.js holds and the names commands.ts takes from each. */
async function moreExports(): Promise<Map<string, Set<string>>> {
  const table = await readFile(COMMANDS_TS, "utf8");
  const modules = new Map<string, Set<string>>();
  const found = [...table.matchAll(/import\("(\.\/[\w-]+\.js)"\)\)\.(\w+)/g)];
  // Every import() of the table must have been read, or v3-more.js would lack a command.
  if (found.length !== table.split("import(").length - 1) throw new Error("build-bin: commands.ts has an import() not of the form (await import(\"./x.js\")).NAME");
  for (const [, path = "", name = ""] of found) {
    if (CORE_COMMANDS.has(path)) continue;
    const names = modules.get(path) ?? new Set<string>();
    modules.set(path, names.add(name));
  }
  return modules;
}

/** An entry made of `contents` (JavaScript, resolved from the repository's root). */
function virtualEntry(contents: string): StdinOptions {
  return { contents, resolveDir: ROOT, sourcefile: ENTRY, loader: "js" };
}

/**
 * In v3-more.js, a module that v3.js holds too is taken from v3.js: its `__modules` table has a
 * function per shared module that initializes it there (once) and returns its exports.
 */
function fromCore(shared: ReadonlySet<string>): Plugin {
  return {
    name: "from-core",
    setup(b) {
      b.onResolve({ filter: /^\.\/v3\.js$/, namespace: "core" }, () => ({ path: "./v3.js", external: true }));
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === "inner" || args.kind === "entry-point" || args.namespace === "core") return undefined;
        const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: "inner" });
        return shared.has(found.path) ? { path: relativeKey(found.path), namespace: "core" } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: "core" }, (args) => ({
        contents: `module.exports = require("./v3.js").__modules[${JSON.stringify(args.path)}]();`,
        loader: "js",
        resolveDir: ROOT,
      }));
    },
  };
}

/** A module's key in `__modules`: its path from the repository's root (node_modules may be a link to elsewhere). */
function relativeKey(path: string): string {
  return relative(ROOT, path);
}

/** The absolute paths of the modules with code in a build's output (tree-shaken ones left out: a `require` would keep them whole). */
function inputsOf(metafile: Metafile | undefined): Set<string> {
  const paths = new Set<string>();
  for (const output of Object.values(metafile?.outputs ?? {})) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (bytesInOutput > 0) paths.add(resolve(ROOT, input));
  }
  return paths;
}

/**
 * The modules of v3.js that v3-more.js's own modules import: built alone, v3-more.js would hold
 * a copy of each; taken from v3.js instead, their own imports never reach v3-more.js.
 */
function boundary(more: Metafile | undefined, core: ReadonlySet<string>): Set<string> {
  const own = [...inputsOf(more)].filter((path) => !core.has(path));
  const out = new Set<string>();
  for (const path of own) {
    for (const imported of more?.inputs[relative(ROOT, path)]?.imports ?? []) {
      const target = resolve(ROOT, imported.path);
      if (!imported.external && core.has(target)) out.add(target);
    }
  }
  return out;
}

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
  absWorkingDir: ROOT,
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

const sizes: string[] = [];
async function emit(file: string, options: BuildOptions, plugins: Plugin[]): Promise<Metafile | undefined> {
  const result = await build({ ...common, ...options, outfile: `${OUT}/${file}`, plugins: [...plugins, keepLicenseHeaders] });
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, o) => sum + o.bytes, 0);
  sizes.push(`${file} ${(bytes / 1024).toFixed(0)} kB`);
  return result.metafile;
}

// The package is "type": "module"; this folder's .js files are CommonJS, as dist/cjs's are.
await mkdir(resolve(ROOT, OUT), { recursive: true });
await writeFile(resolve(ROOT, OUT, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);

// What v3-more.js needs that v3.js holds: the intersection of the two bundles' inputs, each built alone first.
const more = await moreExports();
// Each name is a getter that runs its module on first use: `member list` need not run check.ts (which loads node:https).
const getters = [...more].flatMap(([path, names]) => [...names].map((name) => `  get ${name}() { return require("./src/cli/v3/${path.slice(2)}").${name}; },`));
const moreEntry = `module.exports = {\n${getters.join("\n")}\n};\n`;
const dry = { ...common, write: false, outfile: `${OUT}/dry.js`, plugins: [] };
const coreAlone = await build({ ...dry, entryPoints: ["src/cli/v3/run.ts"], plugins: [moreCommands] });
const moreAlone = await build({ ...dry, stdin: virtualEntry(moreEntry) });
const coreInputs = inputsOf(coreAlone.metafile);
const shared = boundary(moreAlone.metafile, coreInputs);
const table = [...shared].map((path) => `  ${JSON.stringify(relativeKey(path))}: () => require(${JSON.stringify(`./${relativeKey(path)}`)}),`).join("\n");

await emit("main.js", { entryPoints: ["src/cli/main.ts"] }, [layers]);
const coreBuilt = inputsOf(await emit("v3.js", { stdin: virtualEntry(`export { run } from "./src/cli/v3/run.ts";\nexport const __modules = {\n${table}\n};\n`) }, [moreCommands]));
const moreBuilt = inputsOf(await emit("v3-more.js", { stdin: virtualEntry(moreEntry) }, [fromCore(shared)]));
const twice = [...moreBuilt].filter((path) => coreBuilt.has(path) && path !== resolve(ROOT, ENTRY));
// A module in both would exist twice in a process running a v3-more command (two EtcdError classes, say).
if (twice.length > 0) throw new Error(`build-bin: v3.js and v3-more.js both hold ${twice.map(relativeKey).join(", ")}`);
await emit("v2.js", { entryPoints: ["src/cli/v2/run.ts"] }, []);
await emit("migrate.js", { entryPoints: ["src/cli/migrate.ts"] }, []);
// On stderr: `npm pack --json` runs this build (prepare) and its stdout must stay JSON.
process.stderr.write(`build-bin: ${OUT}: ${sizes.join(", ")}; ${shared.size} modules v3-more.js takes from v3.js\n`);

/**
 * A command's help as etcdctl prints it (etcd's `cobrautl.UsageFunc` template through Go's
 * tabwriter): NAME, USAGE, VERSION and API VERSION for the root, the runnable commands below a
 * group, DESCRIPTION, OPTIONS and GLOBAL OPTIONS, flags sorted by name.
 */
import { goQuote } from "../shared/gofmt.js";
import { tabAlign } from "../shared/tabwriter.js";
import { helpFlag } from "./parse.js";
import type { CommandSpec, FlagSpec } from "./spec.js";

/** The version lines of the root's help. */
export interface Versions {
  readonly version: string;
  readonly apiVersion: string;
}

/**
 * Commands the root's list shows that are not v3 command specs: `migrate v2-to-v3` has its own
 * parser and runs in either API mode (src/cli/run.ts dispatches it first).
 */
const ROOT_EXTRAS: readonly (readonly [string, string])[] = [["migrate v2-to-v3", "Copies a live v2 tree into the v3 store, online (etcd-ts only; --help for its options)"]];

/** The help of the last command of `path` (path[0] is the root). */
export function usageText(path: readonly CommandSpec[], globals: readonly FlagSpec[], versions: Versions): string {
  const cmd = path[path.length - 1];
  const root = path[0];
  if (cmd === undefined || root === undefined) return "";
  const isRoot = path.length === 1;
  const name = path.slice(1).map((c) => c.name).join(" ");
  let text = `NAME:\n\t${isRoot ? cmd.name : name} - ${cmd.short}\n`;
  text += `\nUSAGE:\n\t${useLine(path)}\n`;
  if (isRoot) text += `\nVERSION:\n\t${versions.version}\n`;
  const subs = cmd.subcommands ?? [];
  if (subs.length > 0) {
    text += `\nAPI VERSION:\n\t${versions.apiVersion}\n`;
    text += `\n\nCOMMANDS:\n`;
    const lines: (readonly [string, string])[] = runnable(cmd, []).map(([sub, words]) => [words.join(" "), sub.short]);
    if (isRoot) lines.push(...ROOT_EXTRAS);
    lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [words, short] of lines) text += `\t${words}\t${short}\n`;
  }
  if (cmd.long !== undefined && cmd.long !== "") {
    text += `\nDESCRIPTION:\n`;
    for (const line of cmd.long.replace(/^[\n\t ]+|[\n\t ]+$/g, "").split("\n")) text += `\t${line}\n`;
  }
  const local = isRoot ? [...globals, helpFlag(cmd.name)] : [...(cmd.flags ?? []), helpFlag(cmd.name)];
  text += `\nOPTIONS:\n${flagLines(local)}`;
  if (!isRoot) text += `\nGLOBAL OPTIONS:\n${flagLines(globals)}`;
  return tabAlign(`${text}\n`);
}

/** cobra's `UseLine`: the parent's path, the command's Use, and " [flags]" unless it says so. */
function useLine(path: readonly CommandSpec[]): string {
  const cmd = path[path.length - 1];
  const words = path.slice(0, -1).map((c) => c.name);
  const use = cmd === undefined ? "" : `${cmd.name}${cmd.use === "" ? "" : ` ${cmd.use}`}`;
  const line = [...words, use].join(" ");
  return line.includes("[flags]") ? line : `${line} [flags]`;
}

/** Every runnable command below `cmd`, depth first in name order, with its words relative to `cmd`. */
function runnable(cmd: CommandSpec, prefix: readonly string[]): [CommandSpec, string[]][] {
  const out: [CommandSpec, string[]][] = [];
  const sorted = [...(cmd.subcommands ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const sub of sorted) {
    const words = [...prefix, sub.name];
    if (sub.action !== undefined) out.push([sub, words]);
    out.push(...runnable(sub, words));
  }
  return out;
}

/** etcd's `etcdFlagUsages`: one line per flag, sorted by name, defaults shown (strings quoted). */
export function flagLines(flags: readonly FlagSpec[]): string {
  const sorted = [...flags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted
    .map((f) => {
      const names = f.short === undefined ? `      --${f.name}` : `  -${f.short}, --${f.name}`;
      const value = f.kind === "string" ? goQuote(f.defaultValue) : f.defaultValue;
      return f.kind === "bool" ? `${names}[=${value}]\t${f.usage}\n` : `${names}=${value}\t${f.usage}\n`;
    })
    .join("");
}

const VARNAMES: Readonly<Record<string, string>> = { bool: "", string: "string", int: "int", uint: "uint", duration: "duration", stringSlice: "strings", stringArray: "stringArray" };

/**
 * cobra's default usage text (etcdctl's txn builds request commands without etcd's template, so
 * a flag mistake in a request line shows this one): the use line and pflag's `FlagUsages`.
 */
export function cobraDefaultUsage(cmd: CommandSpec): string {
  const flags = [...(cmd.flags ?? []), helpFlag(cmd.name)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const heads = flags.map((f) => {
    const names = f.short === undefined ? `      --${f.name}` : `  -${f.short}, --${f.name}`;
    const varname = VARNAMES[f.kind] ?? "";
    return varname === "" ? names : `${names} ${varname}`;
  });
  const width = Math.max(...heads.map((h) => h.length)) + 1;
  const lines = flags.map((f, i) => {
    const head = heads[i] ?? "";
    const zero = f.kind === "string" ? f.defaultValue === "" : ["", "0", "false", "[]", "0s"].includes(f.defaultValue);
    const def = zero ? "" : f.kind === "string" ? ` (default ${goQuote(f.defaultValue)})` : ` (default ${f.defaultValue})`;
    return `${head} ${" ".repeat(width - head.length)} ${f.usage}${def}`;
  });
  const use = `${cmd.name}${cmd.use === "" ? "" : ` ${cmd.use}`}`;
  return `Usage:\n   ${use.includes("[flags]") ? use : `${use} [flags]`}\n\nFlags:\n${lines.join("\n").trimEnd()}\n`;
}

/**
 * What `etcd-ts` prints, byte for byte as `ETCDCTL_API=2 etcdctl` 3.4 prints it. Pure functions
 * from replies to text, so every format is unit-tested without a server.
 *
 * The JSON format is Go's `encoding/json` rendering of the v2 Go client's `Response`, so it keeps
 * Go's quirks that scripts may depend on: `"nodes":null`, `"value":""` on directories, `"prevNode":null`,
 * no indexes from the headers, and `<`, `>`, `&` escaped as `\u003c`, `\u003e`, `\u0026`.
 */
import type { Member, Role, User, V2Node, V2Response } from "../../index.js";
import { goJsonString } from "../shared/gojson.js";

/** The output formats of `-o`. */
export type OutputFormat = "simple" | "extended" | "json";

/** The formats `-o` accepts. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["simple", "extended", "json"];

/** Narrows a `-o` value to a supported format. */
export function isOutputFormat(value: string): value is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(value);
}

/** The key as the Go client holds it: the root directory comes without a key, so it is "". */
export function goKey(node: V2Node): string {
  return node.key === "/" ? "" : node.key;
}

/** One node as Go marshals the v2 client's `Node` struct (field order and omissions included). */
export function goNodeJson(node: V2Node): string {
  const parts = [`"key":${goJsonString(goKey(node))}`];
  if (node.dir === true) parts.push(`"dir":true`);
  parts.push(`"value":${goJsonString(node.value ?? "")}`);
  parts.push(`"nodes":${node.nodes === undefined ? "null" : `[${node.nodes.map(goNodeJson).join(",")}]`}`);
  parts.push(`"createdIndex":${node.createdIndex}`, `"modifiedIndex":${node.modifiedIndex}`);
  if (node.expiration !== undefined) parts.push(`"expiration":${goJsonString(node.expiration)}`);
  if (node.ttl !== undefined && node.ttl !== 0) parts.push(`"ttl":${node.ttl}`);
  return `{${parts.join(",")}}`;
}

/** A reply as Go marshals the v2 client's `Response` (the index headers are not part of it). */
export function goResponseJson(response: V2Response): string {
  const node = response.node === undefined ? "null" : goNodeJson(response.node);
  const prev = response.prevNode === undefined ? "null" : goNodeJson(response.prevNode);
  return `{"action":${goJsonString(response.action)},"node":${node},"prevNode":${prev}}`;
}

/** etcdctl's `printResponseKey`: the reply of a key command in one of the three formats. */
export function formatResponse(response: V2Response, format: OutputFormat): string {
  const node = response.node ?? EMPTY_NODE;
  if (format === "json") return `${goResponseJson(response)}\n`;
  if (format === "simple") {
    return response.action === "delete" ? `PrevNode.Value: ${response.prevNode?.value ?? ""}\n` : `${node.value ?? ""}\n`;
  }
  const lines = [`Key: ${goKey(node)}`, `Created-Index: ${node.createdIndex}`, `Modified-Index: ${node.modifiedIndex}`];
  if (response.prevNode !== undefined) lines.push(`PrevNode.Value: ${response.prevNode.value ?? ""}`);
  lines.push(`TTL: ${node.ttl ?? 0}`, `Index: ${response.etcdIndex}`);
  if (response.action !== "delete") lines.push("", node.value ?? "");
  return `${lines.join("\n")}\n`;
}

const EMPTY_NODE: V2Node = { key: "", createdIndex: 0, modifiedIndex: 0 };

/** etcdctl's `ls` in the simple format: a file lists itself, a directory its children (all levels when read recursively). */
export function formatLs(response: V2Response, slashDirs: boolean): string {
  const node = response.node ?? EMPTY_NODE;
  const lines: string[] = [];
  if (node.dir !== true) lines.push(goKey(node));
  const walk = (n: V2Node): void => {
    lines.push(n.dir === true && slashDirs ? `${goKey(n)}/` : goKey(n));
    for (const child of n.nodes ?? []) walk(child);
  };
  for (const child of node.nodes ?? []) walk(child);
  return lines.map((line) => `${line}\n`).join("");
}

/** The line `watch --recursive` prints before each event. */
export function formatWatchHeader(response: V2Response): string {
  return `[${response.action}] ${response.node === undefined ? "" : goKey(response.node)}\n`;
}

/** One line of `member list`, as etcdctl writes it (members that never started have no name). */
export function formatMember(member: Member, leaderId: string): string {
  if (member.name === "") return `${member.id}[unstarted]: peerURLs=${member.peerURLs.join(",")}\n`;
  const isLeader = member.id === leaderId;
  return `${member.id}: name=${member.name} peerURLs=${member.peerURLs.join(",")} clientURLs=${member.clientURLs.join(",")} isLeader=${isLeader}\n`;
}

/** The first line `member add` prints, before it reads the member list. */
export function formatMemberAdded(name: string, id: string): string {
  return `Added member named ${name} with ID ${id} to cluster\n`;
}

/** The settings `member add` prints for starting the new member (named `name`, ID `id`). */
export function formatMemberEnv(name: string, id: string, members: readonly Member[]): string {
  const conf = members.flatMap((m) => m.peerURLs.map((url) => `${m.id === id ? name : m.name}=${url}`));
  return `\nETCD_NAME=${goQuote(name)}\nETCD_INITIAL_CLUSTER=${goQuote(conf.join(","))}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`;
}

/** Go's `%q` for the printable text etcdctl quotes (names and URLs). */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\t") out += "\\t";
    else if (char === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

/**
 * What `user get` prints. When the server sends whole roles (etcd 2.3+), etcd 3.4's Go client
 * first decodes them as strings, fails, keeps one empty string per role, then appends the
 * names: hence one extra space per role after "Roles:". Kept, since scripts parse this output.
 */
export function formatUser(user: User): string {
  const roles = user.roles;
  const shown = user.roleDetails === undefined ? roles : [...roles.map(() => ""), ...roles];
  return `User: ${user.user}\nRoles: ${shown.join(" ")}\n`;
}

/** What `role get` prints. */
export function formatRole(role: Role): string {
  const lines = [`Role: ${role.role}`, "KV Read:", ...role.permissions.kv.read.map((p) => `\t${p}`)];
  lines.push("KV Write:", ...role.permissions.kv.write.map((p) => `\t${p}`));
  return `${lines.join("\n")}\n`;
}

/**
 * The command table of `etcd-ts`: etcdctl v2's commands, their usage lines and their flags, in
 * one place. The argv normaliser and the commander program are both built from it, so a flag
 * cannot be known to one and not the other.
 */
import type { CommandSpec, FlagDef } from "../shared/argv.js";

/** A command with what its help shows. */
export interface CommandDef extends CommandSpec {
  readonly description: string;
  /** The arguments part of the usage line, e.g. "<key> <value>". */
  readonly usage: string;
  readonly subcommands?: readonly CommandDef[];
}

const TTL: FlagDef = { names: ["ttl"], kind: "int", description: "key time-to-live in seconds", defaultText: "0" };

const SORT: FlagDef = { names: ["sort"], kind: "bool", description: "returns result in sorted order" };
const QUORUM: FlagDef = { names: ["quorum", "q"], kind: "bool", description: "require quorum for get request (reads are linearizable by default in etcd-ts)" };
const AFTER_INDEX: FlagDef = { names: ["after-index"], kind: "int", description: "watch after the given index", defaultText: "0" };
const ROLES: FlagDef = { names: ["roles"], kind: "list", description: "List of roles to grant or revoke (repeat the flag for several)" };

/** Flags of `role grant` and `role revoke`, worded per verb. */
function pathFlags(verb: "Grant" | "Revoke"): FlagDef[] {
  const what = verb === "Grant" ? "granted" : "revoked";
  return [
    { names: ["path"], kind: "string", description: `Path ${what} for the role to access` },
    { names: ["read"], kind: "bool", description: verb === "Grant" ? "Grant read-only access" : "Revoke read access" },
    { names: ["write"], kind: "bool", description: verb === "Grant" ? "Grant write-only access" : "Revoke write access" },
    { names: ["readwrite", "rw"], kind: "bool", description: `${verb} read-write access (also --rw)` },
  ];
}

/** The global flags, before the command name. */
export const GLOBAL_FLAGS: readonly FlagDef[] = [
  { names: ["debug"], kind: "bool", description: "output cURL commands which can be used to reproduce the request" },
  { names: ["no-sync"], kind: "bool", description: "don't synchronize cluster information before sending request" },
  { names: ["output", "o"], kind: "string", description: "output response in the given format (simple, extended or json)", defaultText: "simple" },
  { names: ["peers", "C"], kind: "string", description: 'DEPRECATED - "--endpoints" should be used instead' },
  { names: ["endpoint"], kind: "string", description: 'DEPRECATED - "--endpoints" should be used instead' },
  { names: ["endpoints"], kind: "string", description: 'a comma-delimited list of machine addresses in the cluster (default: "http://127.0.0.1:2379,http://127.0.0.1:4001")' },
  { names: ["cert-file"], kind: "string", description: "identify HTTPS client using this SSL certificate file" },
  { names: ["key-file"], kind: "string", description: "identify HTTPS client using this SSL key file" },
  { names: ["ca-file"], kind: "string", description: "verify certificates of HTTPS-enabled servers using this CA bundle" },
  { names: ["username", "u"], kind: "string", description: "provide username[:password] and prompt if password is not supplied." },
  { names: ["timeout"], kind: "duration", description: "connection timeout per request", defaultText: "2s" },
  { names: ["total-timeout"], kind: "duration", description: "timeout for the command execution (except watch)", defaultText: "5s" },
  { names: ["version", "v"], kind: "bool", description: "print the version" },
];

const KEY_COMMANDS: readonly CommandDef[] = [
  { name: "cluster-health", description: "check the health of the etcd cluster", usage: "", flags: [{ names: ["forever", "f"], kind: "bool", description: "forever check the health every 10 second until CTRL+C" }] },
  { name: "mk", description: "make a new key with a given value", usage: "<key> <value>", flags: [{ names: ["in-order"], kind: "bool", description: "create in-order key under directory <key>" }, TTL] },
  { name: "mkdir", description: "make a new directory", usage: "<key>", flags: [TTL] },
  {
    name: "rm",
    description: "remove a key or a directory",
    usage: "<key>",
    flags: [
      { names: ["dir"], kind: "bool", description: "removes the key if it is an empty directory or a key-value pair" },
      { names: ["recursive", "r"], kind: "bool", description: "removes the key and all child keys(if it is a directory)" },
      { names: ["with-value"], kind: "string", description: "previous value" },
      { names: ["with-index"], kind: "int", description: "previous index", defaultText: "0" },
    ],
  },
  { name: "rmdir", description: "removes the key if it is an empty directory or a key-value pair", usage: "<key>", flags: [] },
  { name: "get", description: "retrieve the value of a key", usage: "<key>", flags: [SORT, QUORUM] },
  {
    name: "ls",
    description: "retrieve a directory",
    usage: "[key]",
    flags: [SORT, { names: ["recursive", "r"], kind: "bool", description: "returns all key names recursively for the given path" }, { names: ["p"], kind: "bool", description: "append slash (/) to directories" }, QUORUM],
  },
  {
    name: "set",
    description: "set the value of a key",
    usage: "<key> <value>",
    flags: [TTL, { names: ["swap-with-value"], kind: "string", description: "previous value" }, { names: ["swap-with-index"], kind: "int", description: "previous index", defaultText: "0" }],
  },
  { name: "setdir", description: "create a new directory or update an existing directory TTL", usage: "<key>", flags: [TTL] },
  { name: "update", description: "update an existing key with a given value", usage: "<key> <value>", flags: [TTL] },
  { name: "updatedir", description: "update an existing directory", usage: "<key>", flags: [TTL] },
  {
    name: "watch",
    description: "watch a key for changes",
    usage: "<key>",
    flags: [{ names: ["forever", "f"], kind: "bool", description: "forever watch a key until CTRL+C" }, AFTER_INDEX, { names: ["recursive", "r"], kind: "bool", description: "returns all values for key and child keys" }],
  },
  {
    name: "exec-watch",
    description: "watch a key for changes and exec an executable",
    usage: "<key> [--] <command> [args...]",
    flags: [AFTER_INDEX, { names: ["recursive", "r"], kind: "bool", description: "watch all values for key and child keys" }],
    rawAfterFirstArg: true,
  },
];

const MEMBER: CommandDef = {
  name: "member",
  description: "member add, remove and list subcommands",
  usage: "command",
  flags: [],
  subcommands: [
    { name: "list", description: "enumerate existing cluster members", usage: "", flags: [] },
    { name: "add", description: "add a new member to the etcd cluster", usage: "<name> <peerURL>", flags: [] },
    { name: "remove", description: "remove an existing member from the etcd cluster", usage: "<memberID>", flags: [] },
    { name: "update", description: "update an existing member in the etcd cluster", usage: "<memberID> <peerURLs>", flags: [] },
  ],
};

const USER: CommandDef = {
  name: "user",
  description: "user add, grant and revoke subcommands",
  usage: "command",
  flags: [],
  subcommands: [
    { name: "add", description: "add a new user for the etcd cluster", usage: "<user>", flags: [] },
    { name: "get", description: "get details for a user", usage: "<user>", flags: [] },
    { name: "list", description: "list all current users", usage: "", flags: [] },
    { name: "remove", description: "remove a user for the etcd cluster", usage: "<user>", flags: [] },
    { name: "grant", description: "grant roles to an etcd user", usage: "<user>", flags: [ROLES] },
    { name: "revoke", description: "revoke roles for an etcd user", usage: "<user>", flags: [ROLES] },
    { name: "passwd", description: "change password for a user", usage: "<user>", flags: [] },
  ],
};

const ROLE: CommandDef = {
  name: "role",
  description: "role add, grant and revoke subcommands",
  usage: "command",
  flags: [],
  subcommands: [
    { name: "add", description: "add a new role for the etcd cluster", usage: "<role>", flags: [] },
    { name: "get", description: "get details for a role", usage: "<role>", flags: [] },
    { name: "list", description: "list all roles", usage: "", flags: [] },
    { name: "remove", description: "remove a role from the etcd cluster", usage: "<role>", flags: [] },
    { name: "grant", description: "grant path matches to an etcd role", usage: "<role>", flags: pathFlags("Grant") },
    { name: "revoke", description: "revoke path matches for an etcd role", usage: "<role>", flags: pathFlags("Revoke") },
  ],
};

const AUTH: CommandDef = {
  name: "auth",
  description: "overall auth controls",
  usage: "command",
  flags: [],
  subcommands: [
    { name: "enable", description: "enable auth access controls", usage: "", flags: [] },
    { name: "disable", description: "disable auth access controls", usage: "", flags: [] },
  ],
};

/** The whole program. */
export const PROGRAM: CommandDef = {
  name: "etcd-ts",
  description: "A simple command line client for etcd (the v2 API), compatible with etcdctl.",
  usage: "[global options] command [command options] [arguments...]",
  flags: GLOBAL_FLAGS,
  subcommands: [...KEY_COMMANDS, MEMBER, USER, ROLE, AUTH],
};

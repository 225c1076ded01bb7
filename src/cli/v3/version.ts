/** `etcdctl version`: the command line's own version and the API version it speaks. */
import { VERSION } from "../../version.js";
import { API_VERSION, PROGRAM_NAME } from "./globals.js";
import type { CommandSpec } from "./spec.js";

/** `etcdctl version`. */
export const VERSION_COMMAND: CommandSpec = {
  name: "version",
  use: "",
  short: "Prints the version of etcd-ts",
  action: (ctx) => {
    ctx.out(`${PROGRAM_NAME} version: ${VERSION}\nAPI version: ${API_VERSION}\n`);
    return Promise.resolve();
  },
};

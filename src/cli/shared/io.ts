/**
 * Everything the command line touches outside itself: output streams, stdin, the environment
 * and Ctrl-C. Commands see only this interface, so tests run them in-process with captured
 * output, and the real process wiring lives in one place (`processIo`).
 */

/** The outside world of one `etcd-ts` run. */
export interface CliIo {
  /** Writes to standard output. */
  readonly stdout: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr: (text: string) => void;
  /** The environment (ETCDCTL_* variables). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads standard input to its end (a value given on stdin). */
  readonly readStdin: () => Promise<string>;
  /** Reads a secret: prompted without echo on a terminal, otherwise one line of stdin. */
  readonly readSecret: (prompt: string) => Promise<string>;
  /**
   * Called by long-running commands (watch): from then on Ctrl-C aborts the returned signal and
   * the command ends with exit code 0, as etcdctl's do. Other commands keep Ctrl-C's default.
   */
  readonly trapInterrupt: () => AbortSignal;
  /** True when standard output is a terminal (progress bars are drawn only then). */
  readonly isTerminal?: boolean | undefined;
  /**
   * The next line of stdin with its "\n" (the last one may lack it), undefined at the end; read
   * as lines arrive, so prompts and replies interleave on a terminal. Without it, stdin is read
   * whole first (see `stdinLines`).
   */
  readonly readLine?: () => Promise<string | undefined>;
  /** Writes raw bytes to standard output (`-w protobuf`); without it, bytes go through `stdout` as latin1. */
  readonly stdoutBytes?: (bytes: Uint8Array) => void;
}

/** A reader of stdin line by line (Go's `bufio.Reader.ReadString('\n')`), over whichever `io` offers. */
export function stdinLines(io: CliIo): () => Promise<string | undefined> {
  if (io.readLine !== undefined) return io.readLine;
  let lines: string[] | undefined;
  return async () => {
    lines ??= splitLines(await io.readStdin());
    return lines.shift();
  };
}

/** Text cut after each "\n", the newline kept; a last line without one is kept as it is. */
export function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.filter((line) => line !== "");
}

/** The real process: its streams, environment and SIGINT. */
export function processIo(): CliIo {
  const interrupt = new AbortController();
  let trapped = false;
  const trapInterrupt = (): AbortSignal => {
    if (!trapped) {
      trapped = true;
      // Once: a second Ctrl-C, while the command winds down, kills it the usual way.
      // SIGTERM too: a supervisor stopping a long-running command (migrate --follow) gets its final report.
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
          interrupt.abort();
        });
      }
    }
    return interrupt.signal;
  };
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    readStdin,
    readSecret: (prompt) => (process.stdin.isTTY ? readHidden(prompt) : readLine()),
    trapInterrupt,
    isTerminal: process.stdout.isTTY,
    readLine: lineReader(),
    stdoutBytes: (bytes) => process.stdout.write(bytes),
  };
}

/** Lines of process.stdin as they arrive (stdin is only touched on the first call). */
function lineReader(): () => Promise<string | undefined> {
  let buffered = "";
  let ended = false;
  let iterator: AsyncIterator<Buffer | string> | undefined;
  return async () => {
    iterator ??= process.stdin[Symbol.asyncIterator]();
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline + 1);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      if (ended) {
        const last = buffered;
        buffered = "";
        return last === "" ? undefined : last;
      }
      const next = await iterator.next();
      if (next.done === true) ended = true;
      else buffered += typeof next.value === "string" ? next.value : next.value.toString("utf8");
    }
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** One line of a piped stdin, without its line ending; "" at end of input. */
async function readLine(): Promise<string> {
  const { createInterface } = await import("node:readline");
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return line;
    return "";
  } finally {
    lines.close();
    process.stdin.pause();
  }
}

/**
 * A password typed on the terminal, not echoed. The prompt goes to stderr so that stdout holds
 * only the command's result (etcdctl prompts on stdout, which ends up in captured output).
 */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let typed = "";
    const finish = (): void => {
      stdin.setRawMode(false);
      stdin.off("data", onData);
      stdin.pause();
      process.stderr.write("\n");
      resolve(typed);
    };
    const onData = (data: Buffer): void => {
      for (const char of data.toString("utf8")) {
        if (char === "\r" || char === "\n" || char === "\u0004") {
          finish();
          return;
        }
        // Raw mode swallows Ctrl-C, so it is handled here: stop as the shell would.
        if (char === "\u0003") {
          stdin.setRawMode(false);
          process.exit(130);
        }
        typed = char === "\u007f" || char === "\b" ? typed.slice(0, -1) : typed + char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

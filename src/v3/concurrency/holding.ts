/**
 * What a held lock and a leadership share: a key created on a session's lease, a fencing revision,
 * and a `signal` that aborts as soon as the key may no longer be ours — when the session's signal
 * aborts, or when the key is deleted or re-created (watched). Ending it on purpose (unlock,
 * resign) deletes the key only if it is still the one created, and closes a session opened for it.
 *
 * States: `active` → `released` (ended on purpose; the signal's reason is RELEASED) or `lost`
 * (the signal aborted with the loss; ending it then rejects with the owner's loss code at once,
 * even when cut off from the cluster, and the key, if still ours, is deleted in the background).
 */
import { EtcdError } from "../../errors.js";
import type { KvClient } from "./kv.js";
import type { Session } from "./session.js";
import { watchOwnKey } from "./wait.js";

/** Where a holding is. */
export type HoldingState = "active" | "released" | "lost";

/** How an owner words its end: the loss code, the verb, and what its own key's loss becomes. */
export interface HoldingWords {
  /** The code an end after a loss (or of a key already gone) rejects with. */
  readonly lostCode: "LOCK_LOST" | "NOT_LEADER";
  /** The verb of ending on purpose, for messages: "unlock", "resign". */
  readonly verb: string;
  /** Turns the loss of the key itself (deleted, re-created) into the owner's error. */
  readonly keyLost: (error: EtcdError) => EtcdError;
}

/** A key held on a session, with the loss signal wired; Lock and Leadership build on it. */
export abstract class Holding implements AsyncDisposable {
  /** The key: `<name>/<lease ID in lower-case hex>`, Go's layout. */
  readonly key: string;
  /** The key's create revision: a fencing token that grows with each new holder. */
  readonly revision: bigint;
  /** Aborted (reason: an EtcdError) when this may no longer be held, or when it is ended on purpose. */
  readonly signal: AbortSignal;
  /** The session it is held on. */
  readonly session: Session;
  /** The client (or namespace) it was taken through. */
  protected readonly client: KvClient;
  readonly #owned: boolean;
  readonly #words: HoldingWords;
  readonly #controller = new AbortController();
  #state: HoldingState = "active";
  #loss: EtcdError | undefined;
  #ending: Promise<void> | undefined;

  /** Wires the signal to the session's and to the key's own fate. */
  protected constructor(client: KvClient, session: Session, owned: boolean, key: string, revision: bigint, words: HoldingWords) {
    this.client = client;
    this.session = session;
    this.#owned = owned;
    this.#words = words;
    this.key = key;
    this.revision = revision;
    this.signal = this.#controller.signal;
    const onSessionEnd = (): void => {
      this.lose(asEtcdError(session.signal.reason));
    };
    if (session.signal.aborted) onSessionEnd();
    else session.signal.addEventListener("abort", onSessionEnd, { once: true });
    this.signal.addEventListener(
      "abort",
      () => {
        session.signal.removeEventListener("abort", onSessionEnd);
      },
      { once: true },
    );
    watchOwnKey(client, key, revision, this.signal, (error) => {
      this.lose(words.keyLost(error));
      if (this.#owned) this.session.close().catch(() => undefined);
    });
  }

  /** Where it is now. */
  protected get state(): HoldingState {
    return this.#state;
  }

  /** What ended it, when it was lost. */
  protected get loss(): EtcdError | undefined {
    return this.#loss;
  }

  /** Marks it lost (once, and only while active) and aborts the signal with `error`. */
  protected lose(error: EtcdError): void {
    if (this.#state !== "active") return;
    this.#state = "lost";
    this.#loss = error;
    this.#controller.abort(error);
  }

  /** Ends it on purpose (idempotent; a failed delete may be tried again, a loss is final). */
  protected end(): Promise<void> {
    this.#ending ??= this.#end().catch((error: unknown) => {
      if (!(error instanceof EtcdError && error.code === this.#words.lostCode)) this.#ending = undefined;
      throw error;
    });
    return this.#ending;
  }

  /** `await using` ends it at the end of the scope. */
  abstract [Symbol.asyncDispose](): Promise<void>;

  async #end(): Promise<void> {
    const { lostCode, verb } = this.#words;
    if (this.#state === "active") {
      this.#state = "released";
      this.#controller.abort(new EtcdError("RELEASED", `${this.key} was released (${verb})`));
    }
    const loss = this.#loss;
    if (loss !== undefined) {
      // Lost (perhaps cut off from the cluster): say so now; the key, if still ours, goes in the background.
      this.#release().catch(() => undefined);
      throw new EtcdError(lostCode, `${this.key} was lost before ${verb}: ${loss.message}`, { cause: loss });
    }
    if (!(await this.#release())) throw new EtcdError(lostCode, `${this.key} (created at revision ${this.revision}) was gone at ${verb}: its lease expired or it was deleted`);
  }

  /** Deletes the key if it is still ours and closes a session opened for it; whether the key was deleted. */
  async #release(): Promise<boolean> {
    const deleted = await deleteOwn(this.client, this.key, this.revision);
    if (this.#owned) await this.session.close();
    return deleted;
  }
}

/** An abort reason as an EtcdError (the session's reasons always are). */
export function asEtcdError(reason: unknown): EtcdError {
  return reason instanceof EtcdError ? reason : new EtcdError("LEASE_LOST", `session ended: ${String(reason)}`, { cause: reason });
}

/** Deletes our key only if it is still the one created at `revision`; true if it was deleted. */
export async function deleteOwn(client: KvClient, key: string, revision: bigint): Promise<boolean> {
  const reply = await client.txn({ compare: [{ key, target: "create", result: "==", value: revision }], success: [{ delete: { key } }] });
  return reply.succeeded;
}

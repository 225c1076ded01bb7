/**
 * The endpoint engine shared by the v2 and v3 clients: which member a request goes to, when the
 * client moves, and what is retried. It knows nothing of HTTP, gRPC or JSON: the protocol layer
 * hands it operations (a function that runs one attempt on one member) and a health prober.
 *
 * go-etcd's policy is the default: stay on one randomly chosen member while it works, move
 * round-robin on failure, give up after 2 × members attempts. Its defects are fixed here:
 * - a hung member (SIGSTOP) is found by probing it on a separate connection when a request waits
 *   too long, then set aside and probed in the background until it answers;
 * - switching, syncing and setting aside are synchronous state changes on one event loop, and an
 *   attempt only ever moves the pin away from the member it used, so concurrent failures move it once;
 * - weak reads are checked against the highest index and term seen before they started, and the
 *   member in use is health-checked every second, so an isolated member is left even when idle.
 */
import { reusableAbortController, unheard } from "../abort-slot.js";
import { EtcdError, canRetry, type Repeat } from "../errors.js";
import { DEFAULTS, type CallOptions, type EngineOptions, type Logger } from "../options.js";
import { CallScope, endError } from "./call.js";
import type { EngineEvent, SetAsideReason } from "./events.js";
import { Member, type Attempt } from "./member.js";
import { defaultCheckRetry, isLeaderless, retryContext, type CheckRetry } from "./retry.js";

/** How far the cluster had got, as a reply shows it (v2: X-Etcd-Index and X-Raft-Term). */
export interface Progress {
  readonly index?: number | undefined;
  readonly term?: number | undefined;
}

/**
 * A probe's verdict on a member: answering and healthy; answering without a leader; its process
 * gone (nothing listens); unresponsive (connections open, nothing answers: hung or frozen); or
 * inconclusive (the probe itself failed, e.g. TLS), which changes nothing.
 */
export type ProbeVerdict = "healthy" | "no-leader" | "down" | "unresponsive" | "inconclusive";

/**
 * Probes one member on a connection of its own; must settle when `signal` aborts. A prober whose
 * answer shows the member's raft term passes it to `sawTerm`: while every write waits on a
 * follower whose leader died, the probe is the only reply that can show the new term.
 */
export type Prober = (endpoint: string, signal: AbortSignal, sawTerm: (term: number) => void) => Promise<ProbeVerdict>;

/** One request as the engine runs it: a function that makes one attempt on one member. */
export interface Operation<T> {
  /** A short name for errors and events, e.g. "set". */
  readonly name: string;
  /** How safely it can be sent again after a possible send: "read", "idempotent" (set) or "once" (create). */
  readonly repeat: Repeat;
  /** True for reads served from a member's local state: checked against what the client has seen. */
  readonly weakRead?: boolean | undefined;
  /**
   * True for long polls (watches): waiting is their normal state, so their age never makes the
   * member suspect; instead their member is health-checked every `healthInterval`.
   */
  readonly longPoll?: boolean | undefined;
  /**
   * True for writes a member hands to raft (forwarding them to the leader it knows): such a
   * write still waiting after a newer raft term appeared is given up as OUTCOME_UNKNOWN, since
   * etcd holds a proposal lost with a dead leader until its own request timeout (about 6 s).
   */
  readonly proposal?: boolean | undefined;
  /**
   * Makes one attempt on `endpoint`; throws `EtcdError` (with `delivery` for member failures).
   * `signal` belongs to this attempt only until the returned promise settles: keep no reference
   * to it and no listener on it after that, because the engine reuses signals never aborted.
   */
  run(endpoint: string, signal: AbortSignal): Promise<T>;
  /** What the reply says of the cluster's progress, used to catch stale members. */
  progress?(result: T): Progress | undefined;
}

/** Everything the engine needs; the clients build it from their options. */
export interface EngineConfig {
  readonly endpoints: readonly string[];
  readonly prober: Prober;
  readonly discover?: ((endpoint: string, signal: AbortSignal) => Promise<readonly string[]>) | undefined;
  readonly checkRetry?: CheckRetry | undefined;
  readonly requestTimeout?: number | undefined;
  readonly autoSync?: number | undefined;
  readonly onEvent?: ((event: EngineEvent) => void) | undefined;
  readonly logger?: Logger | undefined;
  readonly suspectAfter?: number | undefined;
  readonly probeTimeout?: number | undefined;
  readonly healthInterval?: number | undefined;
  readonly reprobeInterval?: number | undefined;
  readonly random?: (() => number) | undefined;
}

/** The engine configuration a client builds from its options, with its own prober and member discovery. */
export function engineConfig(options: EngineOptions, prober: Prober, discover: EngineConfig["discover"]): EngineConfig {
  return {
    endpoints: options.endpoints,
    prober,
    discover,
    checkRetry: options.checkRetry,
    requestTimeout: options.requestTimeout,
    autoSync: options.autoSync,
    onEvent: options.onEvent,
    logger: options.logger,
    suspectAfter: options.suspectAfter,
    probeTimeout: options.probeTimeout,
    healthInterval: options.healthInterval,
  };
}

const TICK_MS = 50;
/** How many never-aborted attempt controllers are kept for reuse. */
const SPARE_CONTROLLERS = 256;

/** Chooses members, detects hung, leaderless and stale ones, and retries what is safe to retry. */
export class EndpointEngine {
  private members: Member[] = [];
  private pinned: Member | undefined;
  private readonly seen = { index: 0, term: 0 };
  private readonly config: EngineConfig;
  private readonly checkRetry: CheckRetry;
  private readonly timing: { suspectAfter: number; probeTimeout: number; healthInterval: number; reprobeInterval: number };
  private readonly random: () => number;
  private ticker: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly probes = new Set<AbortController>();
  private readonly spareControllers: AbortController[] = [];
  private readonly activeWaiters = new Set<() => void>();
  /** The reasons `abandonLostProposals` aborted attempts with: their member is not at fault. */
  private readonly lostProposals = new WeakSet<EtcdError>();
  private inflightCount = 0;
  /** Every call running, so `destroy` can end them all at once. */
  private readonly scopes = new Set<CallScope>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  /** Starts on a random member of the shuffled list, as go-etcd did. */
  constructor(config: EngineConfig) {
    this.config = config;
    this.checkRetry = config.checkRetry ?? defaultCheckRetry;
    this.random = config.random ?? Math.random;
    this.timing = {
      suspectAfter: config.suspectAfter ?? DEFAULTS.suspectAfter,
      probeTimeout: config.probeTimeout ?? DEFAULTS.probeTimeout,
      healthInterval: config.healthInterval ?? DEFAULTS.healthInterval,
      reprobeInterval: config.reprobeInterval ?? DEFAULTS.reprobeInterval,
    };
    this.setEndpoints(config.endpoints);
    this.ticker = setInterval(() => {
      this.tick();
    }, TICK_MS);
    this.ticker.unref();
    if (config.autoSync !== undefined && config.autoSync > 0) {
      this.syncTimer = setInterval(() => void this.sync().catch(() => undefined), config.autoSync);
      this.syncTimer.unref();
    }
  }

  /** The member URLs in use, in rotation order (a copy). */
  get endpoints(): readonly string[] {
    return this.members.map((m) => m.url);
  }

  /** The member requests go to now. */
  get current(): string | undefined {
    return this.pinned?.url;
  }

  /** The default overall deadline of a call, in ms, as configured. */
  get requestTimeout(): number {
    return this.config.requestTimeout ?? DEFAULTS.requestTimeout;
  }

  /** The highest index and raft term any reply has shown. */
  get progress(): Progress {
    return { ...this.seen };
  }

  /** Runs an operation: picks a member, retries per the policy, ends at the deadline or signal. */
  async execute<T>(op: Operation<T>, call: CallOptions = {}): Promise<T> {
    if (this.closed) throw new EtcdError("CLIENT_CLOSED", "the client is closed");
    const scope = new CallScope(call.signal, call.timeout ?? this.config.requestTimeout ?? DEFAULTS.requestTimeout);
    // While calls run, the tick (which starts their deadline timers) keeps the process alive, as a timer per call did.
    if (this.scopes.size === 0) this.ticker?.ref();
    this.scopes.add(scope);
    const watermark = op.weakRead === true ? { ...this.seen } : undefined;
    const failures: EtcdError[] = [];
    let leaderless = 0;
    try {
      for (let attempt = 1; ; attempt++) {
        if (this.electionLikely()) await this.waitForActive(scope);
        const early = scope.ended();
        if (early !== undefined) throw endError(early, false, op.name, failures);
        const member = this.pick();
        const outcome = await this.attempt(member, op, scope, watermark);
        if (outcome.ok) return outcome.value;
        const error = outcome.error;
        const end = scope.ended();
        if (end !== undefined) {
          const all = [...failures, error];
          throw endError(end, op.repeat !== "read" && all.some(mayHaveApplied), op.name, all);
        }
        if (!error.memberFailure) throw error;
        failures.push(error);
        if (!this.lostProposals.has(error)) this.memberFailed(member, error);
        if (isLeaderless(error)) leaderless++;
        const decision = this.checkRetry(retryContext(attempt, member.url, error, this.members.length, op.repeat, leaderless));
        if (!decision.retry) throw giveUp(op, error, failures);
        this.emit({ type: "retry", endpoint: member.url, attempt, delay: decision.delay, error });
        if (decision.delay > 0) await scope.sleep(decision.delay);
      }
    } finally {
      scope.dispose();
      this.scopes.delete(scope);
      if (this.scopes.size === 0) this.ticker?.unref();
    }
  }

  private async attempt<T>(
    member: Member,
    op: Operation<T>,
    scope: CallScope,
    watermark: Progress | undefined,
  ): Promise<{ ok: true; value: T } | { ok: false; error: EtcdError }> {
    const controller = this.spareControllers.pop() ?? reusableAbortController();
    const record: Attempt = {
      controller,
      longPoll: op.longPoll === true,
      startedAt: performance.now(),
      proposalTerm: op.proposal === true ? this.seen.term : undefined,
    };
    member.setFor(record).add(record);
    this.inflightCount++;
    scope.current = controller;
    try {
      const value = await op.run(member.url, controller.signal);
      member.lastSuccessAt = performance.now();
      const progress = op.progress?.(value);
      if (progress !== undefined) this.check(progress, watermark, member);
      return { ok: true, value };
    } catch (thrown) {
      // A transport that can prove the request never left says so; that beats the abort reason.
      const unsent = thrown instanceof EtcdError && thrown.delivery === "unsent";
      const error: unknown = controller.signal.aborted && !unsent ? (controller.signal.reason as unknown) : thrown;
      return { ok: false, error: this.asEtcdError(error, member, watermark) };
    } finally {
      scope.current = undefined;
      member.setFor(record).delete(record);
      this.inflightCount--;
      this.recycle(controller);
      if (this.inflightCount === 0) this.wakeIdle();
    }
  }

  /**
   * Keeps an attempt's controller for a later attempt when its signal was never aborted and
   * nothing listens to it any more. Node 20 makes a fresh AbortSignal costly (creating it,
   * the first listener on it, collecting it): about 10 µs of the client's CPU per request.
   */
  private recycle(controller: AbortController): void {
    const signal = controller.signal;
    if (signal.aborted || this.spareControllers.length >= SPARE_CONTROLLERS) return;
    if (unheard(signal)) this.spareControllers.push(controller);
  }

  /** Records a reply's progress, or throws STALE_READ when a weak read came from the past. */
  private check(progress: Progress, watermark: Progress | undefined, member: Member): void {
    if (watermark !== undefined && isBehind(progress, watermark)) {
      throw new EtcdError(
        "STALE_READ",
        `${member.url} answered at index ${progress.index ?? "?"} (term ${progress.term ?? "?"}), behind index ${watermark.index ?? 0} (term ${watermark.term ?? 0}) already seen`,
        { endpoint: member.url, delivery: "unknown", index: progress.index },
      );
    }
    if (progress.index !== undefined && progress.index > this.seen.index) this.seen.index = progress.index;
    if (progress.term !== undefined && progress.term > this.seen.term) this.seen.term = progress.term;
  }

  private asEtcdError(error: unknown, member: Member, watermark: Progress | undefined): EtcdError {
    if (!(error instanceof EtcdError)) {
      return new EtcdError("UNAVAILABLE", `${member.url}: ${String(error)}`, { endpoint: member.url, delivery: "pending", cause: error });
    }
    // An answer about data from a member that is behind (e.g. "key not found" for a key this
    // client already wrote) is as stale as an old value: retry it elsewhere.
    if (watermark?.index !== undefined && error.index !== undefined && !error.memberFailure && error.index < watermark.index) {
      return new EtcdError("STALE_READ", `${member.url} answered ${error.code} at index ${error.index}, behind index ${watermark.index} already seen`, {
        endpoint: member.url,
        delivery: "unknown",
        index: error.index,
        cause: error,
      });
    }
    return error;
  }

  /** Every member is set aside, yet some of them answered: most likely an election is under way. */
  private electionLikely(): boolean {
    let answered = false;
    for (const m of this.members) {
      if (m.state === "active") return false;
      if (m.state === "set-aside" && m.answered) answered = true;
    }
    return answered;
  }

  /** Waits for a member to come back (or the call to end), up to `electionWait`; costs no attempt. */
  private async waitForActive(scope: CallScope): Promise<void> {
    const wake = (): void => {
      scope.wakeUp();
    };
    this.activeWaiters.add(wake);
    try {
      await scope.sleep(DEFAULTS.electionWait);
    } finally {
      this.activeWaiters.delete(wake);
    }
  }

  /** The pinned member while it is active; otherwise the next active one round-robin; otherwise the next one. */
  private pick(): Member {
    const pinned = this.pinned;
    if (pinned !== undefined && pinned.state === "active") return pinned;
    const n = this.members.length;
    if (n === 0) throw new EtcdError("NO_ENDPOINTS", "the client has no endpoints");
    const start = pinned === undefined ? -1 : this.members.indexOf(pinned);
    // Round-robin from the pinned member: the next one that passes `ok`.
    const next = (ok: (m: Member) => boolean): Member | undefined => {
      for (let step = 1; step <= n; step++) {
        const candidate = this.members[(start + step + n) % n];
        if (candidate !== undefined && ok(candidate)) return candidate;
      }
      return undefined;
    };
    // Every member set aside: keep trying them in turn rather than refuse to send, those that
    // answered first (alive, most likely electing a leader): an unreachable one would only spend
    // the call's attempts while the election runs.
    return this.pin(next((m) => m.state === "active") ?? next((m) => m.answered) ?? (this.members[(start + 1 + n) % n] as Member));
  }

  private pin(member: Member): Member {
    if (this.pinned === member) return member;
    const previous = this.pinned?.url;
    this.pinned = member;
    this.emit({ type: "member-chosen", endpoint: member.url, previous });
    return member;
  }

  private memberFailed(member: Member, error: EtcdError): void {
    this.setAside(member, error.code === "STALE_READ" ? "stale" : "failed", error);
  }

  private setAside(member: Member, reason: SetAsideReason, error?: EtcdError): void {
    if (member.state === "removed") return;
    member.answered = reason === "no-leader" || reason === "stale" || error?.status !== undefined;
    if (member.state !== "active") return;
    member.state = "set-aside";
    member.reason = reason;
    member.lastProbeAt = performance.now();
    this.emit({ type: "member-set-aside", endpoint: member.url, reason, error });
  }

  private reinstate(member: Member): void {
    if (member.state !== "set-aside") return;
    member.state = "active";
    member.reason = undefined;
    this.emit({ type: "member-back", endpoint: member.url });
    for (const wake of this.activeWaiters) wake();
  }

  /** One timer drives everything periodic: suspect probes, re-probes of set-aside members, the health check, and the deadline timers of calls still running. */
  private tick(): void {
    const now = performance.now();
    for (const scope of this.scopes) scope.arm(now);
    this.abandonLostProposals(now);
    for (const member of this.members) {
      if (member.probing) continue;
      const sinceProbe = now - member.lastProbeAt;
      const suspect = member.inflight.size > 0 && member.oldestWait(now) >= this.timing.suspectAfter && sinceProbe >= this.timing.suspectAfter;
      const reprobe = member.state === "set-aside" && sinceProbe >= this.timing.reprobeInterval;
      const watched = member === this.pinned || member.polls.size > 0;
      const healthCheck = watched && member.state === "active" && sinceProbe >= this.timing.healthInterval;
      if (suspect || reprobe || healthCheck) this.probe(member, now);
    }
  }

  /**
   * Gives up on proposals that have waited at least `suspectAfter` since before a newer raft
   * term appeared in a reply. A follower forwards a proposal to the leader it knows; if that
   * leader died, the proposal is lost, and etcd says so only when its request timeout runs out
   * (about 6 s), while the member answers probes and other requests meanwhile. The proposal may
   * still have reached the old leader and be committed by the new one, so it ends as pending:
   * reported OUTCOME_UNKNOWN, never re-sent. A write sent before the client had seen any term
   * is left alone.
   */
  private abandonLostProposals(now: number): void {
    const term = this.seen.term;
    for (const member of this.members) {
      for (const attempt of member.inflight) {
        const sent = attempt.proposalTerm;
        if (sent === undefined || sent === 0 || sent >= term || now - attempt.startedAt < this.timing.suspectAfter) continue;
        const reason = new EtcdError("UNAVAILABLE", `${member.url}: raft term ${term} began while this write waited (sent in term ${sent}); a proposal forwarded to the old leader is lost`, {
          endpoint: member.url,
          delivery: "pending",
        });
        this.lostProposals.add(reason);
        attempt.controller.abort(reason);
      }
    }
  }

  /** A raft term seen outside a reply to an operation (a probe's): what `abandonLostProposals` compares with. */
  private readonly sawTerm = (term: number): void => {
    if (term > this.seen.term) this.seen.term = term;
  };

  private probe(member: Member, now: number): void {
    const startedAt = performance.now();
    member.probing = true;
    member.lastProbeAt = now;
    const controller = new AbortController();
    this.probes.add(controller);
    const timer = setTimeout(() => {
      controller.abort();
    }, this.timing.probeTimeout);
    this.config
      .prober(member.url, controller.signal, this.sawTerm)
      .catch((): ProbeVerdict => "unresponsive")
      .then((verdict) => {
        clearTimeout(timer);
        this.probes.delete(controller);
        member.probing = false;
        member.lastProbeAt = performance.now();
        // On an overloaded host a healthy member can miss the probe's deadline; a hung or
        // leaderless one cannot complete requests, so one that succeeded meanwhile is only slow.
        const slow = (verdict === "unresponsive" || verdict === "no-leader") && member.lastSuccessAt >= startedAt;
        if (!this.closed && member.state !== "removed") this.applyVerdict(member, slow ? "inconclusive" : verdict);
      }, () => undefined);
  }

  private applyVerdict(member: Member, verdict: ProbeVerdict): void {
    if (verdict === "inconclusive") return;
    if (verdict === "healthy") {
      this.reinstate(member);
      return;
    }
    this.setAside(member, verdict === "down" ? "failed" : verdict);
    const why = {
      down: "is down (connection refused)",
      unresponsive: `did not answer a health probe within ${this.timing.probeTimeout} ms`,
      "no-leader": "has no leader",
    }[verdict];
    // A gone process applies nothing later, so its attempts are merely of unknown outcome. A hung
    // or leaderless member may still apply them later (a SIGSTOPped process reads them from its
    // socket when it resumes; a partitioned one forwards them when the network heals), so they
    // are pending: reads move on at once, writes report an unknown outcome.
    const reason = new EtcdError("UNAVAILABLE", `${member.url} ${why}`, {
      endpoint: member.url,
      delivery: verdict === "down" ? "unknown" : "pending",
      health: verdict,
    });
    for (const attempt of [...member.inflight, ...member.polls]) attempt.controller.abort(reason);
  }

  /** Replaces the member list; members kept keep their state, removed ones finish what is in flight. */
  setEndpoints(urls: readonly string[]): void {
    const wanted = [...new Set(urls.map(normalizeUrl))];
    if (wanted.length === 0) throw new EtcdError("NO_ENDPOINTS", "at least one endpoint is required");
    const byUrl = new Map(this.members.map((m) => [m.url, m]));
    const next = shuffle(wanted.map((url) => byUrl.get(url) ?? new Member(url)), this.random);
    const removed = this.members.filter((m) => !wanted.includes(m.url));
    for (const member of removed) member.state = "removed";
    const added = next.filter((m) => !byUrl.has(m.url)).map((m) => m.url);
    this.members = next;
    if (this.pinned === undefined || this.pinned.state === "removed") {
      this.pinned = undefined;
      this.pin(next.find((m) => m.state === "active") ?? (next[0] as Member));
    }
    if (byUrl.size > 0) this.emit({ type: "sync", endpoints: this.endpoints, added, removed: removed.map((m) => m.url) });
  }

  /** Asks the cluster for its member list and uses it (go-etcd SyncCluster). */
  async sync(call: CallOptions = {}): Promise<readonly string[]> {
    const discover = this.config.discover;
    if (discover === undefined) return this.endpoints;
    const urls = await this.execute({ name: "sync", repeat: "read", run: discover }, call);
    if (urls.length > 0 && !this.closed) this.setEndpoints(urls);
    return this.endpoints;
  }

  /** Resolves when no attempt is in flight. */
  idle(): Promise<void> {
    if (this.inflightCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Stops timers and probes; attempts in flight finish. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    clearInterval(this.syncTimer);
    this.ticker = undefined;
    // Without the tick, the calls still finishing need their deadline timers now.
    for (const scope of this.scopes) scope.arm();
    for (const probe of this.probes) probe.abort();
  }

  /** Closes, and ends every call running at once with `reason` (each rejects with it, unchanged). */
  destroy(reason: unknown): void {
    this.close();
    for (const scope of [...this.scopes]) scope.abort(reason);
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Reports an event of a layer above the engine (a slow watch consumer) through the same `onEvent` and logger. */
  notify(event: EngineEvent): void {
    this.emit(event);
  }

  private emit(event: EngineEvent): void {
    const { onEvent, logger } = this.config;
    try {
      onEvent?.(event);
      if (logger !== undefined) {
        const quiet = event.type === "member-chosen" || event.type === "sync";
        const log = quiet ? logger.debug.bind(logger) : logger.warn.bind(logger);
        log(`etcd-ts: ${event.type}`, { ...event });
      }
    } catch {
      // A throwing hook must not break request handling.
    }
  }
}

function giveUp(op: Operation<unknown>, last: EtcdError, failures: readonly EtcdError[]): EtcdError {
  const maybeApplied = failures.some(mayHaveApplied);
  if (op.repeat !== "read" && maybeApplied) {
    return new EtcdError("OUTCOME_UNKNOWN", `${op.name} may or may not have been applied: ${last.message}`, {
      endpoint: last.endpoint,
      delivery: "unknown",
      errors: failures,
      cause: last,
    });
  }
  if (failures.length <= 1 || !canRetry(last, op.repeat)) return last;
  const summary = failures.map((f) => f.message).join("; ");
  // When every member failed the same way (say, TLS verification), that is the error to report.
  const code = failures.every((f) => f.code === last.code) ? last.code : "UNAVAILABLE";
  return new EtcdError(code, `${op.name} failed on every member tried (${failures.length} attempts): ${summary}`, {
    endpoint: last.endpoint,
    delivery: maybeApplied ? "pending" : "unsent",
    errors: failures,
    cause: last,
  });
}

function mayHaveApplied(error: EtcdError): boolean {
  return error.delivery === "unknown" || error.delivery === "pending";
}

function isBehind(progress: Progress, watermark: Progress): boolean {
  if (progress.index !== undefined && watermark.index !== undefined && progress.index < watermark.index) return true;
  return progress.term !== undefined && watermark.term !== undefined && progress.term < watermark.term;
}

function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}

import Logging
import NIOConcurrencyHelpers
import NIOCore
import RumorCore

/// Knobs for handler scripts. Serf hard-codes all of these except that it has no timeout and no concurrency.
public struct HandlerSettings: Hashable, Sendable {
    public var memberCoalesce: CoalescePeriods
    public var userCoalesce: CoalescePeriods
    /// A run is killed, with its whole process group, after this long.
    public var timeout: Duration
    /// A run that takes longer is logged at WARN.
    public var slowThreshold: Duration
    /// Scripts running at once, over all handlers (each handler runs one at a time anyway).
    public var maxConcurrent: Int
    /// Runs waiting per handler; more are dropped with a warning rather than piling up behind a stuck script.
    public var maxQueuedPerHandler: Int
    /// Output kept per run (stdout and stderr together): the tail, logged at DEBUG, and a query's reply.
    public var outputLimit: Int
    /// Member events after a quiet period run their handlers at once (see ``EventCoalescer``).
    public var leadingEdge: Bool

    public init(memberCoalesce: CoalescePeriods = .serfDefault, userCoalesce: CoalescePeriods = .serfDefault,
                timeout: Duration = .seconds(30), slowThreshold: Duration = .seconds(1), maxConcurrent: Int = 16,
                maxQueuedPerHandler: Int = 1024, outputLimit: Int = OutputRing.serfCapacity, leadingEdge: Bool = false) {
        self.leadingEdge = leadingEdge
        self.memberCoalesce = memberCoalesce
        self.userCoalesce = userCoalesce
        self.timeout = timeout
        self.slowThreshold = slowThreshold
        self.maxConcurrent = maxConcurrent
        self.maxQueuedPerHandler = maxQueuedPerHandler
        self.outputLimit = outputLimit
    }
}

/// The agent's script event handlers (`-event-handler`): coalesces events as Serf's agent does, picks the matching
/// handlers and hands their runs to a ``ScriptRunner``. Events reach each handler in order; handlers never wait for
/// each other, and nothing here ever blocks the agent's loop.
public final class EventHandlers: @unchecked Sendable {
    // @unchecked: `specsBox` is lock-protected; the coalescer, `lastSelf` and the timer live on `eventLoop`.
    public let eventLoop: any EventLoop
    public let settings: HandlerSettings
    private let logger: Logger
    private let runner: ScriptRunner
    private let specsBox: NIOLockedValueBox<[HandlerSpec]>
    private let respondHook: @Sendable (_ ltime: UInt64, _ id: UInt32, _ payload: [UInt8]) -> Void
    private var coalescer: EventCoalescer
    private var lastSelf: Member?
    private lazy var flushTimer = DeadlineTimer(eventLoop: eventLoop)
    private var isShutDown = false
    /// Runs, failures and durations (`/metrics`); kept on `eventLoop`.
    public private(set) var counters = HandlerCounters()

    /// - Parameter respond: answers a query (`ltime`, `id`) with a handler's output; called on `eventLoop`, at most
    ///   once per query. Used for queries that arrive through ``handle(_:selfMember:)-(Event,_)``.
    public init(specs: [HandlerSpec], settings: HandlerSettings = HandlerSettings(), eventLoop: any EventLoop,
                logger: Logger,
                respond: @escaping @Sendable (_ ltime: UInt64, _ id: UInt32, _ payload: [UInt8]) -> Void
                    = { _, _, _ in }) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
        self.respondHook = respond
        specsBox = NIOLockedValueBox(specs)
        runner = ScriptRunner(
            maxConcurrent: settings.maxConcurrent, maxQueuedPerLane: settings.maxQueuedPerHandler, logger: logger)
        coalescer = EventCoalescer(member: settings.memberCoalesce, user: settings.userCoalesce, leadingEdge: settings.leadingEdge)
    }

    /// From configuration strings (`-event-handler` values and `event_handlers` entries), checking the scripts.
    public convenience init(configuration: [String], settings: HandlerSettings = HandlerSettings(),
                            eventLoop: any EventLoop, logger: Logger,
                            respond: @escaping @Sendable (_ ltime: UInt64, _ id: UInt32, _ payload: [UInt8]) -> Void
                                = { _, _, _ in }) throws {
        let specs = try HandlerSpec.parseAll(configuration)
        self.init(specs: specs, settings: settings, eventLoop: eventLoop, logger: logger, respond: respond)
    }

    public var specs: [HandlerSpec] { specsBox.withLockedValue { $0 } }

    /// `serf info`'s event_handlers section: `"event:name": script`, as Serf builds it.
    public var stats: [String: String] {
        var out: [String: String] = [:]
        for spec in specs { for entry in spec.statsEntries { out[entry.key] = entry.script } }
        return out
    }

    /// Scripts running now and runs waiting for their turn.
    public var load: (running: Int, queued: Int) { runner.load }

    /// Every protocol event from the agent (its listener). Events handlers don't take are ignored; internal queries
    /// too. `selfMember` supplies `SERF_SELF_*` and `SERF_TAG_*`.
    public func handle(_ event: Event, selfMember: Member) {
        guard let converted = HandlerEvent(event, respond: respondHook) else { return }
        handle(converted, selfMember: selfMember)
    }

    /// Same, for an already converted event (a query then carries its own `respond`).
    public func handle(_ event: HandlerEvent, selfMember: Member) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.handle(event, selfMember: selfMember) }
            return
        }
        guard !isShutDown, !specs.isEmpty else { return }
        lastSelf = selfMember
        deliver(coalescer.ingest(event, now: DeadlineTimer.now), selfMember: selfMember)
        rescheduleFlush()
    }

    /// Swaps the handlers (SIGHUP). Runs already queued or running finish with the old set; a handler present in
    /// both (same text) keeps its queue, so its events stay in order across the reload.
    public func reload(specs: [HandlerSpec]) {
        specsBox.withLockedValue { $0 = specs }
        logger.info("agent: event handlers reloaded: \(specs.count) handler(s)")
    }

    /// Parses and checks `configuration`, then swaps; on any error the current handlers stay.
    public func reload(configuration: [String]) throws {
        reload(specs: try HandlerSpec.parseAll(configuration))
    }

    /// Stops the timer and the runner (running scripts are killed, queued runs dropped).
    public func shutdown() -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { [self] in
            isShutDown = true
            flushTimer.cancel()
            runner.shutdown { promise.succeed(()) }
        }
        return promise.futureResult
    }

    // MARK: - On the event loop

    private func rescheduleFlush() {
        flushTimer.set(coalescer.nextDeadline) { [self] in
            let out = coalescer.advance(to: DeadlineTimer.now)
            if let lastSelf { deliver(out, selfMember: lastSelf) }
            rescheduleFlush()
        }
    }

    private func deliver(_ events: [HandlerEvent], selfMember: Member) {
        guard !events.isEmpty else { return }
        let specs = self.specs
        for event in events {
            let matching = specs.filter { $0.matches(event) }
            guard !matching.isEmpty else { continue }
            let gate: QueryReplyGate?
            if case .query(let q) = event {
                let loop = eventLoop
                gate = QueryReplyGate(handlers: matching.count) { payload in loop.execute { q.respond(payload) } }
            } else {
                gate = nil
            }
            for (slot, spec) in matching.enumerated() {
                let invocation = ScriptInvocation(script: spec.script, event: event, selfMember: selfMember)
                let job = ScriptJob(
                    invocation: invocation, timeout: settings.timeout, slowThreshold: settings.slowThreshold,
                    outputLimit: settings.outputLimit
                ) { [weak self] result in
                    gate?.complete(slot: slot, reply: result.succeeded && result.outputTotal > 0 ? result.output : nil)
                    self?.eventLoop.execute { self?.counters.record(event: event.typeName, result) }
                }
                runner.enqueue(job, lane: spec.text)
            }
        }
    }
}

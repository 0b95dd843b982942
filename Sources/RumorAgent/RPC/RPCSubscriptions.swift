import Logging
import NIOCore
import RumorCore

/// How `stream` and `monitor` get their input: Serf's agent coalesces events before both its handlers and its RPC
/// streams (serf.go wraps the event channel; ipc_event_stream.go then only filters), so streams coalesce with the
/// same windows as handler scripts. Tests turn coalescing off and use their own log sink.
public struct RPCStreamSettings: Sendable {
    public var memberCoalesce: CoalescePeriods
    public var userCoalesce: CoalescePeriods
    public var logSink: LogSink

    public init(
        memberCoalesce: CoalescePeriods = .serfDefault, userCoalesce: CoalescePeriods = .serfDefault,
        logSink: LogSink = .shared
    ) {
        self.memberCoalesce = memberCoalesce
        self.userCoalesce = userCoalesce
        self.logSink = logSink
    }
}

/// One `stream` subscription: agent events, coalesced as Serf's agent does, filtered by the request's Type, written
/// as records with the stream's Seq. Queries get a per-connection ID the client answers with `respond`.
///
/// Event-loop bound, like the connection that owns it.
final class RPCEventStream {
    let seq: UInt64
    private let filters: [EventFilter]
    private weak var connection: RPCConnection?
    private let backend: any AgentRPCBackend
    private var coalescer: EventCoalescer
    private var token: Int?
    private lazy var flushTimer = DeadlineTimer(eventLoop: backend.eventLoop)
    private var stopped = false

    init(seq: UInt64, filters: [EventFilter], connection: RPCConnection, settings: RPCStreamSettings) {
        self.seq = seq
        self.filters = filters
        self.connection = connection
        self.backend = connection.backend
        coalescer = EventCoalescer(member: settings.memberCoalesce, user: settings.userCoalesce)
    }

    /// Serf's `ParseEventFilter`: empty means `*`; items are split at commas and not trimmed. Nil if any item is not
    /// an event type ("Invalid event filter").
    static func parseFilter(_ text: String) -> [EventFilter]? {
        let items = (text.isEmpty ? "*" : text).split(separator: ",", omittingEmptySubsequences: false)
        var filters: [EventFilter] = []
        for item in items {
            guard let filter = EventFilter(item: String(item)) else { return nil }
            filters.append(filter)
        }
        return filters
    }

    /// Starts listening; called once the `stream` reply is on its way, so records never precede it.
    func start() {
        guard !stopped, token == nil else { return }
        token = backend.addListener(token: { [weak self] event in self?.receive(event) })
    }

    func stop() {
        stopped = true
        if let token { backend.removeListener(token) }
        token = nil
        flushTimer.cancel()
    }

    private func receive(_ event: Event) {
        // Queries are answered through `respond`, not through HandlerEvent's hook; internal queries come out nil.
        guard !stopped, let converted = HandlerEvent(event, respond: { _, _, _ in }) else { return }
        deliver(coalescer.ingest(converted, now: DeadlineTimer.now))
        rescheduleFlush()
    }

    /// Coalescing first, then the filter: serf filters what its coalescer let through, and filtering first would
    /// change what the coalescer suppresses as repeats.
    private func deliver(_ events: [HandlerEvent]) {
        guard let connection else { return stop() }
        for event in events where filters.contains(where: { $0.matches(event) }) {
            guard let record = record(for: event, connection: connection) else { continue }
            connection.sendRecord(seq: seq, record)
        }
    }

    /// nil for actions' own events, which serf's stream protocol has no record for.
    private func record(for event: HandlerEvent, connection: RPCConnection) -> RPCStreamRecord? {
        switch event {
        case .member(let type, let members):
            return .member(event: type.rawValue, members: members.map(RPCMember.init))
        case .user(let e):
            return .user(ltime: e.ltime, name: e.name, payload: e.payload.nilIfEmpty, coalesce: e.coalesce)
        case .query(let q):
            let id = connection.registerQuery(ltime: q.ltime, id: q.id)
            return .query(id: id, ltime: q.ltime, name: q.name, payload: q.payload.nilIfEmpty)
        case .action:
            return nil
        }
    }

    private func rescheduleFlush() {
        flushTimer.set(coalescer.nextDeadline) { [weak self] in
            guard let self, !self.stopped else { return }
            deliver(coalescer.advance(to: DeadlineTimer.now))
            rescheduleFlush()
        }
    }
}

/// One `monitor`: log lines at or above a level, the recent ones first (the sink replays them), then live ones.
final class RPCLogMonitor {
    let seq: UInt64
    private let minimum: Logger.Level
    private weak var connection: RPCConnection?
    private let sink: LogSink
    private var token: UInt64?
    private var stopped = false

    init(seq: UInt64, minimum: Logger.Level, connection: RPCConnection, sink: LogSink) {
        self.seq = seq
        self.minimum = minimum
        self.connection = connection
        self.sink = sink
    }

    /// Serf's levels, as `logutils` orders them; the request is upper-cased first and must match one exactly.
    static func level(_ name: String) -> Logger.Level? {
        switch name {
        case "TRACE": .trace
        case "DEBUG": .debug
        case "INFO": .info
        case "WARN": .warning
        case "ERR": .error
        default: nil
        }
    }

    func start() {
        guard !stopped, token == nil, let connection else { return }
        let loop = connection.backend.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let minimum = self.minimum
        // Lines come from any thread; each hops to the connection's loop, which keeps one thread's lines in order.
        token = sink.subscribe { line, level in
            guard level >= minimum else { return }
            loop.execute { bound.value.forward(line) }
        }
    }

    func stop() {
        stopped = true
        if let token { sink.unsubscribe(token) }
        token = nil
    }

    private func forward(_ line: String) {
        guard !stopped else { return }
        guard let connection else { return stop() }
        connection.sendRecord(seq: seq, RPCLogRecord(log: line))
    }
}

/// The records of one `query`, held back until the command's own reply has been written: serf's CLI reads the
/// reply first, and would skip records for a Seq it does not know yet. Never dropped for a slow reader (there is
/// at most one ack and one response per member), and above all not the `done` the CLI waits for.
final class RPCQueryResultStream {
    let seq: UInt64
    private weak var connection: RPCConnection?
    private var ready = false
    private var finished = false
    private var held: [RPCQueryRecord] = []

    init(seq: UInt64, connection: RPCConnection) {
        self.seq = seq
        self.connection = connection
    }

    func emit(_ record: RPCQueryRecord) {
        guard !finished else { return }
        if record.type == RPCProtocol.QueryRecordType.done { finished = true }
        if ready { write(record) } else { held.append(record) }
    }

    /// The reply is out: release what arrived meanwhile, in order.
    func open() {
        guard !ready else { return }
        ready = true
        let pending = held
        held = []
        for record in pending { write(record) }
    }

    private func write(_ record: RPCQueryRecord) {
        connection?.send(RPCResponseHeader(seq: seq), record)
    }
}

/// Decides, for one app on one node, what to do next: a pure function of the spec, what the engine reports and
/// the time, plus the restart history it keeps. The driver executes the steps and asks again.
///
/// Rules (Swarm's where it has one): a missing slot is created; an exited container or one failing its health check
/// is replaced after a back-off that doubles per failure (Docker never restarts an unhealthy container);
/// containers beyond the wanted count, without a readable slot, or duplicated are removed; containers made from an
/// older spec are replaced one at a time, and only while every other slot is ready, so capacity drops by one at
/// most (stop-first) or not at all (start-first: the new container starts beside the old one, which is withdrawn
/// and stopped once the new one is ready). A container leaves the load balancer (its endpoint is withdrawn) before it is stopped.
public struct AppReconciler: Sendable {
    public struct SlotHistory: Sendable, Equatable {
        /// Failures since the slot last ran for the restart window.
        public var failures = 0
        public var lastError: String?
        /// No create before this time.
        public var nextAttempt: Duration = .zero
        /// `max_attempts` reached: the slot waits for a new spec or a reload.
        public var gaveUp = false
        /// Restarts this slot has made (shown by `rumor apps ls`).
        public var restarts = 0
        var countedFailureOf: String?
        var runningID: String?
        var runningSince: Duration = .zero
    }

    public enum Step: Sendable, Equatable {
        case create(slot: Int)
        /// Stop and remove; `drain`: withdraw its endpoint and wait `drain` first.
        case remove(id: String, name: String, drain: Bool, reason: String)
        /// Stop without the stop grace and remove: a start-first replacement that failed before it was ever ready,
        /// so no load balancer sent it a request to finish (the old container still serves the slot).
        case discard(id: String, name: String, reason: String)
        /// Remove, then create the slot anew.
        case replace(id: String, name: String, slot: Int, drain: Bool, reason: String)
    }

    public enum Notice: Sendable, Equatable {
        case exited(ObservedContainer)
        case unhealthy(ObservedContainer)
        case healthy(ObservedContainer)
    }

    public struct Plan: Sendable, Equatable {
        public var steps: [Step] = []
        /// What the node should advertise now (ready containers not about to go).
        public var endpoints: [Endpoint] = []
        public var notices: [Notice] = []
        /// Ask again at this time at the latest (a back-off ends).
        public var wakeAt: Duration?
        /// Every slot has a ready container of the current spec and nothing else runs.
        public var converged = false
    }

    public private(set) var history: [Int: SlotHistory] = [:]
    private var healthySeen: Set<String> = []
    /// When each container was first seen ready (a roll waits until the others have been ready `update.delay`).
    private var readySince: [String: Duration] = [:]

    public init() {}

    /// Forgets give-ups and back-offs: a new spec or a reload deserves a fresh try.
    public mutating func reset() {
        for slot in history.keys {
            history[slot]?.gaveUp = false
            history[slot]?.failures = 0
            history[slot]?.nextAttempt = .zero
        }
    }

    /// A create or start of `slot` failed (Docker's message in `message`).
    public mutating func failed(slot: Int, message: String, spec: AppSpec, now: Duration) {
        countFailure(slot: slot, message: message, spec: spec, now: now)
    }

    /// `containers_per`: slots 1...count on this node.
    public mutating func plan(spec: AppSpec, count: Int, observed: [ObservedContainer], now: Duration) -> Plan {
        plan(spec: spec, slots: count > 0 ? Set(1...count) : [], observed: observed, now: now)
    }

    /// `replicas`: the slots ``ReplicaPlacement`` gives this node.
    public mutating func plan(spec: AppSpec, slots wanted: Set<Int>, observed: [ObservedContainer], now: Duration) -> Plan {
        var plan = Plan()
        let hash = spec.templateHash
        var leaving: Set<String> = []
        var kept: [Int: ObservedContainer] = [:]

        for c in observed where c.slot.map({ !wanted.contains($0) }) ?? true {
            plan.steps.append(.remove(id: c.id, name: c.name, drain: c.isReady, reason: "not wanted on this node"))
            leaving.insert(c.id)
        }
        let bySlot = Dictionary(grouping: observed.filter { c in c.slot.map(wanted.contains) ?? false }, by: { $0.slot! })
        var outdated: [ObservedContainer] = []
        var allReady = true
        var unsettledUntil: Duration?  // when every ready container will have been ready for the update delay

        for slot in wanted.sorted() {
            var ranked = (bySlot[slot] ?? []).sorted { Self.rank($0, hash) > Self.rank($1, hash) }
            // Start-first: the current container starting beside the slot's ready old one is its replacement, not
            // a duplicate. Once ready it ranks first, and the old one goes below (withdrawn, then stopped).
            var incoming: ObservedContainer?
            if spec.update.order == .startFirst, let first = ranked.first, first.isReady, first.templateHash != hash,
               let i = ranked.indices.dropFirst().first(where: { ranked[$0].templateHash == hash }) {
                incoming = ranked.remove(at: i)
            }
            for extra in ranked.dropFirst() {
                let replaced = extra.templateHash != hash && ranked.first?.templateHash == hash
                plan.steps.append(.remove(id: extra.id, name: extra.name, drain: extra.isReady,
                                          reason: replaced ? "spec changed, its replacement is ready" : "duplicate of slot \(slot)"))
                leaving.insert(extra.id)
            }
            if let incoming {
                allReady = false  // the roll goes on once the replacement is ready
                if let failure = Self.failure(of: incoming) {
                    if history[slot]?.countedFailureOf != incoming.id {
                        countFailure(slot: slot, message: failure, spec: spec, now: now)
                        history[slot]?.countedFailureOf = incoming.id
                        plan.notices.append(incoming.hasFailed ? .exited(incoming) : .unhealthy(incoming))
                    }
                    // The old container still serves: only the failed replacement goes; the next try waits out the
                    // back-off, and repeated failures fail the rollout (the run tag) as a stop-first roll would.
                    plan.steps.append(.discard(id: incoming.id, name: incoming.name, reason: failure))
                    leaving.insert(incoming.id)
                } else if incoming.running, incoming.health == .starting || incoming.health == .none {
                    plan.wakeAt = earliest(plan.wakeAt, now + .seconds(1))
                }
            }
            var h = history[slot] ?? SlotHistory()
            defer { history[slot] = h }
            guard let c = ranked.first else {
                allReady = false
                if h.gaveUp { continue }
                if now >= h.nextAttempt { plan.steps.append(.create(slot: slot)) } else { plan.wakeAt = earliest(plan.wakeAt, h.nextAttempt) }
                continue
            }
            kept[slot] = c
            if c.running, h.runningID != c.id { (h.runningID, h.runningSince) = (c.id, now) }
            // Ran long enough: past crashes are forgiven. Only a container of the current spec forgives them: an old
            // one serving through a start-first roll says nothing of its failing replacements.
            if c.running, c.health != .unhealthy, c.templateHash == hash, h.failures > 0, now - h.runningSince >= spec.restart.window {
                h.failures = 0
            }
            if let failure = Self.failure(of: c) {
                allReady = false
                if h.countedFailureOf != c.id {
                    history[slot] = h
                    countFailure(slot: slot, message: failure, spec: spec, now: now)
                    h = history[slot]!
                    h.countedFailureOf = c.id
                    plan.notices.append(c.hasFailed ? .exited(c) : .unhealthy(c))
                }
                if h.gaveUp { continue }
                if now >= h.nextAttempt {
                    plan.steps.append(.replace(id: c.id, name: c.name, slot: slot, drain: false, reason: failure))
                    leaving.insert(c.id)
                } else {
                    plan.wakeAt = earliest(plan.wakeAt, h.nextAttempt)
                }
                continue
            }
            if c.health == .healthy, !healthySeen.contains(c.id) {
                healthySeen.insert(c.id)
                plan.notices.append(.healthy(c))
            }
            if c.running, c.health == .starting {
                // Health changes arrive as engine events; look again soon anyway, in case one is lost.
                plan.wakeAt = earliest(plan.wakeAt, now + .seconds(1))
            }
            if c.isReady {
                let since = readySince[c.id] ?? now
                readySince[c.id] = since
                if now - since < spec.updateDelay { unsettledUntil = max(unsettledUntil ?? .zero, since + spec.updateDelay) }
            } else {
                allReady = false
                readySince[c.id] = nil
            }
            if c.templateHash != hash { outdated.append(c) }
        }
        // One outdated container at a time, and only when nothing else is missing, starting or just started.
        if plan.steps.isEmpty, allReady, let next = outdated.first {
            let h = history[next.slot!] ?? SlotHistory()
            if let until = unsettledUntil {
                plan.wakeAt = earliest(plan.wakeAt, until)
            } else if spec.update.order == .startFirst {
                // The old container keeps serving until its replacement is ready (above).
                if !h.gaveUp, now >= h.nextAttempt {
                    plan.steps.append(.create(slot: next.slot!))
                } else if !h.gaveUp {
                    plan.wakeAt = earliest(plan.wakeAt, h.nextAttempt)
                }
            } else {
                plan.steps.append(.replace(id: next.id, name: next.name, slot: next.slot!, drain: true, reason: "spec changed"))
                leaving.insert(next.id)
            }
        }
        for (slot, c) in kept.sorted(by: { $0.key < $1.key }) where c.isReady && !leaving.contains(c.id) {
            if let endpoint = Self.endpoint(of: c, slot: slot, spec: spec) { plan.endpoints.append(endpoint) }
        }
        plan.converged = plan.steps.isEmpty && allReady && outdated.isEmpty && kept.count == wanted.count
        healthySeen.formIntersection(observed.map(\.id))
        readySince = readySince.filter { id, _ in observed.contains { $0.id == id } }
        return plan
    }

    /// Where a ready container is reached, or nil when the app publishes no port.
    static func endpoint(of c: ObservedContainer, slot: Int, spec: AppSpec) -> Endpoint? {
        guard let port = spec.advertisedPort(slot: slot) else { return nil }
        switch spec.advertise {
        case .host: return Endpoint(slot: slot, host: nil, port: port)
        case .network(let network, _):
            guard let ip = c.addresses[network] else { return nil }
            return Endpoint(slot: slot, host: ip, port: port)
        }
    }

    /// Why a container counts as failed (exited, or running with a failing health check), or nil.
    static func failure(of c: ObservedContainer) -> String? {
        if c.hasFailed { return c.error.isEmpty ? "exited with code \(c.exitCode)" : c.error }
        return c.running && c.health == .unhealthy ? "health check failing" : nil
    }

    /// Which of a slot's containers to keep: ready and current first, then running, then anything.
    static func rank(_ c: ObservedContainer, _ hash: String) -> Int {
        (c.isReady ? 4 : 0) + (c.templateHash == hash ? 2 : 0) + (c.running ? 1 : 0)
    }

    private mutating func countFailure(slot: Int, message: String, spec: AppSpec, now: Duration) {
        var h = history[slot] ?? SlotHistory()
        h.failures += 1
        h.restarts += 1
        h.lastError = message
        h.nextAttempt = now + RestartBackoff.delay(failures: h.failures, policy: spec.restart, slot: slot)
        h.gaveUp = spec.restart.maxAttempts > 0 && h.failures >= spec.restart.maxAttempts
        history[slot] = h
    }

    private func earliest(_ a: Duration?, _ b: Duration) -> Duration { a.map { min($0, b) } ?? b }
}

/// The wait before restarting a slot after its `failures`-th failure within the window: none after the first (a
/// killed container comes back at once, as Docker's own restart policy does), then `delay`, doubling, capped at
/// `max_delay`, spread ±10% so slots that failed together do not restart together. Deterministic (slot and count
/// pick the spread), so tests need no randomness.
public enum RestartBackoff {
    public static func delay(failures: Int, policy: AppSpec.RestartPolicy, slot: Int) -> Duration {
        guard failures > 1 else { return .zero }
        let doublings = min(failures - 2, 30)
        var d = policy.delay * (1 << doublings)
        if d > policy.maxDelay || d < .zero { d = policy.maxDelay }
        let spread = Double((slot &* 7919 &+ failures &* 104_729) % 21 - 10) / 100
        return d + d * spread
    }
}

import RumorWire

/// Applying a peer's full state (memberlist `mergeState`, then Serf's `MergeRemoteState`), a slice at a time: a
/// push-pull may list 100,000 nodes, and applying them in one go would keep the driver's event loop from probes
/// and acks for seconds. Up to `mergeSlice` nodes or intents are applied per input; the rest follow through the
/// `.mergeSlice` timer, due at once, so other inputs interleave (docs/membership.md#push-pull-merge).
extension Instance {
    /// Nodes or intents applied per slice: a few milliseconds of work, agent event handling included.
    static let mergeSlice = 500
    /// User events taken from one slot of a remote event ring: serf never has more than a few at one Lamport time,
    /// and each is checked against the slot's others.
    static let maxEventsPerSlot = 256

    mutating func mergeRemoteState(_ remote: PushPull, serf: Result<SerfPushPull, WireError>?, ignoreOldEvents: Bool) {
        pendingMerges.append(PendingMerge(nodes: remote.nodes, serf: serf, ignoreOldEvents: ignoreOldEvents))
        if pendingMerges.count == 1 { continueMerges() }
    }

    mutating func continueMerges() {
        var budget = Self.mergeSlice
        while budget > 0, !pendingMerges.isEmpty {
            var merge = pendingMerges.removeFirst()
            budget -= advanceMerge(&merge, budget: budget)
            if !merge.isDone { pendingMerges.insert(merge, at: 0) }
        }
        if !pendingMerges.isEmpty { schedule(.mergeSlice, after: .zero) }
    }

    /// Applies up to `budget` units of `merge`; returns how many it used.
    private mutating func advanceMerge(_ merge: inout PendingMerge, budget: Int) -> Int {
        var used = 0
        while used < budget, merge.nextNode < merge.nodes.count {
            applyNode(merge.nodes[merge.nextNode])
            merge.nextNode += 1
            used += 1
        }
        guard merge.nextNode == merge.nodes.count else { return used }
        if merge.nodes.count > 0 { merge.nodes = [] ; merge.nextNode = 0 }
        if !merge.serfStarted {
            merge.serfStarted = true
            merge.serfCursor = serfMergeStart(merge.serf, ignoreOldEvents: merge.ignoreOldEvents)
            merge.serf = nil
            used += 1
        }
        while used < budget, var cursor = merge.serfCursor {
            merge.serfCursor = nil  // one owner while it moves, so the copy below is not a copy of its buffers
            let more = applyNextSerf(&cursor)
            merge.serfCursor = more ? cursor : nil
            used += 1
        }
        return used
    }

    private mutating func applyNode(_ n: PushNodeState) {
        switch n.state {
        case .alive:
            aliveNode(Alive(incarnation: n.incarnation, node: n.name, addr: n.addr, port: n.port, meta: n.meta, vsn: n.vsn),
                bootstrap: false)
        case .left:
            deadNode(Dead(incarnation: n.incarnation, node: n.name, from: n.name))
        case .dead, .suspect:
            // A remote "dead" is only a suspicion here: we give the node the chance to refute it.
            suspectNode(Suspect(incarnation: n.incarnation, node: n.name, from: name))
        }
    }

    /// Witnesses the remote clocks and sets up the intents and events to apply, a slice at a time
    /// (docs/membership.md#serf-push-pull-merge).
    private mutating func serfMergeStart(_ state: Result<SerfPushPull, WireError>?, ignoreOldEvents: Bool) -> SerfMergeCursor? {
        guard let state else { return nil }
        let pp: SerfPushPull
        switch state {
        case .success(let s): pp = s
        case .failure(let error):
            drop(.malformed, "dropped malformed serf push-pull state: \(error)")
            return nil
        }
        // Every time here is a peer's: one past the ceiling is dropped (with a warning), the rest still merge.
        if pp.ltime > 0, admitLTime(pp.ltime, in: "push-pull member clock") { clock.witness(pp.ltime - 1) }
        if pp.eventLTime > 0, admitLTime(pp.eventLTime, in: "push-pull event clock") { eventClock.witness(pp.eventLTime - 1) }
        if pp.queryLTime > 0, admitLTime(pp.queryLTime, in: "push-pull query clock") { queryClock.witness(pp.queryLTime - 1) }
        if ignoreOldEvents && pp.eventLTime > eventMinTime && pp.eventLTime < LamportClock.ceiling {
            eventMinTime = pp.eventLTime
        }
        mergeApps(pp.rumorApps)
        var events: [(UInt64, UserEventCollection.Event)] = []
        for case let slot? in pp.events where admitLTime(slot.ltime, in: "push-pull user events") {
            if slot.events.count > Self.maxEventsPerSlot {
                warn("push-pull lists \(slot.events.count) user events at Lamport time \(slot.ltime): taking the first \(Self.maxEventsPerSlot)")
            }
            for e in slot.events.prefix(Self.maxEventsPerSlot) { events.append((slot.ltime, e)) }
        }
        return SerfMergeCursor(state: pp, left: Set(pp.leftMembers), status: pp.statusLTimes.startIndex, events: events)
    }

    /// Applies the next intent or event; false when there is none left.
    private mutating func applyNextSerf(_ c: inout SerfMergeCursor) -> Bool {
        if c.nextLeft < c.state.leftMembers.count {
            // Left members first, one past their last known time: the leave must have come after it.
            let node = c.state.leftMembers[c.nextLeft]
            c.nextLeft += 1
            let ltime = (c.state.statusLTimes[node] ?? 0).saturatingAdd(1)
            if admitLTime(ltime, in: "push-pull leave time of '\(node)'") {
                _ = handleLeaveIntent(LeaveIntent(ltime: ltime, node: node))
            }
            return true
        }
        // Intents about different members commute, so the dictionary's order will do (no sort of 100,000 names).
        if c.status < c.state.statusLTimes.endIndex {
            let (node, ltime) = c.state.statusLTimes[c.status]
            c.status = c.state.statusLTimes.index(after: c.status)
            if !c.left.contains(node), admitLTime(ltime, in: "push-pull join time of '\(node)'") {
                _ = handleJoinIntent(JoinIntent(ltime: ltime, node: node))
            }
            return true
        }
        if c.nextEvent < c.events.count {
            let (ltime, e) = c.events[c.nextEvent]
            c.nextEvent += 1
            _ = handleUserEvent(UserEventMessage(ltime: ltime, name: e.name, payload: e.payload, cc: false))
            return true
        }
        return false
    }
}

/// Where a Serf push-pull merge has got to.
struct SerfMergeCursor: Sendable {
    var state: SerfPushPull
    var left: Set<String>
    var nextLeft = 0
    var status: Dictionary<String, UInt64>.Index
    var events: [(UInt64, UserEventCollection.Event)]
    var nextEvent = 0

    init(state: SerfPushPull, left: Set<String>, status: Dictionary<String, UInt64>.Index, events: [(UInt64, UserEventCollection.Event)]) {
        self.state = state
        self.left = left
        self.status = status
        self.events = events
    }

    var isDone: Bool {
        nextLeft >= state.leftMembers.count && status == state.statusLTimes.endIndex && nextEvent >= events.count
    }
}

/// A push-pull being merged: its nodes, then its Serf state's intents and events.
struct PendingMerge: Sendable {
    var nodes: [PushNodeState]
    var nextNode = 0
    var serf: Result<SerfPushPull, WireError>?
    var serfStarted = false
    var serfCursor: SerfMergeCursor?
    var ignoreOldEvents: Bool

    init(nodes: [PushNodeState], serf: Result<SerfPushPull, WireError>?, ignoreOldEvents: Bool) {
        self.nodes = nodes
        self.serf = serf
        self.ignoreOldEvents = ignoreOldEvents
    }

    var isDone: Bool { nextNode >= nodes.count && serfStarted && serfCursor == nil }
}

import RumorWire

/// Serf messages carried in memberlist user messages, and Serf's share of the push-pull state.
extension Instance {
    mutating func receiveSerf(_ bytes: [UInt8], from: Address) {
        guard !bytes.isEmpty else { return }
        let message: SerfMessage
        do {
            message = try SerfCodec.decode(bytes)
        } catch {
            warn("dropped malformed serf message from \(from): \(error)")
            return
        }
        if let ltime = message.lamportTime, !admitLTime(ltime, in: "\(message.kindName) from \(from)") { return }
        switch message {
        case .join(let intent):
            if handleJoinIntent(intent) { intentQueue.enqueue(bytes) }
        case .leave(let intent):
            if handleLeaveIntent(intent) { intentQueue.enqueue(bytes) }
        case .userEvent(let event):
            if handleUserEvent(event) { eventQueue.enqueue(bytes) }
        case .query(let query):
            if handleQuery(query) { queryQueue.enqueue(bytes) }
        case .queryResponse(let response):
            handleQueryResponse(response)
        case .relay(let header, let payload):
            // Forward unchanged: the relay exists so a response survives a broken direct path.
            let dest = Address(ip: header.destAddr, port: header.destPort)
            emitPacket(Self.userMessage(payload), to: dest, node: nil)
        case .pushPull:
            warn("dropped serf push-pull state sent outside a push-pull from \(from)")
        }
    }

    /// Serf's push-pull delegate state: member Lamport times, left members and the recent-event ring.
    func serfLocalState() -> [UInt8] {
        var statusLTimes: [String: UInt64] = [:]
        var left: [String] = []
        for (name, state) in members {
            statusLTimes[name] = state.statusLTime
            // Leaving members are listed as left too. Serf lists only left ones, so every other status time is
            // merged as a *join* intent: a leaving member's leave time then arrives at a peer that has not seen
            // the leave intent yet as a join time, the real intent is ignored as old, and the peer reports the
            // member failed instead of left. Listed here, the peer applies a leave (one past that time) instead.
            if state.member.status == .left || state.member.status == .leaving { left.append(name) }
        }
        let pp = SerfPushPull(
            ltime: clock.time, statusLTimes: statusLTimes, leftMembers: left.sorted(), eventLTime: eventClock.time,
            events: eventBuffer, queryLTime: queryClock.time)
        return SerfCodec.encode(.pushPull(pp))
    }

    mutating func serfMergeRemoteState(_ bytes: [UInt8], ignoreOldEvents: Bool) {
        guard case .pushPull(let pp)? = try? SerfCodec.decode(bytes) else {
            warn("dropped malformed serf push-pull state")
            return
        }
        // Every time here is a peer's: one past the ceiling is dropped (with a warning), the rest still merge.
        if pp.ltime > 0, admitLTime(pp.ltime, in: "push-pull member clock") { clock.witness(pp.ltime - 1) }
        if pp.eventLTime > 0, admitLTime(pp.eventLTime, in: "push-pull event clock") { eventClock.witness(pp.eventLTime - 1) }
        if pp.queryLTime > 0, admitLTime(pp.queryLTime, in: "push-pull query clock") { queryClock.witness(pp.queryLTime - 1) }
        // Left members first, one past their last known time: the leave must have come after it.
        let left = Set(pp.leftMembers)
        for node in pp.leftMembers {
            let ltime = (pp.statusLTimes[node] ?? 0).saturatingAdd(1)
            guard admitLTime(ltime, in: "push-pull leave time of '\(node)'") else { continue }
            _ = handleLeaveIntent(LeaveIntent(ltime: ltime, node: node))
        }
        for (node, ltime) in pp.statusLTimes.sorted(by: { $0.key < $1.key }) where !left.contains(node) {
            guard admitLTime(ltime, in: "push-pull join time of '\(node)'") else { continue }
            _ = handleJoinIntent(JoinIntent(ltime: ltime, node: node))
        }
        if ignoreOldEvents && pp.eventLTime > eventMinTime && pp.eventLTime < LamportClock.ceiling {
            eventMinTime = pp.eventLTime
        }
        for case let slot? in pp.events where admitLTime(slot.ltime, in: "push-pull user events") {
            for e in slot.events {
                _ = handleUserEvent(UserEventMessage(ltime: slot.ltime, name: e.name, payload: e.payload, cc: false))
            }
        }
    }
}

extension SerfMessage {
    /// The Lamport time a message would make us witness (responses and relays make us witness nothing).
    var lamportTime: UInt64? {
        switch self {
        case .join(let i): i.ltime
        case .leave(let i): i.ltime
        case .userEvent(let e): e.ltime
        case .query(let q): q.ltime
        case .queryResponse, .relay, .pushPull: nil
        }
    }

    /// What the message is, for warnings.
    var kindName: String {
        switch self {
        case .join(let i): "join intent for '\(i.node)'"
        case .leave(let i): "leave intent for '\(i.node)'"
        case .userEvent(let e): "user event '\(e.name)'"
        case .query(let q): "query '\(q.name)'"
        case .queryResponse: "query response"
        case .relay: "relay"
        case .pushPull: "push-pull state"
        }
    }
}

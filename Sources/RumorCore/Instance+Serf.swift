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
        if pp.ltime > 0 { clock.witness(pp.ltime - 1) }
        if pp.eventLTime > 0 { eventClock.witness(pp.eventLTime - 1) }
        if pp.queryLTime > 0 { queryClock.witness(pp.queryLTime - 1) }
        // Left members first, one past their last known time: the leave must have come after it.
        let left = Set(pp.leftMembers)
        for node in pp.leftMembers {
            _ = handleLeaveIntent(LeaveIntent(ltime: (pp.statusLTimes[node] ?? 0) + 1, node: node))
        }
        for (node, ltime) in pp.statusLTimes.sorted(by: { $0.key < $1.key }) where !left.contains(node) {
            _ = handleJoinIntent(JoinIntent(ltime: ltime, node: node))
        }
        if ignoreOldEvents && pp.eventLTime > eventMinTime { eventMinTime = pp.eventLTime }
        for case let slot? in pp.events {
            for e in slot.events {
                _ = handleUserEvent(UserEventMessage(ltime: slot.ltime, name: e.name, payload: e.payload, cc: false))
            }
        }
    }
}

import HashTreeCollections
import RumorWire

/// Serf messages carried in memberlist user messages, and Serf's share of the push-pull state.
extension Instance {
    mutating func receiveSerf(_ bytes: [UInt8], from: Address) {
        guard !bytes.isEmpty else { return }
        let message: SerfMessage
        do {
            message = try SerfCodec.decode(bytes)
        } catch {
            drop(.malformed, "dropped malformed serf message from \(from): \(error)")
            return
        }
        if let ltime = message.lamportTime, !admitLTime(ltime, in: "\(message.kindName) from \(from)") { return }
        switch message {
        case .join(let intent):
            if handleJoinIntent(intent) { intentQueue.enqueue(bytes) }
        case .leave(let intent):
            if handleLeaveIntent(intent) { intentQueue.enqueue(bytes) }
        case .userEvent(let event):
            let skipped = event.ltime > eventClock.time && eventClock.time > eventMinTime
            if handleUserEvent(event) { eventQueue.enqueue(bytes) }
            if skipped { repairMissedEvents() }
        case .query(let query):
            if handleQuery(query) { queryQueue.enqueue(bytes) }
        case .queryResponse(let response):
            handleQueryResponse(response)
        case .relay(let header, let payload):
            // Forward unchanged: the relay exists so a response survives a broken direct path.
            let dest = Address(ip: header.destAddr, port: header.destPort)
            emitPacket(Self.userMessage(payload), to: dest, node: nil)
        case .pushPull:
            drop(.unexpected, "dropped serf push-pull state sent outside a push-pull from \(from)")
        }
    }

    /// Serf's push-pull delegate state: member Lamport times, left members and the recent-event ring.
    func serfLocalState() -> SerfPushPull {
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
        return SerfPushPull(
            ltime: clock.time, statusLTimes: statusLTimes, leftMembers: left, eventLTime: eventClock.time,
            events: eventBuffer, queryLTime: queryClock.time, rumorApps: apps.records.values.sorted { $0.name < $1.name })
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

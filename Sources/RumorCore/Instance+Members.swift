import HashTreeCollections
import RumorWire

/// Serf's member layer: memberlist notifications become member statuses and events; join and leave intents carry
/// Lamport times so that a leave is told apart from a failure (docs/membership.md#intents).
extension Instance {
    /// A member whose meta is not Serf's tag encoding is kept with no tags and a warning, as serf does
    /// ("Failed to decode tags"): the member is real, only its tags are unreadable.
    mutating func decodedTags(_ meta: [UInt8], of name: String) -> [String: String] {
        do {
            return try SerfCodec.decodeTags(meta)
        } catch {
            warn("serf: failed to decode the tags of \(name): \(error)")
            return [:]
        }
    }

    mutating func serfNodeJoined(_ node: NodeState) {
        let tags = decodedTags(node.meta, of: node.name)
        var state: MemberState
        if let existing = members[node.name] {
            state = existing
            state.member.status = .alive
            state.leaveTime = nil
        } else {
            state = MemberState(
                member: Member(name: node.name, address: node.address, tags: tags, status: .alive, vsn: node.vsn),
                statusLTime: 0)
            // An intent may have arrived before the member itself: the newest one takes effect now.
            if let intent = recentIntents[node.name] {
                state.statusLTime = intent.ltime
                if intent.isLeave { state.member.status = .leaving }
            }
        }
        state.member.address = node.address
        state.member.tags = tags
        state.member.vsn = node.vsn
        members[node.name] = state
        emit(.memberJoined(state.member))
    }

    mutating func serfNodeUpdated(_ node: NodeState) {
        guard var state = members[node.name] else { return }
        state.member.address = node.address
        state.member.tags = decodedTags(node.meta, of: node.name)
        state.member.vsn = node.vsn
        members[node.name] = state
        emit(.memberUpdated(state.member))
    }

    mutating func serfNodeLeft(_ node: NodeState) {
        guard var state = members[node.name] else { return }
        switch state.member.status {
        case .leaving: state.member.status = .left
        // Serf says failed unless it saw the leave intent first. But the intent goes out only once before the
        // memberlist leave, so a node the dead message reaches first (or whose push-pull turned the intent's time
        // into a join time, which then hides the intent as old) would call a graceful leave a failure for good.
        // Dead with From == Node is memberlist's own word that the node left on purpose: believe it.
        case .alive: state.member.status = node.state == .left ? .left : .failed
        default:
            warn("leave notification for '\(node.name)' in state \(state.member.status)")
            return
        }
        state.leaveTime = now
        members[node.name] = state
        emit(state.member.status == .left ? .memberLeft(state.member) : .memberFailed(state.member))
    }

    // MARK: - Intents

    /// Returns true when the intent was news and should be re-gossiped.
    mutating func handleJoinIntent(_ intent: JoinIntent) -> Bool {
        clock.witness(intent.ltime)
        guard var state = members[intent.node] else { return upsertIntent(intent.node, isLeave: false, ltime: intent.ltime) }
        guard intent.ltime > state.statusLTime else { return false }
        state.statusLTime = intent.ltime
        if state.member.status == .leaving { state.member.status = .alive }
        members[intent.node] = state
        return true
    }

    mutating func handleLeaveIntent(_ intent: LeaveIntent) -> Bool {
        clock.witness(intent.ltime)
        guard var state = members[intent.node] else { return upsertIntent(intent.node, isLeave: true, ltime: intent.ltime) }
        guard intent.ltime > state.statusLTime else { return false }
        if intent.node == name && serfState == .alive {
            // An old leave of ours is still circulating (we restarted): drown it with a newer join.
            warn("refuting an older leave intent about ourselves")
            broadcastJoinIntent()
            return false
        }
        state.statusLTime = intent.ltime
        switch state.member.status {
        case .alive:
            state.member.status = .leaving
            members[intent.node] = state
        case .failed:
            // force-leave: a failed member is now known to be gone for good.
            state.member.status = .left
            members[intent.node] = state
            emit(.memberLeft(state.member))
        case .leaving, .left:
            members[intent.node] = state
        case .none:
            return false
        }
        if intent.prune { prune(intent.node) }
        return true
    }

    mutating func upsertIntent(_ node: String, isLeave: Bool, ltime: UInt64) -> Bool {
        if let existing = recentIntents[node], existing.ltime >= ltime { return false }
        recentIntents[node] = Intent(isLeave: isLeave, ltime: ltime, received: now)
        return true
    }

    mutating func broadcastJoinIntent() {
        let intent = JoinIntent(ltime: clock.time, node: name)
        clock.witness(intent.ltime)
        _ = handleJoinIntent(intent)
        intentQueue.enqueue(SerfCodec.encode(.join(intent)))
    }

    mutating func forceLeave(_ node: String, prune: Bool) {
        let intent = LeaveIntent(ltime: clock.time, node: node, prune: prune)
        clock.increment()
        if handleLeaveIntent(intent) || members[node] == nil {
            intentQueue.enqueue(SerfCodec.encode(.leave(intent)))
        }
    }

    /// Erases a member at once (force-leave -prune); a leaving one first gets time to finish leaving.
    mutating func prune(_ node: String) {
        guard let state = members[node] else { return }
        if state.member.status == .leaving {
            schedule(.prune(node: node), after: serfSettings.broadcastTimeout + serfSettings.leavePropagateDelay)
        } else {
            erase(node)
        }
    }

    mutating func pruneFired(_ node: String) { erase(node) }

    mutating func erase(_ node: String) {
        guard let state = members.removeValue(forKey: node) else { return }
        coordinates[node] = nil
        vivaldi?.forget(node)
        emit(.memberReaped(state.member))
    }

    mutating func setTags(_ newTags: [String: String]) {
        tags = newTags
        meta = SerfCodec.encodeTags(newTags)
        incarnation = incarnation.saturatingAdd(1)
        announceSelf()
        if let me = nodes[name] { serfNodeUpdated(me) }
    }

    // MARK: - Reaping and reconnecting

    mutating func reapTick() {
        schedule(.reap, after: serfSettings.reapInterval)
        // Sorted for a deterministic order, but only what expires: sorting every member each tick is a stall at
        // 100,000 members.
        let expired = members.filter { _, state in
            guard let since = state.leaveTime else { return false }
            let timeout = state.member.status == .left ? serfSettings.tombstoneTimeout : serfSettings.reconnectTimeout
            return now - since > timeout
        }
        for node in expired.keys.sorted() {
            if let m = expired[node]?.member, m.status == .failed { rememberForgotten(m) }
            erase(node)
            if let n = nodes[node], n.isDeadOrLeft { nodes[node] = nil }
        }
        recentIntents = recentIntents.filter { now - $0.value.received <= serfSettings.recentIntentTimeout }
        expireIncomingQueries()
    }

    /// How often the reconnect loop runs: serf's interval, or the shorter ping interval.
    var reconnectTickInterval: Duration { min(serfSettings.reconnectInterval, serfSettings.reconnectPingInterval) }

    /// At most this many reaped members are remembered for the reconnect loop.
    static let maxForgottenPeers = 1024

    mutating func rememberForgotten(_ m: Member) {
        forgottenPeers[m.name] = ForgottenPeer(address: m.address, reapedAt: now)
        if forgottenPeers.count > Self.maxForgottenPeers,
            let oldest = forgottenPeers.min(by: { ($0.value.reapedAt, $0.key) < ($1.value.reapedAt, $1.key) })
        {
            forgottenPeers[oldest.key] = nil
        }
    }

    /// Where the reconnect loop would find `node`: a failed member, or one reaped less than the tombstone timeout
    /// ago and not back since.
    func reconnectAddress(_ node: String) -> Address? {
        if let m = members[node]?.member { return m.status == .failed ? m.address : nil }
        return forgottenPeers[node]?.address
    }

    /// Occasionally checks whether one failed member is reachable again, so a healed partition merges even if
    /// nobody else noticed. serf sends a joining push-pull every 30 s; Rumor pings instead, every 5 s, with
    /// serf's odds (failed / alive), and push-pulls only when the named member acks. Members reaped after the
    /// reconnect timeout stay candidates until the tombstone timeout (docs/membership.md#reap-and-reconnect).
    mutating func reconnectTick() {
        schedule(.reconnect, after: reconnectTickInterval)
        // Unanswered reconnect pings from the last interval: an ack takes milliseconds, not seconds.
        for (seq, wait) in pendingAcks { if case .reconnect = wait { pendingAcks[seq] = nil } }
        forgottenPeers = forgottenPeers.filter { name, peer in
            members[name] == nil && now - peer.reapedAt <= serfSettings.tombstoneTimeout
        }
        reconnectPushPulls = reconnectPushPulls.filter { reconnectAddress($0.key) != nil }
        reconnectPingsBack = reconnectPingsBack.filter { reconnectAddress($0.key) != nil }
        // One pass over the members: the tick runs every 5 s, and a cluster may have 100,000 of them.
        var failed = Array(forgottenPeers.keys)
        var left = 0
        for state in members.values {
            switch state.member.status {
            case .failed: failed.append(state.member.name)
            case .left: left += 1
            default: break
            }
        }
        guard !failed.isEmpty else { return }
        let alive = max(1, members.count - (failed.count - forgottenPeers.count) - left)
        let probability = Double(failed.count) / Double(alive)
        guard Double.random(in: 0..<1, using: &rng) <= probability,
            let target = failed.sorted().randomElement(using: &rng), let address = reconnectAddress(target)
        else { return }
        sendReconnectPing(target, to: address)
    }

    mutating func sendReconnectPing(_ target: String, to address: Address) {
        let seq = nextSeqNo()
        pendingAcks[seq] = .reconnect(target: target)
        // Our name but no source address or port: the ack comes back to where the packet came from, and the
        // omitted fields (omitempty in memberlist too) make the ping 30 bytes smaller, so these pings cost no
        // more bytes than serf's unanswered TCP connects (docs/membership.md#reap-and-reconnect).
        let ping = Ping(node: target, seqNo: seq, sourceNode: name)
        sendPacket(MemberlistCodec.encode(.ping(ping)), to: address)
    }

    /// A failed (or reaped) member pinged us: ping it back (at most once per ping interval), and exchange state
    /// only if that is acked, so a member that can send but not receive costs no TCP connect.
    mutating func heardFromFailed(_ node: String, at address: Address) {
        guard reconnectAddress(node) == address else { return }
        if let last = reconnectPingsBack[node], now - last < serfSettings.reconnectPingInterval { return }
        reconnectPingsBack[node] = now
        sendReconnectPing(node, to: address)
    }

    /// A failed (or reaped) member acked a reconnect ping: it is reachable both ways, so exchange state with it as
    /// serf's reconnect does (it refutes its death, we refute ours; a reaped one joins again). At most once per
    /// ping interval per member.
    mutating func reconnect(toFailed node: String) {
        guard let address = reconnectAddress(node) else { return }
        if let last = reconnectPushPulls[node], now - last < serfSettings.reconnectPingInterval { return }
        reconnectPushPulls[node] = now
        effects.append(.emit(.debug("reconnect: '\(node)' is reachable again, exchanging state with it")))
        openPushPull(.pushPull(join: nil), to: address, state: localStateSnapshot(join: true))
    }
}

import HashTreeCollections
import RumorWire

/// Epidemic dissemination and anti-entropy: periodic gossip to a few random peers, periodic push-pull full state
/// exchange, and joining through push-pull.
extension Instance {
    mutating func gossipTick() {
        schedule(.gossip, after: settings.gossipInterval)
        gossipRound()
    }

    /// Every queue's count of messages ever queued: it differs from `gossipedUpTo` when there is news.
    var broadcastsEnqueued: UInt64 {
        memberlistQueue.enqueued &+ intentQueue.enqueued &+ queryQueue.enqueued &+ eventQueue.enqueued
    }

    /// Eager dissemination, after every input: news goes to the gossip fan-out now rather than at the next tick,
    /// which cost half an interval per hop on average (100 ms, a few times over on the way across a cluster). It
    /// takes from the same queues under the same transmit limit, so each message is sent as often as before, only
    /// sooner; at most one eager round per quarter interval, so a burst of news is not a burst of packets.
    mutating func gossipEagerly() {
        guard settings.eagerGossip, broadcastsEnqueued != gossipedUpTo else { return }
        if let last = lastEagerGossip, now - last < settings.gossipInterval / 4 { return }
        lastEagerGossip = now
        gossipRound()
    }

    mutating func gossipRound() {
        gossipedUpTo = broadcastsEnqueued
        guard hasBroadcasts else { return }  // nothing to say: no need to pick anyone
        // Recently dead nodes still get gossip, so a falsely accused node hears about it and refutes. A node that
        // left did so on purpose: gossip to it would only waste transmissions others need (memberlist skips it).
        let (now, grace) = (self.now, settings.gossipToTheDeadTime)
        let next = settings.ringGossip ? ringSuccessor() : nil
        let targets = (next.map { [$0] } ?? []) + randomNodes(settings.gossipNodes - (next == nil ? 0 : 1)) {
            guard $0.name != next?.name else { return false }
            return switch $0.state {
            case .alive, .suspect: true
            case .dead: now - $0.stateChange <= grace
            case .left: false
            }
        }
        for target in targets {
            let limit = packetSpace - Self.compoundHeaderOverhead
            let messages = takeBroadcasts(overhead: Self.compoundOverhead, limit: limit)
            if messages.isEmpty { return }
            emitPacket(messages.count == 1 ? messages[0] : MemberlistCodec.compound(messages), to: target.address, node: target)
        }
    }

    var hasBroadcasts: Bool {
        !(memberlistQueue.isEmpty && intentQueue.isEmpty && queryQueue.isEmpty && eventQueue.isEmpty)
    }

    /// A node that turns alive becomes our successor if it sits between us and the one we knew.
    mutating func ringNodeTurnedAlive(_ node: String) {
        guard let known = ringSuccessorName, node != name else { return }
        let between = name < known ? (name < node && node < known) : (node > name || node < known)
        if between { ringSuccessorName = node }
    }

    /// The next alive node after us in name order, wrapping around. It goes first in every gossip round, so it
    /// gets the freshest messages: a message then misses a node only if it missed the node's predecessor too, and
    /// so on around the ring back to the sender, instead of with the e^-limit chance of every random pick missing
    /// it. Remembered, and looked up again (one pass over the members) only when the successor stops being alive.
    mutating func ringSuccessor() -> NodeState? {
        if let known = ringSuccessorName, let node = nodes[known], node.state == .alive { return node }
        var after: NodeState?  // the first alive name after ours
        var first: NodeState?  // the first alive name of all, where the ring wraps
        for node in nodes.values where node.state == .alive && node.name != name {
            if node.name > name, after.map({ node.name < $0.name }) ?? true { after = node }
            if first.map({ node.name < $0.name }) ?? true { first = node }
        }
        let successor = after ?? first
        ringSuccessorName = successor?.name
        return successor
    }

    /// memberlist scales the push-pull interval up for clusters over 32 nodes, so total TCP load stays flat.
    var scaledPushPullInterval: Duration {
        let n = nodes.count
        guard n > 32 else { return settings.pushPullInterval }
        let multiplier = (CMath.log(Double(n)) / CMath.log(2) - 5).rounded(.up) + 1
        return settings.pushPullInterval * multiplier
    }

    mutating func pushPullTick() {
        schedule(.pushPull, after: scaledPushPullInterval)
        pushPullWithRandomPeer()
    }

    mutating func pushPullWithRandomPeer() {
        guard let peer = randomNodes(1, where: { $0.state == .alive }).first else { return }
        pushPull(with: peer)
    }

    /// A periodic-style state exchange with `peer` (not a join).
    mutating func pushPull(with peer: NodeState) {
        openPushPull(.pushPull(join: nil), to: peer.address, state: localStateSnapshot(join: false))
    }

    /// Opens a push-pull carrying `state`: as bytes for a small cluster, as a snapshot the driver encodes off its
    /// loop for a large one.
    mutating func openPushPull(_ purpose: StreamPurpose, to: Address, state: LocalStateSnapshot) {
        guard state.isLarge else {
            return openStream(purpose, to: to, payload: state.encode(), expectsReply: true, timeout: settings.tcpTimeout)
        }
        nextStream += 1
        let id = StreamID(nextStream)
        streams[id] = purpose
        effects.append(.openStreamState(id, to: to, state: state, timeout: settings.tcpTimeout))
    }

    mutating func join(_ addresses: [Address], replay: Bool, id: RequestID) {
        guard !addresses.isEmpty else {
            emit(.joinFinished(id: id, joined: 0, errors: ["no addresses to join"]))
            return
        }
        joins[id] = JoinProgress(outstanding: addresses.count, replay: replay)
        let state = localStateSnapshot(join: true)
        for addr in addresses { openPushPull(.pushPull(join: id), to: addr, state: state) }
    }

    /// Our full state: every node memberlist knows (ourselves included) plus Serf's state.
    func localStateSnapshot(join: Bool) -> LocalStateSnapshot {
        let states = nodes.values.map {
            PushNodeState(
                name: $0.name, addr: $0.address.ip, port: $0.address.port, meta: $0.meta, incarnation: $0.incarnation,
                state: $0.state, vsn: $0.vsn)
        }
        return LocalStateSnapshot(join: join, nodes: states, serf: serfLocalState(), compress: settings.enableCompression)
    }

    mutating func receiveStream(_ id: StreamID, _ decoded: DecodedStream, from: Address) {
        let message: MemberlistMessage
        switch decoded.message {
        case .success(let m): message = m
        case .failure(let error):
            drop(.malformed, "dropped malformed stream from \(from): \(error)")
            effects.append(.replyStream(id, payload: MemberlistCodec.encode(.err("\(error)"))))
            return
        }
        switch message {
        case .pushPull(let remote):
            let state = localStateSnapshot(join: remote.join)
            effects.append(state.isLarge ? .replyStreamState(id, state) : .replyStream(id, payload: state.encode()))
            mergeRemoteState(remote, serf: decoded.serfState, ignoreOldEvents: false)
        case .ping(let ping):
            guard ping.node.isEmpty || ping.node == name else {
                drop(.unexpected, "got TCP ping for unexpected node '\(ping.node)' from \(from)")
                effects.append(.replyStream(id, payload: nil))
                return
            }
            effects.append(.replyStream(id, payload: MemberlistCodec.encode(.ack(Ack(seqNo: ping.seqNo)))))
        case .user(let bytes):
            effects.append(.replyStream(id, payload: nil))
            receiveSerf(bytes, from: from)
        default:
            drop(.unexpected, "dropped unexpected stream message from \(from)")
            effects.append(.replyStream(id, payload: MemberlistCodec.encode(.err("Received invalid msgType"))))
        }
    }

    mutating func receiveStreamReply(_ id: StreamID, _ result: Result<DecodedStream, StreamFailure>) {
        guard let purpose = streams.removeValue(forKey: id) else { return }
        switch purpose {
        case .tcpPing(let seq):
            tcpPingReplied(seq: seq, result)
        case .pushPull(let joinID):
            var failure: String?
            switch result {
            case .failure(let f): failure = f.reason
            case .success(let decoded):
                switch decoded.message {
                case .success(.pushPull(let remote)):
                    // Serf's agent joins without replay: events from before our join are history, not news.
                    let replay = joinID.flatMap { joins[$0]?.replay } ?? true
                    mergeRemoteState(remote, serf: decoded.serfState, ignoreOldEvents: !replay)
                case .success(.err(let text)): failure = "remote error: \(text)"
                case .success: failure = "unexpected reply to push-pull"
                case .failure(let e): failure = "malformed push-pull reply: \(e)"
                }
            }
            counters.pushPulls += 1
            if failure != nil { counters.pushPullsFailed += 1 }
            if let joinID { joinAttemptFinished(joinID, error: failure) }
            else if let failure { warn("push-pull failed: \(failure)") }
        }
    }

    mutating func joinAttemptFinished(_ id: RequestID, error: String?) {
        guard var progress = joins[id] else { return }
        progress.outstanding -= 1
        if let error { progress.errors.append(error) } else { progress.joined += 1 }
        guard progress.outstanding == 0 else {
            joins[id] = progress
            return
        }
        joins[id] = nil
        if progress.joined > 0 {
            broadcastJoinIntent()
            // Our seed told us only what it knew at that instant; news that finished spreading just before we
            // arrived would otherwise reach us only at the first periodic push-pull (30-60 s away, and memberlist
            // has the same gap). One more exchange with a random peer a moment later closes it cheaply.
            schedule(.postJoinSync, after: settings.probeInterval + randomStagger(settings.probeInterval * 2))
        }
        emit(.joinFinished(id: id, joined: progress.joined, errors: progress.errors))
    }
}

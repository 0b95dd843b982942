import HashTreeCollections
import RumorWire

/// SWIM failure detection: direct probe, indirect probes with nacks, TCP fallback, and Lifeguard's local health.
extension Instance {
    /// The protocol period, stretched by the local health multiplier when we look unhealthy ourselves.
    var scaledProbeInterval: Duration { settings.probeInterval * Double(awareness + 1) }

    mutating func adjustAwareness(_ delta: Int) {
        awareness = min(max(awareness + delta, 0), settings.awarenessMaxMultiplier - 1)
    }

    mutating func probeTick() {
        schedule(.probe, after: settings.probeInterval)
        guard probeInFlight == nil else {
            // A probe still runs its (stretched) period: probe again when it ends, as memberlist's blocking loop does.
            probeDue = true
            return
        }
        guard let target = nextProbeTarget() else { return }
        probe(target)
    }

    /// Round-robin over a shuffled list, skipping ourselves and dead nodes; reshuffles (and forgets long-dead
    /// nodes) at the end of each round.
    ///
    /// Looks through the rest of the round and then at most one whole new round, so a live peer is always found.
    /// (memberlist stops after as many steps as there are nodes, counting the reshuffle as one, and so lets a whole
    /// protocol period pass without a probe whenever the new order starts with us or with dead nodes.)
    mutating func nextProbeTarget() -> NodeState? {
        var reshuffled = false
        while true {
            if probeIndex >= probeOrder.count {
                if reshuffled { return nil }
                resetProbeOrder()
                probeIndex = 0
                reshuffled = true
                continue
            }
            let name = probeOrder[probeIndex]
            probeIndex += 1
            if name != self.name, let node = nodes[name], !node.isDeadOrLeft { return node }
        }
    }

    mutating func resetProbeOrder() {
        for (name, node) in nodes where name != self.name && node.isDeadOrLeft
            && now - node.stateChange > settings.gossipToTheDeadTime
        {
            nodes[name] = nil
        }
        probeOrder = nodes.keys.sorted()
        probeOrder.shuffle(using: &rng)
    }

    mutating func probe(_ target: NodeState) {
        let seq = nextSeqNo()
        counters.probes += 1
        probeInFlight = seq
        pendingAcks[seq] = .probe(target: target.name, expectedNacks: 0, nacks: 0, sentAt: now)
        let ping = MemberlistCodec.encode(.ping(pingMessage(to: target.name, seq: seq)))
        if target.state == .suspect {
            // Tell a suspect it is suspected, so it can refute even if gossip about it is lost.
            let s = MemberlistCodec.encode(.suspect(Suspect(incarnation: target.incarnation, node: target.name, from: name)))
            counters.countSent(ping)
            counters.countSent(s)
            emitPacket(MemberlistCodec.compound([ping, s]), to: target.address, node: target)
        } else {
            // By address only, as memberlist sends a plain probe: no CRC wrapper (docs/protocol.md#crc).
            sendPacket(ping, to: target.address)
        }
        schedule(.probeTimeout(seqNo: seq), after: settings.probeTimeout)
        schedule(.probeDeadline(seqNo: seq), after: scaledProbeInterval)
    }

    func pingMessage(to node: String, seq: UInt32) -> Ping {
        Ping(node: node, seqNo: seq, sourceAddr: address.ip, sourceNode: name, sourcePort: address.port)
    }

    /// No direct ack in time: ask `indirectChecks` random alive peers to probe for us, and try TCP too.
    mutating func probeTimedOut(_ seq: UInt32) {
        guard case .probe(let targetName, _, let nacks, let sentAt) = pendingAcks[seq], let target = nodes[targetName] else {
            return
        }
        let helpers = randomNodes(settings.indirectChecks) { $0.name != targetName && $0.state == .alive }
        var expectedNacks = 0
        for helper in helpers {
            let wantsNack = helper.protocolMax >= 4
            if wantsNack { expectedNacks += 1 }
            let req = IndirectPing(
                nack: wantsNack, node: targetName, port: target.address.port, seqNo: seq, sourceAddr: address.ip,
                sourceNode: name, sourcePort: address.port, target: target.address.ip)
            sendPacket(MemberlistCodec.encode(.indirectPing(req)), to: helper.address)  // no CRC, as memberlist
        }
        pendingAcks[seq] = .probe(target: targetName, expectedNacks: expectedNacks, nacks: nacks, sentAt: sentAt)
        if target.protocolMax >= 3 {
            let remaining = scaledProbeInterval - settings.probeTimeout
            let ping = MemberlistCodec.encode(.ping(pingMessage(to: targetName, seq: seq)))
            openStream(.tcpPing(seqNo: seq), to: target.address, payload: ping, expectsReply: true, timeout: remaining)
        }
    }

    /// The protocol period ended without any ack: Lifeguard scores our own health, then we suspect the target.
    mutating func probeDeadlinePassed(_ seq: UInt32) {
        guard case .probe(let targetName, let expectedNacks, let nacks, _) = pendingAcks.removeValue(forKey: seq) else {
            return
        }
        // Missing nacks mean the helpers could not reach us either: the problem is likely ours, so slow down.
        adjustAwareness(expectedNacks > 0 ? max(expectedNacks - nacks, 0) : 1)
        counters.probesFailed += 1
        finishProbe(seq)
        if let target = nodes[targetName], target.state == .alive || target.state == .suspect {
            suspectNode(Suspect(incarnation: target.incarnation, node: targetName, from: name))
        }
    }

    mutating func finishProbe(_ seq: UInt32) {
        guard probeInFlight == seq else { return }
        probeInFlight = nil
        if probeDue {
            probeDue = false
            if let target = nextProbeTarget() { probe(target) }
        }
    }

    mutating func receivePing(_ ping: Ping, from: Address) {
        // A ping for another name means our address was reused by someone else's stale view: do not answer for them.
        guard ping.node.isEmpty || ping.node == name else {
            drop(.unexpected, "got ping for unexpected node '\(ping.node)' from \(from)")
            return
        }
        let replyTo = replyAddress(ping.sourceAddr, ping.sourcePort, fallback: from)
        // A member we hold failed (or reaped) pings us: its reconnect loop, or its probes while it holds us alive.
        // Either way it can reach us again.
        if !ping.sourceNode.isEmpty { heardFromFailed(ping.sourceNode, at: replyTo) }
        let payload = vivaldi.map { PingPayload.encode($0.coordinate) } ?? []
        sendPacket(MemberlistCodec.encode(.ack(Ack(seqNo: ping.seqNo, payload: payload))), to: replyTo)
    }

    func replyAddress(_ ip: [UInt8], _ port: UInt16, fallback: Address) -> Address {
        ip.isEmpty || port == 0 ? fallback : Address(ip: ip, port: port)
    }

    mutating func receiveIndirectPing(_ req: IndirectPing, from: Address) {
        let requester = replyAddress(req.sourceAddr, req.sourcePort, fallback: from)
        let seq = nextSeqNo()
        pendingAcks[seq] = .relay(requester: requester, originalSeq: req.seqNo, wantsNack: req.nack)
        let target = Address(ip: req.target, port: req.port == 0 ? address.port : req.port)
        sendPacket(MemberlistCodec.encode(.ping(pingMessage(to: req.node, seq: seq))), to: target)
        schedule(.relayTimeout(seqNo: seq), after: settings.probeTimeout)
    }

    mutating func relayTimedOut(_ seq: UInt32) {
        guard case .relay(let requester, let original, let wantsNack) = pendingAcks.removeValue(forKey: seq) else {
            return
        }
        if wantsNack { sendPacket(MemberlistCodec.encode(.nack(Nack(seqNo: original))), to: requester) }
    }

    /// `overStream`: the TCP fallback's ack, which carries no coordinate (as memberlist's).
    mutating func receiveAck(_ ack: Ack, overStream: Bool = false) {
        switch pendingAcks[ack.seqNo] {
        case .probe(let target, _, _, let sentAt):
            pendingAcks[ack.seqNo] = nil
            adjustAwareness(-1)
            finishProbe(ack.seqNo)
            if !overStream {
                let rtt = now - sentAt
                counters.probeAcked(rtt: rtt)
                learnCoordinate(of: target, from: ack.payload, rtt: rtt)
            }
        case .relay(let requester, let original, _):
            pendingAcks[ack.seqNo] = nil
            sendPacket(MemberlistCodec.encode(.ack(Ack(seqNo: original))), to: requester)
        case .reconnect(let target):
            pendingAcks[ack.seqNo] = nil
            reconnect(toFailed: target)
        case nil:
            break  // late or duplicate: the probe already concluded
        }
    }

    mutating func receiveNack(_ nack: Nack) {
        if case .probe(let target, let expected, let nacks, let sentAt) = pendingAcks[nack.seqNo] {
            pendingAcks[nack.seqNo] = .probe(target: target, expectedNacks: expected, nacks: nacks + 1, sentAt: sentAt)
        }
    }

    mutating func tcpPingReplied(seq: UInt32, _ result: Result<DecodedStream, StreamFailure>) {
        guard case .success(let decoded) = result, case .success(.ack(let ack)) = decoded.message,
            ack.seqNo == seq, case .probe(let target, _, _, _) = pendingAcks[seq]
        else { return }
        warn("node '\(target)' answered a TCP ping but not UDP: the network may be misconfigured (UDP blocked?)")
        receiveAck(ack, overStream: true)
    }

    /// Up to `k` distinct random nodes other than ourselves that pass `filter`.
    ///
    /// Small clusters: the probe order in a random order drawn as it goes (a partial Fisher-Yates over indices), so
    /// a tick looks at about k nodes and still finds every candidate when few pass. Large ones: memberlist's
    /// `kRandomNodes`, up to 3n random picks, so a tick costs O(k) rather than an index per node (100,000).
    mutating func randomNodes(_ k: Int, where filter: (NodeState) -> Bool) -> [NodeState] {
        var picked: [NodeState] = []
        let n = probeOrder.count
        guard k > 0, n > 0 else { return picked }
        guard n > Self.randomNodesScanLimit else {
            var order = Array(0..<n)
            for i in 0..<n where picked.count < k {
                order.swapAt(i, Int.random(in: i..<n, using: &rng))
                let candidate = probeOrder[order[i]]
                // (A node reaped and back again is in the order twice until the next reshuffle.)
                guard candidate != name, !picked.contains(where: { $0.name == candidate }), let node = nodes[candidate],
                    filter(node)
                else { continue }
                picked.append(node)
            }
            return picked
        }
        var seen: Set<String> = []
        var tries = 0
        while picked.count < k && tries < 3 * n {
            tries += 1
            let candidate = probeOrder[Int.random(in: 0..<n, using: &rng)]
            guard candidate != name, let node = nodes[candidate], filter(node), seen.insert(candidate).inserted else {
                continue
            }
            picked.append(node)
        }
        return picked
    }

    /// Up to this many nodes, `randomNodes` draws without replacement.
    static let randomNodesScanLimit = 1024
}

// MARK: Network coordinates

extension Instance {
    /// Serf's ping delegate: a direct probe's ack carries the peer's coordinate; with the RTT it moves ours. An
    /// empty payload (a node without coordinates) is skipped; anything unreadable is a warning, not an update.
    mutating func learnCoordinate(of node: String, from payload: [UInt8], rtt: Duration) {
        guard vivaldi != nil, !payload.isEmpty else { return }
        do {
            let other = try PingPayload.decode(payload)
            // In place (update checks everything before it changes anything): no copy of the model per ack.
            try vivaldi?.update(node: node, other: other, rtt: rtt, rng: &rng)
            coordinates[node] = other
        } catch {
            warn("serf: rejected the coordinate from \(node): \(error)")
        }
    }

    /// Our coordinate, or nil when coordinates are disabled.
    public var localCoordinate: Coordinate? { vivaldi?.coordinate }

    /// The coordinate `node` last acked a probe with (ours for our own name), as serf's `GetCachedCoordinate`.
    public func coordinate(of node: String) -> Coordinate? {
        node == name ? localCoordinate : coordinates[node]
    }

    /// How many times our coordinate went invalid and was reset (`coordinate_resets` in `info`).
    public var coordinateResets: Int { vivaldi?.resets ?? 0 }
}

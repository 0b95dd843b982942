import RumorWire

/// Sending packets with piggybacked gossip, and dispatching what arrives.
extension Instance {
    static let compoundHeaderOverhead = 2
    static let compoundOverhead = 2
    static let userMessageOverhead = 1

    var transmitLimit: Int { retransmitLimit(mult: settings.retransmitMult, nodes: nodes.count) }

    /// Room for gossip in one packet, after the transport's own overhead.
    var packetSpace: Int { settings.packetBudget - settings.packetOverhead }

    /// Takes queued broadcasts that fit: memberlist's own first, then Serf's (intents, queries, events, each as a
    /// user message), as memberlist and Serf's delegate do.
    mutating func takeBroadcasts(overhead: Int, limit: Int) -> [[UInt8]] {
        let txLimit = transmitLimit
        var (out, sent) = memberlistQueue.take(overhead: overhead, limit: limit, transmitLimit: txLimit)
        var used = out.reduce(0) { $0 + $1.count + overhead }
        for queue in [\Instance.intentQueue, \.queryQueue, \.eventQueue] {
            let avail = limit - used
            guard avail > overhead + Self.userMessageOverhead else { break }
            let (msgs, s) = self[keyPath: queue].take(
                overhead: overhead + Self.userMessageOverhead, limit: avail, transmitLimit: txLimit)
            sent += s
            for m in msgs {
                out.append(Self.userMessage(m))
                used += m.count + 1 + overhead
            }
        }
        // The compound count is one byte.
        if out.count > 255 { out.removeLast(out.count - 255) }
        for token in sent { broadcastSent(token: token) }
        return out
    }

    /// A Serf message wrapped as a memberlist user message.
    static func userMessage(_ serf: [UInt8]) -> [UInt8] { [MessageType.user.rawValue] + serf }

    /// Sends `message` to `to`, filling the rest of the packet with pending gossip.
    mutating func sendPacket(_ message: [UInt8], to: Address, node: NodeState? = nil) {
        let avail = packetSpace - message.count - Self.compoundHeaderOverhead
        let extra = avail > 0 ? takeBroadcasts(overhead: Self.compoundOverhead, limit: avail) : []
        counters.countSent(message)
        for part in extra { counters.countSent(part) }
        let packet = extra.isEmpty ? message : MemberlistCodec.compound([message] + extra)
        emitPacket(packet, to: to, node: node)
    }

    /// Adds the CRC wrapper for known peers that understand it (memberlist protocol ≥ 5). Replies to a bare
    /// address (acks, query responses) and plain probes go without, exactly as memberlist sends them.
    ///
    /// Unlike memberlist, UDP packets are never compressed (push-pull streams are): at idle nothing in them
    /// compresses (short pings, acks full of coordinate floats), and trying on every packet cost CPU and ~0.8 MiB
    /// of resident code. Receivers, serf included, take either form.
    mutating func emitPacket(_ packet: [UInt8], to: Address, node: NodeState?) {
        let wrapped = (node?.protocolMax ?? 0) >= 5 ? MemberlistCodec.withCRC(packet) : packet
        effects.append(.send(wrapped, to: to))
    }

    mutating func receivePacket(_ bytes: [UInt8], from: Address) {
        let (messages, errors) = MemberlistCodec.decodePacket(bytes)
        for e in errors { drop(.malformed, "dropped malformed packet from \(from): \(e)") }
        for message in messages { receive(message, from: from) }
    }

    mutating func receive(_ message: MemberlistMessage, from: Address) {
        counters.received[Int(message.type.rawValue)] += 1
        switch message {
        case .ping(let p): receivePing(p, from: from)
        case .indirectPing(let p): receiveIndirectPing(p, from: from)
        case .ack(let a): receiveAck(a)
        case .nack(let n): receiveNack(n)
        case .suspect(let s): suspectNode(s)
        case .alive(let a): aliveNode(a, bootstrap: false)
        case .dead(let d): deadNode(d)
        case .user(let bytes): receiveSerf(bytes, from: from)
        case .pushPull: drop(.unexpected, "dropped push-pull sent over UDP from \(from)")
        case .err(let text): warn("error message from \(from): \(text)")
        }
    }
}

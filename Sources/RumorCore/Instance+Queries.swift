import HashTreeCollections
import RumorWire

/// Serf queries: gossiped, filtered requests answered by direct UDP acks and responses (docs/membership.md#queries).
extension Instance {
    /// Serf's default: `gossipInterval * queryTimeoutMult * ceil(log10(n + 1))`.
    public var defaultQueryTimeout: Duration {
        settings.gossipInterval * Double(serfSettings.queryTimeoutMult) * Double(nodes.count + 1).log10Ceil
    }

    /// The longest a query may run, ours or a peer's: a timeout from the wire or an RPC client is clamped into
    /// `0...maxQueryTimeout`, so its deadline is always a time we can schedule (serf takes any int64; an hour is
    /// far beyond any real query, whose default is seconds).
    public static let maxQueryTimeout: Duration = .seconds(3600)

    /// A timeout clamped to `0...maxQueryTimeout`, warning when it was outside.
    mutating func admitQueryTimeout(_ nanoseconds: Int64, of what: @autoclosure () -> String) -> Duration {
        let asked = Duration.nanoseconds(nanoseconds)
        let timeout = asked.clamped(to: .zero...Self.maxQueryTimeout)
        if timeout != asked { warn("\(what()) asked for timeout \(nanoseconds)ns: clamped to \(timeout)") }
        return timeout
    }

    func queryMessage(_ q: OutgoingQuery, id: UInt32) -> QueryMessage {
        var filters: [[UInt8]] = []
        if !q.filterNodes.isEmpty { filters.append(SerfCodec.encodeFilter(.nodes(q.filterNodes))) }
        for (tag, expr) in q.filterTags.sorted(by: { $0.key < $1.key }) {
            filters.append(SerfCodec.encodeFilter(.tag(name: tag, expression: expr)))
        }
        return QueryMessage(
            ltime: queryClock.time, id: id, addr: address.ip, port: address.port, sourceNode: name,
            filters: filters.isEmpty ? nil : filters, flags: q.requestAck ? QueryMessage.flagAck : 0,
            relayFactor: q.relayFactor,
            timeout: (q.timeout ?? defaultQueryTimeout).clamped(to: .zero...Self.maxQueryTimeout).nanoseconds, name: q.name,
            payload: q.payload)
    }

    /// Why serf would refuse to send this query; nil when it can go.
    public func queryError(_ q: OutgoingQuery) -> String? {
        let raw = SerfCodec.encode(.query(queryMessage(q, id: 0)))
        return raw.count > serfSettings.querySizeLimit ? "query exceeds limit of \(serfSettings.querySizeLimit) bytes" : nil
    }

    mutating func startQuery(_ q: OutgoingQuery, id request: RequestID) {
        let message = queryMessage(q, id: UInt32.random(in: 0...UInt32(Int32.max), using: &rng))
        let timeout = admitQueryTimeout(q.timeout?.nanoseconds ?? message.timeout, of: "query '\(q.name)'")
        let raw = SerfCodec.encode(.query(message))
        if let error = queryError(q) {
            warn(error)
            emit(.queryFinished(id: request))
            return
        }
        let key = QueryKey(ltime: message.ltime, id: message.id)
        outgoingQueries[key] = OutgoingQueryState(request: request, deadline: now + timeout)
        schedule(.queryDeadline(ltime: key.ltime, id: key.id), after: timeout)
        _ = handleQuery(message)
        queryQueue.enqueue(raw)
    }

    mutating func queryDeadlinePassed(_ key: QueryKey) {
        guard let state = outgoingQueries.removeValue(forKey: key) else { return }
        emit(.queryFinished(id: state.request))
    }

    /// Returns true when the query should be re-gossiped.
    mutating func handleQuery(_ q: QueryMessage) -> Bool {
        queryClock.witness(q.ltime)
        guard let index = recentSlot(q.ltime, clock: queryClock, minTime: queryMinTime, ring: queryBuffer.count,
                                     what: "query '\(q.name)'")
        else { return false }
        var seen = queryBuffer[index].flatMap { $0.ltime == q.ltime ? $0 : nil } ?? QuerySeen(ltime: q.ltime, ids: [])
        if seen.ids.contains(q.id) { return false }
        seen.ids.append(q.id)
        queryBuffer[index] = seen

        let rebroadcast = q.flags & QueryMessage.flagNoBroadcast == 0
        guard shouldProcess(q.filters ?? []) else { return rebroadcast }
        let source = Address(ip: q.addr, port: q.port)
        if q.flags & QueryMessage.flagAck != 0 {
            let ack = QueryResponseMessage(ltime: q.ltime, id: q.id, from: name, flags: QueryResponseMessage.flagAck, payload: nil)
            sendQueryResponse(ack, to: source, relayFactor: q.relayFactor)
        }
        let key = QueryKey(ltime: q.ltime, id: q.id)
        let timeout = admitQueryTimeout(q.timeout, of: "query '\(q.name)' from '\(q.sourceNode)'")
        let deadline = now + timeout
        switch q.name {
        case "_serf_ping":
            return rebroadcast  // the ack above is the whole answer
        case "_serf_conflict":
            let node = String(decoding: q.payload ?? [], as: UTF8.self)
            guard node != name else { return rebroadcast }
            let record = members[node].map {
                SerfMemberRecord(
                    name: $0.member.name, addr: $0.member.address.ip, port: $0.member.address.port, tags: $0.member.tags,
                    status: Int64($0.member.status.rawValue), vsn: $0.member.vsn)
            }
            let payload = SerfCodec.encodeConflictResponse(record)
            let resp = QueryResponseMessage(ltime: q.ltime, id: q.id, from: name, flags: 0, payload: payload)
            sendQueryResponse(resp, to: source, relayFactor: q.relayFactor)
            return rebroadcast
        default:
            incomingQueries[key] = IncomingQueryState(source: source, relayFactor: q.relayFactor, deadline: deadline)
            emit(.query(IncomingQuery(ltime: q.ltime, id: q.id, name: q.name, payload: q.payload ?? [], deadline: deadline,
                timeout: timeout, source: q.sourceNode)))
            return rebroadcast
        }
    }

    /// Why a response cannot be sent, in serf's words; `nil` when it can.
    public func respondError(ltime: UInt64, id: UInt32, payload: [UInt8]) -> String? {
        guard let q = incomingQueries[QueryKey(ltime: ltime, id: id)] else { return "response already sent" }
        if now > q.deadline { return "response is past the deadline" }
        let raw = SerfCodec.encode(.queryResponse(QueryResponseMessage(ltime: ltime, id: id, from: name, flags: 0, payload: payload)))
        if raw.count > serfSettings.queryResponseSizeLimit {
            return "response exceeds limit of \(serfSettings.queryResponseSizeLimit) bytes"
        }
        return nil
    }

    mutating func respond(ltime: UInt64, id: UInt32, payload: [UInt8]) {
        if let error = respondError(ltime: ltime, id: id, payload: payload) {
            warn("failed to respond to query: \(error)")
            return
        }
        guard let q = incomingQueries.removeValue(forKey: QueryKey(ltime: ltime, id: id)) else { return }
        let resp = QueryResponseMessage(ltime: ltime, id: id, from: name, flags: 0, payload: payload)
        sendQueryResponse(resp, to: q.source, relayFactor: q.relayFactor)
    }

    mutating func expireIncomingQueries() {
        incomingQueries = incomingQueries.filter { now <= $0.value.deadline }
    }

    /// Sends directly, and through `relayFactor` random peers so one lossy path cannot eat the answer.
    mutating func sendQueryResponse(_ resp: QueryResponseMessage, to dest: Address, relayFactor: UInt8) {
        let raw = SerfCodec.encode(.queryResponse(resp))
        if dest == address {
            handleQueryResponse(resp)
        } else {
            emitPacket(Self.userMessage(raw), to: dest, node: nil)
        }
        guard relayFactor > 0 else { return }
        let relays = randomNodes(Int(relayFactor)) { $0.state == .alive && $0.protocolMax >= 5 }
        guard nodes.count >= Int(relayFactor) + 1 else { return }
        let header = RelayHeader(destAddr: dest.ip, destPort: dest.port, destName: "")
        let relay = SerfCodec.encode(.relay(header, payload: raw))
        for r in relays { emitPacket(Self.userMessage(relay), to: r.address, node: r) }
    }

    mutating func handleQueryResponse(_ r: QueryResponseMessage) {
        let key = QueryKey(ltime: r.ltime, id: r.id)
        guard var state = outgoingQueries[key], now <= state.deadline else {
            emit(.debug("reply for non-running query (ltime \(r.ltime), id \(r.id)) from '\(r.from)'"))
            return
        }
        if r.flags & QueryResponseMessage.flagAck != 0 {
            guard state.acks.insert(r.from).inserted else { return }
            emit(.queryAck(id: state.request, from: r.from))
        } else {
            guard state.responses.insert(r.from).inserted else { return }
            emit(.queryResponse(id: state.request, from: r.from, payload: r.payload ?? []))
        }
        outgoingQueries[key] = state
    }

    /// All filters must pass. An undecodable filter means "not for us", as in serf.
    func shouldProcess(_ filters: [[UInt8]]) -> Bool {
        for raw in filters {
            guard let filter = try? SerfCodec.decodeFilter(raw) else { return false }
            switch filter {
            case .nodes(let names):
                if !names.contains(name) { return false }
            case .tag(let tag, let expression):
                guard let regex = try? Regex(expression), (tags[tag] ?? "").contains(regex) else { return false }
            }
        }
        return true
    }
}

struct IncomingQueryState: Sendable {
    var source: Address
    var relayFactor: UInt8
    var deadline: Instant
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RumorAgent
import RumorWire

/// Why an RPC call failed. `description` is the text the CLI prints after its own prefix.
public struct RPCClientError: Error, CustomStringConvertible, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Could not reach the agent (resolve, connect, handshake, auth).
        case connect
        /// The socket failed or the agent closed it.
        case io
        /// The agent answered with an error string (`responseHeader.Error`).
        case remote
        /// The agent sent bytes we cannot decode.
        case malformed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// A blocking client for the agent RPC, as the CLI needs it: one connection, one call at a time, plus streamed
/// records for query, stream and monitor.
///
/// Calls wait for their reply without a deadline, as serf's client does (a join through unreachable hosts can take
/// long); connecting and sending are bounded by `timeout`.
public final class RPCClient {
    public let address: String
    private var fd: Int32
    private var seq: UInt64 = 0
    private var inbox: [UInt8] = []
    private let timeoutMillis: Int32
    /// Records received for open streams while waiting for something else, by stream Seq, each with its arrival
    /// number so records of several streams can be taken in the order they came.
    private var streams: [UInt64: [(header: RPCResponseHeader, body: MessagePack, arrival: UInt64)]] = [:]
    private var arrivals: UInt64 = 0

    /// Replies larger than this mean a confused peer, not a big cluster.
    static let maxInboxBytes = 64 << 20

    /// Connects, performs the handshake and, when `authKey` is non-empty, authenticates.
    public init(address: String, authKey: String?, timeout: Duration = .seconds(10)) throws(RPCClientError) {
        self.address = address
        let ms = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        self.timeoutMillis = Int32(clamping: max(ms, 1))
        self.fd = try Socket.open(address, timeoutMillis: Int32(clamping: max(ms, 1)))
        do throws(RPCClientError) {
            try call(RPCProtocol.Command.handshake, RPCHandshakeRequest())
            if let authKey, !authKey.isEmpty { try call(RPCProtocol.Command.auth, RPCAuthRequest(authKey: authKey)) }
        } catch {
            close()
            throw RPCClientError(.connect, error.message)
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 {
            Socket.closeFD(fd)
            fd = -1
        }
    }

    // MARK: Calls

    /// Sends one request and waits for its reply. Returns the reply body when `hasResponseBody`; throws `.remote` with
    /// the agent's error text (after consuming the body, which the agent sends even on error).
    @discardableResult
    public func call(
        _ command: String, _ body: (any RPCEncodable)? = nil, hasResponseBody: Bool = false
    ) throws(RPCClientError) -> MessagePack? {
        let (error, reply) = try exchange(command, body, hasResponseBody: hasResponseBody)
        if !error.isEmpty { throw RPCClientError(.remote, error) }
        return reply
    }

    /// Like `call`, but hands back the header's error text with the body instead of throwing it: the key commands
    /// send per-node messages along with their error.
    public func exchange(
        _ command: String, _ body: (any RPCEncodable)? = nil, hasResponseBody: Bool = false
    ) throws(RPCClientError) -> (error: String, body: MessagePack?) {
        let seq = try send(command, body)
        while true {
            let header = try readHeader()
            if header.seq == seq {
                // "Authentication required" comes without a body whatever the command (docs/agent.md#rpc-framing).
                let hasBody = hasResponseBody && header.error != RPCProtocol.ErrorText.authRequired
                let reply = hasBody ? try readObject() : nil
                return (header.error, reply ?? (hasResponseBody ? .null : nil))
            }
            try absorb(header)
        }
    }

    /// Starts a streaming command (query, stream, monitor): sends it and waits for the bare reply header. Records then
    /// arrive through `nextRecord(of:timeout:)`; returns the Seq that identifies the stream.
    public func startStream(_ command: String, _ body: (any RPCEncodable)?) throws(RPCClientError) -> UInt64 {
        let seq = nextSeq()
        streams[seq] = []
        do throws(RPCClientError) {
            try write(seq: seq, command, body)
            while true {
                let header = try readHeader()
                if header.seq == seq {
                    if !header.error.isEmpty { throw RPCClientError(.remote, header.error) }
                    return seq
                }
                try absorb(header)
            }
        } catch {
            streams[seq] = nil
            throw error
        }
    }

    /// The next record of stream `seq`: its body, or nil if `timeout` passed first (nil timeout waits forever).
    /// A record whose header carries an error throws it.
    public func nextRecord(of seq: UInt64, timeout: Duration? = nil) throws(RPCClientError) -> MessagePack? {
        try nextRecord(ofAny: [seq], timeout: timeout)?.body
    }

    /// The earliest-arrived record of any of `seqs` (e.g. a monitor and an event stream read together), with the
    /// Seq it belongs to; nil if `timeout` passed first.
    public func nextRecord(
        ofAny seqs: [UInt64], timeout: Duration? = nil
    ) throws(RPCClientError) -> (seq: UInt64, body: MessagePack)? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let ready = seqs.compactMap { seq in streams[seq]?.first.map { (seq, $0.arrival) } }
            if let (seq, _) = ready.min(by: { $0.1 < $1.1 }) {
                let first = streams[seq]!.removeFirst()
                if !first.header.error.isEmpty { throw RPCClientError(.remote, first.header.error) }
                return (seq, first.body)
            }
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { return nil }
                let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
                guard try waitReadable(millis: Int32(clamping: ms)) else { return nil }
            }
            try absorb(readHeader())
        }
    }

    /// Ends stream `seq` on the agent (`stop` always succeeds) and drops its buffered records.
    public func stopStream(_ seq: UInt64) throws(RPCClientError) {
        try call(RPCProtocol.Command.stop, RPCStopRequest(stop: seq))
        streams[seq] = nil
    }

    /// Forgets a stream the agent has ended by itself (a query after its `done`); later records for it are skipped.
    public func forgetStream(_ seq: UInt64) {
        streams[seq] = nil
    }

    // MARK: Typed commands

    public func membersFiltered(name: String, status: String, tags: [String: String]) throws(RPCClientError)
        -> [RPCMember]
    {
        let req = RPCMembersFilteredRequest(name: name, status: status, tags: tags)
        let body = try call(RPCProtocol.Command.membersFiltered, req, hasResponseBody: true)
        return try decode { try RPCMembersResponse(from: body ?? .null).members }
    }

    public func members() throws(RPCClientError) -> [RPCMember] {
        let body = try call(RPCProtocol.Command.members, hasResponseBody: true)
        return try decode { try RPCMembersResponse(from: body ?? .null).members }
    }

    /// The number of nodes contacted.
    public func join(_ addresses: [String], replay: Bool) throws(RPCClientError) -> Int {
        let req = RPCJoinRequest(existing: addresses, replay: replay)
        let body = try call(RPCProtocol.Command.join, req, hasResponseBody: true)
        return try decode { Int(try RPCJoinResponse(from: body ?? .null).num) }
    }

    public func leave() throws(RPCClientError) {
        try call(RPCProtocol.Command.leave)
    }

    public func forceLeave(_ node: String, prune: Bool) throws(RPCClientError) {
        try call(RPCProtocol.Command.forceLeave, RPCForceLeaveRequest(node: node, prune: prune))
    }

    public func stats() throws(RPCClientError) -> [String: [String: String]] {
        let body = try call(RPCProtocol.Command.stats, hasResponseBody: true)
        return try decode { try RPCStatsResponse(from: body ?? .null).sections }
    }

    public func userEvent(name: String, payload: [UInt8]?, coalesce: Bool) throws(RPCClientError) {
        try call(RPCProtocol.Command.event, RPCEventRequest(name: name, payload: payload, coalesce: coalesce))
    }

    /// The container action's apps on the agent's node, or the cluster-wide specs, as JSON text; or a change of them.
    public func apps(_ request: RPCAppsRequest) throws(RPCClientError) -> String {
        let body = try call(RPCProtocol.Command.apps, request, hasResponseBody: true)
        return try decode { try RPCAppsResponse(from: body ?? .null).json }
    }

    public func updateTags(set tags: [String: String], delete: [String]) throws(RPCClientError) {
        try call(RPCProtocol.Command.tags, RPCTagsRequest(tags: tags, deleteTags: delete))
    }

    /// Answers a query received through a stream, by the ID its record carried.
    public func respond(id: UInt64, payload: [UInt8]?) throws(RPCClientError) {
        try call(RPCProtocol.Command.respond, RPCRespondRequest(id: id, payload: payload))
    }

    /// Starts a query; its records then come from `nextQueryRecord(of:)` until one of type `done`.
    public func startQuery(_ request: RPCQueryRequest) throws(RPCClientError) -> UInt64 {
        try startStream(RPCProtocol.Command.query, request)
    }

    /// The next ack, response or `done` of query `seq`; after `done` the stream is forgotten.
    public func nextQueryRecord(of seq: UInt64) throws(RPCClientError) -> RPCQueryRecord {
        let body = try nextRecord(of: seq) ?? .null
        let record = try decode { try RPCQueryRecord(from: body) }
        if record.type == RPCProtocol.QueryRecordType.done { forgetStream(seq) }
        return record
    }

    /// A key command (`install-key`, `use-key`, `remove-key` with `key`; `list-keys` without): the reply body and
    /// the agent's error text ("" on success), which comes with per-node messages when nodes failed.
    public func keyCommand(_ command: String, key: String?) throws(RPCClientError) -> (RPCKeyResponse, error: String) {
        let (error, body) = try exchange(command, key.map { RPCKeyRequest(key: $0) }, hasResponseBody: true)
        // "Authentication required" and the like come without a body.
        guard let body, !body.isNull else {
            if !error.isEmpty { throw RPCClientError(.remote, error) }
            return (RPCKeyResponse(), "")
        }
        return (try decode { try RPCKeyResponse(from: body) }, error)
    }

    public func coordinate(of node: String) throws(RPCClientError) -> RPCCoordinateResponse {
        let body = try call(RPCProtocol.Command.getCoordinate, RPCCoordinateRequest(node: node), hasResponseBody: true)
        return try decode { try RPCCoordinateResponse(from: body ?? .null) }
    }

    private func decode<T>(_ body: () throws -> T) throws(RPCClientError) -> T {
        do { return try body() } catch { throw RPCClientError(.malformed, "malformed reply: \(error)") }
    }

    // MARK: Framing

    private func nextSeq() -> UInt64 {
        seq += 1
        return seq
    }

    private func send(_ command: String, _ body: (any RPCEncodable)?) throws(RPCClientError) -> UInt64 {
        let seq = nextSeq()
        try write(seq: seq, command, body)
        return seq
    }

    private func write(seq: UInt64, _ command: String, _ body: (any RPCEncodable)?) throws(RPCClientError) {
        var w = MessagePackWriter(.rpc, capacity: 128)
        RPCRequestHeader(command: command, seq: seq).encode(to: &w)
        body?.encode(to: &w)
        try Socket.writeAll(fd, w.bytes)
    }

    /// Files a record for an open stream; a reply for a Seq nobody waits for is skipped, as serf's client does.
    private func absorb(_ header: RPCResponseHeader) throws(RPCClientError) {
        guard streams[header.seq] != nil else { return }
        // Records carry a body; an error header for a stream (none is sent today) would not.
        let body = header.error.isEmpty ? try readObject() : .null
        arrivals += 1
        streams[header.seq]!.append((header, body, arrivals))
    }

    private func readHeader() throws(RPCClientError) -> RPCResponseHeader {
        let value = try readObject()
        do { return try RPCResponseHeader(from: value) } catch {
            throw RPCClientError(.malformed, "malformed response header: \(error)")
        }
    }

    private func readObject() throws(RPCClientError) -> MessagePack {
        while true {
            var reader = MessagePackReader(inbox)
            let value: MessagePack?
            do { value = try reader.readIfComplete() } catch {
                throw RPCClientError(.malformed, "malformed reply from the agent: \(error)")
            }
            if let value {
                inbox.removeFirst(reader.offset)
                return value
            }
            guard inbox.count < Self.maxInboxBytes else { throw RPCClientError(.malformed, "reply too large") }
            try Socket.readSome(fd, into: &inbox)
        }
    }

    /// True when bytes (or EOF) are waiting, false on timeout.
    private func waitReadable(millis: Int32) throws(RPCClientError) -> Bool {
        if !inbox.isEmpty { return true }
        return try Socket.waitFor(fd, events: Int16(POLLIN), millis: millis)
    }
}

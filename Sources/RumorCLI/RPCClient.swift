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
    /// Records received for open streams while waiting for something else, by stream Seq.
    private var streams: [UInt64: [(header: RPCResponseHeader, body: MessagePack)]] = [:]

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
        let seq = try send(command, body)
        while true {
            let header = try readHeader()
            if header.seq == seq {
                // "Authentication required" comes without a body whatever the command (doc §7.1).
                let hasBody = hasResponseBody && header.error != RPCProtocol.ErrorText.authRequired
                let reply = hasBody ? try readObject() : nil
                if !header.error.isEmpty { throw RPCClientError(.remote, header.error) }
                return reply ?? (hasResponseBody ? .null : nil)
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
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let first = streams[seq]?.first {
                streams[seq]!.removeFirst()
                if !first.header.error.isEmpty { throw RPCClientError(.remote, first.header.error) }
                return first.body
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
        streams[header.seq]!.append((header, body))
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

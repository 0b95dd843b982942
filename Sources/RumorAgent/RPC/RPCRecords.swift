import RumorWire

/// A value written as one msgpack object in the RPC dialect. Struct encoders write keys sorted bytewise, as Go does,
/// so our bytes match serf's (docs/protocol.md#msgpack-rpc).
public protocol RPCEncodable: Sendable {
    func encode(to w: inout MessagePackWriter)
}

extension RPCEncodable {
    /// The value alone, in the RPC dialect.
    public var rpcBytes: [UInt8] {
        var w = MessagePackWriter(.rpc)
        encode(to: &w)
        return w.bytes
    }
}

// MARK: - Headers

/// `requestHeader{Command, Seq}`: precedes every request.
public struct RPCRequestHeader: RPCEncodable, Hashable {
    public var command: String
    public var seq: UInt64

    public init(command: String, seq: UInt64) {
        self.command = command
        self.seq = seq
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "request header")
        command = try f.string("Command")
        seq = try f.uint("Seq")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("Command"); w.write(command)
        w.write("Seq"); w.write(seq)
    }
}

/// `responseHeader{Error, Seq}`: precedes every reply and every streamed record.
public struct RPCResponseHeader: RPCEncodable, Hashable {
    public var error: String
    public var seq: UInt64

    public init(error: String = "", seq: UInt64) {
        self.error = error
        self.seq = seq
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "response header")
        error = try f.string("Error")
        seq = try f.uint("Seq")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("Error"); w.write(error)
        w.write("Seq"); w.write(seq)
    }
}

// MARK: - Request bodies

public struct RPCHandshakeRequest: RPCEncodable, Hashable {
    public var version: Int64
    public init(version: Int64 = RPCProtocol.ipcVersion) { self.version = version }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "handshake")
        version = try f.int("Version")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Version"); w.write(version)
    }
}

public struct RPCAuthRequest: RPCEncodable, Hashable {
    public var authKey: String
    public init(authKey: String) { self.authKey = authKey }

    public init(from value: MessagePack) throws {
        authKey = try MessagePackFields(value, context: "auth").string("AuthKey")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("AuthKey"); w.write(authKey)
    }
}

/// Regexp filters for `members-filtered`; empty Name or Status means "any".
public struct RPCMembersFilteredRequest: RPCEncodable, Hashable {
    public var name: String
    public var status: String
    public var tags: [String: String]

    public init(name: String = "", status: String = "", tags: [String: String] = [:]) {
        self.name = name
        self.status = status
        self.tags = tags
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "members-filtered")
        name = try f.string("Name")
        status = try f.string("Status")
        tags = try f.stringMap("Tags")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(3)
        w.write("Name"); w.write(name)
        w.write("Status"); w.write(status)
        w.write("Tags"); w.write(tags)
    }
}

public struct RPCJoinRequest: RPCEncodable, Hashable {
    public var existing: [String]
    public var replay: Bool

    public init(existing: [String], replay: Bool) {
        self.existing = existing
        self.replay = replay
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "join")
        existing = try f.stringArray("Existing")
        replay = try f.bool("Replay")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("Existing"); w.write(existing)
        w.write("Replay"); w.write(replay)
    }
}

public struct RPCForceLeaveRequest: RPCEncodable, Hashable {
    public var node: String
    public var prune: Bool

    public init(node: String, prune: Bool) {
        self.node = node
        self.prune = prune
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "force-leave")
        node = try f.string("Node")
        prune = try f.bool("Prune")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("Node"); w.write(node)
        w.write("Prune"); w.write(prune)
    }
}

/// `stop{Stop}`: the Seq of the stream or monitor to end.
public struct RPCStopRequest: RPCEncodable, Hashable {
    public var stop: UInt64
    public init(stop: UInt64) { self.stop = stop }

    public init(from value: MessagePack) throws {
        stop = try MessagePackFields(value, context: "stop").uint("Stop")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Stop"); w.write(stop)
    }
}

// MARK: - Response bodies

public struct RPCJoinResponse: RPCEncodable, Hashable {
    public var num: Int32
    public init(num: Int32) { self.num = num }

    public init(from value: MessagePack) throws {
        let n = try MessagePackFields(value, context: "join response").int("Num")
        num = Int32(clamping: n)
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Num"); w.write(Int64(num))
    }
}

public struct RPCMembersResponse: RPCEncodable, Hashable {
    public var members: [RPCMember]
    public init(members: [RPCMember]) { self.members = members }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "members response")
        guard let list = (f["Members"] ?? .null).arrayValue else {
            throw WireError("members response.Members: expected an array")
        }
        members = try list.map(RPCMember.init(from:))
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Members")
        w.writeArrayHeader(members.count)
        for m in members { m.encode(to: &w) }
    }
}

/// `map[string]map[string]string` from `stats`, sections and keys written in sorted order.
public struct RPCStatsResponse: RPCEncodable, Hashable {
    public var sections: [String: [String: String]]
    public init(sections: [String: [String: String]]) { self.sections = sections }

    public init(from value: MessagePack) throws {
        guard let pairs = value.mapValue else { throw WireError("stats: expected a map") }
        var out: [String: [String: String]] = [:]
        for p in pairs {
            guard let k = p.key.stringValue else { throw WireError("stats: expected string keys") }
            out[k] = p.value.isNull ? [:] : try MessagePackFields.stringMap(p.value, context: "stats.\(k)")
        }
        sections = out
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(sections.count)
        for k in MessagePackWriter.sortedKeys(sections) {
            w.write(k)
            w.write(sections[k]!)
        }
    }
}

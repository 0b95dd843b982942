import RumorWire

// Bodies of the RPC commands beyond membership (event, query, respond, tags, stream, monitor, keys, coordinates) and
// the records streamed after query, stream and monitor (docs/agent.md#rpc-commands, #rpc-streams). Keys sorted, as Go.
//
// Go `[]byte` fields are optional here because Go tells a nil slice (`c0`) from an empty one (`c4 00`), and
// `serf monitor` prints the difference (`[]byte(nil)`); we write nil wherever serf would.

// MARK: - Request bodies

/// `event{Coalesce, Name, Payload}`. The CLI sends `Payload: nil` when no payload is given.
public struct RPCEventRequest: RPCEncodable, Hashable {
    public var name: String
    public var payload: [UInt8]?
    public var coalesce: Bool

    public init(name: String, payload: [UInt8]?, coalesce: Bool) {
        self.name = name
        self.payload = payload
        self.coalesce = coalesce
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "event")
        coalesce = try f.bool("Coalesce")
        name = try f.string("Name")
        payload = try f.optionalBytes("Payload")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(3)
        w.write("Coalesce"); w.write(coalesce)
        w.write("Name"); w.write(name)
        w.write("Payload"); w.writeBytes(payload)
    }
}

/// `tags{DeleteTags, Tags}`: the new tags are the current ones minus DeleteTags, plus Tags.
public struct RPCTagsRequest: RPCEncodable, Hashable {
    public var tags: [String: String]
    public var deleteTags: [String]

    public init(tags: [String: String], deleteTags: [String]) {
        self.tags = tags
        self.deleteTags = deleteTags
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "tags")
        deleteTags = try f.stringArray("DeleteTags")
        tags = try f.stringMap("Tags")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        // serf's CLI sends a nil slice when nothing is deleted.
        w.write("DeleteTags"); w.write(deleteTags.isEmpty ? nil : deleteTags)
        w.write("Tags"); w.write(tags)
    }
}

/// `query{FilterNodes, FilterTags, Name, Payload, RelayFactor, RequestAck, Timeout}`; Timeout is Go's
/// `time.Duration` (int64 nanoseconds), 0 meaning the agent's default.
public struct RPCQueryRequest: RPCEncodable, Hashable {
    public var filterNodes: [String]
    public var filterTags: [String: String]
    public var requestAck: Bool
    public var relayFactor: UInt8
    public var timeoutNanoseconds: Int64
    public var name: String
    public var payload: [UInt8]?

    public init(
        name: String, payload: [UInt8]?, filterNodes: [String] = [], filterTags: [String: String] = [:],
        requestAck: Bool = false, relayFactor: UInt8 = 0, timeoutNanoseconds: Int64 = 0
    ) {
        self.name = name
        self.payload = payload
        self.filterNodes = filterNodes
        self.filterTags = filterTags
        self.requestAck = requestAck
        self.relayFactor = relayFactor
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "query")
        filterNodes = try f.stringArray("FilterNodes")
        filterTags = try f.stringMap("FilterTags")
        name = try f.string("Name")
        payload = try f.optionalBytes("Payload")
        relayFactor = try f.uint8("RelayFactor")
        requestAck = try f.bool("RequestAck")
        timeoutNanoseconds = try f.int("Timeout")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(7)
        w.write("FilterNodes"); w.write(filterNodes.isEmpty ? nil : filterNodes)
        w.write("FilterTags"); w.write(filterTags)
        w.write("Name"); w.write(name)
        w.write("Payload"); w.writeBytes(payload)
        w.write("RelayFactor"); w.write(relayFactor)
        w.write("RequestAck"); w.write(requestAck)
        w.write("Timeout"); w.write(timeoutNanoseconds)
    }
}

/// `respond{ID, Payload}`: answers a query received through a `stream`, by the ID its record carried.
public struct RPCRespondRequest: RPCEncodable, Hashable {
    public var id: UInt64
    public var payload: [UInt8]?

    public init(id: UInt64, payload: [UInt8]?) {
        self.id = id
        self.payload = payload
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "respond")
        id = try f.uint("ID")
        payload = try f.optionalBytes("Payload")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("ID"); w.write(id)
        w.write("Payload"); w.writeBytes(payload)
    }
}

/// `stream{Type}`: an event filter in handler syntax (`*`, `member-join,user:deploy`).
public struct RPCStreamRequest: RPCEncodable, Hashable {
    public var type: String
    public init(type: String) { self.type = type }

    public init(from value: MessagePack) throws {
        type = try MessagePackFields(value, context: "stream").string("Type")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Type"); w.write(type)
    }
}

/// `monitor{LogLevel}`: TRACE, DEBUG, INFO, WARN or ERR (case-insensitive).
public struct RPCMonitorRequest: RPCEncodable, Hashable {
    public var logLevel: String
    public init(logLevel: String) { self.logLevel = logLevel }

    public init(from value: MessagePack) throws {
        logLevel = try MessagePackFields(value, context: "monitor").string("LogLevel")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("LogLevel"); w.write(logLevel)
    }
}

/// `install-key`, `use-key`, `remove-key`: `{Key}` in base64.
public struct RPCKeyRequest: RPCEncodable, Hashable {
    public var key: String
    public init(key: String) { self.key = key }

    public init(from value: MessagePack) throws {
        key = try MessagePackFields(value, context: "key request").string("Key")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Key"); w.write(key)
    }
}

/// `get-coordinate{Node}`.
public struct RPCCoordinateRequest: RPCEncodable, Hashable {
    public var node: String
    public init(node: String) { self.node = node }

    public init(from value: MessagePack) throws {
        node = try MessagePackFields(value, context: "get-coordinate").string("Node")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Node"); w.write(node)
    }
}

// MARK: - Response bodies

/// The reply to every key command: `{Keys, Messages, NumErr, NumNodes, NumResp}`. `Keys` (base64 key → nodes
/// holding it) is nil except for `list-keys`, as in serf.
public struct RPCKeyResponse: RPCEncodable, Hashable {
    public var keys: [String: Int]?
    /// Node → what it reported (failures, and warnings such as a truncated key list).
    public var messages: [String: String]
    public var numErr: Int
    public var numNodes: Int
    public var numResp: Int

    public init(
        keys: [String: Int]? = nil, messages: [String: String] = [:], numErr: Int = 0, numNodes: Int = 0,
        numResp: Int = 0
    ) {
        self.keys = keys
        self.messages = messages
        self.numErr = numErr
        self.numNodes = numNodes
        self.numResp = numResp
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "key response")
        if let raw = f["Keys"], !raw.isNull {
            guard let pairs = raw.mapValue else { throw WireError("key response.Keys: expected a map") }
            var keys: [String: Int] = [:]
            for p in pairs {
                guard let k = p.key.stringValue, let n = p.value.intValue else {
                    throw WireError("key response.Keys: expected string keys and integer counts")
                }
                keys[k] = Int(n)
            }
            self.keys = keys
        }
        messages = try f.stringMap("Messages")
        numErr = Int(try f.int("NumErr"))
        numNodes = Int(try f.int("NumNodes"))
        numResp = Int(try f.int("NumResp"))
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(5)
        w.write("Keys")
        if let keys {
            w.writeMapHeader(keys.count)
            for k in MessagePackWriter.sortedKeys(keys) {
                w.write(k)
                w.write(keys[k]!)
            }
        } else {
            w.writeNil()
        }
        w.write("Messages"); w.write(messages)
        w.write("NumErr"); w.write(numErr)
        w.write("NumNodes"); w.write(numNodes)
        w.write("NumResp"); w.write(numResp)
    }
}

/// `get-coordinate`'s reply: Vivaldi coordinate `{Adjustment, Error, Height, Vec}` and whether one is known.
public struct RPCCoordinateResponse: RPCEncodable, Hashable {
    public var adjustment: Double
    public var error: Double
    public var height: Double
    /// nil for Go's zero coordinate.
    public var vec: [Double]?
    public var ok: Bool

    /// A node with no known coordinate: Go's zero coordinate and Ok false.
    public static let unknown = RPCCoordinateResponse(adjustment: 0, error: 0, height: 0, vec: nil, ok: false)

    public init(adjustment: Double, error: Double, height: Double, vec: [Double]?, ok: Bool) {
        self.adjustment = adjustment
        self.error = error
        self.height = height
        self.vec = vec
        self.ok = ok
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "coordinate response")
        ok = try f.bool("Ok")
        let c = try MessagePackFields(f["Coord"] ?? .null, context: "coordinate response.Coord")
        adjustment = try c.double("Adjustment")
        error = try c.double("Error")
        height = try c.double("Height")
        if let raw = c["Vec"], !raw.isNull {
            guard let list = raw.arrayValue else { throw WireError("coordinate response.Coord.Vec: expected an array") }
            vec = try list.map {
                guard let d = $0.doubleValue else { throw WireError("coordinate response.Coord.Vec: expected floats") }
                return d
            }
        }
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("Coord")
        w.writeMapHeader(4)
        w.write("Adjustment"); w.write(adjustment)
        w.write("Error"); w.write(error)
        w.write("Height"); w.write(height)
        w.write("Vec")
        if let vec {
            w.writeArrayHeader(vec.count)
            for d in vec { w.write(d) }
        } else {
            w.writeNil()
        }
        w.write("Ok"); w.write(ok)
    }
}

// MARK: - Streamed records

/// After `query`: `{From, Payload, Type}` with Type ack, response or done. `done` has From "" and Payload nil, and
/// the CLI takes an empty From as the end.
public struct RPCQueryRecord: RPCEncodable, Hashable {
    public var type: String
    public var from: String
    public var payload: [UInt8]?

    public init(type: String, from: String = "", payload: [UInt8]? = nil) {
        self.type = type
        self.from = from
        self.payload = payload
    }

    public static let done = RPCQueryRecord(type: RPCProtocol.QueryRecordType.done)

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "query record")
        from = try f.string("From")
        payload = try f.optionalBytes("Payload")
        type = try f.string("Type")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(3)
        w.write("From"); w.write(from)
        w.write("Payload"); w.writeBytes(payload)
        w.write("Type"); w.write(type)
    }
}

/// After `monitor`: `{Log}`, one formatted log line.
public struct RPCLogRecord: RPCEncodable, Hashable {
    public var log: String
    public init(log: String) { self.log = log }

    public init(from value: MessagePack) throws {
        log = try MessagePackFields(value, context: "log record").string("Log")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("Log"); w.write(log)
    }
}

/// After `stream`: one event, in the record shape serf uses for its kind.
public enum RPCStreamRecord: RPCEncodable, Hashable {
    /// `{Event: "member-join"|…, Members}`.
    case member(event: String, members: [RPCMember])
    /// `{Coalesce, Event: "user", LTime, Name, Payload}`.
    case user(ltime: UInt64, name: String, payload: [UInt8]?, coalesce: Bool)
    /// `{Event: "query", ID, LTime, Name, Payload}`; answer with `respond` and this ID.
    case query(id: UInt64, ltime: UInt64, name: String, payload: [UInt8]?)

    public var event: String {
        switch self {
        case .member(let event, _): event
        case .user: "user"
        case .query: "query"
        }
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "stream record")
        let event = try f.string("Event")
        switch event {
        case "user":
            self = .user(
                ltime: try f.uint("LTime"), name: try f.string("Name"), payload: try f.optionalBytes("Payload"),
                coalesce: try f.bool("Coalesce"))
        case "query":
            self = .query(
                id: try f.uint("ID"), ltime: try f.uint("LTime"), name: try f.string("Name"),
                payload: try f.optionalBytes("Payload"))
        default:
            guard let list = (f["Members"] ?? .null).arrayValue else {
                throw WireError("stream record.Members: expected an array")
            }
            self = .member(event: event, members: try list.map(RPCMember.init(from:)))
        }
    }

    public func encode(to w: inout MessagePackWriter) {
        switch self {
        case .member(let event, let members):
            w.writeMapHeader(2)
            w.write("Event"); w.write(event)
            w.write("Members")
            w.writeArrayHeader(members.count)
            for m in members { m.encode(to: &w) }
        case .user(let ltime, let name, let payload, let coalesce):
            w.writeMapHeader(5)
            w.write("Coalesce"); w.write(coalesce)
            w.write("Event"); w.write("user")
            w.write("LTime"); w.write(ltime)
            w.write("Name"); w.write(name)
            w.write("Payload"); w.writeBytes(payload)
        case .query(let id, let ltime, let name, let payload):
            w.writeMapHeader(5)
            w.write("Event"); w.write("query")
            w.write("ID"); w.write(id)
            w.write("LTime"); w.write(ltime)
            w.write("Name"); w.write(name)
            w.write("Payload"); w.writeBytes(payload)
        }
    }
}

extension MessagePackFields {
    /// A Go `[]byte` that keeps nil (absent or `c0`) apart from empty.
    func optionalBytes(_ key: String) throws -> [UInt8]? {
        guard let v = self[key], !v.isNull else { return nil }
        return try bytes(key)
    }
}

extension Array where Element == UInt8 {
    /// Go's nil slice for empty payloads: what serf's agent forwards for an event sent without a payload.
    var nilIfEmpty: [UInt8]? { isEmpty ? nil : self }
}

/// Codec of Serf messages, memberlist user messages' payloads (docs/protocol.md#serf-messages), byte-compatible with
/// serf 0.8.2: gossip msgpack dialect, struct keys in bytewise order. Pure: hostile bytes only produce a `WireError`.
///
/// Serf's ack payload coordinate has a codec of its own, `PingPayload` (docs/protocol.md#coordinates).
public enum SerfCodec {
    /// The first byte of member metadata holding msgpack-encoded tags (Serf protocol ≥ 3).
    public static let tagMagicByte: UInt8 = 0xFF

    // MARK: - Messages

    /// [serfType][msgpack body] — WITHOUT memberlist's leading 8.
    /// Relay encodes as [9][relayHeader msgpack][payload bytes].
    public static func encode(_ message: SerfMessage) -> [UInt8] {
        switch message {
        case .leave(let l):
            var w = writer(.leave)
            w.writeMapHeader(3)
            w.write("LTime")
            w.write(l.ltime)
            w.write("Node")
            w.write(l.node)
            w.write("Prune")
            w.write(l.prune)
            return w.bytes
        case .join(let j):
            var w = writer(.join)
            w.writeMapHeader(2)
            w.write("LTime")
            w.write(j.ltime)
            w.write("Node")
            w.write(j.node)
            return w.bytes
        case .pushPull(let pp):
            var w = writer(.pushPull, capacity: 128 + pp.events.count + pp.statusLTimes.count * 24)
            writePushPull(pp, into: &w)
            return w.bytes
        case .userEvent(let e):
            var w = writer(.userEvent, capacity: 40 + e.name.utf8.count + (e.payload?.count ?? 0))
            w.writeMapHeader(4)
            w.write("CC")
            w.write(e.cc)
            w.write("LTime")
            w.write(e.ltime)
            w.write("Name")
            w.write(e.name)
            w.write("Payload")
            w.writeBytes(e.payload)
            return w.bytes
        case .query(let q):
            var w = writer(.query, capacity: 160 + q.name.utf8.count + (q.payload?.count ?? 0))
            writeQuery(q, into: &w)
            return w.bytes
        case .queryResponse(let r):
            var w = writer(.queryResponse, capacity: 64 + r.from.utf8.count + (r.payload?.count ?? 0))
            w.writeMapHeader(5)
            w.write("Flags")
            w.write(r.flags)
            w.write("From")
            w.write(r.from)
            w.write("ID")
            w.write(r.id)
            w.write("LTime")
            w.write(r.ltime)
            w.write("Payload")
            w.writeBytes(r.payload)
            return w.bytes
        case .relay(let h, let payload):
            var w = writer(.relay, capacity: 64 + payload.count)
            w.writeMapHeader(2)
            w.write("DestAddr")
            // A Go net.UDPAddr.
            w.writeMapHeader(3)
            w.write("IP")
            w.writeBytes(h.destAddr)
            w.write("Port")
            w.write(Int(h.destPort))
            w.write("Zone")
            w.write(h.destZone)
            w.write("DestName")
            w.write(h.destName)
            w.appendRaw(payload)
            return w.bytes
        }
    }

    /// Decodes the bytes of a memberlist user message (after its type byte 8). Unknown keys are skipped and trailing
    /// bytes after the body are ignored, as Go does.
    public static func decode(_ bytes: [UInt8]) throws -> SerfMessage {
        guard let typeByte = bytes.first else { throw WireError("empty serf message") }
        guard let type = SerfMessageType(rawValue: typeByte) else {
            throw WireError("unknown serf message type \(typeByte)")
        }
        var r = MessagePackReader(bytes, offset: 1)
        switch type {
        case .leave:
            let f = try MessagePackFields(r.read(), context: "leave")
            return .leave(
                LeaveIntent(ltime: try f.uint("LTime"), node: try f.string("Node"), prune: try f.bool("Prune")))
        case .join:
            let f = try MessagePackFields(r.read(), context: "join")
            return .join(JoinIntent(ltime: try f.uint("LTime"), node: try f.string("Node")))
        case .pushPull:
            return .pushPull(try decodePushPull(MessagePackFields(r.read(), context: "pushPull")))
        case .userEvent:
            let f = try MessagePackFields(r.read(), context: "userEvent")
            return .userEvent(
                UserEventMessage(
                    ltime: try f.uint("LTime"), name: try f.string("Name"), payload: try optionalBytes(f, "Payload"),
                    cc: try f.bool("CC")))
        case .query:
            return .query(try decodeQuery(MessagePackFields(r.read(), context: "query")))
        case .queryResponse:
            let f = try MessagePackFields(r.read(), context: "queryResponse")
            return .queryResponse(
                QueryResponseMessage(
                    ltime: try f.uint("LTime"), id: try f.uint32("ID"), from: try f.string("From"),
                    flags: try f.uint32("Flags"), payload: try optionalBytes(f, "Payload")))
        case .relay:
            let f = try MessagePackFields(r.read(), context: "relayHeader")
            let dest = try MessagePackFields(f["DestAddr"] ?? .null, context: "relayHeader.DestAddr")
            let header = RelayHeader(
                destAddr: try dest.bytes("IP"), destPort: try dest.uint16("Port"), destName: try f.string("DestName"),
                destZone: try dest.string("Zone"))
            return .relay(header, payload: Array(r.rest))
        case .conflictResponse, .keyRequest, .keyResponse:
            throw WireError("serf message type \(typeByte) is only valid inside a query or query response payload")
        }
    }

    // MARK: - Query filters

    /// [0]+msgpack array of strings, or [1]+{Expr,Tag}
    public static func encodeFilter(_ f: QueryFilter) -> [UInt8] {
        var w = MessagePackWriter(.gossip)
        switch f {
        case .nodes(let names):
            w.appendRaw(CollectionOfOne(UInt8(0)))
            w.write(names)
        case .tag(let name, let expression):
            w.appendRaw(CollectionOfOne(UInt8(1)))
            w.writeMapHeader(2)
            w.write("Expr")
            w.write(expression)
            w.write("Tag")
            w.write(name)
        }
        return w.bytes
    }

    public static func decodeFilter(_ b: [UInt8]) throws -> QueryFilter {
        guard let type = b.first else { throw WireError("empty query filter") }
        var r = MessagePackReader(b, offset: 1)
        switch type {
        case 0:
            guard let items = try r.read().arrayValue else { throw WireError("node filter: expected array of strings") }
            return .nodes(
                try items.map {
                    guard let s = $0.isNull ? "" : $0.stringValue else {
                        throw WireError("node filter: expected array of strings")
                    }
                    return s
                })
        case 1:
            let f = try MessagePackFields(r.read(), context: "tag filter")
            return .tag(name: try f.string("Tag"), expression: try f.string("Expr"))
        default:
            throw WireError("unknown query filter type \(type)")
        }
    }

    // MARK: - Tags

    /// Tags in member meta: 0xFF + msgpack map (gossip dialect, keys sorted so the encoding is canonical).
    public static func encodeTags(_ tags: [String: String]) -> [UInt8] {
        let size = tags.reduce(2) { $0 + 2 + $1.key.utf8.count + $1.value.utf8.count }
        var w = MessagePackWriter(.gossip, capacity: size)
        w.appendRaw(CollectionOfOne(tagMagicByte))
        w.write(tags)
        return w.bytes
    }

    /// Empty meta or meta not starting with 0xFF is the legacy form: ["role": whole meta as string]
    /// (empty meta -> [:]).
    public static func decodeTags(_ meta: [UInt8]) throws -> [String: String] {
        guard let first = meta.first else { return [:] }
        guard first == tagMagicByte else { return ["role": String(decoding: meta, as: UTF8.self)] }
        var r = MessagePackReader(meta, offset: 1)
        return try MessagePackFields.stringMap(r.read(), context: "tags")
    }

    // MARK: - Internal query payloads

    /// [7]+{Key}
    public static func encodeKeyRequest(_ r: KeyRequest) -> [UInt8] {
        var w = writer(.keyRequest, capacity: 8 + r.key.count)
        w.writeMapHeader(1)
        w.write("Key")
        // Serf sends an empty, non-nil slice for list-keys (`0781a34b6579a0`).
        w.writeString(r.key)
        return w.bytes
    }

    public static func decodeKeyRequest(_ b: [UInt8]) throws -> KeyRequest {
        var r = try reader(b, expecting: .keyRequest)
        let f = try MessagePackFields(r.read(), context: "keyRequest")
        return KeyRequest(key: try f.bytes("Key"))
    }

    /// [8]+{Keys,Message,PrimaryKey,Result}
    public static func encodeKeyResponse(_ r: KeyResponse) -> [UInt8] {
        var w = writer(.keyResponse, capacity: 64 + (r.keys?.count ?? 0) * 48)
        w.writeMapHeader(4)
        w.write("Keys")
        w.write(r.keys)
        w.write("Message")
        w.write(r.message)
        w.write("PrimaryKey")
        w.write(r.primaryKey)
        w.write("Result")
        w.write(r.result)
        return w.bytes
    }

    public static func decodeKeyResponse(_ b: [UInt8]) throws -> KeyResponse {
        var r = try reader(b, expecting: .keyResponse)
        let f = try MessagePackFields(r.read(), context: "keyResponse")
        return KeyResponse(
            result: try f.bool("Result"), message: try f.string("Message"),
            keys: f.has("Keys") ? try f.stringArray("Keys") : nil, primaryKey: try f.string("PrimaryKey"))
    }

    /// [6]+Member map or [6]+nil
    public static func encodeConflictResponse(_ m: SerfMemberRecord?) -> [UInt8] {
        var w = writer(.conflictResponse, capacity: 160)
        guard let m else {
            w.writeNil()
            return w.bytes
        }
        w.writeMapHeader(11)
        w.write("Addr")
        w.writeBytes(m.addr)
        w.write("DelegateCur")
        w.write(m.delegateCur)
        w.write("DelegateMax")
        w.write(m.delegateMax)
        w.write("DelegateMin")
        w.write(m.delegateMin)
        w.write("Name")
        w.write(m.name)
        w.write("Port")
        w.write(m.port)
        w.write("ProtocolCur")
        w.write(m.protocolCur)
        w.write("ProtocolMax")
        w.write(m.protocolMax)
        w.write("ProtocolMin")
        w.write(m.protocolMin)
        w.write("Status")
        w.write(m.status)
        w.write("Tags")
        w.write(m.tags)
        return w.bytes
    }

    public static func decodeConflictResponse(_ b: [UInt8]) throws -> SerfMemberRecord? {
        var r = try reader(b, expecting: .conflictResponse)
        let v = try r.read()
        if v.isNull { return nil }
        let f = try MessagePackFields(v, context: "conflictResponse")
        let vsn = [
            try f.uint8("ProtocolMin"), try f.uint8("ProtocolMax"), try f.uint8("ProtocolCur"),
            try f.uint8("DelegateMin"), try f.uint8("DelegateMax"), try f.uint8("DelegateCur"),
        ]
        return SerfMemberRecord(
            name: try f.string("Name"), addr: try f.bytes("Addr"), port: try f.uint16("Port"),
            tags: try f.stringMap("Tags"), status: try f.int("Status"), vsn: vsn)
    }

    // MARK: - Helpers

    private static func writer(_ type: SerfMessageType, capacity: Int = 64) -> MessagePackWriter {
        var w = MessagePackWriter(.gossip, capacity: capacity)
        w.appendRaw(CollectionOfOne(type.rawValue))
        return w
    }

    private static func reader(_ b: [UInt8], expecting type: SerfMessageType) throws -> MessagePackReader {
        guard let first = b.first else { throw WireError("empty \(type) message") }
        guard first == type.rawValue else {
            throw WireError("\(type): expected serf message type \(type.rawValue), got \(first)")
        }
        return MessagePackReader(b, offset: 1)
    }

    /// A Go `[]byte` where nil and empty must stay distinct for byte-identical re-encoding (nil is `c0`).
    private static func optionalBytes(_ f: MessagePackFields, _ key: String) throws -> [UInt8]? {
        f.has(key) ? try f.bytes(key) : nil
    }

    private static func writeQuery(_ q: QueryMessage, into w: inout MessagePackWriter) {
        w.writeMapHeader(11)
        w.write("Addr")
        w.writeBytes(q.addr)
        w.write("Filters")
        if let filters = q.filters {
            w.writeArrayHeader(filters.count)
            for f in filters { w.writeBytes(f) }
        } else {
            w.writeNil()
        }
        w.write("Flags")
        w.write(q.flags)
        w.write("ID")
        w.write(q.id)
        w.write("LTime")
        w.write(q.ltime)
        w.write("Name")
        w.write(q.name)
        w.write("Payload")
        w.writeBytes(q.payload)
        w.write("Port")
        w.write(q.port)
        w.write("RelayFactor")
        w.write(q.relayFactor)
        w.write("SourceNode")
        w.write(q.sourceNode)
        w.write("Timeout")
        w.write(q.timeout)
    }

    private static func decodeQuery(_ f: MessagePackFields) throws -> QueryMessage {
        var filters: [[UInt8]]? = nil
        if let v = f["Filters"], !v.isNull {
            guard let items = v.arrayValue else { throw WireError("query.Filters: expected array of bytes") }
            filters = try items.map {
                guard let b = $0.bytesValue else { throw WireError("query.Filters: expected array of bytes") }
                return b
            }
        }
        return QueryMessage(
            ltime: try f.uint("LTime"), id: try f.uint32("ID"), addr: try f.bytes("Addr"), port: try f.uint16("Port"),
            sourceNode: try f.string("SourceNode"), filters: filters, flags: try f.uint32("Flags"),
            relayFactor: try f.uint8("RelayFactor"), timeout: try f.int("Timeout"), name: try f.string("Name"),
            payload: try optionalBytes(f, "Payload"))
    }

    private static func writePushPull(_ pp: SerfPushPull, into w: inout MessagePackWriter) {
        w.writeMapHeader(pp.rumorApps.isEmpty ? 6 : 7)
        w.write("EventLTime")
        w.write(pp.eventLTime)
        w.write("Events")
        w.writeArrayHeader(pp.events.count)
        for slot in pp.events {
            guard let slot else {
                w.writeNil()
                continue
            }
            w.writeMapHeader(2)
            w.write("Events")
            w.writeArrayHeader(slot.events.count)
            for e in slot.events {
                w.writeMapHeader(2)
                w.write("Name")
                w.write(e.name)
                w.write("Payload")
                w.writeBytes(e.payload)
            }
            w.write("LTime")
            w.write(slot.ltime)
        }
        w.write("LTime")
        w.write(pp.ltime)
        w.write("LeftMembers")
        w.write(pp.leftMembers)
        w.write("QueryLTime")
        w.write(pp.queryLTime)
        if !pp.rumorApps.isEmpty {
            w.write("RumorApps")
            w.writeArrayHeader(pp.rumorApps.count)
            for r in pp.rumorApps {
                // Optional fields only when set: a first unsigned deploy encodes as before they existed.
                let signed = !r.signature.isEmpty
                w.writeMapHeader(4 + (r.previous.isEmpty ? 0 : 1) + (r.rollback.isEmpty ? 0 : 1) + (r.serial == 0 ? 0 : 1)
                                 + (signed ? 2 : 0))
                w.write("LTime")
                w.write(r.ltime)
                w.write("Name")
                w.write(r.name)
                w.write("Origin")
                w.write(r.origin)
                if !r.previous.isEmpty {
                    w.write("Previous")
                    w.writeBytes(r.previous)
                }
                if !r.rollback.isEmpty {
                    w.write("Rollback")
                    w.write(r.rollback)
                }
                if r.serial != 0 {
                    w.write("Serial")
                    w.write(r.serial)
                }
                if signed {
                    w.write("Signature")
                    w.writeBytes(r.signature)
                    w.write("Signer")
                    w.writeBytes(r.signer)
                }
                w.write("Spec")
                w.writeBytes(r.spec)
            }
        }
        w.write("StatusLTimes")
        w.writeMapHeader(pp.statusLTimes.count)
        for name in MessagePackWriter.sortedKeys(pp.statusLTimes) {
            w.write(name)
            w.write(pp.statusLTimes[name]!)
        }
    }

    private static func decodePushPull(_ f: MessagePackFields) throws -> SerfPushPull {
        var events: [UserEventCollection?] = []
        if let v = f["Events"] {
            guard let slots = v.arrayValue else { throw WireError("pushPull.Events: expected array") }
            events.reserveCapacity(slots.count)
            for slot in slots {
                if slot.isNull {
                    events.append(nil)
                    continue
                }
                let s = try MessagePackFields(slot, context: "pushPull.Events[]")
                var list: [UserEventCollection.Event] = []
                if let inner = s["Events"] {
                    guard let items = inner.arrayValue else {
                        throw WireError("pushPull.Events[].Events: expected array")
                    }
                    list.reserveCapacity(items.count)
                    for item in items {
                        let e = try MessagePackFields(item, context: "pushPull.Events[].Events[]")
                        list.append(.init(name: try e.string("Name"), payload: try optionalBytes(e, "Payload")))
                    }
                }
                events.append(UserEventCollection(ltime: try s.uint("LTime"), events: list))
            }
        }
        var statusLTimes: [String: UInt64] = [:]
        if let v = f["StatusLTimes"] {
            guard let pairs = v.mapValue else { throw WireError("pushPull.StatusLTimes: expected map") }
            statusLTimes.reserveCapacity(pairs.count)
            for p in pairs {
                guard case .string(let key) = p.key, let t = p.value.isNull ? 0 : p.value.uintValue else {
                    throw WireError("pushPull.StatusLTimes: expected map of string to unsigned integer")
                }
                statusLTimes[String(decoding: key, as: UTF8.self)] = t
            }
        }
        var apps: [AppRecord] = []
        if let v = f["RumorApps"], !v.isNull {
            guard let items = v.arrayValue else { throw WireError("pushPull.RumorApps: expected array") }
            for item in items {
                let a = try MessagePackFields(item, context: "pushPull.RumorApps[]")
                apps.append(AppRecord(
                    name: try a.string("Name"), serial: a.has("Serial") ? try a.uint("Serial") : 0,
                    ltime: try a.uint("LTime"), origin: try a.string("Origin"),
                    spec: try optionalBytes(a, "Spec") ?? [], previous: try optionalBytes(a, "Previous") ?? [],
                    rollback: a.has("Rollback") ? try a.string("Rollback") : "",
                    signer: try optionalBytes(a, "Signer") ?? [], signature: try optionalBytes(a, "Signature") ?? []))
            }
        }
        return SerfPushPull(
            ltime: try f.uint("LTime"), statusLTimes: statusLTimes, leftMembers: try f.stringArray("LeftMembers"),
            eventLTime: try f.uint("EventLTime"), events: events, queryLTime: try f.uint("QueryLTime"), rumorApps: apps)
    }
}

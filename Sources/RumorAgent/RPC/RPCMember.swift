import RumorCore
import RumorWire

/// The `Member` of `members` replies and member events (docs/agent.md#rpc-commands): Status as a string, Addr as raw IP
/// bytes (bin), Tags never nil.
public struct RPCMember: RPCEncodable, Hashable {
    public var name: String
    /// 4 or 16 IP bytes.
    public var addr: [UInt8]
    public var port: UInt16
    public var tags: [String: String]
    public var status: String
    public var protocolMin: UInt8
    public var protocolMax: UInt8
    public var protocolCur: UInt8
    public var delegateMin: UInt8
    public var delegateMax: UInt8
    public var delegateCur: UInt8

    public init(
        name: String, addr: [UInt8], port: UInt16, tags: [String: String], status: String,
        protocolMin: UInt8, protocolMax: UInt8, protocolCur: UInt8,
        delegateMin: UInt8, delegateMax: UInt8, delegateCur: UInt8
    ) {
        self.name = name
        self.addr = addr
        self.port = port
        self.tags = tags
        self.status = status
        self.protocolMin = protocolMin
        self.protocolMax = protocolMax
        self.protocolCur = protocolCur
        self.delegateMin = delegateMin
        self.delegateMax = delegateMax
        self.delegateCur = delegateCur
    }

    public init(_ m: Member) {
        self.init(
            name: m.name, addr: m.address.ip, port: m.address.port, tags: m.tags, status: m.status.description,
            protocolMin: m.protocolMin, protocolMax: m.protocolMax, protocolCur: m.protocolCur,
            delegateMin: m.delegateMin, delegateMax: m.delegateMax, delegateCur: m.delegateCur
        )
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "member")
        name = try f.string("Name")
        addr = try f.bytes("Addr")
        port = try f.uint16("Port")
        tags = try f.stringMap("Tags")
        status = try f.string("Status")
        protocolMin = try f.uint8("ProtocolMin")
        protocolMax = try f.uint8("ProtocolMax")
        protocolCur = try f.uint8("ProtocolCur")
        delegateMin = try f.uint8("DelegateMin")
        delegateMax = try f.uint8("DelegateMax")
        delegateCur = try f.uint8("DelegateCur")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(11)
        w.write("Addr"); w.writeBytes(addr)
        w.write("DelegateCur"); w.write(delegateCur)
        w.write("DelegateMax"); w.write(delegateMax)
        w.write("DelegateMin"); w.write(delegateMin)
        w.write("Name"); w.write(name)
        w.write("Port"); w.write(port)
        w.write("ProtocolCur"); w.write(protocolCur)
        w.write("ProtocolMax"); w.write(protocolMax)
        w.write("ProtocolMin"); w.write(protocolMin)
        w.write("Status"); w.write(status)
        w.write("Tags"); w.write(tags)
    }
}

import RumorWire

/// `apps{Op, Name, Spec, ...}`: Rumor's command for apps (`rumor apps ls|inspect|status|record|specs` to read;
/// `deploy|scale|stop|rollback` to change). A change carries the exact spec the record will hold (the client
/// scales or picks the previous spec itself, so it can sign it), the serial, the hash of the spec it replaces as
/// the client saw it (`Previous`, so a change made in between is refused, not overwritten), and, when signed,
/// the deploy key and signature (docs/apps-authority.md).
public struct RPCAppsRequest: RPCEncodable, Hashable {
    public var op: AppsOperation
    public var name: String
    /// A change: the spec's JSON text (empty: stop).
    public var spec: String
    public var serial: UInt64
    /// `StableHash.ofSpec` of the spec the client read as current.
    public var previous: String
    public var signer: [UInt8]
    public var signature: [UInt8]

    public init(op: AppsOperation, name: String = "", spec: String = "", serial: UInt64 = 0, previous: String = "",
                signer: [UInt8] = [], signature: [UInt8] = []) {
        self.op = op
        self.name = name
        self.spec = spec
        self.serial = serial
        self.previous = previous
        self.signer = signer
        self.signature = signature
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "apps")
        let text = try f.string("Op")
        guard let op = AppsOperation(rawValue: text) else {
            throw WireError("unknown apps operation '\(text)' (\(AppsOperation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.op = op
        name = f.has("Name") ? try f.string("Name") : ""
        spec = f.has("Spec") ? try f.string("Spec") : ""
        serial = f.has("Serial") ? try f.uint("Serial") : 0
        previous = f.has("Previous") ? try f.string("Previous") : ""
        signer = f.has("Signer") ? try f.bytes("Signer") : []
        signature = f.has("Signature") ? try f.bytes("Signature") : []
    }

    public func encode(to w: inout MessagePackWriter) {
        let signed = !signature.isEmpty
        w.writeMapHeader(2 + (spec.isEmpty ? 0 : 1) + (serial == 0 ? 0 : 1) + (previous.isEmpty ? 0 : 1) + (signed ? 2 : 0))
        w.write("Name"); w.write(name)
        w.write("Op"); w.write(op.rawValue)
        if !previous.isEmpty { w.write("Previous"); w.write(previous) }
        if serial != 0 { w.write("Serial"); w.write(serial) }
        if signed {
            w.write("Signature"); w.writeBytes(signature)
            w.write("Signer"); w.writeBytes(signer)
        }
        if !spec.isEmpty { w.write("Spec"); w.write(spec) }
    }
}

/// Every `apps` operation, in one list: the CLI sends them, the agent answers them.
public enum AppsOperation: String, Sendable, CaseIterable {
    /// This node's container action: its apps and containers, or one app.
    case ls, inspect
    /// The cluster-wide register: one app's state on every node, the record a change is made from, every spec.
    case status, record, specs
    /// Changes of the register, made (and signed) on the client.
    case deploy, scale, stop, rollback

    public var isChange: Bool { [.deploy, .scale, .stop, .rollback].contains(self) }
}

/// The answer: JSON text, so the CLI can print it as it is (`-format json`) or as a table.
public struct RPCAppsResponse: RPCEncodable, Hashable {
    public var json: String

    public init(json: String) { self.json = json }

    public init(from value: MessagePack) throws {
        json = try MessagePackFields(value, context: "apps").string("JSON")
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(1)
        w.write("JSON"); w.write(json)
    }
}

enum AgentAppsError {
    static let notRunning = "this agent runs no apps (start it with --apps-dir DIR)"
}

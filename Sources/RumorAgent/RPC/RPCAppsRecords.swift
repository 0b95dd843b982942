import RumorWire

/// `apps{Op, Name, Spec}`: Rumor's command for apps (`rumor apps ls|inspect|specs|deploy|scale|stop`).
public struct RPCAppsRequest: RPCEncodable, Hashable {
    public var op: String
    public var name: String
    /// `deploy`: the spec's JSON text; `scale`: the count.
    public var spec: String

    public init(op: String, name: String = "", spec: String = "") {
        self.op = op
        self.name = name
        self.spec = spec
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "apps")
        op = try f.string("Op")
        name = f.has("Name") ? try f.string("Name") : ""
        spec = f.has("Spec") ? try f.string("Spec") : ""
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(spec.isEmpty ? 2 : 3)
        w.write("Name"); w.write(name)
        w.write("Op"); w.write(op)
        if !spec.isEmpty { w.write("Spec"); w.write(spec) }
    }
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

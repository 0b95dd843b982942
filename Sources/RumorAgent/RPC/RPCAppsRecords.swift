import RumorWire

/// `apps{Op, Name}`: Rumor's command for the container action (`rumor apps ls|inspect NAME`).
public struct RPCAppsRequest: RPCEncodable, Hashable {
    public var op: String
    public var name: String

    public init(op: String, name: String = "") {
        self.op = op
        self.name = name
    }

    public init(from value: MessagePack) throws {
        let f = try MessagePackFields(value, context: "apps")
        op = try f.string("Op")
        name = f.has("Name") ? try f.string("Name") : ""
    }

    public func encode(to w: inout MessagePackWriter) {
        w.writeMapHeader(2)
        w.write("Name"); w.write(name)
        w.write("Op"); w.write(op)
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

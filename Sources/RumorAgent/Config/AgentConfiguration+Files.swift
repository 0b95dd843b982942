import RumorSupport
extension AgentConfiguration {
    /// Merges one JSON config file (Serf's keys).
    public mutating func merge(file path: String) throws {
        let text = try FileIO.read(path)
        let json: JSON
        do { json = try JSON.parse(text) } catch {
            throw Error("config file \(path): invalid JSON: \(error)")
        }
        try merge(json: json, source: path)
    }

    /// The `*.json` files of a config directory, in lexical order.
    public static func jsonFiles(in dir: String) throws -> [String] { try FileIO.jsonFiles(in: dir) }
}

extension AgentConfiguration {
    /// `node_name`, or the host name as Serf defaults to.
    public var resolvedNodeName: String { nodeName ?? hostName() }
}

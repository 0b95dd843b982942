import RumorSupport

extension AgentConfiguration {
    /// Merges one JSON config file (Serf's keys).
    public mutating func merge(file path: String) throws(ConfigurationError) {
        let bytes: [UInt8]
        do throws(FileError) { bytes = try DurableFile.readAll(path, limit: 16 << 20) } catch {
            throw ConfigurationError("config file \(JSON.excerpt(path, limit: 200, quoted: false)): cannot read: \(error.why)")
        }
        let json: JSON
        do throws(JSON.ParseError) { json = try JSON.parse(bytes) } catch {
            throw ConfigurationError("config file \(path): not valid JSON: \(error)")
        }
        try merge(json: json, source: path)
    }

    /// The `*.json` files of a config directory, in lexical order.
    public static func jsonFiles(in dir: String) throws(ConfigurationError) -> [String] {
        do throws(FileError) {
            return try FileSystem.entries(of: dir).filter { $0.hasSuffix(".json") }.map { dir + "/" + $0 }
        } catch {
            throw ConfigurationError("config directory \(JSON.excerpt(dir, limit: 200, quoted: false)): cannot read: \(error.why)")
        }
    }
}

extension AgentConfiguration {
    /// `node_name`, or the host name as Serf defaults to.
    public var resolvedNodeName: String { nodeName ?? FileSystem.hostName() ?? "rumor" }
}

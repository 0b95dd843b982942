import RumorSupport

/// Serf's `tags_file`: a JSON object of tags, read at start and rewritten when tags change at runtime.
enum TagsFile {
    static func load(_ config: AgentConfiguration) throws -> [String: String] {
        guard let path = config.tagsFile else { return config.tags }
        do {
            guard let bytes = try DurableFile.readAllIfExists(path, limit: 1 << 20) else { return [:] }
            return try JSON.parse(bytes).stringMap("tags file \(path)")
        } catch {
            throw ConfigurationError("failed to read tags file \(path): \(error)")
        }
    }

    static func save(_ tags: [String: String], to path: String) throws {
        let json = JSON.strings(tags)
        try DurableFile.writeAtomically(Array((json.serialized(indent: 2) + "\n").utf8), to: path)
    }
}

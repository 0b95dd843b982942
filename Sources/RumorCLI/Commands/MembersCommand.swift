import RumorSupport
import RumorAgent

/// `members`: lists cluster members, filtered by the agent, printed exactly as `serf members` prints them.
public struct MembersCommand: Subcommand {
    public static let name = "members"
    public static let abstract = "Lists the members of a cluster."
    public static let discussion = "Filters are regular expressions that must match the whole value."
    public static let options = RPCOptions.options + FormatOptions.options + [
        .flag("detailed", "Also show protocol versions (text output only)."),
        .value("name", "regexp", "Only members whose name matches this regexp."),
        .value("status", "regexp", "Only members whose status (alive, leaving, left, failed) matches this regexp."),
        .repeated("tag", "key=regexp", "Only members whose tag <key> matches <regexp>."),
        .value("role", "regexp", "Deprecated: same as --tag role=<regexp>."),
    ]

    public var rpc: RPCOptions
    public var output: FormatOptions
    public var detailed: Bool
    public var name: String
    public var status: String
    public var tag: [String]
    public var role: String?

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        output = try FormatOptions(arguments)
        detailed = arguments.flag("detailed")
        name = arguments.value("name") ?? ""
        status = arguments.value("status") ?? ""
        tag = arguments.values("tag")
        role = arguments.value("role")
    }

    public func run() async throws {
        var tagFilters = tag
        if let role, !role.isEmpty {
            print("Deprecation warning: 'Role' has been replaced with 'Tags'")
            tagFilters.append("role=\(role)")
        }
        let tags: [String: String]
        do { tags = try Self.parseTags(tagFilters) } catch { throw Console.fail("Error", error) }
        let client = try rpc.connect()
        defer { client.close() }
        let members: [RPCMember]
        do {
            members = try client.membersFiltered(name: name, status: status, tags: tags)
        } catch {
            throw Console.fail("Error retrieving members", error)
        }
        print(Self.render(members, format: output.format, detailed: detailed))
    }

    struct InvalidTag: Error, CustomStringConvertible {
        var tag: String
        var description: String { "Invalid tag: '\(tag)'" }
    }

    /// `key=value` pairs, split at the first `=`; later keys win, as in Go's map.
    static func parseTags(_ list: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in list {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else { throw InvalidTag(tag: item) }
            out[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return out
    }

    /// The text `serf members` prints (without its final newline). Members are sorted by name and tags by key, so
    /// the output is stable where serf's follows Go's random map order.
    public static func render(_ members: [RPCMember], format: OutputFormat, detailed: Bool) -> String {
        let sorted = members.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        switch format {
        case .text:
            let lines = sorted.map { m in
                let tags = m.tags.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                    .map { "\($0)=\(m.tags[$0]!)" }.joined(separator: ",")
                var line = "\(m.name)|\(GoText.hostPort(ip: m.addr, port: m.port))|\(m.status)|\(tags)"
                if detailed {
                    line += "|Protocol Version: \(m.delegateCur)"
                    line += "|Available Protocol Range: [\(m.delegateMin), \(m.delegateMax)]"
                }
                return line
            }
            return GoText.trimSpace(Columns.format(lines))
        case .json:
            // Go marshals a nil slice as null: serf prints `"members": null` for an empty result.
            let list: JSON = sorted.isEmpty ? .null : .array(sorted.map(json))
            return JSON.object([("members", list)]).serialized(indent: 2)
        }
    }

    /// serf's `Member` output struct, fields in its declaration order.
    private static func json(_ m: RPCMember) -> JSON {
        .object([
            ("name", .string(m.name)),
            ("addr", .string(GoText.hostPort(ip: m.addr, port: m.port))),
            ("port", .number(Double(m.port))),
            ("tags", .strings(m.tags)),
            ("status", .string(m.status)),
            ("protocol", .object([
                ("max", .number(Double(m.delegateMax))),
                ("min", .number(Double(m.delegateMin))),
                ("version", .number(Double(m.delegateCur))),
            ])),
        ])
    }
}

import RumorAgent
import RumorSupport

/// `apps ls` / `apps inspect NAME`: the container action's apps and containers on the agent's node.
public struct AppsCommand: Subcommand {
    public static let name = "apps"
    public static let abstract = "Show the apps and containers this node runs (rumor agent --apps-dir)."
    public static let arguments = "ls | inspect <app>"
    public static let options = RPCOptions.options + FormatOptions.options

    var rpc: RPCOptions
    var output: FormatOptions
    var op: String
    var app: String

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        output = try FormatOptions(arguments)
        let words = arguments.positionals
        switch words.first {
        case "ls", nil:
            guard words.count <= 1 else { throw UsageError("apps ls takes no argument") }
            (op, app) = ("ls", "")
        case "inspect":
            guard words.count == 2 else { throw UsageError("apps inspect needs one app name") }
            (op, app) = ("inspect", words[1])
        default:
            throw UsageError("unknown apps command '\(words[0])' (ls, inspect)")
        }
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        let text: String
        do { text = try client.apps(op: op, name: app) } catch { throw Console.fail("Error", error) }
        if op == "inspect" || output.format == .json {
            print(text)
            return
        }
        guard let apps = (try? JSON.parse(text))?.arrayValue else { throw Console.fail("Error", UsageError("unreadable answer: \(text)")) }
        print(Self.table(apps), terminator: "")
    }

    /// One line per container (`APP NAME STATE HEALTH PORTS RESTARTS LAST-ERROR`), and one per app without any.
    static func table(_ apps: [JSON]) -> String {
        var rows = [["APP", "CONTAINER", "IMAGE", "STATE", "HEALTH", "PORTS", "RESTARTS", "LAST ERROR"]]
        for app in apps {
            let name = app["app"]?.stringValue ?? "?"
            let image = app["image"]?.stringValue ?? ""
            let containers = app["containers"]?.arrayValue ?? []
            if containers.isEmpty {
                rows.append([name, "-", image, "-", "-", "-", "0", app["last_error"]?.stringValue ?? ""])
            }
            for c in containers {
                rows.append([
                    name, c["name"]?.stringValue ?? "", image, c["state"]?.stringValue ?? "", c["health"]?.stringValue ?? "",
                    (c["ports"]?.arrayValue ?? []).compactMap { $0.intValue.map(String.init) }.joined(separator: ","),
                    String(c["restarts"]?.intValue ?? 0),
                    c["last_error"]?.stringValue ?? (containers.first.map { $0["name"] == c["name"] } == true ? app["last_error"]?.stringValue ?? "" : ""),
                ])
            }
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(widths[i]) }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

private extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

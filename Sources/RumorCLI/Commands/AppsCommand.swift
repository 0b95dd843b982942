import RumorAgent
import RumorApps
import RumorSupport

/// `apps ls` / `apps inspect NAME`: the container action's apps and containers on the agent's node.
/// `apps deploy FILE [NAME]` / `scale NAME N` / `stop NAME` / `rollback NAME` / `specs`: the apps deployed
/// cluster-wide (any node).
public struct AppsCommand: Subcommand {
    public static let name = "apps"
    public static let abstract = "Deploy apps cluster-wide and show the apps and containers a node runs."
    public static let arguments = "ls | inspect <app> | status <app> | specs | deploy [--wait] <file.json | -> [<app>] | scale <app> <n> | stop <app> | rollback <app>"
    public static let options = RPCOptions.options + FormatOptions.options + [
        .flag("wait", "With deploy: return when the rollout ended; exit 1 if it rolled back, paused or was superseded."),
    ]

    var rpc: RPCOptions
    var output: FormatOptions
    var op: String
    var app: String
    var spec = ""
    var wait = false

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        output = try FormatOptions(arguments)
        wait = arguments.flag("wait")
        let words = arguments.positionals
        if wait, words.first != "deploy" { throw UsageError("--wait goes with apps deploy") }
        switch words.first {
        case "ls", nil:
            guard words.count <= 1 else { throw UsageError("apps ls takes no argument") }
            (op, app) = ("ls", "")
        case "inspect":
            guard words.count == 2 else { throw UsageError("apps inspect needs one app name") }
            (op, app) = ("inspect", words[1])
        case "specs":
            guard words.count == 1 else { throw UsageError("apps specs takes no argument") }
            (op, app) = ("specs", "")
        case "status":
            guard words.count == 2 else { throw UsageError("apps status needs one app name") }
            (op, app) = ("status", words[1])
        case "deploy":
            guard words.count == 2 || words.count == 3 else { throw UsageError("apps deploy needs a spec file (and optionally the app's name)") }
            let file = words[1]
            guard file != "-" || words.count == 3 else { throw UsageError("apps deploy - (standard input) needs the app's name") }
            let name = words.count == 3 ? words[2] : Self.appName(file)
            let text: String
            do {
                text = file == "-"
                    ? String(decoding: try DurableFile.readToEnd(0, name: "standard input", limit: 64 * 1024), as: UTF8.self)
                    : try DurableFile.readText(file, limit: 64 * 1024)
            } catch { throw UsageError("apps deploy: \(error)") }
            // Checked here too, so a spec with errors is refused before anything is sent.
            do { _ = try AppSpec.parse(text, name: name, file: file) } catch { throw UsageError("apps deploy: \(error); nothing was sent") }
            (op, app, spec) = ("deploy", name, text)
        case "scale":
            guard words.count == 3, let n = Int(words[2]), n >= 0 else { throw UsageError("apps scale needs an app name and a count") }
            (op, app, spec) = ("scale", words[1], String(n))
        case "stop", "rollback":
            guard words.count == 2 else { throw UsageError("apps \(words[0]) needs one app name") }
            (op, app) = (words[0], words[1])
        default:
            throw UsageError("unknown apps command '\(words[0])' (ls, inspect, status, specs, deploy, scale, stop, rollback)")
        }
    }

    /// `site.json` → `site`.
    static func appName(_ file: String) -> String {
        let base = file.split(separator: "/").last.map(String.init) ?? file
        return base.hasSuffix(".json") ? String(base.dropLast(5)) : base
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        let before = wait ? (try? client.apps(op: "status", name: app)).flatMap { try? JSON.parse($0) } : nil
        let text: String
        do { text = try client.apps(op: op, name: app, spec: spec) } catch { throw Console.fail("Error", error) }
        if ["deploy", "scale", "stop", "rollback", "specs", "inspect"].contains(op) || output.format == .json {
            print(text)
            if wait { try await waitForRollout(client, after: before) }
            return
        }
        if op == "status" {
            guard let status = try? JSON.parse(text) else { throw Console.fail("Error", UsageError("unreadable answer: \(text)")) }
            print(Self.statusTable(status))
            return
        }
        guard let apps = (try? JSON.parse(text))?.arrayValue else { throw Console.fail("Error", UsageError("unreadable answer: \(text)")) }
        print(Self.table(apps))
    }

    /// `deploy --wait`: polls the app's status until this deploy's rollout ended. Ours is the record with our spec's
    /// hash newer than what `before` showed; a rollback record that replaced it means it failed.
    func waitForRollout(_ client: RPCClient, after before: JSON?) async throws {
        let ours = StableHash.ofSpec(spec.utf8)
        let since = before?["ltime"]?.stringValue.flatMap { UInt64($0) } ?? 0
        var lastWave = ""
        while true {
            try await Task.sleep(for: .milliseconds(500))
            let text: String
            do { text = try client.apps(op: "status", name: app) } catch { throw Console.fail("Error", error) }
            guard let status = try? JSON.parse(text) else { continue }
            guard let ltime = status["ltime"]?.stringValue.flatMap({ UInt64($0) }), ltime > since else { continue }
            let rollout = status["rollout"]
            let state = rollout?["state"]?.stringValue ?? ""
            if let reason = status["rollback"]?.stringValue, status["previous_hash"]?.stringValue == ours {
                throw Console.fail("Error", UsageError("\(app): the deploy was rolled back: \(reason)"))
            }
            guard status["spec_hash"]?.stringValue == ours else {
                throw Console.fail("Error", UsageError("\(app): a newer deploy (by \(status["origin"]?.stringValue ?? "?")) replaced this one"))
            }
            switch state {
            case "done":
                print("\(app): rolled out on every node")
                return
            case "paused", "rolling back":
                throw Console.fail("Error", UsageError("\(app): rollout \(state): \(rollout?["reason"]?.stringValue ?? "")"))
            default:
                let wave = rollout?["wave"]?.intValue.map { "wave \($0) of \(rollout?["waves"]?.intValue ?? 0)" } ?? "starting"
                if wave != lastWave { print("\(app): rolling out, \(wave)") }
                lastWave = wave
            }
        }
    }

    /// The deployed spec's line, then one line per node: `NODE STATUS READY ENDPOINTS`.
    static func statusTable(_ status: JSON) -> String {
        var out = "\(status["app"]?.stringValue ?? "?"): "
        if let state = status["state"]?.stringValue {
            out += "\(state) by \(status["origin"]?.stringValue ?? "?") at Lamport time \(status["ltime"]?.stringValue ?? "?")\n"
        } else {
            out += "not deployed cluster-wide (apps directories only)\n"
        }
        var rows = [["NODE", "STATUS", "READY", "ENDPOINTS"]]
        for node in status["nodes"]?.arrayValue ?? [] {
            let ready = (node["ready"]?.arrayValue ?? []).compactMap(\.stringValue)
            rows.append([node["node"]?.stringValue ?? "", node["status"]?.stringValue ?? "", String(ready.count), ready.joined(separator: " ")])
        }
        return out + Columns.format(rows: rows)
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
        return Columns.format(rows: rows)
    }
}

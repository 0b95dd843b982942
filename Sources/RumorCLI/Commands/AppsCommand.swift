#if canImport(Glibc)
import Glibc
#endif
import RumorAgent
import RumorApps
import RumorCrypto
import RumorSupport
import RumorWire

/// `apps ls` / `apps inspect NAME`: the container action's apps and containers on the agent's node.
/// `apps deploy FILE [NAME]` / `scale NAME N` / `stop NAME` / `rollback NAME` / `specs`: the apps deployed
/// cluster-wide (any node). A change is made here, on the client, and signed with `--sign-key` when given
/// (docs/apps-authority.md): the agent never sees the secret key. `apps keygen --out FILE` makes one.
public struct AppsCommand: Subcommand {
    public static let name = "apps"
    public static let abstract = "Deploy apps cluster-wide and show the apps and containers a node runs."
    public static let arguments = "ls | inspect <app> | status <app> | specs | deploy [--wait] <file.json | -> [<app>] | scale [--wait] <app> <n> | stop [--wait] <app> | rollback [--wait] <app> | keygen --out <file>"
    public static let options = RPCOptions.options + FormatOptions.options + [
        .flag("wait", "With deploy, scale, stop, rollback: return when every node runs it (or removed it); exit 1 if it rolled back, paused, was superseded or a node refused it."),
        .value("sign-key", "file", "Sign deploy, scale, stop and rollback with this key (default: $RUMOR_APPS_SIGN_KEY)."),
        .value("out", "file", "With keygen: where to write the new secret key (mode 0600; never overwritten)."),
    ]

    var rpc: RPCOptions
    var output: FormatOptions
    /// nil: `keygen`, which talks to no agent.
    var op: AppsOperation?
    var app: String
    /// deploy: the spec's text; scale: the count.
    var spec = ""
    var wait = false
    var signKey: AppSigningKey?
    var keyOut: String?
    /// The app's name came from the file's (`deploy site-v2.json`), not the command line.
    var nameFromFile = false

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        output = try FormatOptions(arguments)
        wait = arguments.flag("wait")
        let words = arguments.positionals
        if wait, !["deploy", "scale", "stop", "rollback"].contains(words.first ?? "") {
            throw UsageError("--wait goes with apps deploy, scale, stop and rollback")
        }
        switch words.first {
        case "ls", nil:
            guard words.count <= 1 else { throw UsageError("apps ls takes no argument") }
            (op, app) = (.ls, "")
        case "inspect":
            guard words.count == 2 else { throw UsageError("apps inspect needs one app name") }
            (op, app) = (.inspect, words[1])
        case "specs":
            guard words.count == 1 else { throw UsageError("apps specs takes no argument") }
            (op, app) = (.specs, "")
        case "status":
            guard words.count == 2 else { throw UsageError("apps status needs one app name") }
            (op, app) = (.status, words[1])
        case "keygen":
            guard words.count == 1, let out = arguments.value("out"), !out.isEmpty else {
                throw UsageError("apps keygen needs --out FILE (the secret key is written there, never printed)")
            }
            (op, app, keyOut) = (nil, "", out)
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
            (op, app, spec, nameFromFile) = (.deploy, name, text, words.count == 2 && file != "-")
        case "scale":
            guard words.count == 3, let n = Int(words[2]), n >= 0 else { throw UsageError("apps scale needs an app name and a count") }
            (op, app, spec) = (.scale, words[1], String(n))
        case "stop", "rollback":
            guard words.count == 2 else { throw UsageError("apps \(words[0]) needs one app name") }
            (op, app) = (words[0] == "stop" ? .stop : .rollback, words[1])
        default:
            throw UsageError("unknown apps command '\(words[0])' (ls, inspect, status, specs, deploy, scale, stop, rollback, keygen)")
        }
        if let op, op.isChange, let path = arguments.value("sign-key") ?? Environment.get("RUMOR_APPS_SIGN_KEY"), !path.isEmpty {
            do {
                signKey = try AppSigningKey(fileText: try DurableFile.readText(path, limit: 4096), path: path)
            } catch { throw UsageError("apps \(op): --sign-key: \(error)") }
        }
    }

    /// `site.json` → `site`.
    static func appName(_ file: String) -> String {
        let base = file.split(separator: "/").last.map(String.init) ?? file
        return base.hasSuffix(".json") ? String(base.dropLast(5)) : base
    }

    public func run() async throws {
        guard let op else { return try writeKey() }
        let client = try rpc.connect()
        defer { client.close() }
        let before = wait ? (try? client.apps(RPCAppsRequest(op: .status, name: app))).flatMap { try? JSON.parse($0) } : nil
        let text: String
        do {
            let request = op.isChange ? try change(client, op) : RPCAppsRequest(op: op, name: app)
            text = try client.apps(request)
            if wait {
                print(text)
                try await waitForRollout(client, spec: request.spec, after: before)
                return
            }
        } catch let exit as ExitCode { throw exit } catch { throw Console.fail("Error", error) }
        if op.isChange || op == .specs || op == .inspect || output.format == .json {
            print(text)
            return
        }
        if op == .status {
            guard let status = try? JSON.parse(text) else { throw Console.fail("Error", UsageError("unreadable answer: \(text)")) }
            print(Self.statusTable(status))
            return
        }
        guard let apps = (try? JSON.parse(text))?.arrayValue else { throw Console.fail("Error", UsageError("unreadable answer: \(text)")) }
        print(Self.table(apps))
    }

    /// The change as the record will hold it, made from the app's current record and signed when there is a key:
    /// a scale rewrites the current spec's count, a stop is the empty spec, a rollback the spec the current
    /// deploy replaced.
    func change(_ client: RPCClient, _ op: AppsOperation) throws -> RPCAppsRequest {
        let current = try JSON.parse(try client.apps(RPCAppsRequest(op: .record, name: app)))
        let serial = current["serial"]?.stringValue.flatMap { UInt64($0) } ?? 0
        let currentSpec = current["spec"]?.stringValue ?? ""
        if nameFromFile, serial == 0 { try noteNewAppNamedAfterFile(client) }
        let next: String
        switch op {
        case .scale:
            guard !currentSpec.isEmpty else { throw UsageError("apps scale: no app '\(app)' is deployed cluster-wide (rumor apps deploy first)") }
            next = try AppSpec.scaled(currentSpec, to: Int(spec) ?? 0)
        case .stop: next = ""
        case .rollback: next = current["previous"]?.stringValue ?? ""
        default: next = spec
        }
        var request = RPCAppsRequest(
            op: op, name: app, spec: next,
            serial: AppRecord.nextSerial(after: serial, unixMilliseconds: WallClock.unixMilliseconds()),
            previous: StableHash.ofSpec(Array(currentSpec.utf8)))
        if let signKey {
            let statement = AppStatement.bytes(op == .rollback ? .rollback : .deploy, name: app, serial: request.serial,
                                               spec: Array(next.utf8), previous: Array(currentSpec.utf8))
            (request.signer, request.signature) = (signKey.publicKey.bytes, signKey.sign(statement))
        }
        return request
    }

    /// `deploy site-v2.json` names the app `site-v2`: when an app `site` exists, that is most likely a new version
    /// of it, not a new app. Said on standard error; the deploy goes on as asked.
    func noteNewAppNamedAfterFile(_ client: RPCClient) throws {
        let specs = (try JSON.parse(try client.apps(RPCAppsRequest(op: .specs))).arrayValue ?? [])
        let existing = specs.compactMap { $0["app"]?.stringValue }.filter { name in
            ["-", "_", "."].contains { app.hasPrefix(name + $0) }
        }
        guard let like = existing.max(by: { $0.count < $1.count }) else { return }
        Console.error("note: this deploys a new app '\(app)' (named after the file) beside '\(like)'; to update '\(like)', run: rumor apps deploy FILE \(like)")
    }

    /// `apps keygen --out FILE`: the secret key to the file (0600, never over an existing one), the public key as
    /// the last line of standard output.
    func writeKey() throws {
        guard let path = keyOut else { return }
        do {
            if FileSystem.exists(path) {
                throw UsageError("apps keygen: \(path) exists; not overwritten (a deploy key lost is a cluster you can no longer deploy to)")
            }
            let key = try AppSigningKey.generate()
            try DurableFile.writeAtomically(Array(key.fileText.utf8), to: path, mode: 0o600)
            print("wrote a deploy signing key to \(path) (secret: keep it with whoever deploys, not on the cluster's nodes)")
            print("trust it on every node with --apps-trust KEY or \"apps_trust\": [\"KEY\"]; sign with --sign-key \(path). KEY:")
            print(key.publicKey.base64)
        } catch let error as UsageError { throw Console.fail("Error", error) } catch { throw Console.fail("Error", UsageError("apps keygen: \(error)")) }
    }

    /// `deploy --wait`: polls the app's status until this deploy's rollout ended. Ours is the record with our spec's
    /// hash newer than what `before` showed; a rollback record that replaced it means it failed, and a node that
    /// refused the spec (its apps_allow) fails it at once, named with the rule.
    func waitForRollout(_ client: RPCClient, spec: String, after before: JSON?) async throws {
        let ours = StableHash.ofSpec(spec.utf8)
        let since = before?["ltime"]?.stringValue.flatMap { UInt64($0) } ?? 0
        let parsed = spec.isEmpty ? nil : try? AppSpec.parse(spec, name: app, file: "the deployed spec")
        var progress = DeployProgress(app: app, spec: parsed)
        let terminal = isatty(STDOUT_FILENO) == 1
        let start = ContinuousClock.now
        while true {
            try await Task.sleep(for: .milliseconds(500))
            let status = try JSON.parse(try client.apps(RPCAppsRequest(op: .status, name: app)))
            guard let ltime = status["ltime"]?.stringValue.flatMap({ UInt64($0) }), ltime > since else { continue }
            let rollout = status["rollout"]
            let state = rollout?["state"]?.stringValue ?? ""
            let refused = (rollout?["refused"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !refused.isEmpty {
                throw Console.fail("Error", UsageError("\(app): refused by \(refused.joined(separator: "; "))"))
            }
            if let reason = status["rollback"]?.stringValue, status["previous_hash"]?.stringValue == ours {
                throw Console.fail("Error", UsageError("\(app): the deploy was rolled back: \(reason)"))
            }
            guard status["spec_hash"]?.stringValue == ours else {
                throw Console.fail("Error", UsageError("\(app): a newer deploy (by \(status["origin"]?.stringValue ?? "?")) replaced this one"))
            }
            if let wave = rollout?["waves"]?.intValue { progress.sawWave(wave) }
            switch state {
            case "done":
                progress.finish(status)
                let elapsed = ContinuousClock.now - start
                print(progress.summary(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
                return
            case "paused", "rolling back", "failed":
                throw Console.fail("Error", UsageError("\(app): rollout \(state): \(rollout?["reason"]?.stringValue ?? "")"))
            default:
                // On a terminal a person watches: a line per change. In a log or a pipe only the result counts.
                if terminal, let line = progress.line(status) { print(line) }
            }
        }
    }

    /// The deployed spec's line, then one line per node: `NODE STATUS RUNS STATE READY ENDPOINTS` (RUNS: the
    /// template hash of what it runs, as the deployed spec's line gives it).
    static func statusTable(_ status: JSON) -> String {
        var out = "\(status["app"]?.stringValue ?? "?"): "
        if let state = status["state"]?.stringValue {
            out += "\(state) by \(status["origin"]?.stringValue ?? "?") at Lamport time \(status["ltime"]?.stringValue ?? "?")"
            if let template = status["template_hash"]?.stringValue { out += ", template \(template.prefix(8))" }
            if let r = status["rollout"], let s = r["state"]?.stringValue {
                out += ", rollout \(s)" + (r["wave"]?.intValue.map { " (wave \($0) of \(r["waves"]?.intValue ?? 0))" } ?? "")
            }
            out += "\n"
        } else {
            out += "not deployed cluster-wide (apps directories only)\n"
        }
        var rows = [["NODE", "STATUS", "RUNS", "STATE", "READY", "ENDPOINTS"]]
        for node in status["nodes"]?.arrayValue ?? [] {
            let ready = (node["ready"]?.arrayValue ?? []).compactMap(\.stringValue)
            let state = node["refused"]?.stringValue.map { "refused (\($0))" } ?? node["run"]?.stringValue ?? "-"
            rows.append([node["node"]?.stringValue ?? "", node["status"]?.stringValue ?? "",
                         node["template_hash"]?.stringValue.map { String($0.prefix(8)) } ?? "-", state, String(ready.count),
                         ready.joined(separator: " ")])
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

import Foundation
import RumorAgent
import RumorSupport
import RumorTestSupport
import Testing

@testable import RumorCLI

/// Every config key and every flag fed hostile values: the agent never traps, and a rejected value gives one line
/// that names the key or flag. Most values go through the real loader in process (fast); a sample of each kind,
/// and broken config files, go through the real binary in parallel.
@Suite struct HostileConfigurationTests {
    static let megabyte = String(repeating: "x", count: 1 << 20)
    static let deep = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)

    /// Hostile JSON values: huge, negative, zero, wrong types, empty, 1 MiB, nested garbage.
    static let jsonValues: [String] = [
        "1e300", "9999999999999999999", "-1", "-1e300", "0", "1.5", "true", "false", "null", "[]", "{}", "\"\"",
        "\"0\"", "\"-1\"", "\"-1s\"", "\"9999999999h\"", "\"NaN\"", "\"inf\"", "\"a\\nb\"", "\"\\u0000\"",
        "\"\(megabyte)\"", deep, #"{"a": {"b": [1, {"c": null}]}}"#, #"[1, "a", null, {}]"#, #"["\#(megabyte)"]"#,
    ]

    /// Hostile command-line values.
    static let flagValues: [String] = [
        "", "0", "-1", "99999999999999999999999", "9999999999h", "-1s", "1.5", "NaN", "inf", "true", "null", "[]",
        #"{"a":1}"#, "=", "x=", "=y", "a\nb", "\u{0}", "[::1", ":", "a:99999", megabyte,
    ]

    /// One line, naming `name`, of a readable length (a 1 MiB value is cut).
    static func check(_ message: String, names name: String) -> Bool {
        !message.contains("\n") && message.contains(name) && message.utf8.count < 600
    }

    @Test func everyConfigKeyRejectsHostileValuesNamingTheKey() throws {
        let values = try Self.jsonValues.map { ($0, try JSON.parse($0)) }
        for option in AgentOption.all {
            guard let key = option.key else { continue }
            for (text, value) in values {
                var config = AgentConfiguration()
                do {
                    try config.merge(json: .object([(key, value)]), source: "/etc/rumor/hostile.json")
                    try config.validate()
                } catch {
                    let message = "\(error)"
                    #expect(Self.check(message, names: "/etc/rumor/hostile.json: \(key)"), "\(key) = \(text.prefix(40)): \(message.prefix(300))")
                }
            }
            // A value of the wrong JSON type is always an error.
            var config = AgentConfiguration()
            #expect(throws: ConfigurationError.self, "\(key)") {
                try config.merge(json: .object([(key, .array([.array([.null])]))]), source: "f.json")
            }
        }
    }

    @Test func everyFlagRejectsHostileValuesNamingTheFlag() throws {
        for option in AgentOption.all {
            for flag in option.flags {
                for value in Self.flagValues {
                    let words = ["--\(flag)=\(value)"]
                    let message: String
                    do {
                        _ = try AgentCommand.parse(words).resolvedConfiguration()
                        continue
                    } catch {
                        message = "\(error)"
                    }
                    let name = ["config-file": "config file", "config-dir": "config directory"][flag] ?? "--\(flag)"
                    #expect(Self.check(message, names: name), "--\(flag)=\(value.prefix(40)): \(message.prefix(300))")
                }
            }
        }
    }

    // MARK: Through the binary

    struct Run: Sendable {
        var what: String
        var arguments: [String]
        /// What the one error line must contain.
        var names: String
        var shell = false
    }

    static func runs(in dir: TemporaryDirectory) throws -> [Run] {
        var runs: [Run] = []
        // A sample of keys, one of each kind of value, with nested garbage of the wrong type (every key gets it in
        // process above).
        for key in ["node_name", "bind", "retry_interval", "retry_max_attempts", "replay_on_join", "tags",
                    "event_handlers", "profile", "actions"] {
            let file = dir.file("key-\(key).json")
            dir.writeFile("key-\(key).json", #"{"\#(key)": [[{"x": [null]}]]}"#)
            runs.append(Run(what: "\(key) nested garbage", arguments: ["agent", "--config-file", file], names: "\(file): \(key)"))
        }
        for (key, value) in [
            ("retry_interval", #""9999999999h""#), ("retry_max_attempts", "-1"), ("protocol", "0"),
            ("node_name", "\"\(megabyte)\""), ("bind", "\"\(megabyte)\""), ("broadcast_timeout", "1e300"),
            ("user_event_size_limit", "9999999999999999999"), ("reconnect_timeout", #""-1s""#),
        ] {
            let file = dir.file("value-\(key).json")
            dir.writeFile("value-\(key).json", #"{"\#(key)": \#(value)}"#)
            runs.append(Run(what: "\(key) = \(value.prefix(20))", arguments: ["agent", "--config-file", file], names: "\(file): \(key)"))
        }
        // Flags: huge, negative, zero, empty, 100 KiB (one argument may not exceed 128 KiB).
        let big = String(repeating: "y", count: 100 * 1024)
        for (flag, value) in [
            ("retry-interval", "9999999999h"), ("retry-max", "-1"), ("protocol", "0"), ("node", ""), ("bind", big),
            ("tag", "novalue"), ("broadcast-timeout", "-5s"), ("log-level", big), ("profile", "0"),
        ] {
            runs.append(Run(what: "--\(flag)", arguments: ["agent", "--\(flag)=\(value)"], names: "--\(flag)"))
        }
        // Not UTF-8 on the command line and in a config file.
        runs.append(Run(what: "non-UTF-8 flag", arguments: [#"agent --node "$(printf '\377\376')""#], names: "--node", shell: true))
        let latin1 = dir.file("latin1.json")
        #expect(FileManager.default.createFile(atPath: latin1, contents: Data(#"{"node_name": ""#.utf8) + Data([0xe9, 0x22, 0x7d])))
        runs.append(Run(what: "non-UTF-8 file", arguments: ["agent", "--config-file", latin1], names: "node_name"))
        // Broken files: a directory, one that cannot be read, truncated, binary.
        dir.makeDirectory("adir.json")
        runs.append(Run(what: "directory", arguments: ["agent", "--config-file", dir.file("adir.json")], names: dir.file("adir.json")))
        let fifo = dir.file("fifo.json")
        mkfifo(fifo, 0o600)
        runs.append(Run(what: "unreadable (a FIFO)", arguments: ["agent", "--config-file", fifo], names: fifo))
        let noAccess = dir.file("noaccess.json")
        dir.writeFile("noaccess.json", "{}", mode: 0o000)
        if getuid() != 0 {
            runs.append(Run(what: "unreadable (mode 0)", arguments: ["agent", "--config-file", noAccess], names: noAccess))
        }
        runs.append(Run(what: "missing", arguments: ["agent", "--config-file", dir.file("none.json")], names: dir.file("none.json")))
        dir.writeFile("truncated.json", #"{"node_name": "a", "tags": {"role": "#)
        runs.append(Run(what: "truncated", arguments: ["agent", "--config-file", dir.file("truncated.json")], names: dir.file("truncated.json")))
        #expect(FileManager.default.createFile(atPath: dir.file("binary.json"), contents: Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) })))
        runs.append(Run(what: "binary", arguments: ["agent", "--config-file", dir.file("binary.json")], names: dir.file("binary.json")))
        runs.append(Run(what: "config-dir is a file", arguments: ["agent", "--config-dir", dir.file("truncated.json")], names: dir.file("truncated.json")))
        return runs
    }

    @Test func theBinaryPrintsOneLineAndExitsNonZero() async throws {
        let binary = try E2ECluster.rumorBinary()
        let dir = try TemporaryDirectory("hostile")
        defer { dir.remove() }
        let runs = try Self.runs(in: dir)
        let failures = try await withThrowingTaskGroup(of: String?.self) { group in
            for run in runs {
                group.addTask {
                    let result = run.shell
                        ? try await Subprocess.run("/bin/sh", ["-c", "exec \"$RUMOR\" " + run.arguments[0]], environment: ["RUMOR": binary], timeout: .seconds(20))
                        : try await Subprocess.run(binary, run.arguments, timeout: .seconds(20))
                    let lines = result.stderr.split(separator: "\n")
                    let ok = result.status != 0 && lines.count == 1 && lines[0].contains(run.names)
                        && !result.stderr.contains("Fatal error") && result.stdout.isEmpty
                    return ok ? nil : "\(run.what): \(String(result.description.prefix(600)))"
                }
            }
            var failures: [String] = []
            for try await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n\n"))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RumorTestSupport
import RumorAgent
@testable import RumorCLI
import Synchronization

/// A failure of the end-to-end harness, with what a human needs to see (logs are quoted by the caller).
struct E2EError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Real `serf agent` and `rumor agent` processes on loopback for one test, driven by the stock serf CLI and ours.
///
/// Node k of a test binds 127.0.<subnet>.k:7946 with RPC on :7373; every test has its own subnet (90…99), so
/// nothing collides with other suites. Every process started here is killed by its PID in `shutdown()` (call it
/// in a `defer`). Logs go to a temp directory, are quoted in harness failures, and are removed at shutdown.
final class E2ECluster: @unchecked Sendable {
    // @unchecked: `processes` and `nextHost` are only touched under `lock`.
    struct Node: Sendable, CustomStringConvertible {
        enum Kind: String, Sendable { case serf, rumor }
        let name: String
        let kind: Kind
        let ip: String
        let log: URL

        var gossipAddr: String { "\(ip):7946" }
        var rpcAddr: String { "\(ip):7373" }
        /// Where a rumor agent's HTTP listener is (every agent here gets one on its own address).
        var httpAddr: String { "\(ip):7374" }
        var description: String { "\(kind) node \(name) (\(ip))" }
    }

    let subnet: Int
    let directory: URL
    let serfPath = "/usr/bin/serf"
    let rumorPath: String
    /// The cluster's deploy key (`rumor apps keygen`): every rumor agent trusts it unless a test passes its own
    /// `--apps-trust`, and every `rumor` CLI call signs with it (`RUMOR_APPS_SIGN_KEY`), as an operator would.
    let deployKeyFile: String
    let deployPublicKey: String
    private let lock = NSLock()
    private var processes: [(name: String, process: Process)] = []
    private var nextHost = 1

    init(subnet: Int) throws {
        // 77-80, 85 and 87-99; 81-84 and 86 are the interop tests', 40-48 and 60-76 other suites'.
        precondition([77, 78, 79, 80, 85].contains(subnet) || (87...99).contains(subnet), "end-to-end tests own 127.0.77.x, 127.0.78.x, 127.0.80.x, 127.0.79.x, 127.0.85.x and 127.0.87.0 to 127.0.99.255")
        self.subnet = subnet
        rumorPath = try Self.rumorBinary()
        guard FileManager.default.isExecutableFile(atPath: serfPath) else {
            throw E2EError("serf is not installed at \(serfPath); the end-to-end tests need the real serf 0.8.x")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rumor-e2e-\(subnet)-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        (deployKeyFile, deployPublicKey) = try Self.makeDeployKey(rumorPath, at: directory.appendingPathComponent("deploy.key").path)
    }

    /// `rumor apps keygen --out PATH`: the secret key's file and the public key (the last line it prints).
    static func makeDeployKey(_ rumor: String, at path: String) throws -> (file: String, publicKey: String) {
        let out = try Subprocess.runBlocking(rumor, ["apps", "keygen", "--out", path], environment: [:], timeout: .seconds(30))
        guard out.status == 0, let key = out.stdout.split(separator: "\n").last.map(String.init), key.count == 44 else {
            throw E2EError("rumor apps keygen failed: \(out)")
        }
        return (path, key)
    }

    /// A test's flag (removed before the agent sees it) for an agent that trusts no deploy key.
    static let trustNoKey = "--test-trusts-no-key"

    /// The HTTP listener on the node's own address, unless the flags name one.
    private func http(_ node: Node, _ extra: [String]) -> [String] {
        extra.contains("--http-addr") ? [] : ["--http-addr", node.httpAddr]
    }

    /// `--apps-trust` with the cluster's key, unless the flags name their own or ``trustNoKey``.
    private func withTrust(_ extra: [String]) -> [String] {
        if extra.contains(Self.trustNoKey) { return extra.filter { $0 != Self.trustNoKey } }
        return extra.contains("--apps-trust") ? extra : extra + ["--apps-trust", deployPublicKey]
    }

    deinit { shutdown() }

    /// `RUMOR_BIN`, else `<package root>/.build/debug/rumor`. Missing is a failure, not a skip.
    static func rumorBinary() throws -> String {
        let path: String
        if let env = ProcessInfo.processInfo.environment["RUMOR_BIN"], !env.isEmpty {
            path = env
        } else {
            var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            func isRoot(_ d: URL) -> Bool {
                FileManager.default.fileExists(atPath: d.appendingPathComponent("Package.swift").path)
            }
            while dir.path != "/" && !isRoot(dir) {
                dir = dir.deletingLastPathComponent()
            }
            path = dir.appendingPathComponent(".build/debug/rumor").path
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw E2EError("rumor binary not found at \(path): build it (swift build --product rumor) or set RUMOR_BIN")
        }
        return path
    }

    // MARK: Agents

    /// Starts `serf agent` with `extra` flags (serf syntax) and waits until its RPC lists it.
    @discardableResult
    func startSerf(_ name: String, _ extra: [String] = []) async throws -> Node {
        let node = allocate(name, .serf)
        let args = ["agent", "-node=\(name)", "-bind=\(node.gossipAddr)", "-rpc-addr=\(node.rpcAddr)"] + extra
        try launch(node, serfPath, args)
        try await waitUntilReady(node)
        return node
    }

    /// Starts `rumor agent` with `extra` flags and waits until its RPC lists it.
    @discardableResult
    func startRumor(_ name: String, _ extra: [String] = []) async throws -> Node {
        let node = allocate(name, .rumor)
        let args = ["agent", "--node", name, "--bind", node.gossipAddr, "--rpc-addr", node.rpcAddr] + http(node, extra) + withTrust(extra)
        try launch(node, rumorPath, args)
        try await waitUntilReady(node)
        return node
    }

    /// Starts `rumor agent` again as `node` (same name and address), as a restarted process on the same host.
    @discardableResult
    func restartRumor(_ node: Node, _ extra: [String] = []) async throws -> Node {
        let args = ["agent", "--node", node.name, "--bind", node.gossipAddr, "--rpc-addr", node.rpcAddr] + http(node, extra) + withTrust(extra)
        try launch(node, rumorPath, args)
        try await waitUntilReady(node)
        return node
    }

    private func allocate(_ name: String, _ kind: Node.Kind) -> Node {
        lock.withLock {
            defer { nextHost += 1 }
            return Node(
                name: name, kind: kind, ip: "127.0.\(subnet).\(nextHost)",
                log: directory.appendingPathComponent("\(name)-\(nextHost).log"))  // names may repeat (conflict tests)
        }
    }

    /// Docker's default capability set. Rumor agents run with only these (setpriv execs, so the PID stays the
    /// agent's), as in a container: tests run as root, where an operation that needs more (it was setting
    /// SO_DEBUG instead of TCP_NODELAY, which needs CAP_NET_ADMIN) would otherwise pass here and fail in Docker.
    static let containerCapabilities =
        "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,"
        + "+sys_chroot,+mknod,+audit_write,+setfcap"

    private func launch(_ node: Node, _ executable: String, _ args: [String]) throws {
        _ = FileManager.default.createFile(atPath: node.log.path, contents: nil)
        let log = try FileHandle(forWritingTo: node.log)
        defer { try? log.close() }  // the child keeps its own descriptor
        let process = Process()
        if executable == rumorPath, getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--bounding-set", Self.containerCapabilities, executable] + args
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SERF_") }
        try lock.withLock {
            try process.run()
            processes.append((node.name, process))
        }
    }

    func process(_ node: Node) -> Process? {
        lock.withLock { processes.last { $0.name == node.name }?.process }
    }

    func isRunning(_ node: Node) -> Bool { process(node)?.isRunning ?? false }

    /// SIGKILL, as a crash.
    func kill9(_ node: Node) async throws {
        guard let p = process(node) else { return }
        kill(p.processIdentifier, SIGKILL)
        try await waitForExit(node, timeout: .seconds(10))
    }

    func waitForExit(_ node: Node, timeout: Duration) async throws {
        try await poll("\(node) to exit", timeout: timeout) { !self.isRunning(node) }
    }

    /// Kills every process this cluster started, by PID, and reaps it.
    func shutdown() {
        let all = lock.withLock {
            defer { processes.removeAll() }
            return processes
        }
        for (_, p) in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for (_, p) in all { p.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Looking at the cluster

    /// Name → status as `node`'s agent sees it, through our in-process RPC client.
    func view(of node: Node) -> [String: String] {
        guard let client = try? RPCClient(address: node.rpcAddr, authKey: nil, timeout: .seconds(2)) else { return [:] }
        defer { client.close() }
        let members = (try? client.members()) ?? []
        return Dictionary(members.map { ($0.name, $0.status) }, uniquingKeysWith: { $1 })
    }

    func tags(of member: String, seenBy node: Node) -> [String: String]? {
        guard let client = try? RPCClient(address: node.rpcAddr, authKey: nil, timeout: .seconds(2)) else { return nil }
        defer { client.close() }
        return (try? client.members())?.first { $0.name == member }?.tags
    }

    /// Waits until every node in `seenBy` sees exactly `expected` (name → status).
    func expectView(_ expected: [String: String], seenBy nodes: [Node], timeout: Duration = .seconds(15)) async throws {
        for node in nodes {
            try await poll("\(node) to see \(expected)", timeout: timeout) { self.view(of: node) == expected }
        }
    }

    private func waitUntilReady(_ node: Node) async throws {
        try await poll("\(node) to serve RPC", timeout: .seconds(15)) {
            guard self.isRunning(node) else { return true }  // reported below
            return self.view(of: node)[node.name] == "alive"
        }
        guard isRunning(node) else { throw E2EError("\(node) exited during startup\n\(logs())") }
    }

    /// Polls `condition` every 50 ms until it holds; fails with the logs after `timeout`.
    func poll(_ what: String, timeout: Duration, _ condition: @escaping @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            // On a thread of its own: conditions block (HTTP requests, docker), and the cooperative pool has one
            // thread per core for every test running at once.
            let ok = try await offPool { condition() }
            if ok { return }
            guard ContinuousClock.now < deadline else {
                throw E2EError("timed out after \(timeout) waiting for \(what)\n\(logs())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func log(of node: Node) -> String {
        (try? String(contentsOf: node.log, encoding: .utf8)) ?? ""
    }

    /// Every agent's log, for failure messages: the last 40 lines, or every line containing `filter`.
    func logs(containing filter: String? = nil) -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".log") }.sorted().map { file in
            let text = (try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            let shown = filter.map { f in lines.filter { $0.contains(f) } } ?? Array(lines.suffix(40))
            return "--- \(file) ---\n" + shown.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    // MARK: CLIs and scripts

    /// The stock serf CLI: `serf <args>`, to completion.
    func serf(_ args: String..., timeout: Duration = .seconds(15)) async throws -> ProcessOutput {
        try await Subprocess.run(serfPath, args, timeout: timeout)
    }

    /// Our CLI: `rumor <args>`, to completion.
    func rumor(_ args: String..., timeout: Duration = .seconds(15)) async throws -> ProcessOutput {
        try await rumor(args, timeout: timeout)
    }

    /// `signKey`: the deploy key file the CLI signs with ("" for none).
    func rumor(_ args: [String], signKey: String? = nil, timeout: Duration = .seconds(15)) async throws -> ProcessOutput {
        try await Subprocess.run(rumorPath, args, environment: ["RUMOR_APPS_SIGN_KEY": signKey ?? deployKeyFile], timeout: timeout)
    }

    /// A shell script in the test's directory, made executable.
    func script(_ name: String, _ body: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try ("#!/bin/sh\n" + body + "\n").write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url.path
    }

    /// Removes every container of `nodes` (by the `io.rumor.node` label the workers set): what a test's workers
    /// started, and nothing else.
    static func removeContainers(ofNodes nodes: [String]) {
        for node in nodes {
            let out = (try? Subprocess.runBlocking("/usr/bin/docker", ["ps", "-aq", "--filter", "label=io.rumor.node=\(node)"],
                                                   environment: [:], timeout: .seconds(30)))?.stdout ?? ""
            for id in out.split(separator: "\n") {
                _ = try? Subprocess.runBlocking("/usr/bin/docker", ["rm", "-f", String(id)], environment: [:], timeout: .seconds(30))
            }
        }
    }

    func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Starts a long-running CLI command (`serf monitor`) whose stdout is collected as it comes; stop it with
    /// ``StreamingCommand/kill()``, which also happens in `shutdown()`.
    func startStreaming(_ executable: String, _ args: [String]) throws -> StreamingCommand {
        let command = try StreamingCommand(executable, args)
        lock.withLock { processes.append(("cli:\(args.first ?? "")", command.process)) }
        return command
    }
}

/// A CLI process whose output is read while it runs.
final class StreamingCommand: @unchecked Sendable {
    // @unchecked: `output` is locked; `process` is only signalled by PID.
    let process: Process
    private final class Buffer: Sendable {
        let data = Mutex(Data())
    }
    private let output = Buffer()
    private let done = DispatchSemaphore(value: 0)

    init(_ executable: String, _ args: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SERF_") }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = pipe.fileHandleForReading
        let output = self.output
        let done = self.done
        Thread.detachNewThread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                output.data.withLock { $0.append(chunk) }
            }
            done.signal()
        }
    }

    var text: String { String(decoding: output.data.withLock { $0 }, as: UTF8.self) }

    /// Waits until the output so far satisfies `condition`.
    func waitFor(_ what: String, timeout: Duration = .seconds(10), _ condition: @escaping @Sendable (String) -> Bool)
        async throws
    {
        do {
            try await eventually(what, timeout: timeout, every: .milliseconds(50)) { condition(text) }
        } catch {
            throw E2EError("timed out waiting for \(what); output so far:\n\(text)")
        }
    }

    /// Sends `signal` by PID and waits for the exit; returns the exit status (or the signal number).
    @discardableResult
    func stop(signal: Int32 = SIGKILL) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        done.wait()
        return process.terminationStatus
    }
}

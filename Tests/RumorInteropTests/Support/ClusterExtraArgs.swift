#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Agents started with extra command-line flags (encryption keys, keyring files, event handlers).
///
/// `Cluster.startSerf`/`startRumor` take no extra arguments and their launcher is private to Cluster.swift, so this
/// is a small launcher of its own that reuses a `Cluster` for everything else (binaries, temp directory, the
/// `members` reader). Every process started here is killed by PID in
/// `shutdown()` (call it in a `defer`; `deinit` is the safety net).
final class ExtraArgsAgents: @unchecked Sendable {
    // @unchecked: the mutable tables are only touched under `lock`.
    let cluster: Cluster
    private let lock = NSLock()
    private var order: [Cluster.Node] = []
    private var running: [String: Process] = [:]
    private var lastExit: [String: String] = [:]
    private var exitExpected: Set<String> = []

    /// Node k (k = 0, 1, ...) binds 127.0.`testIndex`.(`firstHost` + k).
    let firstHost: Int

    init(testIndex: Int, firstHost: Int = 1) throws {
        cluster = try Cluster(testIndex: testIndex)
        self.firstHost = firstHost
    }

    deinit { shutdown() }

    var directory: URL { cluster.directory }
    var allNodes: [Cluster.Node] { lock.withLock { order } }

    /// Starts an agent with the harness's standard flags plus `extra`, in that kind's own flag spelling.
    /// Waits until its RPC lists itself, unless `waitReady` is false (for agents expected to refuse to start).
    @discardableResult
    func start(
        _ name: String, _ kind: Cluster.Kind, join: [Cluster.Node] = [], extra: [String] = [], waitReady: Bool = true
    ) async throws -> Cluster.Node {
        let node: Cluster.Node = lock.withLock {
            precondition(!order.contains { $0.name == name }, "node names must be unique within a test")
            let n = Cluster.Node(
                name: name, kind: kind, ip: "127.0.\(cluster.testIndex).\(order.count + firstHost)", tags: [:],
                logURL: cluster.directory.appendingPathComponent("\(name).log"))
            order.append(n)
            return n
        }
        var args: [String]
        switch kind {
        case .serf:
            args = ["agent", "-node=\(name)", "-bind=\(node.gossipAddr)", "-rpc-addr=\(node.rpcAddr)", "-log-level=debug"]
            for peer in join { args.append("-join=\(peer.gossipAddr)") }
        case .rumor:
            args = ["agent", "--node", name, "--bind", node.gossipAddr, "--rpc-addr", node.rpcAddr, "--log-level", "debug"]
            for peer in join { args += ["--join", peer.gossipAddr] }
        }
        try launch(node, arguments: args + extra)
        if waitReady { try await waitUntilReady(node) }
        return node
    }

    private func launch(_ node: Cluster.Node, arguments: [String]) throws {
        let executable = node.kind == .serf ? cluster.serfPath : cluster.rumorPath
        if !FileManager.default.fileExists(atPath: node.logURL.path) {
            _ = FileManager.default.createFile(atPath: node.logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: node.logURL)
        defer { try? log.close() }
        log.seekToEndOfFile()
        log.write(Data("=== harness: \(executable) \(arguments.joined(separator: " "))\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let name = node.name
        process.terminationHandler = { [weak self] p in
            let how =
                p.terminationReason == .uncaughtSignal
                ? "killed by signal \(p.terminationStatus)" : "exited with status \(p.terminationStatus)"
            self?.lock.withLock {
                if self?.running[name] === p { self?.running[name] = nil }
                self?.lastExit[name] = how
            }
        }
        try lock.withLock {
            try process.run()
            running[name] = process
        }
    }

    private func waitUntilReady(_ node: Cluster.Node, timeout: Duration = .seconds(20)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last = "no answer yet"
        while clock.now < deadline {
            if !isRunning(node) {
                throw HarnessError("\(node) exited during startup (\(exitDescription(node) ?? "?"))\n\(diagnostics())")
            }
            do {
                if try await cluster.members(via: node).contains(where: { $0.name == node.name }) { return }
                last = "members list lacks itself"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("\(node) not ready after \(timeout): \(last)\n\(diagnostics())")
    }

    /// Waits (bounded) for an agent that is expected to exit by itself; returns how it ended.
    func waitForExit(_ node: Cluster.Node, timeout: Duration) async throws -> String {
        expectExit(node)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning(node) {
            guard clock.now < deadline else { throw HarnessError("\(node) still running after \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return exitDescription(node) ?? "?"
    }

    func expectExit(_ node: Cluster.Node) { _ = lock.withLock { exitExpected.insert(node.name) } }

    func isRunning(_ node: Cluster.Node) -> Bool { lock.withLock { running[node.name] != nil } }

    func exitDescription(_ node: Cluster.Node) -> String? { lock.withLock { lastExit[node.name] } }

    func unexpectedExits() -> [String] {
        lock.withLock {
            order.compactMap { node in
                guard running[node.name] == nil, !exitExpected.contains(node.name), let how = lastExit[node.name]
                else { return nil }
                return "\(node.name) \(how)"
            }
        }
    }

    func shutdown() {
        let processes = lock.withLock {
            exitExpected.formUnion(running.keys)
            return Array(running.values)
        }
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while processes.contains(where: \.isRunning) && Date() < deadline { usleep(10_000) }
    }

    func log(of node: Cluster.Node) -> String { readText(node.logURL) }

    func diagnostics(lines: Int = 25) -> String {
        var text = "Logs in \(directory.path)\n"
        for node in allNodes {
            let state = isRunning(node) ? "running" : (exitDescription(node) ?? "not started")
            text += "--- \(node): \(state); last \(lines) log lines:\n"
            let tail = log(of: node).split(separator: "\n").filter { !$0.contains("agent.ipc: Accepted client") }
                .suffix(lines)
            text += tail.map { "    " + $0 }.joined(separator: "\n") + "\n"
        }
        return text
    }

    /// What is wrong with `observer`'s view compared with `expected` (name → status); members not in `expected`
    /// are problems too.
    func viewProblems(of observer: Cluster.Node, expected: [String: String]) async -> [String] {
        let members: [Member]
        do { members = try await cluster.members(via: observer) } catch { return ["\(observer.name): \(error)"] }
        let seen = Dictionary(members.map { ($0.name, $0.status) }, uniquingKeysWith: { a, _ in a })
        var problems: [String] = []
        for (name, status) in expected.sorted(by: { $0.key < $1.key }) where seen[name] != status {
            problems.append("\(name) is \(seen[name] ?? "missing"), want \(status)")
        }
        for m in members where expected[m.name] == nil { problems.append("unexpected member \(m.name)=\(m.status)") }
        return problems.isEmpty ? [] : ["\(observer.name) sees \(members.map(\.description).sorted()): \(problems)"]
    }

    func expectView(
        _ expected: [String: String], seenBy observers: [Cluster.Node], timeout: Duration = .seconds(45),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await eventually("\(observers.map(\.name)) see \(expected)", timeout: timeout, sourceLocation: sourceLocation) {
            var problems: [String] = []
            for o in observers { problems += await viewProblems(of: o, expected: expected) }
            return problems
        }
    }
}

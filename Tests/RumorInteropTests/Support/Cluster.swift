#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A set of real agents (serf and rumor) on loopback, owned by one test.
///
/// Node k of test T binds 127.0.T.k with the standard ports (gossip 7946, RPC 7373): tests use disjoint IPs, so
/// they can run side by side. Every process started here is killed by PID in `shutdown()` (call it in a `defer`;
/// `deinit` is the safety net). Logs go to a per-test temp directory and are quoted whenever a test fails.
final class Cluster: @unchecked Sendable {
    // @unchecked: the mutable tables below are only touched under `lock`.
    enum Kind: String, Sendable { case serf, rumor }

    struct Node: Sendable, CustomStringConvertible {
        let name: String
        let kind: Kind
        let ip: String
        let tags: [String: String]
        let logURL: URL

        var gossipAddr: String { "\(ip):\(Cluster.gossipPort)" }
        var rpcAddr: String { "\(ip):\(Cluster.rpcPort)" }
        var description: String { "\(name) (\(kind) at \(ip))" }
    }

    static let gossipPort: UInt16 = 7946
    static let rpcPort: UInt16 = 7373

    let testIndex: Int
    let directory: URL
    let serfPath: String
    let rumorPath: String

    private let lock = NSLock()
    private var nodes: [String: Node] = [:]
    private var order: [String] = []
    private var running: [String: Process] = [:]
    private var lastExit: [String: String] = [:]
    private var exitExpected: Set<String> = []

    init(testIndex: Int) throws {
        precondition((1...254).contains(testIndex), "testIndex becomes the third octet of 127.0.T.k")
        self.testIndex = testIndex
        serfPath = try Binaries.serf()
        rumorPath = try Binaries.rumor()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rumor-interop-\(testIndex)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { shutdown() }

    /// An IP in this test's range that no node uses (k = 200 and up), e.g. for a test's own sockets.
    func spareIP(_ k: Int = 200) -> String { "127.0.\(testIndex).\(k)" }

    // MARK: - Starting nodes

    @discardableResult
    func startSerf(_ name: String, tags: [String: String] = [:], join: [Node] = []) async throws -> Node {
        let node = register(name, kind: .serf, tags: tags)
        try await launch(node, arguments: serfStyleArguments(node, join: join))
        return node
    }

    /// Starts `rumor agent`, with GNU-style flags or, if `serfStyleFlags`, exactly the flags serf would get.
    /// `softFileLimit`: start it with that soft open-file limit (as a service manager might), through `sh -c ulimit`;
    /// `hardFileLimit`: the hard one too (so the agent cannot raise it).
    @discardableResult
    func startRumor(
        _ name: String, tags: [String: String] = [:], join: [Node] = [], serfStyleFlags: Bool = false,
        softFileLimit: Int? = nil, hardFileLimit: Int? = nil, extra: [String] = []
    ) async throws -> Node {
        let node = register(name, kind: .rumor, tags: tags)
        lock.withLock { extraArguments[name] = extra }
        let args = arguments(for: node, join: join, serfStyle: serfStyleFlags)
        if softFileLimit != nil || hardFileLimit != nil {
            // Soft first: a hard limit below the current soft one is refused.
            let limits = (softFileLimit.map { "ulimit -Sn \($0) && " } ?? "") + (hardFileLimit.map { "ulimit -Hn \($0) && " } ?? "")
            try await launch(
                node, executable: "/bin/sh", arguments: ["-c", limits + "exec \"$0\" \"$@\"", rumorPath] + args)
        } else {
            try await launch(node, arguments: args)
        }
        return node
    }

    /// The process ID of a running node (for reading its CPU time).
    func pid(of node: Node) -> Int32? { lock.withLock { running[node.name]?.processIdentifier } }

    /// Starts `node` again under its old name, address and tags (after `kill9` or `interrupt`).
    func restart(_ node: Node, join: [Node]) async throws {
        guard !isRunning(node) else { throw HarnessError("\(node) is still running; stop it before restarting") }
        try await launch(node, arguments: arguments(for: node, join: join, serfStyle: node.kind == .serf))
    }

    private func register(_ name: String, kind: Kind, tags: [String: String]) -> Node {
        lock.withLock {
            precondition(nodes[name] == nil, "node names must be unique within a test")
            let ip = "127.0.\(testIndex).\(order.count + 1)"
            let node = Node(
                name: name, kind: kind, ip: ip, tags: tags, logURL: directory.appendingPathComponent("\(name).log"))
            nodes[name] = node
            order.append(name)
            return node
        }
    }

    private func arguments(for node: Node, join: [Node], serfStyle: Bool) -> [String] {
        if serfStyle { return serfStyleArguments(node, join: join) }
        var args = ["agent", "--node", node.name, "--bind", node.gossipAddr, "--rpc-addr", node.rpcAddr]
        args += ["--log-level", "debug"]
        for (k, v) in node.tags.sorted(by: { $0.key < $1.key }) { args += ["--tag", "\(k)=\(v)"] }
        for peer in join { args += ["--join", peer.gossipAddr] }
        return args + lock.withLock { extraArguments[node.name] ?? [] }
    }

    /// Flags a test gave `startRumor` beyond the usual ones, by node (kept for restarts).
    private var extraArguments: [String: [String]] = [:]

    private func serfStyleArguments(_ node: Node, join: [Node]) -> [String] {
        var args = ["agent", "-node=\(node.name)", "-bind=\(node.gossipAddr)", "-rpc-addr=\(node.rpcAddr)"]
        args.append("-log-level=debug")
        for (k, v) in node.tags.sorted(by: { $0.key < $1.key }) { args += ["-tag", "\(k)=\(v)"] }
        for peer in join { args.append("-join=\(peer.gossipAddr)") }
        return args
    }

    /// Spawns the agent with its output appended to its log, then waits until its RPC answers `serf members`
    /// (the reference client) with itself in the list. Fails at once, quoting the log, if the agent exits.
    private func launch(_ node: Node, executable: String? = nil, arguments: [String]) async throws {
        let executable = executable ?? (node.kind == .serf ? serfPath : rumorPath)
        if !FileManager.default.fileExists(atPath: node.logURL.path) {
            _ = FileManager.default.createFile(atPath: node.logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: node.logURL)
        defer { try? log.close() }  // the child keeps its own descriptor
        log.seekToEndOfFile()
        let banner = "=== harness: \(executable) \(arguments.joined(separator: " "))\n"
        log.write(Data(banner.utf8))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let name = node.name
        process.terminationHandler = { [weak self] p in self?.recordExit(of: name, process: p) }
        try lock.withLock {
            exitExpected.remove(name)
            lastExit[name] = nil
            try process.run()
            running[name] = process
        }
        try await waitUntilReady(node)
    }

    private func recordExit(of name: String, process: Process) {
        let how =
            process.terminationReason == .uncaughtSignal
            ? "killed by signal \(process.terminationStatus)" : "exited with status \(process.terminationStatus)"
        lock.withLock {
            if running[name] === process { running[name] = nil }
            lastExit[name] = how
        }
    }

    private func waitUntilReady(_ node: Node, timeout: Duration = .seconds(20)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last = "no answer yet"
        while clock.now < deadline {
            if !isRunning(node) {
                throw HarnessError(
                    "\(node) exited during startup (\(exitDescription(node) ?? "?"))\n\(diagnostics())")
            }
            do {
                let members = try await self.members(via: node, cli: .serf)
                if members.contains(where: { $0.name == node.name }) { return }
                last = "members list lacks itself: \(members.map(\.name))"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("\(node) not ready after \(timeout): \(last)\n\(diagnostics())")
    }

    // MARK: - Stopping nodes

    /// SIGKILL: the node vanishes without a word, as in a crash.
    func kill9(_ node: Node) async throws {
        try signal(node, SIGKILL)
        try await waitForExit(node, timeout: .seconds(10))
    }

    /// SIGINT: both agents treat it as "leave gracefully, then exit". Returns how the process ended.
    @discardableResult
    func interrupt(_ node: Node, timeout: Duration = .seconds(20)) async throws -> String {
        try signal(node, SIGINT)
        try await waitForExit(node, timeout: timeout)
        return exitDescription(node) ?? "?"
    }

    /// SIGTERM: what a service manager sends; both agents leave gracefully, then exit. Returns how it ended.
    @discardableResult
    func terminate(_ node: Node, timeout: Duration = .seconds(20)) async throws -> String {
        try signal(node, SIGTERM)
        try await waitForExit(node, timeout: timeout)
        return exitDescription(node) ?? "?"
    }

    /// Marks an exit the test caused some other way (e.g. `serf leave` over RPC) as expected.
    func expectExit(_ node: Node) {
        _ = lock.withLock { exitExpected.insert(node.name) }
    }

    func waitForExit(_ node: Node, timeout: Duration) async throws {
        expectExit(node)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning(node) {
            guard clock.now < deadline else {
                throw HarnessError("\(node) still running \(timeout) after being told to stop\n\(diagnostics())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func signal(_ node: Node, _ sig: Int32) throws {
        try lock.withLock {
            guard let process = running[node.name] else { throw HarnessError("\(node) is not running") }
            exitExpected.insert(node.name)
            kill(process.processIdentifier, sig)
        }
    }

    /// Kills every process this cluster started that is still running, and waits (briefly) for them to go.
    func shutdown() {
        let processes = lock.withLock {
            exitExpected.formUnion(running.keys)
            return Array(running.values)
        }
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while processes.contains(where: \.isRunning) && Date() < deadline { usleep(10_000) }
    }

    // MARK: - State

    func isRunning(_ node: Node) -> Bool { lock.withLock { running[node.name] != nil } }

    func exitDescription(_ node: Node) -> String? { lock.withLock { lastExit[node.name] } }

    /// Nodes that died without the test asking them to: a crash is reported at once rather than as a timeout.
    func unexpectedExits() -> [String] {
        lock.withLock {
            order.compactMap { name in
                guard running[name] == nil, !exitExpected.contains(name), let how = lastExit[name] else { return nil }
                return "\(name) \(how)"
            }
        }
    }

    var allNodes: [Node] { lock.withLock { order.compactMap { nodes[$0] } } }

    func node(named name: String) -> Node? { lock.withLock { nodes[name] } }

    // MARK: - Logs

    func log(of node: Node) -> String { readText(node.logURL) }

    /// The last `bytes` of `node`'s log: cheap to poll while the log grows by megabytes.
    func logEnd(of node: Node, bytes: Int = 64 << 10) -> String {
        guard let handle = try? FileHandle(forReadingFrom: node.logURL) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// The last `lines` lines of `node`'s log, minus serf's per-connection RPC noise (our polling causes it).
    func logTail(of node: Node, lines: Int = 25) -> String {
        log(of: node).split(separator: "\n").filter { !$0.contains("agent.ipc: Accepted client") }.suffix(lines)
            .joined(separator: "\n")
    }

    /// Each node's state and the tail of its log, for failure messages.
    func diagnostics(lines: Int = 25) -> String {
        var text = "Logs in \(directory.path)\n"
        for node in allNodes {
            let state = isRunning(node) ? "running" : (exitDescription(node) ?? "not started")
            text += "--- \(node): \(state); last \(lines) log lines:\n"
            text += logTail(of: node, lines: lines).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
            text += "\n"
        }
        return text
    }
}

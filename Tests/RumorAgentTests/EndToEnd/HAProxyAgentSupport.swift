#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import RumorTestSupport

// Support for HAProxyAgentTests: a load-balancer `rumor agent` running the HAProxy action in runtime mode, and backend
// `rumor agent`s each next to a real `busybox httpd`. HTTP, the client loop and wrk's report are in Tests/Support.

/// A locked value shared with threads and tasks.
final class HAPCell<T: Sendable>: Sendable {
    private let storage: Mutex<T>
    init(_ value: T) { storage = Mutex(value) }
    var value: T {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// One row of HAProxy's stats CSV for a server of the member backend.
struct HAPServerStat: Sendable, CustomStringConvertible {
    var server: String
    var address: String
    var status: String
    /// Sessions it has served (`stot`).
    var sessions: Int
    var description: String { "\(server) \(address) \(status) stot=\(sessions)" }
}

/// A load-balancer rumor agent running the HAProxy action (runtime mode, the shipped template), and backends.
final class HAProxyLab: @unchecked Sendable {
    // @unchecked: the mutable state is only touched under `lock`.
    struct Backend: Sendable {
        let name: String
        let ip: String
        let port: Int
        var address: String { "\(ip):\(port)" }
    }

    let cluster: E2ECluster
    let lbIP: String
    let frontendPort: Int
    let statsPort: Int
    let configPath: String
    let outputPath: String
    private let lock = NSLock()
    private var hostsAllocated = 0  // mirrors E2ECluster's sequential allocation (.1, .2, …)
    private var httpds: [String: Process] = [:]
    private var agents: [String: E2ECluster.Node] = [:]
    private(set) var lb: E2ECluster.Node?

    init(subnet: Int, frontendPort: Int, statsPort: Int) throws {
        precondition([96, 97, 88, 87, 85].contains(subnet), "HAProxyAgentTests own 127.0.96.x and 127.0.97.x, ReplicaAgentTests 127.0.85.x, ContainerAgentTests 127.0.88.x, AppDeployTests 127.0.87.x (98 is the snapshot tests)")
        cluster = try E2ECluster(subnet: subnet)
        lbIP = "127.0.\(subnet).1"
        self.frontendPort = frontendPort
        self.statsPort = statsPort
        configPath = cluster.file("lb.json")
        outputPath = cluster.file("haproxy.cfg")
    }

    static var shippedTemplate: String {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/", !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("templates/haproxy.cfg.mustache").path
    }

    private func nextIP() -> String {
        lock.withLock {
            hostsAllocated += 1
            return "127.0.\(cluster.subnet).\(hostsAllocated)"
        }
    }

    /// Writes the config file and starts the LB agent; waits until HAProxy serves the stats page.
    func startLB(app: String? = nil) async throws {
        var selection: [String: Any] = ["selector": ["role": "backend"]]
        if let app { selection = ["app": app] }
        let config: [String: Any] = [
            "actions": [
                "haproxy": selection.merging([
                    "template": Self.shippedTemplate,
                    "output": outputPath,
                    "frontend_bind": "\(lbIP):\(frontendPort)",
                    "stats_bind": "\(lbIP):\(statsPort)",
                    "master_socket": cluster.file("master.sock"),
                    "stats_socket": cluster.file("admin.sock"),
                    "apply": "runtime",
                ]) { $1 }
            ]
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: configPath))
        let expected = nextIP()
        let node = try await cluster.startRumor("lb", ["--config-file", configPath, "--log-level", "debug"])
        guard node.ip == expected else { throw E2EError("lb got \(node.ip), expected \(expected)") }
        lock.withLock { lb = node }
        let (ip, port) = (lbIP, statsPort)
        try await cluster.poll("HAProxy to serve its stats page on \(ip):\(port)", timeout: .seconds(15)) {
            (try? TestNetwork.get(host: ip, port: port, path: "/;csv", timeout: .seconds(1)))?.status == 200
        }
    }

    /// Starts busybox httpd on the next host (index.html holds `name`), waits until it listens, then calls
    /// `onLaunch` and starts the backend's agent (tags role=backend, port=<httpd port>) joining the LB.
    @discardableResult
    func startBackend(_ name: String, onLaunch: () -> Void = {}) async throws -> Backend {
        guard let lb = lock.withLock({ lb }) else { throw E2EError("start the LB first") }
        let ip = nextIP()
        let port = 18000 + Int(ip.split(separator: ".").last!)!
        let backend = Backend(name: name, ip: ip, port: port)
        try startHTTPD(backend)
        onLaunch()
        let node = try await cluster.startRumor(name, [
            "--join", lb.gossipAddr, "--tag", "role=backend", "--tag", "port=\(port)",
        ])
        guard node.ip == ip else { throw E2EError("\(name) got \(node.ip), expected \(ip)") }
        lock.withLock { agents[name] = node }
        return backend
    }

    private func startHTTPD(_ backend: Backend) throws {
        let root = cluster.file("www-\(backend.name)")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try backend.name.write(toFile: root + "/index.html", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/busybox")
        p.arguments = ["httpd", "-f", "-p", backend.address, "-h", root]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try lock.withLock {
            try p.run()
            httpds[backend.name] = p
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while !TestNetwork.isListening(host: backend.ip, port: backend.port) {
            guard p.isRunning, ContinuousClock.now < deadline else {
                throw E2EError("busybox httpd for \(backend.name) does not listen on \(backend.address)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func agent(_ name: String) -> E2ECluster.Node? { lock.withLock { agents[name] } }

    /// A worker agent running the container action on `appsDir`, joined to the LB; its containers publish on its
    /// own loopback address.
    func startWorker(_ name: String, appsDir: String) async throws -> E2ECluster.Node {
        guard let lb = lock.withLock({ lb }) else { throw E2EError("start the LB first") }
        let expected = nextIP()
        let node = try await cluster.startRumor(name, [
            "--join", lb.gossipAddr, "--tag", "role=worker", "--apps-dir", appsDir, "--log-level", "debug",
        ])
        guard node.ip == expected else { throw E2EError("\(name) got \(node.ip), expected \(expected)") }
        lock.withLock { agents[name] = node }
        // Started means the LB knows it runs apps: a deploy right after must count it (the test raced gossip).
        try await cluster.poll("the LB to see \(name) run apps", timeout: .seconds(15)) {
            self.cluster.tags(of: name, seenBy: lb)?["rumor:apps"] != nil
        }
        return node
    }

    /// Sends `signal` to the backend's agent (by PID) and waits for it to exit.
    func signalAgent(_ name: String, _ sig: Int32, timeout: Duration = .seconds(15)) async throws {
        guard let node = agent(name), let p = cluster.process(node) else { throw E2EError("no agent \(name)") }
        kill(p.processIdentifier, sig)
        try await cluster.waitForExit(node, timeout: timeout)
    }

    func killHTTPD(_ name: String) {
        guard let p = lock.withLock({ httpds[name] }) else { return }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// Member name → status as the LB agent sees it.
    func lbView() -> [String: String] {
        guard let lb = lock.withLock({ lb }) else { return [:] }
        return cluster.view(of: lb)
    }

    /// The member backend's servers from the stats page's CSV (`/;csv` on stats_bind). Blocking.
    func servers() -> [HAPServerStat] {
        guard let response = try? TestNetwork.get(host: lbIP, port: statsPort, path: "/;csv", timeout: .seconds(2)),
            response.status == 200
        else { return [] }
        let lines = response.body.split(separator: "\n").map(String.init)
        guard let header = lines.first(where: { $0.hasPrefix("# ") }) else { return [] }
        let columns = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let px = columns.firstIndex(of: "pxname"), let sv = columns.firstIndex(of: "svname"),
            let st = columns.firstIndex(of: "status"), let ad = columns.firstIndex(of: "addr"),
            let stot = columns.firstIndex(of: "stot")
        else { return [] }
        return lines.filter { !$0.hasPrefix("#") }.compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count > max(px, sv, st, ad, stot), f[px] == "backends", f[sv].hasPrefix("srv") else { return nil }
            return HAPServerStat(server: f[sv], address: f[ad], status: f[st], sessions: Int(f[stot]) ?? 0)
        }
    }

    /// Addresses of the servers the stats page shows UP.
    func upAddresses() -> Set<String> {
        Set(servers().filter { $0.status == "UP" }.map(\.address))
    }

    /// Stops the LB agent gracefully (it stops its HAProxy), kills everything else by PID, and any HAProxy process
    /// still running on this lab's config (found by its unique path in /proc/<pid>/cmdline).
    func shutdown() {
        if let lb = lock.withLock({ lb }), let p = cluster.process(lb), p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        }
        let leftovers = haproxyPIDs()
        for pid in leftovers { kill(pid, SIGKILL) }
        if !leftovers.isEmpty { print("HAProxyLab: killed HAProxy processes left running: \(leftovers)") }
        let all = lock.withLock { Array(httpds.values) }
        for p in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in all { p.waitUntilExit() }
        cluster.shutdown()
    }

    /// PIDs of HAProxy processes running this lab's output file.
    func haproxyPIDs() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let first = argv.first, first.hasSuffix("haproxy"), argv.contains(outputPath) else { return nil }
            return pid
        }
    }

    func logs() -> String { cluster.logs() }

    /// The LB agent's ERR lines (HAProxy alerts, failed applies, rejected renders).
    func lbErrors() -> [String] {
        guard let lb = lock.withLock({ lb }) else { return [] }
        return cluster.log(of: lb).split(separator: "\n").map(String.init).filter { $0.contains(" [ERR] ") }
    }
}

/// wrk in the background against `url`; each connection paces itself (`delay()` hook) so two cores are not
/// saturated by the load generator alone.
final class HAPWrk: @unchecked Sendable {
    // @unchecked: `output` is written once by the reader thread before `done` is signalled.
    let process = Process()
    private var output = Data()
    private let done = DispatchSemaphore(value: 0)

    init(url: String, connections: Int, threads: Int, seconds: Int, delayMilliseconds: Int, directory: String) throws {
        let script = directory + "/pace.lua"
        try "function delay()\n  return \(delayMilliseconds)\nend\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = [
            "-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "--timeout", "5s", "-s", script, url,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Thread.detachNewThread { [self] in
            output = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
    }

    var isRunning: Bool { process.isRunning }

    func finish() async throws -> WrkResult {
        let done = self.done
        try await offPool { done.wait() }
        process.waitUntilExit()
        return WrkResult.parse(String(decoding: output, as: UTF8.self))
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}

import Foundation
import RumorCore
import RumorWire
import RumorTestSupport
@testable import RumorActions

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP backend that answers every request with its own name, so a test can tell which one served.
/// It is a tiny single-process HAProxy (`http-request return`): a real separate process that `kill -9` really
/// kills, fast enough to never be the bottleneck under wrk, and needing nothing the tests do not already need.
final class TestBackendServer: @unchecked Sendable {
    let name: String
    let host: String
    let port: Int
    private let process: Subprocess
    private var stopped = false

    static var haproxyBinary: String {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy"
    }

    private init(name: String, host: String, port: Int, process: Subprocess) {
        self.name = name
        self.host = host
        self.port = port
        self.process = process
    }

    /// Starts and waits until it accepts connections. The port comes from `freePort`, which another process can
    /// take before HAProxy binds it: when HAProxy exits instead of listening, try again on a new port.
    static func start(name: String, host: String, directory: TemporaryDirectory) async throws -> TestBackendServer {
        var failures: [String] = []
        for _ in 1...3 {
            let port = try TestNetwork.freePort(host: host)
            let config = """
                global
                    nbthread 1
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                frontend \(name)
                    bind \(host):\(port)
                    http-request return status 200 content-type text/plain string "\(name)"

                """
            let path = directory.file("backend-\(name).cfg")
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            let process = try Subprocess.spawn([haproxyBinary, "-db", "-f", path], captureOutput: false)  // its errors go to the test log
            let server = TestBackendServer(name: name, host: host, port: port, process: process)
            do {
                try await eventually("backend \(name) listening on \(host):\(port)", timeout: .seconds(10)) {
                    if let status = process.reapIfExited() {
                        server.stopped = true
                        throw TestNetwork.Failure(description: "haproxy \(status) (its output is above)")
                    }
                    return try await offPool { TestNetwork.isListening(host: host, port: port) }
                }
                return server
            } catch {
                failures.append("\(error)")
                server.kill()
            }
        }
        throw TestNetwork.Failure(description: "backend \(name) did not start: \(failures.joined(separator: "; "))")
    }

    /// The member the agent would report for this backend's container.
    func member(status: MemberStatus = .alive, tags extra: [String: String] = [:]) -> Member {
        var tags = ["role": "backend", "port": String(port)]
        tags.merge(extra) { $1 }
        return Member(name: name, address: Address(host: host, port: 7946)!, tags: tags, status: status, vsn: [])
    }

    var pid: Int32 { process.pid }

    /// SIGKILL, as a crashed container, and reap it.
    func kill() {
        guard !stopped else { return }
        stopped = true
        process.signal(SIGKILL)
        _ = process.waitBlocking()
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import RumorTestSupport

/// The HAProxy action end to end, with real agents: an LB `rumor agent` whose config file turns on the action in
/// runtime mode (it runs and supervises HAProxy with the shipped template), and backend `rumor agent`s tagged
/// role=backend, port=<httpd port>, each next to a real busybox httpd on the same loopback address. The action's
/// unit tests feed member lists directly; these prove the whole chain (gossip → agent → action → HAProxy).
///
/// Serialized: on two cores, concurrent agents, HAProxy and load generators would starve failure detection.
@Suite(.serialized) struct HAProxyAgentTests {
    /// Each test gets a subnet (alternating: a lab's processes are gone before the next starts) and its own ports.
    static func lab(_ subnet: Int, _ frontendPort: Int) throws -> HAProxyLab {
        try HAProxyLab(subnet: subnet, frontendPort: frontendPort, statsPort: frontendPort + 1)
    }

    /// LB plus b1…b3; returns once the stats page shows the three UP.
    static func startLabWithThreeBackends(_ lab: HAProxyLab) async throws -> [HAProxyLab.Backend] {
        try await lab.startLB()
        var backends: [HAProxyLab.Backend] = []
        for name in ["b1", "b2", "b3"] { backends.append(try await lab.startBackend(name)) }
        let expected = Set(backends.map(\.address))
        try await lab.cluster.poll("the stats page to show b1…b3 UP", timeout: .seconds(15)) {
            lab.upAddresses() == expected
        }
        return backends
    }

    /// (1) Requests through HAProxy reach all three backends; the stats page lists exactly those three servers UP.
    @Test func requestsReachEveryBackendAndStatsShowThemUp() async throws {
        let lab = try Self.lab(96, 28080)
        defer { lab.shutdown() }
        let backends = try await Self.startLabWithThreeBackends(lab)

        let (ip, port) = (lab.lbIP, lab.frontendPort)
        let responses = try await offPool {
            try (0..<12).map { _ in try TestNetwork.get(host: ip, port: port) }
        }
        #expect(responses.allSatisfy { $0.status == 200 })
        var counts: [String: Int] = [:]
        for r in responses { counts[r.body, default: 0] += 1 }
        print("HAProxyAgentTests(1): 12 requests served by \(counts.sorted { $0.key < $1.key })")
        #expect(Set(counts.keys) == ["b1", "b2", "b3"], "served by \(counts)")
        // Round robin over three equal servers.
        #expect(counts.values.allSatisfy { $0 == 4 }, "served by \(counts)")

        let servers = lab.servers()
        let up = servers.filter { $0.status == "UP" }
        print("HAProxyAgentTests(1): stats page servers: \(servers)")
        #expect(up.count == 3, "\(servers)")
        #expect(Set(up.map(\.address)) == Set(backends.map(\.address)), "\(servers)")
        let html = try await offPool { try TestNetwork.get(host: ip, port: port + 1, path: "/") }
        #expect(html.status == 200 && html.body.contains("backends"), "stats page: HTTP \(html.status)")
        #expect(lab.lbView() == ["lb": "alive", "b1": "alive", "b2": "alive", "b3": "alive"])
        let rendered = lab.cluster.read(lab.outputPath)
        #expect(rendered.contains("frontend http") && rendered.contains("bind \(ip):\(port)"), "\(rendered)")
    }

    /// (2) A new backend's agent starts: time from launching its process to the first response it serves through
    /// HAProxy, three times (b4, b5, b6 each started and then stopped).
    @Test func newBackendServesSoonAfterItsAgentStarts() async throws {
        let lab = try Self.lab(97, 28090)
        defer { lab.shutdown() }
        _ = try await Self.startLabWithThreeBackends(lab)
        let (ip, port) = (lab.lbIP, lab.frontendPort)

        var samples: [Double] = []
        for name in ["b4", "b5", "b6"] {
            let launched = HAPCell<ContinuousClock.Instant?>(nil)
            let stopWatch = HAPCell(false)
            // Every 20 ms, one request per server (round robin) until one is served by `name`.
            let watcher = Task.detached { () -> ContinuousClock.Instant? in
                try? await offPool { () -> ContinuousClock.Instant? in
                    let deadline = ContinuousClock.now + .seconds(30)
                    while ContinuousClock.now < deadline, !stopWatch.value {
                        if launched.value != nil {
                            for _ in 0..<5 {
                                if let r = try? TestNetwork.get(host: ip, port: port, timeout: .seconds(2)),
                                    r.status == 200, r.body == name
                                {
                                    return ContinuousClock.now
                                }
                            }
                        }
                        Thread.sleep(forTimeInterval: 0.02)
                    }
                    return nil
                }
            }
            let backend = try await lab.startBackend(name) { launched.value = ContinuousClock.now }
            let servedAt: ContinuousClock.Instant?
            do {
                // The watcher has its own 30 s deadline.
                servedAt = await watcher.value
            }
            stopWatch.value = true
            guard let servedAt, let start = launched.value else {
                Issue.record("\(name) (\(backend.address)) never served a request\n\(lab.servers())\n\(lab.logs())")
                return
            }
            let ms = (servedAt - start).ms
            samples.append(ms)
            print("HAProxyAgentTests(2): \(name): agent launch → first response served by it: \(Int(ms)) ms")
            // Stop it again (graceful leave) so the next sample starts from three servers, like this one.
            try await lab.signalAgent(name, SIGINT)
            try await lab.cluster.poll("LB to see \(name) left", timeout: .seconds(15)) { lab.lbView()[name] == "left" }
            try await lab.cluster.poll("\(name) out of the UP servers", timeout: .seconds(10)) {
                !lab.upAddresses().contains(backend.address)
            }
            lab.killHTTPD(name)
        }
        let p50 = percentile(samples, 50), max = samples.max() ?? .nan
        print("HAProxyAgentTests(2): launch → first served: samples \(samples.map { Int($0) }) ms, p50 \(Int(p50)) ms, "
            + "max \(Int(max)) ms")
        #expect(samples.count == 3)
        // Issue target: under 1 s (measured ~190 ms on two cores, so 1 s leaves room for a loaded machine).
        #expect(max < 1000, "launch → first served: \(samples) ms")
    }

    /// (3) A backend's agent leaves gracefully (SIGINT) while a client sends requests: no request fails, and the
    /// backend stops receiving requests (its httpd keeps running, so only HAProxy's state keeps traffic away).
    @Test func gracefulLeaveDrainsWithoutFailedRequests() async throws {
        let lab = try Self.lab(96, 28100)
        defer { lab.shutdown() }
        let backends = try await Self.startLabWithThreeBackends(lab)
        let b2Address = backends[1].address
        let loop = RequestLoop(host: lab.lbIP, port: lab.frontendPort)
        defer { loop.halt() }
        try await lab.cluster.poll("the client to reach b1…b3", timeout: .seconds(10)) {
            Set(loop.snapshot.compactMap(\.servedBy)) == ["b1", "b2", "b3"]
        }

        let signalled = ContinuousClock.now
        try await lab.signalAgent("b2", SIGINT)
        let exited = ContinuousClock.now
        try await lab.cluster.poll("LB to see b2 left", timeout: .seconds(15)) { lab.lbView()["b2"] == "left" }
        let b2 = lab.servers().first { $0.address == b2Address }
        try await lab.cluster.poll("b2 out of the UP servers", timeout: .seconds(10)) {
            !lab.upAddresses().contains(b2Address)
        }
        let mark = loop.count
        try await lab.cluster.poll("60 more requests", timeout: .seconds(15)) { loop.count >= mark + 60 }
        let outcomes = await loop.stop()

        let failures = outcomes.filter { $0.failure != nil }
        let lastB2 = outcomes.last { $0.servedBy == "b2" }?.started
        let afterMark = outcomes[mark...].filter { $0.servedBy == "b2" }.count
        print("HAProxyAgentTests(3): \(outcomes.count) requests, \(failures.count) failed; b2's agent exited "
            + "\(Int((exited - signalled).ms)) ms after SIGINT; last request served by b2 "
            + "\(lastB2.map { "\(Int(($0 - signalled).ms)) ms after SIGINT" } ?? "never"); "
            + "b2 slot now: \(lab.servers().filter { $0.address == b2Address })"
            + " (was \(b2.map(\.description) ?? "?"))")
        #expect(failures.isEmpty, "failed requests: \(failures.prefix(5).map { $0.failure ?? "" })")
        #expect(afterMark == 0, "b2 still served \(afterMark) requests after it left")
        #expect(lab.lbErrors().isEmpty, "LB agent logged errors:\n\(lab.lbErrors().joined(separator: "\n"))")
        #expect(Set(outcomes[mark...].compactMap(\.servedBy)) == ["b1", "b3"])
    }

    /// (4) A backend's agent and httpd are killed -9 while a client sends requests: the shipped template's retries
    /// hide it from the client, and once the LB's agent declares the member failed its server leaves the rotation.
    @Test func crashedBackendIsRemovedWithoutFailedRequests() async throws {
        let lab = try Self.lab(97, 28110)
        defer { lab.shutdown() }
        let backends = try await Self.startLabWithThreeBackends(lab)
        let b2 = backends[1]
        let loop = RequestLoop(host: lab.lbIP, port: lab.frontendPort)
        defer { loop.halt() }
        try await lab.cluster.poll("the client to reach b1…b3", timeout: .seconds(10)) {
            Set(loop.snapshot.compactMap(\.servedBy)) == ["b1", "b2", "b3"]
        }

        let killed = ContinuousClock.now
        lab.killHTTPD("b2")
        try await lab.signalAgent("b2", SIGKILL)
        try await lab.cluster.poll("HAProxy to take b2 out of the UP servers", timeout: .seconds(10)) {
            !lab.upAddresses().contains(b2.address)
        }
        let downAt = ContinuousClock.now
        try await lab.cluster.poll("LB to see b2 failed", timeout: .seconds(30)) { lab.lbView()["b2"] == "failed" }
        let failedAt = ContinuousClock.now
        // Removed: its slot is in maintenance (freed), not merely DOWN by health checks.
        try await lab.cluster.poll("b2's slot to go to MAINT", timeout: .seconds(10)) {
            lab.servers().filter { $0.address == b2.address }.allSatisfy { $0.status.hasPrefix("MAINT") }
        }
        let maintAt = ContinuousClock.now
        let mark = loop.count
        try await lab.cluster.poll("40 more requests", timeout: .seconds(15)) { loop.count >= mark + 40 }
        let outcomes = await loop.stop()

        let failures = outcomes.filter { $0.failure != nil }
        print("HAProxyAgentTests(4): \(outcomes.count) requests, \(failures.count) failed; after kill -9: b2 not UP "
            + "in \(Int((downAt - killed).ms)) ms, member failed in "
            + "\(Int((failedAt - killed).ms)) ms, slot MAINT in \(Int((maintAt - killed).ms)) ms;"
            + " servers: \(lab.servers())")
        #expect(failures.isEmpty, "failed requests: \(failures.prefix(5).map { $0.failure ?? "" })")
        #expect(outcomes[mark...].allSatisfy { $0.servedBy == "b1" || $0.servedBy == "b3" })
        #expect(lab.upAddresses() == Set([backends[0].address, backends[2].address]), "\(lab.servers())")
        #expect(lab.lbErrors().isEmpty, "LB agent logged errors:\n\(lab.lbErrors().joined(separator: "\n"))")
    }

    /// (5) Under wrk load (~20 s, 16 connections), six backends are added and removed one by one through their
    /// agents (start; serving; SIGINT; left): no socket error and no non-2xx response.
    @Test func membershipChurnUnderLoadFailsNoRequest() async throws {
        let lab = try Self.lab(96, 28120)
        defer { lab.shutdown() }
        _ = try await Self.startLabWithThreeBackends(lab)
        let wrk = try HAPWrk(
            url: "http://\(lab.lbIP):\(lab.frontendPort)/", connections: 16, threads: 2, seconds: 20,
            delayMilliseconds: 10, directory: lab.cluster.directory.path)
        defer { wrk.kill() }

        let started = ContinuousClock.now
        var cycles: [String] = []
        for name in ["c1", "c2", "c3", "c4", "c5", "c6"] {
            let t0 = ContinuousClock.now
            let backend = try await lab.startBackend(name)
            try await lab.cluster.poll("\(name) UP under load", timeout: .seconds(10)) {
                lab.upAddresses().contains(backend.address)
            }
            let up = ContinuousClock.now
            // It really takes part of wrk's load before it goes (sessions served in its slot grow).
            let before = lab.servers().first { $0.address == backend.address }?.sessions ?? 0
            try await lab.cluster.poll("\(name) to serve wrk requests", timeout: .seconds(5)) {
                (lab.servers().first { $0.address == backend.address }?.sessions ?? 0) > before
            }
            try await lab.signalAgent(name, SIGINT)
            try await lab.cluster.poll("LB to see \(name) left", timeout: .seconds(15)) {
                lab.lbView()[name] == "left"
            }
            try await lab.cluster.poll("\(name) out of the UP servers", timeout: .seconds(10)) {
                !lab.upAddresses().contains(backend.address)
            }
            // Its httpd stays up until the end: a drained server still finishes what it was given.
            cycles.append("\(name): up \(Int((up - t0).ms)) ms, out "
                + "\(Int((ContinuousClock.now - up).ms)) ms")
        }
        let churn = ContinuousClock.now - started
        let stillRunning = wrk.isRunning
        let result = try await wrk.finish()
        print("HAProxyAgentTests(5): churn of 6 backends took \(Int(churn.ms)) ms: \(cycles)")
        print("HAProxyAgentTests(5): wrk: \(result)")
        #expect(stillRunning, "the churn outlasted wrk's 20 s; part of it ran without load")
        #expect(result.requests > 1000, "\(result.raw)")
        #expect(result.socketErrors == 0, "\(result.raw)")
        #expect(result.non2xx == 0, "\(result.raw)")
        #expect(lab.upAddresses().count == 3, "\(lab.servers())")
        #expect(lab.lbErrors().isEmpty, "LB agent logged errors:\n\(lab.lbErrors().joined(separator: "\n"))")
    }

    /// (6) The agent drives the action through `AgentAction`: SIGHUP reloads it (the template is loaded again and
    /// rendered), and when the agent exits the HAProxy the action started is stopped with it.
    @Test func sighupReloadsTheActionAndTheAgentsExitStopsItsHAProxy() async throws {
        let lab = try Self.lab(97, 28130)
        defer { lab.shutdown() }
        try await lab.startLB()
        guard let lb = lab.lb, let process = lab.cluster.process(lb) else { throw E2EError("no LB agent") }
        #expect(!lab.haproxyPIDs().isEmpty)

        kill(process.processIdentifier, SIGHUP)
        try await lab.cluster.poll("the action to load its template again", timeout: .seconds(10)) {
            lab.cluster.log(of: lb).contains("reload requested; loading the template and rendering again")
        }
        #expect(process.isRunning)

        kill(process.processIdentifier, SIGTERM)
        try await lab.cluster.waitForExit(lb, timeout: .seconds(15))
        #expect(lab.haproxyPIDs().isEmpty, "HAProxy outlived the agent")
        #expect(lab.lbErrors().isEmpty, "\(lab.lbErrors())")
    }
}

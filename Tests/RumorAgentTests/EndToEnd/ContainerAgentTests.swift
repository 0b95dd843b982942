#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RumorTestSupport

/// The container action end to end: a worker `rumor agent --apps-dir` runs the app's containers in the real
/// engine and advertises them; an LB `rumor agent` balances them with real HAProxy (`app: shop`); a client
/// loops requests through HAProxy the whole time. The app is "shop": container names are the engine's, and
/// RumorContainersTests run "site" apps at the same time. Kill, a rolling deploy and an agent kill -9 must not fail one.
@Suite(.serialized) struct ContainerAgentTests {
    static func spec(ip: String, port: Int, image: String) -> String {
        """
        {"docker_image": "\(image)", "containers_per": {"server": 3}, "starting_ports": [{"\(port)": "80"}],
         "host_ip": "\(ip)", "drain": "1500ms", "stop_grace": "2s", "update": {"delay": "5s"}}
        """
    }

    func docker(_ args: String...) async throws -> String {
        try await Subprocess.run("/usr/bin/docker", args).stdout
    }

    /// For `defer` and poll conditions, which cannot await; poll conditions run on a thread of their own.
    func dockerBlocking(_ args: String...) -> String {
        (try? Subprocess.runBlocking("/usr/bin/docker", args, environment: [:], timeout: .seconds(30)))?.stdout ?? ""
    }

    @Test func haproxyFollowsTheContainersThroughAKillARollAndAnAgentCrash() async throws {
        let lab = try HAProxyLab(subnet: 88, frontendPort: 28130, statsPort: 28131)
        let appsDir = lab.cluster.file("apps")
        try FileManager.default.createDirectory(atPath: appsDir, withIntermediateDirectories: true)
        var workerNode: E2ECluster.Node?
        defer {
            lab.shutdown()
            // Containers outlive agents by design: remove this worker's, by its node label.
            if let workerNode {
                let ids = dockerBlocking("ps", "-aq", "--filter", "label=io.rumor.node=\(workerNode.name)")
                for id in ids.split(separator: "\n") { _ = dockerBlocking("rm", "-f", String(id)) }
            }
        }
        try await lab.startLB(app: "shop")
        let workerIP = "127.0.88.2"
        let port = 28140
        try Self.spec(ip: workerIP, port: port, image: "rumor-site:v1").write(toFile: appsDir + "/shop.json", atomically: true, encoding: .utf8)
        let worker = try await lab.startWorker("w1", appsDir: appsDir)
        workerNode = worker
        let expected: Set<String> = Set((0..<3).map { "\(workerIP):\(port + $0)" })
        try await lab.cluster.poll("HAProxy to show the three containers UP", timeout: .seconds(40)) { lab.upAddresses() == expected }

        let (ip, frontend) = (lab.lbIP, lab.frontendPort)
        let bodies = try await offPool { try (0..<9).map { _ in try TestNetwork.get(host: ip, port: frontend).body } }
        #expect(Set(bodies).count == 3 && bodies.allSatisfy { $0.hasPrefix("served by") && $0.hasSuffix("v1\n") }, "\(bodies)")

        let ls = try await lab.cluster.rumor("apps", "ls", "--rpc-addr", worker.rpcAddr)
        print("rumor apps ls:\n\(ls.stdout)")
        #expect(ls.stdout.contains("rumor-shop-w1-3") && ls.stdout.contains("healthy"))

        let loop = RequestLoop(host: ip, port: frontend, pause: .milliseconds(5))
        // (1) A container killed: HAProxy keeps answering from the others; the replacement comes back UP.
        let victim = try await docker("ps", "-q", "--no-trunc", "--filter", "name=^rumor-shop-w1-2$", "--filter", "label=io.rumor.node=w1")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let killed = ContinuousClock.now
        _ = try await docker("kill", victim)
        try await lab.cluster.poll("the replacement of rumor-shop-w1-2 UP", timeout: .seconds(15)) {
            let id = self.dockerBlocking("ps", "-q", "--no-trunc", "--filter", "name=^rumor-shop-w1-2$", "--filter", "label=io.rumor.node=w1")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return id != "" && id != victim && lab.upAddresses() == expected
        }
        print("container kill → replacement UP in HAProxy: \(ContinuousClock.now - killed)")

        // (2) A new image: replaced one at a time, the worker never advertising fewer than two, every request
        // answered. HAProxy's own count of UP servers lags the advertisements by its checks (rise 2, inter 1 s): it
        // is printed, not asserted, since a starved CI machine can stretch that past the update delay (it once showed
        // one UP for a moment while two were advertised); the failed-request count below is what a client sees.
        try Self.spec(ip: workerIP, port: port, image: "rumor-site:v2").write(toFile: appsDir + "/shop.json", atomically: true, encoding: .utf8)
        let fewestAdvertised = HAPCell(3)
        let fewestUP = HAPCell((3, ""))  // with what HAProxy and the LB agent showed then
        let rollStarted = ContinuousClock.now
        try await lab.cluster.poll("every container to serve v2", timeout: .seconds(90)) {
            // An RPC answer that did not come (a slow machine) is no sample; a member without the tag is zero.
            let tags = lab.cluster.tags(of: "w1", seenBy: lab.lb!)
            let advertised = tags.map { $0["app:shop"] ?? "" } ?? "unknown"
            if tags != nil { fewestAdvertised.value = min(fewestAdvertised.value, advertised.split(separator: " ").count) }
            let servers = lab.servers()
            let up = servers.filter { $0.status == "UP" }.count
            if up < fewestUP.value.0 {
                fewestUP.value = (up, "at \(ContinuousClock.now - rollStarted): HAProxy \(servers); advertised \(advertised)")
            }
            let sample = (0..<3).compactMap { _ in try? TestNetwork.get(host: ip, port: frontend).body }
            return sample.count == 3 && sample.allSatisfy { $0.hasSuffix("v2\n") } && lab.upAddresses() == expected
        }
        print("roll: fewest advertised \(fewestAdvertised.value), fewest UP in HAProxy \(fewestUP.value.0) \(fewestUP.value.1)")
        #expect(fewestAdvertised.value >= 2, "the worker advertised \(fewestAdvertised.value) during the roll")
        if fewestAdvertised.value < 2 {
            print(lab.cluster.log(of: worker).split(separator: "\n").filter { $0.contains("apps:") }.joined(separator: "\n"))
        }

        // (3) The worker's agent killed -9 and restarted: the containers never stopped and are adopted.
        let before = try await docker("ps", "-q", "--no-trunc", "--filter", "label=io.rumor.node=w1").split(separator: "\n").sorted()
        try await lab.cluster.kill9(worker)
        #expect(try await docker("ps", "-q", "--no-trunc", "--filter", "label=io.rumor.node=w1").split(separator: "\n").sorted() == before)
        let restarted = try await lab.cluster.restartRumor(worker, [
            "--join", lab.lb!.gossipAddr, "--tag", "role=worker", "--apps-dir", appsDir,
        ])
        try await lab.cluster.poll("the restarted worker to advertise its three containers", timeout: .seconds(30)) {
            lab.cluster.tags(of: "w1", seenBy: lab.lb!)?["app:shop"]?.split(separator: " ").count == 3
        }
        #expect(try await docker("ps", "-q", "--no-trunc", "--filter", "label=io.rumor.node=w1").split(separator: "\n").sorted() == before)

        let outcomes = await loop.stop()
        let failures = outcomes.compactMap(\.failure)
        print("request loop through HAProxy: \(outcomes.count) requests, \(failures.count) failed \(failures.prefix(3))")
        #expect(outcomes.count > 100)
        #expect(failures.isEmpty)

        // (4) The worker leaves (SIGINT): HAProxy drops its containers with the leave, and the worker removes them
        // after the drain before it exits. (A kill -9, above, left them running.)
        let process = try #require(lab.cluster.process(restarted))
        let left = ContinuousClock.now
        kill(process.processIdentifier, SIGINT)
        try await lab.cluster.waitForExit(restarted, timeout: .seconds(30))
        print("worker leave → exited with its containers removed in \(ContinuousClock.now - left)")
        #expect(try await docker("ps", "-aq", "--filter", "label=io.rumor.node=w1").isEmpty)
        #expect(lab.upAddresses().isEmpty)
    }
}

import Foundation
import Testing
import RumorTestSupport

/// Issue 12, acceptance 2, end to end: three worker agents sharing the real engine and an LB agent with real
/// HAProxy; `replicas: 6` deployed from the LB's node with the default `stable_after`/`lost_after`. Containers are
/// on Docker's default bridge, advertised by their IP (no host ports), so moves are start-first. The app is "rep":
/// names are the engine's, and other suites run "site", "shop" and "deal" at the same time. Workers are rep1-3: a
/// node's containers are those labelled with its name, and a leaving worker removes all of them, so names are unique
/// across the suites that share the engine.
@Suite(.serialized) struct ReplicaAgentTests {
    static let spec = """
        {"docker_image": "rumor-site:v1", "replicas": 6, "rebalance": true, "advertise": {"network": "bridge", "port": 80},
         "healthcheck": {"cmd": "wget -q -O /dev/null http://127.0.0.1/health", "interval": "500ms", "retries": 2},
         "drain": "500ms", "stop_grace": "1s"}
        """

    static func containers(of node: String) -> [String] {
        let out = (try? Subprocess.runBlocking(
            "/usr/bin/docker", ["ps", "-aq", "--filter", "label=io.rumor.node=\(node)", "--filter", "label=io.rumor.app=rep"],
            environment: [:], timeout: .seconds(30)))?.stdout ?? ""
        return out.split(separator: "\n").map(String.init)
    }

    static func remove(_ ids: [String]) {
        for id in ids { _ = try? Subprocess.runBlocking("/usr/bin/docker", ["rm", "-f", id], environment: [:], timeout: .seconds(30)) }
    }

    /// Worker → its advertised replicas, as the LB agent sees them; nil while its RPC does not answer.
    static func spread(_ lab: HAProxyLab, _ workers: [String]) -> [String: Int]? {
        var counts: [String: Int] = [:]
        for w in workers {
            guard let tags = lab.cluster.tags(of: w, seenBy: lab.lb!) else { return nil }
            counts[w] = tags["app:rep"].map { $0.split(separator: " ").count } ?? 0
        }
        return counts
    }

    static let names = ["rep1", "rep2", "rep3"]

    /// An LB agent (HAProxy for app "rep") and the workers, with empty apps directories; on a failure every agent's
    /// apps log; afterwards every agent stopped and the workers' containers removed.
    static func withCluster(_ body: (HAProxyLab, _ lb: E2ECluster.Node, _ workers: [E2ECluster.Node]) async throws -> Void) async throws {
        let lab = try HAProxyLab(subnet: 85, frontendPort: 28160, statsPort: 28161)
        defer {
            lab.shutdown()
            for w in names { remove(containers(of: w)) }
        }
        do {
            try await lab.startLB(app: "rep")
            let lb = try #require(lab.lb)
            var workers: [E2ECluster.Node] = []
            for w in names {
                let dir = lab.cluster.file("apps-\(w)")
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                workers.append(try await lab.startWorker(w, appsDir: dir))
            }
            try await body(lab, lb, workers)
        } catch {
            print(lab.cluster.logs(containing: "apps:"))
            throw error
        }
    }

    @Test func sixReplicasAreTwoPerWorker_aKilledWorkersMoveAndComeBackWithRebalance() async throws {
        try await Self.withCluster { lab, lb, workers in try await killAndReturn(lab, lb, workers) }
    }

    func killAndReturn(_ lab: HAProxyLab, _ lb: E2ECluster.Node, _ workers: [E2ECluster.Node]) async throws {
        let names = Self.names
        let file = lab.cluster.file("rep.json")
        try Self.spec.write(toFile: file, atomically: true, encoding: .utf8)
        let out = try await lab.cluster.rumor("apps", "deploy", file, "--rpc-addr", lb.rpcAddr)
        #expect(out.status == 0, "\(out)")
        let even = ["rep1": 2, "rep2": 2, "rep3": 2]
        try await lab.cluster.poll("2 replicas on each worker, 6 UP in HAProxy", timeout: .seconds(60)) {
            Self.spread(lab, names) == even && lab.upAddresses().count == 6
        }

        let (ip, frontend) = (lab.lbIP, lab.frontendPort)
        let loop = RequestLoop(host: ip, port: frontend, pause: .milliseconds(5))
        // rep2's agent killed -9 and its containers with it (its machine died): after lost_after (30 s by default)
        // and failure detection, its two start on the others, one each.
        let victim = workers[1]
        try await lab.cluster.kill9(victim)
        Self.remove(Self.containers(of: victim.name))
        let killed = ContinuousClock.now
        try await lab.cluster.poll("6 UP again on rep1 and rep3", timeout: .seconds(60)) {
            Self.spread(lab, ["rep1", "rep3"]) == ["rep1": 3, "rep3": 3] && lab.upAddresses().count == 6
        }
        let movedIn = ContinuousClock.now - killed

        // It returns under its name; the spec has `rebalance: true`: one from each of the others moves to it.
        let returned = ContinuousClock.now
        _ = try await lab.cluster.restartRumor(victim, [
            "--join", lb.gossipAddr, "--tag", "role=worker", "--apps-dir", lab.cluster.file("apps-rep2"), "--log-level", "debug",
        ])
        try await lab.cluster.poll("2-2-2 again, 6 UP in HAProxy", timeout: .seconds(90)) {
            Self.spread(lab, names) == even && lab.upAddresses().count == 6
        }
        let rebalancedIn = ContinuousClock.now - returned
        let outcomes = await loop.stop()
        let failures = outcomes.compactMap(\.failure)
        print("replicas 6 on 3 worker agents: 2-2-2; kill -9 of one with its containers → 3-3 serving in \(movedIn) (lost_after 30 s); it returns → 2-2-2 in \(rebalancedIn) (stable_after 10 s); \(outcomes.count) requests through HAProxy, \(failures.count) failed \(failures.prefix(3))")
        #expect(outcomes.count > 100)
        #expect(failures.isEmpty)
    }

    static func rolling(image: String, healthcheck: String = "wget -q -O /dev/null http://127.0.0.1/health") -> String {
        """
        {"docker_image": "\(image)", "replicas": 6, "advertise": {"network": "bridge", "port": 80},
         "healthcheck": {"cmd": "\(healthcheck)", "interval": "500ms", "retries": 2},
         "drain": "500ms", "stop_grace": "1s", "update": {"parallelism": 1, "monitor": "2s"}}
        """
    }

    /// Issue 12, acceptance 3: `rumor apps deploy --wait` of v2 rolls node by node under a request loop, never
    /// fewer than 4 of 6 ready; a deploy whose health check fails stops in its first wave, rolls back by itself
    /// (every node back on v2), and `--wait` exits non-zero with the reason.
    @Test func rollingDeployWithWait_andAFailingOneRollsBackByItself() async throws {
        try await Self.withCluster { lab, lb, _ in try await rollingDeploy(lab, lb) }
    }

    func rollingDeploy(_ lab: HAProxyLab, _ lb: E2ECluster.Node) async throws {
        let names = Self.names
        let file = lab.cluster.file("rep.json")
        try Self.rolling(image: "rumor-site:v1").write(toFile: file, atomically: true, encoding: .utf8)
        let first = try await lab.cluster.rumor("apps", "deploy", "--wait", file, "--rpc-addr", lb.rpcAddr, timeout: .seconds(120))
        #expect(first.status == 0 && first.stdout.contains("rolled out on every node"), "\(first)")
        try await lab.cluster.poll("2 replicas on each worker, 6 UP in HAProxy", timeout: .seconds(60)) {
            Self.spread(lab, names) == ["rep1": 2, "rep2": 2, "rep3": 2] && lab.upAddresses().count == 6
        }
        let (ip, frontend) = (lab.lbIP, lab.frontendPort)
        let loop = RequestLoop(host: ip, port: frontend, pause: .milliseconds(5))

        /// Runs `rumor apps deploy --wait` of `spec`, sampling the ready replicas until it returns; on a `terminal`
        /// (a pty from script(1)), where it prints its progress, stdout and stderr come together.
        func deploy(_ spec: String, terminal: Bool = false) async throws -> (ProcessOutput, fewest: Int, took: Duration) {
            try spec.write(toFile: file, atomically: true, encoding: .utf8)
            let finished = HAPCell(false)
            let fewest = HAPCell(6)
            let started = ContinuousClock.now
            let run = Task {
                defer { finished.value = true }
                guard terminal else {
                    return try await lab.cluster.rumor("apps", "deploy", "--wait", file, "rep", "--rpc-addr", lb.rpcAddr, timeout: .seconds(240))
                }
                return try await Subprocess.run(
                    "/usr/bin/script", ["-qec", "\(lab.cluster.rumorPath) apps deploy --wait \(file) rep --rpc-addr \(lb.rpcAddr)", "/dev/null"],
                    environment: ["RUMOR_APPS_SIGN_KEY": lab.cluster.deployKeyFile], timeout: .seconds(240))
            }
            try await lab.cluster.poll("deploy --wait to return", timeout: .seconds(240)) {
                if let counts = Self.spread(lab, names) { fewest.value = min(fewest.value, counts.values.reduce(0, +)) }
                return finished.value
            }
            return (try await run.value, fewest.value, ContinuousClock.now - started)
        }

        let v2 = try await deploy(Self.rolling(image: "rumor-site:v2"), terminal: true)
        #expect(v2.0.status == 0 && v2.0.stdout.contains("rolled out on every node"), "\(v2.0)")
        #expect(v2.0.stdout.contains("3 waves"), "\(v2.0.stdout)")
        // Progress on a terminal (docs/observe.md): each wave, with nodes and containers ready, as it happens.
        for wave in 1...3 { #expect(v2.0.stdout.contains("rep: wave \(wave) of 3 · nodes "), "\(v2.0.stdout)") }
        #expect(v2.0.stdout.contains(" · containers ") && v2.0.stdout.contains(" · waiting for "), "\(v2.0.stdout)")
        print("deploy --wait on a terminal:\n\(v2.0.stdout)")
        #expect(v2.fewest >= 4, "\(v2.fewest) of 6 ready during the rollout")
        try await lab.cluster.poll("every replica serves v2, 6 UP", timeout: .seconds(30)) {
            let sample = (0..<6).compactMap { _ in try? TestNetwork.get(host: ip, port: frontend).body }
            return sample.count == 6 && sample.allSatisfy { $0.hasSuffix("v2\n") } && lab.upAddresses().count == 6
        }

        let bad = try await deploy(Self.rolling(image: "rumor-site:v2", healthcheck: "false"))
        #expect(bad.0.status != 0 && bad.0.stderr.contains("rolled back") && bad.0.stderr.contains("failed"), "\(bad.0)")
        #expect(bad.fewest >= 4, "\(bad.fewest) of 6 ready during the failed rollout")
        try await lab.cluster.poll("v2 on all six again, 6 UP", timeout: .seconds(60)) {
            Self.spread(lab, names) == ["rep1": 2, "rep2": 2, "rep3": 2] && lab.upAddresses().count == 6
        }
        let specs = try await lab.cluster.rumor("apps", "status", "rep", "--format", "json", "--rpc-addr", lb.rpcAddr)
        #expect(specs.stdout.contains("\"rollback\""), "\(specs.stdout)")

        let outcomes = await loop.stop()
        let failures = outcomes.compactMap(\.failure)
        print("rolling deploy: v1 -> v2 with --wait in \(v2.took), fewest ready \(v2.fewest) of 6; a failing health check rolled back by itself, --wait returned in \(bad.took) (\(bad.0.stderr.trimmingCharacters(in: .whitespacesAndNewlines))), fewest ready \(bad.fewest); \(outcomes.count) requests, \(failures.count) failed \(failures.prefix(3))")
        #expect(failures.isEmpty)
    }
}

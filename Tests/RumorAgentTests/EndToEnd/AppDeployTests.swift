#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RumorTestSupport

/// Cluster-wide apps end to end (issue 12, docs/membership.md#app-specs): workers with an empty apps directory run
/// what `rumor apps deploy` sends from the load balancer's node; a worker that joins later runs it too; `scale` and
/// `stop` reach every worker; a spec with errors is refused before anything is sent. Containers are on Docker's
/// default bridge and advertised by their IP, so two workers share one engine without port clashes. The app is
/// "deal", the workers deal1 and deal2: a node's containers are those labelled with its name, so names are unique
/// across the suites that share the engine (others run "site", "shop" and "rep" at the same time).
@Suite(.serialized) struct AppDeployTests {
    static let spec = """
        {"docker_image": "rumor-site:v1", "containers_per": {"server": 2}, "advertise": {"network": "bridge", "port": 80},
         "healthcheck": {"cmd": "wget -q -O /dev/null http://127.0.0.1/health", "interval": "500ms", "retries": 2},
         "drain": "500ms", "stop_grace": "1s"}
        """

    func containers(of node: String) -> [String] {
        let out = (try? Subprocess.runBlocking(
            "/usr/bin/docker", ["ps", "-aq", "--filter", "label=io.rumor.node=\(node)", "--filter", "label=io.rumor.app=deal"],
            environment: [:], timeout: .seconds(30)))?.stdout ?? ""
        return out.split(separator: "\n").map(String.init)
    }

    @Test func deployReachesEveryWorker_aLateOneToo_andScaleAndStopFollow() async throws {
        let lab = try HAProxyLab(subnet: 87, frontendPort: 28150, statsPort: 28151)
        var workers: [String] = []
        defer {
            lab.shutdown()
            for node in workers {
                for id in containers(of: node) { _ = try? Subprocess.runBlocking("/usr/bin/docker", ["rm", "-f", id], environment: [:], timeout: .seconds(30)) }
            }
        }
        try await lab.startLB(app: "deal")
        let lb = try #require(lab.lb)
        let empty1 = lab.cluster.file("apps-deal1"), empty2 = lab.cluster.file("apps-deal2")
        for dir in [empty1, empty2] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let w1 = try await lab.startWorker("deal1", appsDir: empty1)
        workers.append(w1.name)

        // Refused before anything is sent: the CLI names the key, and no node hears of the app.
        let bad = lab.cluster.file("bad.json")
        try #"{"docker_image": "rumor-site:v1", "containers_per": {"server": "two"}}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try await lab.cluster.rumor("apps", "deploy", bad, "deal", "--rpc-addr", lb.rpcAddr)
        #expect(refused.status != 0 && refused.stderr.contains("containers_per") && refused.stderr.contains("nothing was sent"), "\(refused)")

        let file = lab.cluster.file("deal.json")
        try Self.spec.write(toFile: file, atomically: true, encoding: .utf8)
        let deployed = ContinuousClock.now
        // A first deploy with --wait returns once every placed container is ready.
        let out = try await lab.cluster.rumor(["apps", "deploy", "--wait", file, "--rpc-addr", lb.rpcAddr], timeout: .seconds(60))
        #expect(out.status == 0 && out.stdout.contains("1 of 1 node(s) that run apps match its placement")
                    && out.stdout.contains("deal: rolled out on every node"), "\(out)")
        print("deploy --wait of a first deploy returned after \(ContinuousClock.now - deployed)")
        try await lab.cluster.poll("deal1's two containers UP in HAProxy", timeout: .seconds(40)) { lab.upAddresses().count == 2 }
        print("deploy from the LB's node → deal1's containers serving in \(ContinuousClock.now - deployed)")
        // Both kinds of agent export metrics promtool accepts, with what their action adds (docs/observe.md).
        try await lab.cluster.poll("the LB's /metrics to count 2 ready HAProxy servers", timeout: .seconds(15)) {
            (try? TestNetwork.get(host: lb.ip, port: 7374, path: "/metrics").body.contains(#"rumor_haproxy_servers{state="ready"} 2"#)) ?? false
        }
        let lbMetrics = try await ObserveAgentTests.checkMetrics(lb, in: lab.cluster)
        let workerMetrics = try await ObserveAgentTests.checkMetrics(w1, in: lab.cluster)
        #expect(lbMetrics.contains("rumor_haproxy_applies_total"), "\(lbMetrics)")
        #expect(workerMetrics.contains(#"rumor_app_containers{app="deal",state="running",health="healthy"} 2"#), "\(workerMetrics)")
        let specs = try await lab.cluster.rumor("apps", "specs", "--rpc-addr", w1.rpcAddr)
        #expect(specs.stdout.contains("\"origin\":\"lb\"") && specs.stdout.contains("rumor-site:v1"), "\(specs)")

        // A worker that joins after the deploy runs it too.
        let joined = ContinuousClock.now
        let w2 = try await lab.startWorker("deal2", appsDir: empty2)
        workers.append(w2.name)
        try await lab.cluster.poll("deal2's containers too", timeout: .seconds(40)) { lab.upAddresses().count == 4 }
        let late = ContinuousClock.now - joined
        print("a worker started after the deploy: its containers serving \(late) after it started")
        #expect(late < .seconds(10))

        let status = try await lab.cluster.rumor("apps", "status", "deal", "--rpc-addr", lb.rpcAddr)
        print("rumor apps status deal:\n\(status.stdout)")
        #expect(status.status == 0 && status.stdout.contains("deployed by lb"), "\(status)")
        for worker in ["deal1", "deal2"] {
            #expect(status.stdout.split(separator: "\n").contains { $0.hasPrefix(worker) && $0.contains(" alive ") && $0.contains("  2  ") }, "\(status)")
        }

        let scaling = ContinuousClock.now
        let scaled = try await lab.cluster.rumor(["apps", "scale", "--wait", "deal", "1", "--rpc-addr", w2.rpcAddr], timeout: .seconds(60))
        #expect(scaled.status == 0 && scaled.stdout.contains("rolled out on every node"), "\(scaled)")
        let afterScale = try await lab.cluster.rumor("apps", "status", "deal", "--rpc-addr", lb.rpcAddr)
        for worker in ["deal1", "deal2"] {
            #expect(afterScale.stdout.split(separator: "\n").contains { $0.hasPrefix(worker) && $0.contains("  1  ") }, "scale --wait returned before \(worker) had one: \(afterScale)")
        }
        print("scale --wait 2 -> 1 returned after \(ContinuousClock.now - scaling)")
        try await lab.cluster.poll("one container per worker", timeout: .seconds(30)) {
            lab.upAddresses().count == 2 && containers(of: "deal1").count == 1 && containers(of: "deal2").count == 1
        }

        // `rollback` from any node: the spec the scale replaced, everywhere at once.
        let back = try await lab.cluster.rumor("apps", "rollback", "deal", "--rpc-addr", w1.rpcAddr)
        #expect(back.status == 0 && back.stdout.contains("rolling deal back"), "\(back)")
        try await lab.cluster.poll("two containers per worker again", timeout: .seconds(30)) {
            lab.upAddresses().count == 4 && containers(of: "deal1").count == 2 && containers(of: "deal2").count == 2
        }
        let rolledBack = try await lab.cluster.rumor("apps", "status", "deal", "--format", "json", "--rpc-addr", lb.rpcAddr)
        #expect(rolledBack.stdout.contains("rolled back by hand on deal1"), "\(rolledBack)")

        let stopping = ContinuousClock.now
        let stopped = try await lab.cluster.rumor(["apps", "stop", "--wait", "deal", "--rpc-addr", w1.rpcAddr], timeout: .seconds(60))
        #expect(stopped.status == 0 && stopped.stdout.contains("deal: stopped on every node"), "\(stopped)")
        #expect(containers(of: "deal1").isEmpty && containers(of: "deal2").isEmpty, "stop --wait returned with containers left")
        print("stop --wait returned after \(ContinuousClock.now - stopping): \(stopped.stdout)")
        try await lab.cluster.poll("every container removed", timeout: .seconds(30)) {
            lab.upAddresses().isEmpty && containers(of: "deal1").isEmpty && containers(of: "deal2").isEmpty
        }
        // A deploy no node will run says so (and starts wherever a matching node joins).
        let nowhere = lab.cluster.file("nowhere.json")
        try #"{"docker_image": "rumor-site:v1", "placement": {"role": "^gpu$"}}"#.write(toFile: nowhere, atomically: true, encoding: .utf8)
        let unplaced = try await lab.cluster.rumor("apps", "deploy", nowhere, "--rpc-addr", w1.rpcAddr)
        #expect(unplaced.stdout.contains("none of the 2 node(s) that run apps matches its placement"), "\(unplaced)")
        // A file named like a version of an app that exists starts a new app, as asked, and says so.
        let v2File = lab.cluster.file("nowhere-v2.json")
        try #"{"docker_image": "rumor-site:v2", "placement": {"role": "^gpu$"}}"#.write(toFile: v2File, atomically: true, encoding: .utf8)
        let named = try await lab.cluster.rumor("apps", "deploy", v2File, "--rpc-addr", w1.rpcAddr)
        #expect(named.status == 0 && named.stderr.contains("new app 'nowhere-v2'") && named.stderr.contains("rumor apps deploy FILE nowhere"), "\(named)")
        let unknown = try await lab.cluster.rumor("apps", "scale", "nosuch", "3", "--rpc-addr", w1.rpcAddr)
        #expect(unknown.status != 0 && unknown.stderr.contains("no app 'nosuch' is deployed cluster-wide"), "\(unknown)")
        let firstDeploy = try await lab.cluster.rumor("apps", "rollback", "nowhere", "--rpc-addr", w1.rpcAddr)
        #expect(firstDeploy.status != 0 && firstDeploy.stderr.contains("there is no previous spec"), "\(firstDeploy)")
    }
}

import Foundation
import Testing
import RumorTestSupport

/// The cluster page in a real headless Chromium (Tests/Browser/page-watch drives it over the DevTools pipe), with a
/// real worker and engine: any agent's page lists every node and every container of a deployed app, and after
/// `docker kill` of one the worker's page shows the replacement without a reload.
@Suite(.serialized) struct ObservePageTests {
    static let worker = "pw1"
    static let pageWatch = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Browser/page-watch").path

    @Test func everyAgentsPageShowsEveryNodeAndContainer_andAKilledOnesReplacementLive() async throws {
        let c = try E2ECluster(subnet: 80)
        defer {
            c.shutdown()
            E2ECluster.removeContainers(ofNodes: [Self.worker])
        }
        let ops = try await c.startRumor("ops")
        let dir = c.file("apps")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let worker = try await c.startRumor(Self.worker, ["--join", ops.gossipAddr, "--apps-dir", dir])
        try await c.poll("ops to see \(worker.name) run apps", timeout: .seconds(15)) { c.tags(of: worker.name, seenBy: ops)?["rumor:apps"] != nil }
        let spec = c.file("view.json")
        try """
            {"docker_image": "rumor-site:v1", "containers_per": {"server": 3}, "advertise": {"network": "bridge", "port": 80},
             "healthcheck": {"cmd": "wget -q -O /dev/null http://127.0.0.1/health", "interval": "500ms", "retries": 2},
             "restart": {"delay": "500ms"}, "drain": "200ms", "stop_grace": "1s"}
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let deployed = try await c.rumor(["apps", "deploy", "--wait", spec, "view", "--rpc-addr", ops.rpcAddr], timeout: .seconds(120))
        #expect(deployed.status == 0, "\(deployed)")
        let names = (1...3).map { "rumor-view-\(Self.worker)-\($0)" }
        let nodes = "ops,\(Self.worker)"

        let onOps = try await Subprocess.run(Self.pageWatch, ["http://\(ops.httpAddr)/", "--expect", names.joined(separator: ","), "--nodes", nodes],
                                             timeout: .seconds(120))
        #expect(onOps.status == 0, "the load balancer's page: \(onOps)")
        let onWorker = try await Subprocess.run(
            Self.pageWatch, ["http://\(worker.httpAddr)/", "--expect", names.joined(separator: ","), "--nodes", nodes, "--kill", names[1], "--within", "5"],
            timeout: .seconds(120))
        print("page-watch on the worker: \(onWorker.stdout)")  // the replacement's time, for the log
        #expect(onWorker.status == 0, "the worker's page: \(onWorker)\n\(c.logs(containing: "view"))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RumorTestSupport

/// No container is made from a spec a worker must not run (docs/apps-authority.md), with real agents and the real
/// engine: a member without a trusted key asks for the host's /etc; a trusted key asks for what a worker's
/// `apps_allow` refuses. `ops` deploys (the cluster's key), `pol1` allows nothing beyond the defaults, `pol2` allows
/// one host path and only `rumor-site:` images, `backend` is a member with no trusted key running `--apps-trust any`.
/// Worker names are unique across the container suites: a node's containers are those labelled with its name.
@Suite(.serialized) struct AppPolicyAgentTests {
    static let workers = ["pol1", "pol2"]

    func containers(app: String) -> [String] {
        let out = (try? Subprocess.runBlocking(
            "/usr/bin/docker", ["ps", "-aq", "--filter", "label=io.rumor.app=\(app)", "--filter", "label=io.rumor.node"],
            environment: [:], timeout: .seconds(30)))?.stdout ?? ""
        return out.split(separator: "\n").map(String.init)
    }

    func containers(node: String, app: String) -> [String] {
        let out = (try? Subprocess.runBlocking(
            "/usr/bin/docker", ["ps", "-aq", "--filter", "label=io.rumor.app=\(app)", "--filter", "label=io.rumor.node=\(node)"],
            environment: [:], timeout: .seconds(30)))?.stdout ?? ""
        return out.split(separator: "\n").map(String.init)
    }

    @Test func noContainerFromAnUntrustedMember_orBeyondAWorkersAppsAllow_andEachRefusalIsNamed() async throws {
        let c = try E2ECluster(subnet: 79)
        defer {
            c.shutdown()
            E2ECluster.removeContainers(ofNodes: Self.workers)
        }
        let allowed = c.file("allowed")
        try FileManager.default.createDirectory(atPath: allowed + "/data", withIntermediateDirectories: true)
        let ops = try await c.startRumor("ops")
        var workers: [E2ECluster.Node] = []
        for (name, allow) in [("pol1", [String]()), ("pol2", ["--apps-allow", "volumes=\(allowed)", "--apps-allow", "images=^rumor-site:"])] {
            let dir = c.file("apps-\(name)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            workers.append(try await c.startRumor(name, ["--join", ops.gossipAddr, "--tag", "role=worker", "--apps-dir", dir] + allow))
        }
        for w in workers {
            try await c.poll("ops to see \(w.name) run apps", timeout: .seconds(15)) { c.tags(of: w.name, seenBy: ops)?["rumor:apps"] != nil }
        }
        let backend = try await c.startRumor("backend", ["--join", ops.gossipAddr, "--apps-trust", "any"])
        let evilKey = try E2ECluster.makeDeployKey(c.rumorPath, at: c.file("evil.key"))

        // Acceptance 1: the host's /etc, unsigned and with a key nobody trusts. Each worker refuses each record once,
        // naming the member that sent it; no worker ever holds it, so no container can follow.
        let hostEtc = c.file("hostetc.json")
        try #"{"docker_image": "rumor-site:v1", "volumes": ["/etc:/hostetc"], "stop_grace": "1s"}"#
            .write(toFile: hostEtc, atomically: true, encoding: .utf8)
        for (app, key) in [("etc1", ""), ("etc2", evilKey.file)] {
            let out = try await c.rumor(["apps", "deploy", hostEtc, app, "--rpc-addr", backend.rpcAddr], signKey: key)
            #expect(out.status == 0, "backend's own agent takes it: \(out)")
        }
        for w in workers {
            try await c.poll("\(w.name) to refuse etc1 and etc2", timeout: .seconds(20)) {
                let log = c.log(of: w)
                return log.contains("refused app spec 'etc1'") && log.contains("refused app spec 'etc2'")
            }
            let refusals = c.log(of: w).split(separator: "\n").filter { $0.contains("refused app spec 'etc") }
            #expect(refusals.count == 2 && refusals.allSatisfy { $0.contains("deployed by node 'backend'") }, "\(w.name): \(refusals)")
            let held = try await c.rumor("apps", "specs", "--rpc-addr", w.rpcAddr)
            #expect(!held.stdout.contains("etc"), "\(w.name) holds \(held.stdout)")
        }
        #expect(containers(app: "etc1").isEmpty && containers(app: "etc2").isEmpty)

        // Acceptance 3: a trusted key asks for more than a worker allows. deploy --wait names worker and rule.
        func deploy(_ app: String, _ spec: String) async throws -> ProcessOutput {
            let file = c.file("\(app).json")
            try spec.write(toFile: file, atomically: true, encoding: .utf8)
            return try await c.rumor(["apps", "deploy", "--wait", file, "--rpc-addr", ops.rpcAddr], timeout: .seconds(60))
        }
        let privileged = try await deploy("priv", #"{"docker_image": "rumor-site:v1", "privileged": true, "stop_grace": "1s"}"#)
        #expect(privileged.status == 1 && privileged.stderr.contains("pol1 (apps_allow: privileged)")
                    && privileged.stderr.contains("pol2 (apps_allow: privileged)"), "\(privileged)")
        let device = try await deploy("dev", #"{"docker_image": "rumor-site:v1", "devices": ["/dev/fuse"], "stop_grace": "1s"}"#)
        #expect(device.status == 1 && device.stderr.contains("pol1 (apps_allow: devices)"), "\(device)")
        let listed = try await c.rumor("apps", "ls", "--rpc-addr", workers[0].rpcAddr)
        #expect(listed.stdout.contains("refused by this worker's apps_allow (privileged)")
                    && listed.stdout.contains("refused by this worker's apps_allow (devices)"), "\(listed)")
        #expect(containers(app: "priv").isEmpty && containers(app: "dev").isEmpty)

        // A host path pol2 allows and pol1 does not; an image pol1 allows (any) and pol2 does not.
        let path = try await deploy("path", #"{"docker_image": "rumor-site:v1", "volumes": ["\#(allowed)/data:/data:ro"], "stop_grace": "1s"}"#)
        #expect(path.status == 1 && path.stderr.contains("pol1 (apps_allow: volumes)") && !path.stderr.contains("pol2"), "\(path)")
        let image = try await deploy("img", #"{"docker_image": "rumor-busybox:local", "command": ["sleep", "3600"], "stop_grace": "1s"}"#)
        #expect(image.status == 1 && image.stderr.contains("pol2 (apps_allow: images)") && !image.stderr.contains("pol1"), "\(image)")
        try await c.poll("pol2 to run path and pol1 img, each only there", timeout: .seconds(30)) {
            containers(node: "pol2", app: "path").count == 1 && containers(node: "pol1", app: "img").count == 1
        }
        #expect(containers(node: "pol1", app: "path").isEmpty && containers(node: "pol2", app: "img").isEmpty)

        // A first deploy whose containers never turn healthy: no rollout to roll back, and --wait still ends, with why.
        let started = ContinuousClock.now
        let sick = try await deploy("sick", #"{"docker_image": "rumor-site:v1", "healthcheck": {"cmd": "false", "interval": "500ms", "retries": 1}, "restart": {"delay": "200ms"}, "stop_grace": "1s", "drain": "0s"}"#)
        #expect(sick.status == 1 && sick.stderr.contains("its containers keep failing"), "\(sick)")
        print("deploy --wait of a first deploy that never turns healthy exited 1 after \(ContinuousClock.now - started)")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RumorTestSupport

/// Every agent's HTTP listener (docs/observe.md) with real agents, the real `promtool` and a real Prometheus:
/// `/metrics` passes Prometheus's own checker and counts the cluster, a Prometheus scrapes three agents, `/v1` and
/// the page answer and never carry a spec's env values, and the listener is read-only.
@Suite(.serialized) struct ObserveAgentTests {
    static let promtool = "/usr/bin/promtool"
    static let prometheus = "/usr/bin/prometheus"

    /// `node`'s `/metrics`, after `promtool check metrics` (Prometheus's own linter) passed on it.
    static func checkMetrics(_ node: E2ECluster.Node, in c: E2ECluster) async throws -> String {
        let text = try TestNetwork.get(host: node.ip, port: 7374, path: "/metrics").body
        let file = c.file("metrics-\(node.name).txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try await Subprocess.run("/bin/sh", ["-c", "\(promtool) check metrics < \(file)"])
        #expect(check.status == 0, "promtool check metrics on \(node):\n\(check)\n\(text)")
        return text
    }

    func get(_ node: E2ECluster.Node, _ path: String) throws -> TestNetwork.Response {
        try TestNetwork.get(host: node.ip, port: 7374, path: path)
    }

    @Test func metricsPassPromtool_countTheCluster_andARealPrometheusScrapesEveryAgent() async throws {
        let c = try E2ECluster(subnet: 77)
        defer { c.shutdown() }
        let marker = c.file("joins")
        let handler = try c.script("count-joins", "cat >> \(marker)")
        let a = try await c.startRumor("obs-a", ["--event-handler", "member-join=\(handler)"])
        let b = try await c.startRumor("obs-b", ["--join", a.gossipAddr])
        let d = try await c.startRumor("obs-c", ["--join", a.gossipAddr])
        let nodes = [a, b, d]
        for node in nodes {
            try await c.poll("\(node) to count 3 alive members in /metrics", timeout: .seconds(15)) {
                (try? self.get(node, "/metrics").body.contains("rumor_members{status=\"alive\"} 3\n")) ?? false
            }
        }
        try await c.poll("the handler to have run", timeout: .seconds(15)) {
            (try? self.get(a, "/metrics").body.contains(#"rumor_handler_runs_total{event="member-join"}"#)) ?? false
        }
        for node in nodes {
            let text = try await Self.checkMetrics(node, in: c)
            for family in ["rumor_health_score", "rumor_probes_total", "rumor_probe_rtt_seconds_bucket", "rumor_udp_packets_received_total",
                           #"rumor_messages_received_total{type="ping"}"#, #"rumor_dropped_total{reason="malformed"}"#] {
                #expect(text.contains(family), "\(family) missing from \(node)'s /metrics")
            }
        }

        // A real Prometheus on loopback, scraping the three agents each second.
        let config = c.file("prometheus.yml")
        try """
            global: {scrape_interval: 1s, scrape_timeout: 1s}
            scrape_configs:
              - job_name: rumor
                static_configs: [{targets: [\(nodes.map { "'\($0.httpAddr)'" }.joined(separator: ", "))]}]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let promAddr = "127.0.77.9:9090"
        _ = try c.startStreaming(Self.prometheus, [
            "--config.file=\(config)", "--storage.tsdb.path=\(c.file("tsdb"))", "--web.listen-address=\(promAddr)",
        ])
        let query = "/api/v1/query?query=rumor_members%7Bstatus%3D%22alive%22%7D"
        try await c.poll("Prometheus to report rumor_members{status=\"alive\"} = 3 for each agent", timeout: .seconds(60)) {
            guard let body = try? TestNetwork.get(host: "127.0.77.9", port: 9090, path: query).body,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]]
            else { return false }
            let values = Dictionary(uniqueKeysWithValues: result.compactMap { r -> (String, String)? in
                guard let instance = (r["metric"] as? [String: String])?["instance"], let v = r["value"] as? [Any], v.count == 2,
                    let value = v[1] as? String else { return nil }
                return (instance, value)
            })
            return values == Dictionary(uniqueKeysWithValues: nodes.map { ($0.httpAddr, "3") })
        }
    }

    @Test func v1AndThePageAnswer_neverWithEnvValues_andTheListenerIsReadOnly() async throws {
        let c = try E2ECluster(subnet: 77)
        defer { c.shutdown() }
        let a = try await c.startRumor("view-a")
        let b = try await c.startRumor("view-b", ["--join", a.gossipAddr])
        let secret = "s3cr3t-\(getpid())-value"
        let spec = c.file("vault.json")
        try #"{"docker_image": "rumor-site:v1", "replicas": 2, "env_vars": {"DB_PASSWORD": "\#(secret)"}}"#
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let deployed = try await c.rumor("apps", "deploy", spec, "vault", "-rpc-addr", a.rpcAddr)
        #expect(deployed.status == 0, "\(deployed)")
        try await c.poll("view-b to list the app in /v1/apps", timeout: .seconds(15)) {
            (try? self.get(b, "/v1/apps").body.contains(#""app":"vault""#)) ?? false
        }
        try await c.poll("the deploy in view-b's recent events", timeout: .seconds(15)) {
            (try? self.get(b, "/v1/events").body.contains(#""kind":"app-deploy""#)) ?? false
        }
        for node in [a, b] {
            for path in ["/", "/metrics", "/v1/members", "/v1/apps", "/v1/containers", "/v1/events", "/v1/cluster"] {
                let r = try get(node, path)
                #expect(r.status == 200, "\(path) on \(node): \(r.status)")
                #expect(!r.body.contains(secret), "\(path) on \(node) shows an env value")
            }
            let members = try get(node, "/v1/members").body
            #expect(members.contains(#""name":"view-a""#) && members.contains(#""name":"view-b""#), "\(members)")
            #expect(try get(node, "/").body.contains("<title>Rumor cluster</title>"))
            #expect(try get(node, "/nope").status == 404)
        }
        let post = try await Subprocess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://\(a.httpAddr)/metrics"])
        #expect(post.stdout == "405", "\(post)")
    }

    @Test func anHTTPAddressGivenThatIsTaken_stopsTheAgentWithTheAddressNamed_andEmptyTurnsItOff() async throws {
        let c = try E2ECluster(subnet: 77)
        defer { c.shutdown() }
        let a = try await c.startRumor("bind-a")
        let clash = try await c.rumor(["agent", "--node", "bind-b", "--bind", "127.0.77.20:7946", "--rpc-addr", "127.0.77.20:7373",
                                       "--http-addr", a.httpAddr], timeout: .seconds(20))
        #expect(clash.status != 0 && (clash.stdout + clash.stderr).contains("failed to start the HTTP listener on \(a.httpAddr)"), "\(clash)")
        let off = try await c.startRumor("bind-c", ["--http-addr", ""])
        #expect(throws: (any Error).self) { try TestNetwork.get(host: off.ip, port: 7374, path: "/metrics", timeout: .seconds(2)) }
        #expect(!c.log(of: off).contains("HTTP: listening"))
    }
}

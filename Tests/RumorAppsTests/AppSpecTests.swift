import RumorApps
import Testing

@Suite struct AppSpecTests {
    @Test func nebulaSpecParses() throws {
        let spec = try AppSpec.parse("""
            {"app_name": "site", "docker_image": "nginx:1.25", "containers_per": {"server": 3},
             "starting_ports": [{"8081": "80"}], "env_vars": {"MODE": "prod", "WORKERS": 4},
             "volumes": ["/tmp:/data:ro"], "networks": ["web"], "devices": [], "privileged": false, "running": true,
             "rolling_restart": false, "placement": {"role": "^worker$"},
             "healthcheck": {"cmd": "wget -q -O- localhost/health", "interval": "1s", "retries": 3},
             "restart": {"delay": "2s", "max_attempts": 5}, "stop_grace": "3s"}
            """, name: "site", file: "apps/site.json")
        #expect(spec.image == "nginx:1.25")
        #expect(spec.containersPer == .server(3))
        #expect(spec.hostPorts(slot: 3) == [8083])
        #expect(spec.env == ["MODE": "prod", "WORKERS": "4"])
        #expect(spec.healthcheck?.retries == 3)
        #expect(spec.restart.delay == .seconds(2) && spec.restart.maxAttempts == 5)
        #expect(spec.containerName(slot: 2, node: "w1") == "rumor-site-w1-2")
        #expect(spec.containerName(slot: 1, node: "web@eu:1") == "rumor-site-web_eu_1-1")
        #expect(spec.containerName(slot: 2, node: "w1", taken: ["rumor-site-w1-1"]) == "rumor-site-w1-2")
        #expect(spec.containerName(slot: 2, node: "w1", taken: ["rumor-site-w1-2", "rumor-site-w1-2-2"]) == "rumor-site-w1-2-3")
        #expect(spec.containerCount(cores: 8, memoryMiB: 1024) == 3)
        #expect(spec.templateHash.count == 16)
    }

    @Test(arguments: [
        (#"{"docker_image": "x", "colour": 1}"#, "apps/a.json: colour: unknown key"),
        (#"{"containers_per": {"server": 1}}"#, "apps/a.json: docker_image: missing"),
        (#"{"docker_image": 7}"#, "apps/a.json: docker_image: expected a string, got number 7"),
        (#"{"docker_image": "x", "starting_ports": [{"http": "80"}]}"#, "starting_ports[0]: host port 'http' is not 1-65535"),
        (#"{"docker_image": "x", "containers_per": {"server": -1}}"#, "containers_per.server: -1 is out of range"),
        (#"{"docker_image": "x", "stop_grace": "9999999999h"}"#, "stop_grace: invalid duration \"9999999999h\": larger than 2562047h"),
        (#"{"docker_image": "x", "placement": {"role": "(["}}"#, "placement.role: '([' is not a regular expression"),
        (#"{"docker_image": "x", "restart": {"tries": 3}}"#, "restart.tries: unknown key"),
        (#"{"docker_image": "x", "app_name": "other"}"#, "app_name: 'other' differs from the file's name 'a'"),
        (#"[1, 2]"#, "apps/a.json: expected a JSON object, got array"),
        (#"{"docker_image": "x", "replicas": 3, "containers_per": {"server": 1}}"#,
         "apps/a.json: replicas: cannot be combined with containers_per"),
        (#"{"docker_image": "x", "max_per_node": 2}"#, "apps/a.json: max_per_node: needs replicas"),
        (#"{"docker_image": "x", "replicas": -2}"#, "apps/a.json: replicas: -2 is out of range"),
        (#"{"docker_image": "x", "replicas": 10, "starting_ports": [{"65530": "80"}]}"#,
         "apps/a.json: starting_ports[0]: host port 65530 + 10 replicas passes 65535"),
        (#"{"docker_image": "x", "rebalance": "yes"}"#, "apps/a.json: rebalance: expected true or false, got string"),
        (#"{"docker_image": "x", "lost_after": 30}"#, "apps/a.json: lost_after: expected a duration"),
        (#"{"docker_image": "x", "update": {"failure_action": "retry"}}"#,
         "apps/a.json: update.failure_action: expected one of rollback, pause, continue, got string \"retry\""),
        (#"{"docker_image": "x", "update": {"parallelism": 0}}"#, "apps/a.json: update.parallelism: 0 is out of range"),
        (#"{"docker_image": "x", "update": {"progress_deadline": "0s"}}"#, "apps/a.json: update.progress_deadline: must be more than 0s"),
        (#"{"docker_image": "x", "update": {"order": "first"}}"#,
         "apps/a.json: update.order: expected one of stop-first, start-first, got string \"first\""),
        (#"{"docker_image": "x", "update": {"order": "start-first"}, "starting_ports": [{"8080": "80"}]}"#,
         "apps/a.json: update.order: start-first runs a slot's new container beside its old one, but starting_ports"),
        (#"{"docker_image": "x", "update": {"ordre": "start-first"}}"#, "apps/a.json: update.ordre: unknown key"),
        (#"{"docker_image": "x""#, "apps/a.json: not JSON"),
    ])
    func badSpecsNameFileAndKey(text: String, message: String) {
        #expect {
            try AppSpec.parse(text, name: "a", file: "apps/a.json")
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func clusterKeysParseWithTheirDefaults() throws {
        let plain = try AppSpec.parse(#"{"docker_image": "site:v1"}"#, name: "site", file: "f")
        #expect(plain.replicas == nil && plain.maxPerNode == nil && !plain.rebalance)
        #expect(plain.stableAfter == .seconds(10) && plain.lostAfter == .seconds(30))
        #expect(plain.update == AppSpec.UpdatePolicy())
        #expect(plain.update.parallelism == 1 && plain.update.monitor == .seconds(5))
        #expect(plain.update.failureAction == .rollback && plain.update.progressDeadline == .seconds(300))
        #expect(plain.update.order == .stopFirst)  // Swarm's default

        let spec = try AppSpec.parse("""
            {"docker_image": "site:v1", "replicas": 300, "max_per_node": 5, "stable_after": "20s",
             "lost_after": "1m", "rebalance": true,
             "update": {"parallelism": 2, "monitor": "10s", "failure_action": "pause", "progress_deadline": "2m",
                        "delay": "1s", "order": "start-first"}}
            """, name: "site", file: "f")
        #expect(spec.replicas == 300 && spec.maxPerNode == 5 && spec.rebalance)
        #expect(spec.stableAfter == .seconds(20) && spec.lostAfter == .seconds(60))
        #expect(spec.update.parallelism == 2 && spec.update.monitor == .seconds(10))
        #expect(spec.update.failureAction == .pause && spec.update.progressDeadline == .seconds(120))
        #expect(spec.updateDelay == .seconds(1) && spec.update.order == .startFirst)
        #expect(spec.templateHash == plain.templateHash)  // where and how many do not change a container
    }

    @Test func templateHashFollowsWhatMakesTheContainer() throws {
        let a = try AppSpec.parse(#"{"docker_image": "site:v1", "containers_per": {"server": 2}}"#, name: "s", file: "f")
        var b = a
        b.containersPer = .server(5)
        b.drain = .seconds(9)
        #expect(a.templateHash == b.templateHash)  // count and drain do not change a container
        b.image = "site:v2"
        #expect(a.templateHash != b.templateHash)
        var c = a
        c.env["X"] = "1"
        #expect(a.templateHash != c.templateHash)
    }

    @Test func advertiseOnANetworkNeedsNoHostPort() throws {
        let spec = try AppSpec.parse(#"{"docker_image": "x", "networks": ["web"], "advertise": {"network": "web", "port": 8080}}"#, name: "a", file: "f")
        #expect(spec.advertise == .network("web", port: 8080) && spec.ports.isEmpty && spec.advertisedPort(slot: 3) == 8080)
    }

    @Test func tagRoundTripsAndSkipsBadTokens() {
        let endpoints = [Endpoint(slot: 1, host: nil, port: 8081), Endpoint(slot: 2, host: "172.18.0.3", port: 80)]
        let value = AppTag.value(endpoints)
        #expect(value == "1/8081 2/172.18.0.3:80")
        #expect(AppTag.parse(value).endpoints == endpoints)
        let parsed = AppTag.parse("1/80 x/81 2/99999 3/:80 4/82 5/10.0.0.1:0 6/a b")
        #expect(parsed.endpoints.map(\.slot) == [1, 4])
        #expect(parsed.rejected == ["x/81", "2/99999", "3/:80", "5/10.0.0.1:0", "6/a", "b"])
        // IPv6 container addresses go in brackets, HostPort's form, and come back out.
        let v6 = [Endpoint(slot: 1, host: "fd00::3", port: 80)]
        #expect(AppTag.value(v6) == "1/[fd00::3]:80" && AppTag.parse(AppTag.value(v6)).endpoints == v6)
    }
}
